"""The transformer blocks of HDiT (Crowson et al. 2024), shared by nets.hdit and nets.dit.

As in the paper and k-diffusion's image_transformer_v2: AdaRMSNorm (the scale 1 + Linear(condition),
started at 1), cosine-similarity attention with a learnable scale per head (started at 10), axial
2-D RoPE on half of each head's dimensions, a GEGLU feed-forward (d_ff = 3 dim), and output
projections started at zero, so that every block starts as the identity. Attention is global, or
local (neighbourhood attention of a `kernel`). A mapping network turns the noise level (and a
class) into the condition of every AdaRMSNorm. Bias-free linear layers throughout. Tokens are
laid out (B, H, W, dim).
"""

import math

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from minidiff.nets.attention import neighbourhood_attention
from minidiff.nets.layers import zero_init


class AdaRMSNorm(nn.Module):
    """RMSNorm whose scale is 1 + Linear(condition), the linear map started at zero."""

    def __init__(self, dim: int, cond_dim: int):
        super().__init__()
        self.linear = zero_init(nn.Linear(cond_dim, dim, bias=False))

    def forward(self, x, cond):  # x (B, ..., dim), cond (B, cond_dim)
        scale = 1 + self.linear(cond)
        normed = F.rms_norm(x, x.shape[-1:], eps=1e-6)
        return normed * scale.view(scale.shape[0], *[1] * (x.dim() - 2), -1)


def axial_positions(height: int, width: int) -> torch.Tensor:
    """(height * width, 2) cell centres (y, x) of the grid in [-1, 1] (the longer side spans it)."""
    longest = max(height, width)
    ys = (torch.arange(height) + 0.5 - height / 2) * 2 / longest
    xs = (torch.arange(width) + 0.5 - width / 2) * 2 / longest
    return torch.stack(torch.meshgrid(ys, xs, indexing="ij"), -1).reshape(-1, 2)


class AxialRoPE(nn.Module):
    """Rotary position embedding on the first half of each head's dimensions: a quarter rotated
    by the y position, a quarter by x, at frequencies log-spaced in [pi, 10 pi] across heads."""

    def __init__(self, head_dim: int, num_heads: int):
        super().__init__()
        if head_dim % 8:
            raise ValueError(f"head_dim: expected a multiple of 8 (a quarter of it in pairs per "
                             f"axis), got {head_dim}")  # fmt: skip
        n = head_dim // 8  # frequencies per axis and head
        freqs = torch.linspace(math.log(math.pi), math.log(10 * math.pi), num_heads * n + 1)[:-1]
        self.register_buffer("freqs", freqs.exp().view(n, num_heads).T.contiguous())  # (heads, n)

    def forward(self, x, positions):  # x (B, heads, L, d), positions (L, 2)
        theta = positions[None, :, :, None] * self.freqs[:, None, None, :]  # (heads, L, 2, n)
        theta = theta.flatten(-2).to(x.dtype)  # (heads, L, d / 4): y's angles, then x's
        m = theta.shape[-1]
        x1, x2, rest = x[..., :m], x[..., m : 2 * m], x[..., 2 * m :]
        cos, sin = theta.cos(), theta.sin()
        return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin, rest], -1)


class SelfAttention(nn.Module):
    """x += out(attention(norm(x))): cosine-similarity scores times a learnable per-head scale,
    RoPE, global (kernel None) or neighbourhood attention; x (B, H, W, dim)."""

    def __init__(self, dim, head_dim, cond_dim, kernel=None, backend=None):
        super().__init__()
        if dim % head_dim:
            raise ValueError(f"head_dim: expected a divisor of the width {dim}, got {head_dim}")
        self.heads, self.kernel, self.backend = dim // head_dim, kernel, backend
        self.norm = AdaRMSNorm(dim, cond_dim)
        self.qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.scale = nn.Parameter(torch.full((self.heads,), 10.0))
        self.rope = AxialRoPE(head_dim, self.heads)
        self.out = zero_init(nn.Linear(dim, dim, bias=False))

    def forward(self, x, cond):
        height, width = x.shape[1:3]
        qkv = rearrange(self.qkv(self.norm(x, cond)), "b h w (t n d) -> t b n (h w) d", t=3,
                        n=self.heads)  # fmt: skip
        root = self.scale.sqrt()[:, None, None]
        q, k = (F.normalize(t, dim=-1) * root for t in qkv[:2])  # q.k = scale * cosine
        positions = axial_positions(height, width).to(x.device)
        q, k, v = self.rope(q, positions), self.rope(k, positions), qkv[2]
        if self.kernel is None:
            out = F.scaled_dot_product_attention(q, k, v, scale=1.0)
        else:
            out = neighbourhood_attention(q, k, v, height, width, self.kernel, 1.0, self.backend)
        return x + self.out(rearrange(out, "b n (h w) d -> b h w (n d)", h=height))


class FeedForward(nn.Module):
    """x += down(GEGLU(norm(x))), d_ff hidden units, the down projection started at zero; the
    norm is AdaRMSNorm on a condition of cond_dim, or a plain RMSNorm (cond_dim None)."""

    def __init__(self, dim: int, d_ff: int, cond_dim: int | None = None):
        super().__init__()
        self.norm = nn.RMSNorm(dim, eps=1e-6) if cond_dim is None else AdaRMSNorm(dim, cond_dim)
        self.up = nn.Linear(dim, 2 * d_ff, bias=False)
        self.down = zero_init(nn.Linear(d_ff, dim, bias=False))

    def forward(self, x, cond=None):
        h, gate = self.up(self.norm(x) if cond is None else self.norm(x, cond)).chunk(2, -1)
        return x + self.down(h * F.gelu(gate))


class Block(nn.Module):
    def __init__(self, dim, head_dim, cond_dim, kernel=None, backend=None):
        super().__init__()
        self.attention = SelfAttention(dim, head_dim, cond_dim, kernel, backend)
        self.ffn = FeedForward(dim, 3 * dim, cond_dim)

    def forward(self, x, cond):
        return self.ffn(self.attention(x, cond), cond)


class MappingNetwork(nn.Module):
    """c_noise (B,) and a class label (B,) -> (B, width): random Fourier features of c_noise,
    projected, plus a class embedding (num_classes: the null class for CFG, label None); RMSNorm,
    `depth` residual GEGLU blocks, RMSNorm."""

    def __init__(self, width: int, depth: int = 2, num_classes: int = 0):
        super().__init__()
        self.register_buffer("freqs", torch.randn(width // 2))
        self.time_in = nn.Linear(2 * (width // 2), width, bias=False)
        self.classes = nn.Embedding(num_classes + 1, width) if num_classes else None
        self.norm_in, self.norm_out = nn.RMSNorm(width, eps=1e-6), nn.RMSNorm(width, eps=1e-6)
        self.blocks = nn.ModuleList(FeedForward(width, 3 * width) for _ in range(depth))
        self.num_classes = num_classes

    def forward(self, c_noise, label=None):
        angles = 2 * math.pi * c_noise[:, None] * self.freqs
        h = self.time_in(torch.cat([angles.cos(), angles.sin()], -1))
        if self.classes is not None:
            null = torch.full_like(c_noise, self.num_classes, dtype=torch.long)
            h = h + self.classes(null if label is None else label)
        h = self.norm_in(h)
        for block in self.blocks:
            h = block(h)
        return self.norm_out(h)
