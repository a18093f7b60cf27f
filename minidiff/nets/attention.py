"""Attention and transformer blocks for the UNet, with MobileDiffusion's design choices as options.

Attention (Vaswani et al. 2017) with heads split by einops; cross-attention to text tokens as in
Stable Diffusion / LDM (Rombach et al. 2022, Sec. 3.3). A Block spec holds the options that
MobileDiffusion (Zhao et al. 2023, Sec. 3) varies: self+cross or cross-only blocks, shared key/value
projection (W_K = W_V), GELU or Swish in the gated FFN, softmax or ReLU attention, FFN expansion.
Notable choice: ffn_expansion is the gate's width / C, so Stable Diffusion's GEGLU, which
MobileDiffusion counts as 8 (the doubled input projection), is 4 here, and its 6 is 3.

Neighbourhood attention (Hassani et al. 2023; HDiT's local levels): each query of an H x W grid
attends to the kernel x kernel keys around it, with NATTEN's border rule, defined once
(`neighbourhood`) and computed three ways: "sdpa_dense" (a boolean mask: every score is computed,
then most are discarded), "windows" (the k^2 keys gathered per query: the cost is local) and
"flex" (FlexAttention's block-sparse kernel; its backward needs CUDA).
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from minidiff.checks import check_choice, check_instance, check_int, describe
from minidiff.nets.layers import group_norm, zero_init

KINDS, ACTIVATIONS, KERNELS = ("cross", "self+cross"), ("gelu", "swish"), ("softmax", "relu")


@dataclass(frozen=True)
class Block:
    """The transformer options of one UNet stage (`depth` blocks after each ResBlock there).

    kind: "self+cross" (self-attention, cross-attention, FFN; without context: no cross-attention)
    or "cross" (cross-attention and FFN only: MobileDiffusion's high-resolution blocks).
    """

    kind: str = "self+cross"
    depth: int = 1
    num_heads: int = 4
    ffn_expansion: int = 4
    shared_kv: bool = False
    activation: str = "gelu"  # in the gated FFN: "gelu" (GEGLU) or "swish" (SwiGLU)
    kernel: str = "softmax"  # attention weights: "softmax" or "relu"

    def __post_init__(self):
        for name, options in [("kind", KINDS), ("activation", ACTIVATIONS), ("kernel", KERNELS)]:
            check_choice(name, getattr(self, name), options)
        for name in ("depth", "num_heads", "ffn_expansion"):  # numpy ints are stored as ints
            object.__setattr__(self, name, check_int(name, getattr(self, name), 1))
        if not isinstance(self.shared_kv, bool):
            raise ValueError(f"shared_kv: expected a bool, got {describe(self.shared_kv)}")


def relu_attention(q, k, v, mask=None):
    """relu(q k^T / sqrt(d)) v / L, L = number of (unmasked) keys (Wortsman et al. 2023)."""
    weights = torch.relu(q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5)  # (B, heads, L, M)
    if mask is None:
        return weights @ v / k.shape[-2]
    weights = weights * mask
    return weights @ v / mask.sum(-1, keepdim=True).clamp(min=1)


class Attention(nn.Module):
    """x (B, L, C) attends to context (B, M, context_dim), or to itself if context_dim is None.

    mask (B, M) bool, True = a real token: padded tokens get zero weight; a sample with no real
    token gets 0 (no cross-attention). shared_kv: K = V = context W_K (MobileDiffusion).
    """

    def __init__(self, dim, context_dim=None, num_heads=4, shared_kv=False, kernel="softmax"):
        super().__init__()
        dim, num_heads = check_int("dim", dim, 1), check_int("num_heads", num_heads, 1)
        if dim % num_heads:
            raise ValueError(f"num_heads: expected a divisor of dim={dim}, got {num_heads}")
        kv_dim = dim if context_dim is None else check_int("context_dim", context_dim, 1)
        check_choice("kernel", kernel, KERNELS)
        self.num_heads, self.kernel = num_heads, kernel
        self.to_q = nn.Linear(dim, dim, bias=False)
        self.to_k = nn.Linear(kv_dim, dim, bias=False)
        self.to_v = None if shared_kv else nn.Linear(kv_dim, dim, bias=False)
        self.to_out = nn.Linear(dim, dim)

    def forward(self, x, context=None, mask=None):
        context = x if context is None else context
        split = "b l (heads d) -> b heads l d"
        q = rearrange(self.to_q(x), split, heads=self.num_heads)  # (B, heads, L, d)
        k = rearrange(self.to_k(context), split, heads=self.num_heads)  # (B, heads, M, d)
        v = k if self.to_v is None else rearrange(self.to_v(context), split, heads=self.num_heads)
        has_token = None
        if mask is not None:
            has_token = mask.any(1)  # (B,)
            mask = (mask | ~has_token[:, None])[:, None, None, :]  # (B, 1, 1, M); no all-masked row
        if self.kernel == "relu":
            out = relu_attention(q, k, v, mask)
        else:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        out = self.to_out(rearrange(out, "b heads l d -> b l (heads d)"))  # (B, L, C)
        return out if has_token is None else out * has_token[:, None, None]


class FeedForward(nn.Module):
    """Gated-linear FFN (Shazeer 2020): W_out (act(x W_gate) * x W_in), act GELU or Swish."""

    def __init__(self, dim: int, expansion: int = 4, activation: str = "gelu"):
        super().__init__()
        self.proj_in = nn.Linear(dim, 2 * expansion * dim)
        self.activation = F.gelu if activation == "gelu" else F.silu
        self.proj_out = nn.Linear(expansion * dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, gate = self.proj_in(x).chunk(2, dim=-1)  # (B, L, expansion C) each
        return self.proj_out(h * self.activation(gate))


class TransformerBlock(nn.Module):
    """Pre-norm block on tokens x (B, L, C): x += SelfAttn(LN x) (kind "self+cross" only);
    x += CrossAttn(LN x, context) (if context_dim and a context is given); x += FFN(LN x)."""

    def __init__(self, dim: int, context_dim: int | None, block: Block):
        super().__init__()
        check_instance("block", block, Block, "Block()")
        heads, kv, kernel = block.num_heads, block.shared_kv, block.kernel
        self.self_attention = self.cross_attention = None
        if block.kind == "self+cross":
            self.norm1 = nn.LayerNorm(dim)
            self.self_attention = Attention(dim, None, heads, kv, kernel)
        if context_dim is not None:
            self.norm2 = nn.LayerNorm(dim)
            self.cross_attention = Attention(dim, context_dim, heads, kv, kernel)
        self.norm3 = nn.LayerNorm(dim)
        self.ffn = FeedForward(dim, block.ffn_expansion, block.activation)

    def forward(self, x, context=None, mask=None):
        if self.self_attention is not None:
            x = x + self.self_attention(self.norm1(x))
        if self.cross_attention is not None and context is not None:
            x = x + self.cross_attention(self.norm2(x), context, mask)
        return x + self.ffn(self.norm3(x))


class SpatialTransformer(nn.Module):
    """LDM's transformer on a feature map (B, C, H, W): GroupNorm, 1x1 conv, `depth` blocks on the
    H W tokens, 1x1 conv started at zero, plus the input (Rombach et al. 2022, App. E)."""

    def __init__(self, channels: int, context_dim: int | None, block: Block):
        super().__init__()
        check_instance("block", block, Block, "Block()")
        self.norm, self.proj_in = group_norm(channels), nn.Conv2d(channels, channels, 1)
        self.blocks = nn.ModuleList(
            TransformerBlock(channels, context_dim, block) for _ in range(block.depth)
        )
        self.proj_out = zero_init(nn.Conv2d(channels, channels, 1))

    def forward(self, x, context=None, mask=None):
        height = x.shape[2]
        h = rearrange(self.proj_in(self.norm(x)), "b c h w -> b (h w) c")  # (B, HW, C)
        for block in self.blocks:
            h = block(h, context, mask)
        h = rearrange(h, "b (h w) c -> b c h w", h=height)  # (B, C, H, W)
        return x + self.proj_out(h)


ATTENTION_BACKENDS = ("sdpa_dense", "windows", "flex")


def window_starts(size: int, kernel: int) -> torch.Tensor:
    """(size,) first row (or column) of each position's window: centred on it, shifted inward
    near the border so that the window stays inside (NATTEN's rule)."""
    return (torch.arange(size) - kernel // 2).clamp(0, size - kernel)


def neighbourhood(height: int, width: int, kernel: int):
    """mask_mod(b, h, q_idx, kv_idx) -> bool for row-major tokens of a height x width grid: True
    where key kv_idx is in query q_idx's window. Every query sees exactly kernel^2 keys."""
    sizes = dict(height=height, width=width, kernel=kernel)
    height, width, kernel = (check_int(name, value, 1) for name, value in sizes.items())
    if kernel % 2 == 0:
        raise ValueError(f"kernel: expected an odd size (a window centred on its query), got "
                         f"{kernel}; try {kernel - 1} or {kernel + 1}")  # fmt: skip
    if kernel > min(height, width):
        raise ValueError(f"kernel: expected at most the grid's shorter side ({height}x{width}: "
                         f"{min(height, width)}), got {kernel}; use a smaller kernel, or global "
                         "attention at this level")  # fmt: skip
    r = kernel // 2

    def mask_mod(b, h, q_idx, kv_idx):
        centre_y = (q_idx // width).clamp(r, height - 1 - r)
        centre_x = (q_idx % width).clamp(r, width - 1 - r)
        near_y = (kv_idx // width - centre_y).abs() <= r
        return near_y & ((kv_idx % width - centre_x).abs() <= r)

    return mask_mod


def neighbourhood_attention(q, k, v, height, width, kernel, scale=None, backend=None):
    """Softmax attention of q, k, v (B, heads, height * width, d), each query restricted to its
    `neighbourhood`; scale: of the scores (default 1 / sqrt(d)). backend: one of
    ATTENTION_BACKENDS; default "flex" on CUDA, "sdpa_dense" elsewhere."""
    mask_mod, n = neighbourhood(height, width, kernel), height * width
    if q.dim() != 4 or q.shape[-2] != n:
        raise ValueError(f"q: expected (B, heads, height * width = {n}, d), got {describe(q)}")
    backend = ("flex" if q.is_cuda else "sdpa_dense") if backend is None else backend
    check_choice("backend", backend, ATTENTION_BACKENDS)
    if backend == "flex":
        from torch.nn.attention.flex_attention import create_block_mask, flex_attention

        block_mask = create_block_mask(mask_mod, None, None, n, n, device=q.device)
        return flex_attention(q, k, v, block_mask=block_mask, scale=scale)
    if backend == "sdpa_dense":
        index = torch.arange(n, device=q.device)
        mask = mask_mod(None, None, index[:, None], index[None, :])  # (n, n)
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=scale)
    rows = window_starts(height, kernel)[:, None] + torch.arange(kernel)  # (H, kernel)
    cols = window_starts(width, kernel)[:, None] + torch.arange(kernel)  # (W, kernel)
    keys = (rows[:, None, :, None] * width + cols[None, :, None, :]).reshape(n, kernel**2)
    keys = keys.to(q.device)  # (n, kernel^2): each query's keys
    scores = torch.einsum("bhnd,bhnkd->bhnk", q, k[:, :, keys])
    weights = (scores * (q.shape[-1] ** -0.5 if scale is None else scale)).softmax(-1)
    return torch.einsum("bhnk,bhnkd->bhnd", weights, v[:, :, keys])
