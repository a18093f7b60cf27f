"""Classifier-free guidance and thresholding, as denoiser wrappers.

CFG (Ho & Salimans 2022, Eq. 6): x0_guided = x0_uncond + scale (x0_cond - x0_uncond); scale = 1
is the conditional model, 0 the unconditional one. Guiding x0_hat is the same as guiding eps_hat or
the score, since all three are affine in x0_hat at a fixed (x, t).
Thresholding (Saharia et al. 2022, Imagen, Sec. 2.3) keeps x0_hat inside the data range [-1, 1]:
static clips it; dynamic divides each sample by s = max(1, p-th percentile of |x0_hat|) after
clipping to [-s, s], which avoids the saturated colours that static clipping gives at high guidance.
"""

import torch


def _as_tuple(cond) -> tuple:
    return cond if isinstance(cond, tuple) else (cond,)


def cfg(denoiser, scale: float, cond, null_cond):
    """Return denoiser(x, t) -> guided x0_hat; one batched call evaluates both branches.

    cond and null_cond: a tensor or a tuple of tensors (e.g. text tokens and their mask),
    each batched like x; None entries are passed as None.
    """
    if scale < 0:
        raise ValueError(f"scale: expected a guidance scale >= 0, got {scale}")
    cond, null_cond = _as_tuple(cond), _as_tuple(null_cond)
    if len(cond) != len(null_cond):
        raise ValueError(f"null_cond: expected {len(cond)} entries like cond, got {len(null_cond)}")
    both_cond = tuple(None if c is None else torch.cat([c, n]) for c, n in zip(cond, null_cond))

    def guided(x, t):
        x0_cond, x0_uncond = denoiser(torch.cat([x, x]), torch.cat([t, t]), *both_cond).chunk(2)
        return x0_uncond + scale * (x0_cond - x0_uncond)

    return guided


def cfg_denoiser(denoiser, scale: float, null_cond):
    """denoiser(x, t, *cond) -> guided x0_hat, with the conditions given at each call (a guided
    teacher during distillation); null_cond: the null conditions, batch 1 or like x."""
    null_cond = _as_tuple(null_cond)

    def guided(x, t, *cond):
        null = tuple(None if n is None else n.expand(len(x), *n.shape[1:]) for n in null_cond)
        return cfg(denoiser, scale, cond, null)(x, t)

    return guided


def static_threshold(denoiser, limit: float = 1.0):
    """x0_hat clipped to [-limit, limit] (Ho et al. 2020's clip_denoised)."""
    if not limit > 0:
        raise ValueError(f"limit: expected a positive float, got {limit}")

    def thresholded(x, t, *cond):
        return denoiser(x, t, *cond).clamp(-limit, limit)

    return thresholded


def dynamic_threshold(denoiser, percentile: float = 0.995, limit: float = 1.0):
    """Per sample s = max(limit, percentile of |x0_hat|); x0_hat <- clip(x0_hat, -s, s) limit/s."""
    if not 0 < percentile <= 1 or not limit > 0:
        raise ValueError(
            f"percentile, limit: expected 0 < percentile <= 1 and limit > 0, "
            f"got {percentile} and {limit}"
        )

    def thresholded(x, t, *cond):
        x0_hat = denoiser(x, t, *cond)
        s = torch.quantile(x0_hat.flatten(1).abs(), percentile, dim=1).clamp(min=limit)
        s = s.reshape(-1, *([1] * (x0_hat.ndim - 1)))  # (B, 1, ...)
        return x0_hat.clamp(-s, s) * (limit / s)

    return thresholded
