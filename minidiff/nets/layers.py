"""Building blocks shared by the networks.

SinusoidalEmbedding is the Transformer position encoding (Vaswani et al. 2017, Sec. 3.5) applied
to the diffusion time, as in DDPM (Ho et al. 2020, App. B). Notable choice: t in [0, 1] is
multiplied by `scale` (1000) first, so its frequencies match those of DDPM's integer steps.
The UNet's convolutional pieces (DDPM, Ho et al. 2020; ADM, Dhariwal & Nichol 2021) follow:
ResBlock, Downsample, Upsample, conv3x3 (optionally separable) and zero_init. The networks' forward
passes check their inputs with check_input, check_times and check_labels.
"""

import math
import numbers

import torch
from torch import nn

from minidiff.checks import check_float, check_int, describe


class SinusoidalEmbedding(nn.Module):
    """t (B,) -> (B, dim) = [cos(scale t w_i), sin(scale t w_i)], w_i = max_period^(-2i / dim)."""

    def __init__(self, dim: int, max_period: float = 10_000, scale: float = 1000.0):
        super().__init__()
        if check_int("dim", dim, 2) % 2:
            raise ValueError(f"dim: expected an even int >= 2, got {describe(dim)}")
        check_float("max_period", max_period, 1, open_low=True)
        check_float("scale", scale, 0, open_low=True)
        self.dim, self.max_period, self.scale = int(dim), max_period, scale

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        if not (isinstance(t, torch.Tensor) and t.ndim == 1 and t.is_floating_point()):
            raise ValueError(f"t: expected a floating-point tensor (B,), got {describe(t)}")
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
    if last.bias is not None:  # (bias-free layers too: HDiT's)
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


_METHODS = {torch.float16: "half", torch.bfloat16: "bfloat16", torch.float32: "float",
           torch.float64: "double"}  # fmt: skip


def _name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def check_input(name: str, x, dtype: torch.dtype, shape: tuple, noun="a tensor of shape") -> None:
    """x must be a tensor of `shape` (ints must match, names such as "B" or "H" are any size) with
    a non-empty batch and the network's dtype `dtype`. Metadata only: no host sync, so a network
    checks its inputs on every forward pass for free."""
    dims = f"({', '.join(map(str, shape))})"
    expected = f"{name}: expected {noun} {dims}" if noun else f"{name}: expected {dims}"
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{expected}, got {describe(x)}")
    if x.ndim != len(shape) or any(isinstance(n, int) and m != n for m, n in zip(x.shape, shape)):
        raise ValueError(f"{expected}, got {describe(x)}")
    if x.shape[0] == 0:
        raise ValueError(f"{expected} with at least one sample, got {describe(x)}")
    if x.dtype != dtype:
        fix = f"use {name}.{_METHODS.get(dtype, 'float')}()"
        fix += f" or net.{_METHODS[x.dtype]}()" if x.dtype in _METHODS else ""
        raise TypeError(f"{name}: dtype {_name(x.dtype)} differs from the network's "
                        f"{_name(dtype)}; {fix}")  # fmt: skip


def check_times(t, batch: int) -> None:
    """t must be floating-point times (batch,), one per sample of x (metadata only)."""
    expected = f"t: expected a tensor of shape ({batch},) like x's batch, of times in [0, 1]"
    if isinstance(t, numbers.Real):  # one number for the whole batch: a shape mistake
        raise ValueError(f"{expected}, got {describe(t)}; use torch.full(({batch},), {t})")
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{expected}, got {describe(t)}")
    if t.shape != (batch,):
        raise ValueError(f"{expected}, got {describe(t)}")
    if not t.is_floating_point():
        raise ValueError(f"{expected}, got {describe(t)}; use t.float() (times, not step numbers)")


def check_labels(y, batch: int, classes: int, option: str, net: str) -> None:
    """y must be None or int labels (batch,) in [0, classes], classes being the null label; `option`
    names the network's number of classes. The range check costs one host sync, paid only when
    y is given: an out-of-range label would otherwise fail deep in nn.Embedding (IndexError on
    the CPU, a device-side assert on CUDA)."""
    if y is None:
        return
    if not classes:
        raise ValueError(f"y: this {net} has {option}=0, so y must be None, got {describe(y)}")
    expected = f"y: expected integer labels of shape ({batch},)"
    if not isinstance(y, torch.Tensor):
        raise TypeError(f"{expected}, got {describe(y)}")
    if y.dtype not in (torch.int64, torch.int32):
        raise ValueError(f"{expected}, got {describe(y)}; use y.long()")
    if y.shape != (batch,):
        raise ValueError(f"{expected}, got {describe(y)}")
    if bool(((y < 0) | (y > classes)).any()):
        raise ValueError(f"y: expected labels in [0, {classes}] ({option}={classes}, {classes} = "
                         f"null label), got {int(y.min())}..{int(y.max())}")  # fmt: skip
