"""Classifier-free guidance as a denoiser wrapper (Ho & Salimans 2022, Eq. 6).

x0_guided = x0_uncond + scale (x0_cond - x0_uncond); scale = 1 is the conditional model,
scale = 0 the unconditional one. Guiding x0_hat is the same as guiding eps_hat or the score,
since all three are affine in x0_hat at a fixed (x, t).
"""

import torch


def cfg(denoiser, scale: float, cond, null_cond):
    """Return denoiser(x, t) -> guided x0_hat; one batched call evaluates both branches."""
    if scale < 0:
        raise ValueError(f"scale: expected a guidance scale >= 0, got {scale}")

    def guided(x, t):
        both = denoiser(torch.cat([x, x]), torch.cat([t, t]), torch.cat([cond, null_cond]))
        x0_cond, x0_uncond = both.chunk(2)
        return x0_uncond + scale * (x0_cond - x0_uncond)

    return guided
