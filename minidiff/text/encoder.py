"""A small transformer text encoder: caption token ids -> token features for cross-attention.

The encoder of Vaswani et al. (2017) in its pre-LN form (Xiong et al. 2020; GPT-2, BERT-style
bidirectional attention), playing the role of Imagen's frozen T5 (Saharia et al. 2022): a UNet
cross-attends to its (B, L, width) output. Notable choices: learned position embeddings; padded
keys are masked out of attention, so [PAD]s never change the real tokens' features, and padded
positions' outputs are set to zero; presets text_encoder_tiny/small/base span ~50x in parameters.
"""

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from ..checks import check_int, describe
from .tokenizer import check_tokens


class TextBlock(nn.Module):
    """x + attn(LN(x)), then x + mlp(LN(x)): a pre-LN transformer block (Xiong et al. 2020)."""

    def __init__(self, width: int, heads: int):
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.qkv, self.proj = nn.Linear(width, 3 * width), nn.Linear(width, width)
        self.mlp = nn.Sequential(
            nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width)
        )

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        qkv = rearrange(self.qkv(self.norm1(x)), "b l (k h d) -> k b h l d", k=3, h=self.heads)
        keep = rearrange(mask, "b l -> b 1 1 l")  # True: attend to this key
        a = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], attn_mask=keep)  # (B, h, L, d)
        x = x + self.proj(rearrange(a, "b h l d -> b l (h d)"))
        return x + self.mlp(self.norm2(x))


class TextEncoder(nn.Module):
    """encoder(ids, mask) -> (B, L, width) token features, for ids (B, L) long and mask (B, L)
    bool (True on real tokens, as Tokenizer.encode returns them; each row needs one)."""

    def __init__(
        self, vocab_size: int, width: int = 64, depth: int = 2, heads: int = 4, max_len=32
    ):
        super().__init__()
        sizes = dict(vocab_size=vocab_size, width=width, depth=depth, heads=heads, max_len=max_len)
        lows = dict(vocab_size=5, width=1, depth=0, heads=1, max_len=1)
        # the constructor's kwargs, stored in checkpoints (numpy ints as ints)
        self.config = {name: check_int(name, value, lows[name]) for name, value in sizes.items()}
        vocab_size, width, depth, heads, max_len = self.config.values()
        if width % heads:
            raise ValueError(f"heads: expected a divisor of width={width}, got {heads}")
        self.token_embedder = nn.Embedding(vocab_size, width)
        self.position_embedder = nn.Embedding(max_len, width)
        self.blocks = nn.ModuleList(TextBlock(width, heads) for _ in range(depth))
        self.final_norm = nn.LayerNorm(width)
        nn.init.normal_(self.token_embedder.weight, std=0.02)  # BERT's / GPT-2's init
        nn.init.normal_(self.position_embedder.weight, std=0.02)

    def _check_inputs(self, ids, mask):
        """Metadata checks, then one host sync for the id range (nn.Embedding's IndexError, a
        device-side assert on CUDA, would not say which argument) and one for empty rows."""
        vocab_size, max_len = self.config["vocab_size"], self.config["max_len"]
        check_tokens(ids, mask)
        if ids.shape[1] > max_len:
            raise ValueError(f"ids: expected L <= max_len={max_len}, got {describe(ids)}")
        if not bool(((ids >= 0) & (ids < vocab_size)).all()):
            raise ValueError(f"ids: expected ids in [0, {vocab_size}) (vocab_size={vocab_size}), "
                             f"got {int(ids.min())}..{int(ids.max())}")  # fmt: skip
        if not bool(mask.any(dim=1).all()):
            raise ValueError("mask: expected at least one True (real token) in each row")

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        self._check_inputs(ids, mask)
        positions = torch.arange(ids.shape[1], device=ids.device)
        x = self.token_embedder(ids) + self.position_embedder(positions)  # (B, L, width)
        for block in self.blocks:
            x = block(x, mask)
        return self.final_norm(x) * mask[..., None]  # padded positions -> 0


def text_encoder_tiny(vocab_size: int, **kw) -> TextEncoder:
    """width 32, depth 1, 2 heads: ~13k parameters plus the embeddings."""
    return TextEncoder(vocab_size, **(dict(width=32, depth=1, heads=2) | kw))


def text_encoder_small(vocab_size: int, **kw) -> TextEncoder:
    """width 64, depth 2, 4 heads: ~100k parameters plus the embeddings."""
    return TextEncoder(vocab_size, **(dict(width=64, depth=2, heads=4) | kw))


def text_encoder_base(vocab_size: int, **kw) -> TextEncoder:
    """width 128, depth 4, 4 heads: ~790k parameters plus the embeddings."""
    return TextEncoder(vocab_size, **(dict(width=128, depth=4, heads=4) | kw))
