"""Building blocks shared by the networks.

SinusoidalEmbedding is the Transformer position encoding (Vaswani et al. 2017, Sec. 3.5) applied
to the diffusion time, as in DDPM (Ho et al. 2020, App. B). Notable choice: t in [0, 1] is
multiplied by `scale` (1000) first, so its frequencies match those of DDPM's integer steps.
The UNet's convolutional pieces (DDPM, Ho et al. 2020; ADM, Dhariwal & Nichol 2021) follow:
ResBlock, Downsample, Upsample, conv3x3 (optionally separable) and zero_init.
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


def group_norm(channels: int) -> nn.GroupNorm:
    """GroupNorm with 32 groups as in DDPM/ADM, or gcd(32, channels) for the course's thin nets."""
    return nn.GroupNorm(math.gcd(32, channels), channels)


def zero_init(module: nn.Module) -> nn.Module:
    """Zero the last layer of `module` (a layer or an nn.Sequential), so a residual branch starts
    as the identity and an output layer starts at 0 (DDPM's and ADM's zero_module). Only the last
    layer: zeroing both halves of a separable conv would leave both with zero gradient forever."""
    last = module[-1] if isinstance(module, nn.Sequential) else module
    nn.init.zeros_(last.weight)
    nn.init.zeros_(last.bias)
    return module


def conv3x3(in_channels: int, out_channels: int, separable: bool = False) -> nn.Module:
    """A 3x3 conv, or if `separable` a depthwise 3x3 conv then a pointwise 1x1 conv (MobileNets,
    Howard et al. 2017): 9 C_in + C_in + C_in C_out + C_out parameters instead of
    9 C_in C_out + C_out (MobileDiffusion, Zhao et al. 2023, uses them in its inner blocks)."""
    if not separable:
        return nn.Conv2d(in_channels, out_channels, 3, padding=1)
    return nn.Sequential(
        nn.Conv2d(in_channels, in_channels, 3, padding=1, groups=in_channels),
        nn.Conv2d(in_channels, out_channels, 1),
    )


class ResBlock(nn.Module):
    """x (B, C_in, H, W), emb (B, time_dim) -> (B, C_out, H, W) (DDPM, Ho et al. 2020, App. B).

    skip(x) + conv(drop(silu(norm(conv(silu(norm(x))) + W emb)))); the last conv starts at zero,
    skip is a 1x1 conv when the channels change. time_dim None: no emb term (the autoencoder's).
    """

    def __init__(self, in_channels, out_channels, time_dim, separable=False, dropout=0.0):
        super().__init__()
        self.in_layers = nn.Sequential(
            group_norm(in_channels), nn.SiLU(), conv3x3(in_channels, out_channels, separable)
        )
        self.time_proj = None
        if time_dim is not None:
            self.time_proj = nn.Sequential(nn.SiLU(), nn.Linear(time_dim, out_channels))
        self.out_layers = nn.Sequential(
            group_norm(out_channels),
            nn.SiLU(),
            nn.Dropout(dropout),
            zero_init(conv3x3(out_channels, out_channels, separable)),
        )
        same = in_channels == out_channels
        self.skip = nn.Identity() if same else nn.Conv2d(in_channels, out_channels, 1)

    def forward(self, x: torch.Tensor, emb: torch.Tensor | None = None) -> torch.Tensor:
        h = self.in_layers(x)  # (B, C_out, H, W)
        if self.time_proj is not None:
            h = h + self.time_proj(emb)[:, :, None, None]
        return self.skip(x) + self.out_layers(h)


class Downsample(nn.Module):
    """(B, C, H, W) -> (B, C, H/2, W/2) by a stride-2 3x3 conv (ADM); extra arguments ignored."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor, *unused) -> torch.Tensor:
        return self.conv(x)


class Upsample(nn.Module):
    """(B, C, H, W) -> (B, C, 2H, 2W): nearest-neighbour upsampling then a 3x3 conv (DDPM),
    separable if asked."""

    def __init__(self, channels: int, separable: bool = False):
        super().__init__()
        self.conv = conv3x3(channels, channels, separable)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(nn.functional.interpolate(x, scale_factor=2.0, mode="nearest"))
