"""A super-resolution denoiser (lesson 10; SR3, Saharia et al. 2022; Any-Size-Diffusion's stage 2):
the network sees the noisy high-resolution image beside the low-resolution one, upsampled to the
same size, and denoises the first.

The condition is passed already upsampled (`upsample`), so that it has x's shape: the tiled
samplers of minidiff.tiling then cut it into the same windows as x, and a canvas of any size is
super-resolved tile by tile.
"""

import torch
import torch.nn.functional as F
from torch import nn

from minidiff.checks import check_int, describe


def upsample(low: torch.Tensor, factor: int) -> torch.Tensor:
    """(B, C, h, w) -> (B, C, factor h, factor w), bilinear (align_corners=False)."""
    factor = check_int("factor", factor, 1)
    return F.interpolate(low, scale_factor=factor, mode="bilinear", align_corners=False)


class SuperResolution(nn.Module):
    """net(x, t, low) = unet(cat[x, low], t): unet takes 2 C channels and returns C; low is the
    low-resolution image upsampled to x's shape (upsample)."""

    def __init__(self, unet: nn.Module):
        super().__init__()
        c = getattr(unet, "config", {})
        if c.get("in_channels") != 2 * c.get("out_channels", -1):
            raise ValueError(f"unet: expected in_channels twice out_channels (x and the upsampled "
                             f"image side by side), got {describe(c)}")  # fmt: skip
        self.unet, self.config = unet, dict(unet.config)

    def forward(self, x, t, low):
        if low.shape != x.shape:
            raise ValueError(f"low: expected the low-resolution image upsampled to x's shape "
                             f"{tuple(x.shape)}, got {tuple(low.shape)}: "
                             "use upsample()")  # fmt: skip
        return self.unet(torch.cat([x, low], 1), t)
