"""Neighbourhood attention: every backend equals a naive per-pixel loop (values; gradients for the
trainable ones), every query sees exactly kernel^2 keys (a zero-padded window sees fewer at the
border), a kernel as large as the grid is global attention, the windows backend's FLOPs are local
while the dense mask pays for every score, and bad sizes are refused with the sizes that work."""

import warnings

import pytest
import torch
import torch.nn.functional as F

from minidiff import profile
from minidiff.nets import attention

B, HEADS, D = 2, 2, 4


def naive(q, k, v, height, width, kernel):
    """Per query: the kernel x kernel keys of its window (shifted inward at the border)."""
    out, r = torch.empty_like(q), kernel // 2
    for y in range(height):
        for x in range(width):
            y0 = min(max(y - r, 0), height - kernel)
            x0 = min(max(x - r, 0), width - kernel)
            keys = [(y0 + i) * width + x0 + j for i in range(kernel) for j in range(kernel)]
            scores = q[:, :, y * width + x, None, :] @ k[:, :, keys].transpose(-2, -1) / D**0.5
            out[:, :, y * width + x] = (scores.softmax(-1) @ v[:, :, keys])[:, :, 0]
    return out


def qkv(height, width, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(B, HEADS, height * width, D, generator=g) for _ in range(3)]


@pytest.mark.parametrize("height, width, kernel", [(5, 5, 3), (6, 4, 3), (7, 7, 5)])
@pytest.mark.parametrize("backend", ["sdpa_dense", "windows"])
def test_backends_equal_the_naive_loop_in_values_and_gradients(height, width, kernel, backend):
    q, k, v = (t.requires_grad_() for t in qkv(height, width))
    weights = torch.randn(B, HEADS, height * width, D, generator=torch.Generator().manual_seed(1))
    grads = []
    for fn in (naive, lambda *a: attention.neighbourhood_attention(*a, backend=backend)):
        out = fn(q, k, v, height, width, kernel)
        grads.append((out, *torch.autograd.grad((out * weights).sum(), (q, k, v))))
    for mine, reference in zip(grads[1], grads[0]):
        torch.testing.assert_close(mine, reference, atol=1e-5, rtol=1e-5)


def test_flex_forward_equals_the_dense_mask_on_the_cpu():
    q, k, v = qkv(8, 8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # eager flex on the CPU warns that it is unfused
        flex = attention.neighbourhood_attention(q, k, v, 8, 8, 3, backend="flex")
    dense = attention.neighbourhood_attention(q, k, v, 8, 8, 3, backend="sdpa_dense")
    torch.testing.assert_close(flex, dense, atol=1e-5, rtol=1e-5)


def test_every_query_sees_kernel_squared_keys_unlike_a_zero_padded_window():
    height, width, kernel = 6, 5, 3
    index = torch.arange(height * width)
    mask = attention.neighbourhood(height, width, kernel)(None, None, index[:, None], index)
    assert (mask.sum(-1) == kernel**2).all()
    y, x = index // width, index % width
    padded = ((y[:, None] - y).abs() <= 1) & ((x[:, None] - x).abs() <= 1)
    assert padded.sum(-1)[0] == 4 and padded.sum(-1).max() == 9  # a corner sees 2 x 2


def test_a_kernel_as_large_as_the_grid_is_global_attention():
    q, k, v = qkv(5, 5)
    for backend in ("sdpa_dense", "windows"):
        local = attention.neighbourhood_attention(q, k, v, 5, 5, 5, backend=backend)
        torch.testing.assert_close(local, F.scaled_dot_product_attention(q, k, v))


def test_windows_cost_grows_with_tokens_the_dense_mask_with_their_square():
    class Attend(torch.nn.Module):
        def __init__(self, side, backend):
            super().__init__()
            self.side, self.backend = side, backend

        def forward(self, q, k, v):
            s = self.side
            return attention.neighbourhood_attention(q, k, v, s, s, 3, backend=self.backend)

    for side in (8, 16):
        n = side * side
        q, k, v = qkv(side, side)
        assert profile.flops(Attend(side, "windows"), q, k, v) == 2 * 2 * B * HEADS * n * 9 * D
        assert profile.flops(Attend(side, "sdpa_dense"), q, k, v) == 2 * 2 * B * HEADS * n * n * D


def test_bad_sizes_are_refused_naming_what_works():
    q, k, v = qkv(6, 6)
    with pytest.raises(ValueError, match="kernel: expected an odd size.*try 3 or 5"):
        attention.neighbourhood_attention(q, k, v, 6, 6, 4)
    with pytest.raises(
        ValueError, match=r"kernel: expected at most the grid's shorter side \(6x6: 6\)"
    ):
        attention.neighbourhood_attention(q, k, v, 6, 6, 7)
    with pytest.raises(ValueError, match=r"q: expected \(B, heads, height \* width = 25, d\)"):
        attention.neighbourhood_attention(q, k, v, 5, 5, 3)
    with pytest.raises(ValueError, match="backend: expected one of"):
        attention.neighbourhood_attention(q, k, v, 6, 6, 3, backend="natten")
