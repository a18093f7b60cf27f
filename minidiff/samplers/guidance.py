"""Classifier-free guidance and thresholding, as denoiser wrappers.

CFG (Ho & Salimans 2022, Eq. 6): x0_guided = x0_uncond + scale (x0_cond - x0_uncond); scale = 1
is the conditional model, 0 the unconditional one. Guiding x0_hat is the same as guiding eps_hat or
the score, since all three are affine in x0_hat at a fixed (x, t).
Thresholding (Saharia et al. 2022, Imagen, Sec. 2.3) keeps x0_hat inside the data range [-1, 1]:
static clips it; dynamic divides each sample by s = max(1, p-th percentile of |x0_hat|) after
clipping to [-s, s], which avoids the saturated colours that static clipping gives at high guidance.
"""

import torch

from ..checks import check_callable, check_float, describe
from ._checks import DENOISER


def _as_tuple(name: str, cond) -> tuple:
    """cond as a tuple whose entries are tensors or None; a bad entry raises naming `name`."""
    cond = cond if isinstance(cond, tuple) else (cond,)
    for entry in cond:
        if isinstance(entry, list):
            raise TypeError(f"{name}: expected a tensor, None or a tuple of them, got a list; "
                            f"pass a tuple, e.g. (ids, mask)")  # fmt: skip
        if entry is not None and not isinstance(entry, torch.Tensor):
            raise TypeError(f"{name}: expected a tensor, None or a tuple of them, "
                            f"got {describe(entry)}")  # fmt: skip
    return cond


def _check_null(cond: tuple, null_cond: tuple):
    """null_cond pairs with cond: as many entries, None in the same places, same trailing shape."""
    if len(cond) != len(null_cond):
        raise ValueError(f"null_cond: expected {len(cond)} entries like cond, got {len(null_cond)}")
    for c, n in zip(cond, null_cond):
        if (c is None) != (n is None) or (c is not None and c.shape != n.shape):
            got, like = describe(n), describe(c)
            raise ValueError(f"null_cond: expected an entry shaped like cond's ({like}), got "
                             f"{got}; cfg_denoiser expands a batch-1 null")  # fmt: skip


def cfg(denoiser, scale: float, cond, null_cond):
    """Return denoiser(x, t) -> guided x0_hat; one batched call evaluates both branches.

    cond and null_cond: a tensor or a tuple of tensors (e.g. text tokens and their mask),
    each batched like x; None entries are passed as None.
    """
    check_callable("denoiser", denoiser, DENOISER)
    scale = check_float("scale", scale, 0)
    cond, null_cond = _as_tuple("cond", cond), _as_tuple("null_cond", null_cond)
    _check_null(cond, null_cond)
    both_cond = tuple(None if c is None else torch.cat([c, n]) for c, n in zip(cond, null_cond))

    def guided(x, t):
        if any(c is not None and len(c) != len(x) for c in cond):
            raise ValueError(f"cond: expected entries batched like x ({len(x)}), got "
                             f"{[describe(c) for c in cond]}")  # fmt: skip
        x0_cond, x0_uncond = denoiser(torch.cat([x, x]), torch.cat([t, t]), *both_cond).chunk(2)
        return x0_uncond + scale * (x0_cond - x0_uncond)

    return guided


def conditioned(denoiser, *cond):
    """denoiser(x, t) -> denoiser(x, t, *cond): the conditional model unguided (CFG at scale 1,
    for half its cost); each entry of cond batched like x, or None."""
    check_callable("denoiser", denoiser, DENOISER)
    cond = _as_tuple("cond", cond)

    def bound(x, t):
        if any(c is not None and len(c) != len(x) for c in cond):
            raise ValueError(f"cond: expected entries batched like x ({len(x)}), got "
                             f"{[describe(c) for c in cond]}")  # fmt: skip
        return denoiser(x, t, *cond)

    return bound


def cfg_denoiser(denoiser, scale: float, null_cond):
    """denoiser(x, t, *cond) -> guided x0_hat, with the conditions given at each call (a guided
    teacher during distillation); null_cond: the null conditions, batch 1 or like x."""
    check_callable("denoiser", denoiser, DENOISER)
    scale, null_cond = check_float("scale", scale, 0), _as_tuple("null_cond", null_cond)

    def guided(x, t, *cond):
        null = tuple(None if n is None else n.expand(len(x), *n.shape[1:]) for n in null_cond)
        return cfg(denoiser, scale, cond, null)(x, t)

    return guided


def static_threshold(denoiser, limit: float = 1.0):
    """x0_hat clipped to [-limit, limit] (Ho et al. 2020's clip_denoised)."""
    check_callable("denoiser", denoiser, DENOISER)
    limit = check_float("limit", limit, 0, open_low=True)

    def thresholded(x, t, *cond):
        return denoiser(x, t, *cond).clamp(-limit, limit)

    return thresholded


def dynamic_threshold(denoiser, percentile: float = 0.995, limit: float = 1.0):
    """Per sample s = max(limit, percentile of |x0_hat|); x0_hat <- clip(x0_hat, -s, s) limit/s."""
    check_callable("denoiser", denoiser, DENOISER)
    percentile = check_float("percentile", percentile, 0, 1, open_low=True)
    limit = check_float("limit", limit, 0, open_low=True)

    def thresholded(x, t, *cond):
        x0_hat = denoiser(x, t, *cond)
        s = torch.quantile(x0_hat.flatten(1).abs(), percentile, dim=1).clamp(min=limit)
        s = s.reshape(-1, *([1] * (x0_hat.ndim - 1)))  # (B, 1, ...)
        return x0_hat.clamp(-s, s) * (limit / s)

    return thresholded
