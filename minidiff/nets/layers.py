"""Building blocks shared by the networks.

SinusoidalEmbedding is the Transformer position encoding (Vaswani et al. 2017, Sec. 3.5) applied
to the diffusion time, as in DDPM (Ho et al. 2020, App. B). Notable choice: t in [0, 1] is
multiplied by `scale` (1000) first, so its frequencies match those of DDPM's integer steps.
"""

import math

import torch
from torch import nn


class SinusoidalEmbedding(nn.Module):
    """t (B,) -> (B, dim) = [cos(scale t w_i), sin(scale t w_i)], w_i = max_period^(-2i / dim)."""

    def __init__(self, dim: int, max_period: float = 10_000, scale: float = 1000.0):
        super().__init__()
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 2 or dim % 2:
            raise ValueError(f"dim: expected an even int >= 2, got {dim!r}")
        if not max_period > 1:
            raise ValueError(f"max_period: expected a number > 1, got {max_period!r}")
        self.dim, self.max_period, self.scale = dim, max_period, scale

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        if not isinstance(t, torch.Tensor) or t.ndim != 1 or not t.is_floating_point():
            shape = tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
            raise ValueError(f"t: expected a floating-point tensor of shape (B,), got {shape}")
        half = self.dim // 2
        i = torch.arange(half, dtype=t.dtype, device=t.device)
        w = torch.exp(-math.log(self.max_period) * i / half)  # (half,) frequencies
        angle = self.scale * t[:, None] * w  # (B, half)
        return torch.cat([angle.cos(), angle.sin()], dim=1)  # (B, dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, max_period={self.max_period}, scale={self.scale}"
