"""The Hourglass Diffusion Transformer (HDiT; Crowson et al. 2024): a pure transformer on pixels
whose cost grows with the number of pixels, not with its square.

Patches of `patch` x `patch` pixels become tokens (TokenMerge). Each level of the hourglass runs
its blocks (nets.hdit_blocks), then merges 2 x 2 tokens into one (down) or splits one into 2 x 2
(up); the up path mixes each level's tokens with the down path's by a learnable lerp (f = 0.5 at
the start). Levels with a `kernel` use neighbourhood attention, whose cost per token is fixed;
only the innermost levels, with few tokens, attend globally. The model is the F of
targets.EDMDenoiser: net(x, c_noise, label=None), x (B, C, H, W) and c_noise (B,) -> (B, C, H, W).
"""

from dataclasses import dataclass

import torch
from einops import rearrange
from torch import nn

from minidiff.checks import check_int
from minidiff.nets.hdit_blocks import Block, MappingNetwork
from minidiff.nets.layers import zero_init

SKIPS = ("lerp", "add", None)  # how TokenSplit mixes in the skip


class TokenMerge(nn.Module):
    """(B, H, W, C) -> (B, H/p, W/p, out): each p x p patch concatenated, then a linear map."""

    def __init__(self, in_dim: int, out_dim: int, patch: int = 2):
        super().__init__()
        self.patch = patch
        self.proj = nn.Linear(in_dim * patch * patch, out_dim, bias=False)

    def forward(self, x):
        p = self.patch
        return self.proj(rearrange(x, "b (h p) (w q) c -> b h w (p q c)", p=p, q=p))


class TokenSplit(nn.Module):
    """(B, H, W, C) -> (B, pH, pW, out): a linear map to p x p tokens, then mixed with the down
    path's tokens by `skip`: "lerp", lerp(skip, x, f) with a learnable f started at 0.5 (HDiT's);
    "add", skip + x (the ablation's); None, no skip (the output split)."""

    def __init__(self, in_dim: int, out_dim: int, patch: int = 2, skip: str | None = "lerp"):
        super().__init__()
        if skip not in SKIPS:
            raise ValueError(f"skip: expected one of {SKIPS}, got {skip!r}")
        self.patch, self.skip = patch, skip
        self.proj = nn.Linear(in_dim, out_dim * patch * patch, bias=False)
        self.fac = nn.Parameter(torch.tensor(0.5)) if skip == "lerp" else None

    def forward(self, x, skip=None):
        p = self.patch
        x = rearrange(self.proj(x), "b h w (p q c) -> b (h p) (w q) c", p=p, q=p)
        if (skip is None) != (self.skip is None):
            raise ValueError(f"skip: expected {'none' if self.skip is None else 'a tensor'} for a "
                             f"TokenSplit made with skip={self.skip!r}")  # fmt: skip
        if skip is None:
            return x
        return torch.lerp(skip, x, self.fac.to(x.dtype)) if self.skip == "lerp" else skip + x


def check_size(name: str, size: int, multiple: int) -> int:
    """An image side must split into patches and halve at every merge."""
    size = check_int(name, size, 1)
    if size % multiple:
        below, above = size - size % multiple, size + multiple - size % multiple
        raise ValueError(f"{name}: expected a multiple of patch x 2^(levels - 1) = {multiple}, "
                         f"got {size}; try {below or multiple} or {above}")  # fmt: skip
    return size


@dataclass(frozen=True)
class Level:
    """One level of the hourglass: its token width, the blocks on each side (down and up; the
    innermost level's blocks once, in the middle), and its attention: a neighbourhood `kernel`,
    or None for global attention."""

    width: int
    depth: int
    kernel: int | None = None


class HDiT(nn.Module):
    """The hourglass: patch -> levels[0] tokens; down: blocks, TokenMerge to the next level; the
    innermost level's blocks; up: TokenSplit with a lerp skip, blocks; RMSNorm, a zero-started
    TokenSplit back to pixels. net(x, c_noise, label=None) -> (B, C, H, W)."""

    def __init__(self, in_channels=3, levels=(Level(32, 1, 7), Level(64, 2)), patch=2,
                 head_dim=16, num_classes=0, mapping_depth=1, backend=None,
                 skip="lerp"):  # fmt: skip
        super().__init__()
        levels = tuple(Level(*lv) if isinstance(lv, (tuple, list)) else lv for lv in levels)
        cond = levels[-1].width
        self.patch, self.levels = patch, levels
        self.mapping = MappingNetwork(cond, mapping_depth, num_classes)
        self.patch_in = TokenMerge(in_channels, levels[0].width, patch)

        def blocks(lv):
            return nn.ModuleList(Block(lv.width, head_dim, cond, lv.kernel, backend)
                                 for _ in range(lv.depth))  # fmt: skip

        self.down = nn.ModuleList(blocks(lv) for lv in levels[:-1])
        self.merges = nn.ModuleList(
            TokenMerge(a.width, b.width) for a, b in zip(levels, levels[1:])
        )
        self.middle = blocks(levels[-1])
        self.splits = nn.ModuleList(
            TokenSplit(b.width, a.width, skip=skip) for a, b in zip(levels, levels[1:])
        )
        self.up = nn.ModuleList(blocks(lv) for lv in levels[:-1])
        self.norm_out = nn.RMSNorm(levels[0].width, eps=1e-6)
        self.patch_out = TokenSplit(levels[0].width, in_channels, patch, skip=None)
        zero_init(self.patch_out.proj)  # the model starts at F = 0
        specs = [[lv.width, lv.depth, lv.kernel] for lv in levels]
        self.config = dict(in_channels=in_channels, levels=specs, patch=patch, head_dim=head_dim,
                           num_classes=num_classes, mapping_depth=mapping_depth,
                           skip=skip)  # fmt: skip

    def forward(self, x, c_noise, label=None):
        multiple = self.patch * 2 ** (len(self.levels) - 1)
        for name, size in (("height", x.shape[-2]), ("width", x.shape[-1])):
            check_size(f"x's {name}", size, multiple)
        cond = self.mapping(c_noise, label)
        h, skips = self.patch_in(rearrange(x, "b c h w -> b h w c")), []
        for level, merge in zip(self.down, self.merges):
            for block in level:
                h = block(h, cond)
            skips.append(h)
            h = merge(h)
        for block in self.middle:
            h = block(h, cond)
        for level, split in zip(reversed(self.up), reversed(self.splits)):
            h = split(h, skips.pop())
            for block in level:
                h = block(h, cond)
        return rearrange(self.patch_out(self.norm_out(h)), "b h w c -> b c h w")
