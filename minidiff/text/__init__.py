"""Text for text-to-image lessons: a word tokenizer and a small transformer text encoder.

tokenizer.py: Tokenizer (captions <-> ids, mask). encoder.py: TextEncoder (pre-LN transformer,
Vaswani et al. 2017) and presets text_encoder_tiny/small/base. pretrain.py: BERT-style masked-token
pre-training (Devlin et al. 2019) and freeze(), for a frozen encoder as in Imagen (Saharia et al.
2022). conditional.py: TextConditional, a frozen encoder feeding a UNet's cross-attention.
"""

from .conditional import TextConditional
from .encoder import (
    TextBlock,
    TextEncoder,
    text_encoder_base,
    text_encoder_small,
    text_encoder_tiny,
)
from .pretrain import MaskedLM, freeze, mask_tokens, mlm_accuracy, mlm_loss, pretrain_mlm
from .tokenizer import CLS, MASK, PAD, SPECIAL_TOKENS, UNK, Tokenizer, split_words

__all__ = [
    "TextConditional",
    "TextBlock",
    "TextEncoder",
    "text_encoder_tiny",
    "text_encoder_small",
    "text_encoder_base",
    "MaskedLM",
    "freeze",
    "mask_tokens",
    "mlm_accuracy",
    "mlm_loss",
    "pretrain_mlm",
    "CLS",
    "MASK",
    "PAD",
    "SPECIAL_TOKENS",
    "UNK",
    "Tokenizer",
    "split_words",
]
