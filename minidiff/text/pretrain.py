"""Text-only pre-training of a TextEncoder by masked-token prediction, so it can be used frozen.

BERT's masked language model (Devlin et al. 2019, Sec. 3.1): hide ~15% of the words and predict
them from both sides. Imagen (Saharia et al. 2022) keeps its text encoder frozen while the diffusion
model trains; freeze() does that here. Notable choices: BERT's 80/10/10 corruption ([MASK] / random
word / unchanged), since the frozen encoder later sees clean captions; [CLS] and [PAD] are never
chosen and every caption gets at least one target; the output head is tied to the token embedding.
"""

import functools

import torch
import torch.nn.functional as F
from torch import nn

from .. import train
from ..checks import check_float, check_generator, check_instance, check_int
from .encoder import TextEncoder
from .tokenizer import CLS, MASK, SPECIAL_TOKENS, check_tokens

IGNORE = -100  # F.cross_entropy's ignore_index: positions that are not targets


class MaskedLM(nn.Module):
    """mlm(ids, mask) -> (B, L, vocab_size) logits = encoder(ids, mask) E^T + b, with E the
    encoder's token embedding (weights tied as in BERT) and b a learned per-token bias."""

    def __init__(self, encoder: TextEncoder):
        super().__init__()
        check_instance("encoder", encoder, TextEncoder, "text_encoder_tiny(len(tokenizer))")
        self.encoder, self.config = encoder, dict(encoder=encoder.config)  # for checkpoints
        self.bias = nn.Parameter(torch.zeros(encoder.config["vocab_size"]))

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h = self.encoder(ids, mask)  # (B, L, width)
        return F.linear(h, self.encoder.token_embedder.weight, self.bias)  # (B, L, vocab_size)


def mask_tokens(
    ids, mask, vocab_size, mask_prob=0.15, random_prob=0.1, keep_prob=0.1, generator=None
):
    """(ids_in, targets): choose each real word with probability mask_prob (one at random where
    none was chosen); chosen ones become [MASK], or w.p. random_prob a random word, or w.p.
    keep_prob stay. targets holds the original id at chosen positions and IGNORE elsewhere."""
    check_tokens(ids, mask)
    vocab_size = check_int("vocab_size", vocab_size, len(SPECIAL_TOKENS) + 1)
    check_float("mask_prob", mask_prob, 0, 1, open_low=True, open_high=True)
    if check_float("random_prob", random_prob, 0) + check_float("keep_prob", keep_prob, 0) > 1:
        raise ValueError(f"keep_prob: expected random_prob + keep_prob <= 1, "
                         f"got {random_prob} + {keep_prob}")  # fmt: skip
    check_generator("generator", generator, "cpu")  # draws on the CPU, moved to ids' device
    candidate = mask & (ids != CLS)  # (B, L): real words
    if not bool(candidate.any(dim=1).all()):
        raise ValueError("ids: expected at least one word besides [CLS] in every caption")
    u = torch.rand(ids.shape, generator=generator).to(ids.device)
    chosen = candidate & (u < mask_prob)
    # captions with nothing chosen: their candidate with the smallest u
    forced = F.one_hot(torch.where(candidate, u, 2.0).argmin(dim=1), ids.shape[1]).bool()
    chosen |= forced & ~chosen.any(dim=1, keepdim=True)
    r = torch.rand(ids.shape, generator=generator).to(ids.device)
    random_words = torch.randint(len(SPECIAL_TOKENS), vocab_size, ids.shape, generator=generator)
    ids_in = torch.where(chosen & (r < 1 - random_prob - keep_prob), MASK, ids)
    to_random = chosen & (r >= 1 - random_prob - keep_prob) & (r < 1 - keep_prob)
    ids_in = torch.where(to_random, random_words.to(ids.device), ids_in)
    return ids_in, torch.where(chosen, ids, IGNORE)


def _check_data(model, ids, mask) -> None:
    check_instance("model", model, MaskedLM, "MaskedLM(encoder)")
    check_tokens(ids, mask)


def mlm_loss(model: MaskedLM, ids, mask, mask_prob=0.15, generator=None) -> torch.Tensor:
    """Cross-entropy of the original words at the chosen positions (Devlin et al. 2019, 3.1)."""
    vocab_size = model.encoder.config["vocab_size"]
    ids_in, targets = mask_tokens(ids, mask, vocab_size, mask_prob, generator=generator)
    logits = model(ids_in, mask)  # (B, L, vocab_size)
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=IGNORE)


def pretrain_mlm(
    model: MaskedLM,
    ids,
    mask,
    steps,
    batch_size=64,
    lr=1e-3,
    mask_prob=0.15,
    generator=None,
    progress=False,
) -> list[float]:
    """Train model = MaskedLM(encoder) with train.fit on the encoded captions (ids, mask from
    Tokenizer.encode), loss mlm_loss, no EMA; returns the loss at each step."""
    _check_data(model, ids, mask)
    check_float("mask_prob", mask_prob, 0, 1, open_low=True, open_high=True)
    loss_fn = functools.partial(mlm_loss, mask_prob=mask_prob)
    history = train.fit(
        model,
        loss_fn,
        (ids, mask),
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        ema_decay=0.0,
        generator=generator,
        progress=progress,
    )
    return history.loss


@torch.no_grad()
def mlm_accuracy(model: MaskedLM, ids, mask, generator=None, mask_prob=0.15) -> float:
    """Fraction of chosen words predicted exactly (argmax) when all chosen become [MASK]:
    evaluate on held-out captions. Chance is about 1 / (number of words). generator=None uses a
    fresh one seeded 0, so that evaluations of different models choose the same words."""
    _check_data(model, ids, mask)
    generator = torch.Generator().manual_seed(0) if generator is None else generator
    device, was_training = next(model.parameters()).device, model.training
    ids, mask = ids.to(device), mask.to(device)
    vocab_size = model.encoder.config["vocab_size"]
    ids_in, targets = mask_tokens(ids, mask, vocab_size, mask_prob, 0.0, 0.0, generator)
    predicted = model.eval()(ids_in, mask).argmax(dim=-1)  # (B, L)
    model.train(was_training)
    chosen = targets != IGNORE
    return (predicted[chosen] == targets[chosen]).float().mean().item()


def freeze(encoder: nn.Module) -> nn.Module:
    """encoder.requires_grad_(False).eval(), returned: a frozen encoder as in Imagen."""
    if not isinstance(encoder, nn.Module):
        raise TypeError(f"encoder: expected an nn.Module, got {type(encoder).__name__}")
    return encoder.requires_grad_(False).eval()
