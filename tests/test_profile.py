"""profile: parameter and FLOP counts against hand counts (linear, conv, attention, a UNet's
attention layer), a training step's FLOPs against the matrix products of a linear layer's forward
and backward passes (attention's included), latency is a positive median that leaves the thread
count as it was, interleaved timing calls the models in turn; peak memory against the bytes a
layer chain must hold at once."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from minidiff import profile
from minidiff.nets.attention import Attention


class Wrap(nn.Module):
    def __init__(self, fn, owner):
        super().__init__()
        self.fn, self.owner = fn, owner

    def forward(self, x):
        return self.fn(x)


class SDPA(nn.Module):
    def forward(self, q, k, v, mask=None):
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)


def test_params_and_flops_of_linear_and_conv():
    linear = nn.Linear(3, 4)
    assert profile.count_params(linear) == 3 * 4 + 4
    assert profile.flops(linear, torch.randn(5, 3)) == 2 * 5 * 3 * 4  # 2 per multiply-add
    conv = nn.Conv2d(2, 3, 3, padding=1)
    assert profile.flops(conv, torch.randn(1, 2, 8, 8)) == 2 * 3 * 2 * 9 * 8 * 8


@pytest.mark.parametrize("masked", [False, True])
def test_cpu_attention_flops_are_counted(masked):
    B, H, L, S, D = 2, 2, 5, 7, 4
    q, k, v = torch.randn(B, H, L, D), torch.randn(B, H, S, D), torch.randn(B, H, S, D)
    mask = torch.rand(B, 1, 1, S) > 0.3 if masked else None
    assert profile.flops(SDPA(), q, k, v, mask) == 2 * (2 * B * H * L * S * D)  # QK^T, then AV


def test_an_attention_layer_is_projections_plus_attention():
    B, N, M, C, context_dim, heads = 2, 16, 6, 8, 12, 2
    layer = Attention(C, context_dim, num_heads=heads)
    x, context = torch.randn(B, N, C), torch.randn(B, M, context_dim)
    projections = 2 * B * (N * C * C + 2 * M * context_dim * C + N * C * C)  # q, k and v, out
    attention = 2 * (2 * B * N * M * C)  # all heads together: D = C / heads per head
    assert profile.flops(layer, x, context) == projections + attention


def test_a_training_step_counts_the_forward_and_backward_products():
    B, n_in, n_out = 5, 3, 4
    linear = nn.Linear(n_in, n_out, bias=False)
    square = lambda model, x: model(x).square().sum()  # noqa: E731
    product, x = 2 * B * n_in * n_out, torch.randn(B, n_in)
    # forward x W^T; backward: the weight's gradient, and the input's only when it needs one
    assert profile.training_flops(square, linear, x) == 2 * product
    assert profile.training_flops(square, linear, x.requires_grad_()) == 3 * product
    assert linear.weight.grad is None  # the gradients it made are cleared


def test_a_training_step_counts_the_cpu_attention_backward():
    B, H, L, D = 2, 2, 5, 4
    q = torch.randn(B, H, L, D)
    sdpa = SDPA().requires_grad_()  # (no weights: the inputs carry the gradient)
    total = profile.training_flops(lambda m, q: m(q, q, q).sum(), sdpa, q.requires_grad_())
    forward = 2 * (2 * B * H * L * L * D)
    # backward: the scores are recomputed (1 product), then dV, dP, dQ and dK (4 more)
    assert total == forward + 5 * (2 * B * H * L * L * D)


def test_latency_is_a_median_and_restores_threads():
    before = torch.get_num_threads()
    ms = profile.latency_ms(nn.Linear(8, 8), torch.randn(4, 8), threads=1, warmup=1, repeats=3)
    assert ms > 0 and torch.get_num_threads() == before
    row = profile.profile_row("linear", nn.Linear(8, 8), torch.randn(4, 8), repeats=2)
    assert (
        set(row) == {"model", "params_M", "GFLOPs", "ms", "peak_MB"} and row["params_M"] == 72 / 1e6
    )


def test_interleaved_timing_calls_the_models_in_turn_every_round_alternating_the_order():
    calls = []

    def model(name):
        return lambda x: calls.append(name)

    before = torch.get_num_threads()
    times = profile.interleaved_ms(dict(a=model("a"), b=model("b")), 0, warmup=1, rounds=3)
    assert calls == ["a", "b", "b", "a"] * 2  # one untimed round, then three timed ones
    assert {k: len(v) for k, v in times.items()} == dict(
        a=3, b=3
    ) and torch.get_num_threads() == before
    assert all(t >= 0 for v in times.values() for t in v)
    with pytest.raises(ValueError, match="models: expected a non-empty dict"):
        profile.interleaved_ms({}, 0)
    with pytest.raises(ValueError, match="rounds: expected an int >= 1"):
        profile.interleaved_ms(dict(a=model("a")), 0, rounds=0)


def test_peak_memory_is_weights_plus_the_most_tensors_alive_at_once():
    B, n = 64, 256
    model = nn.Sequential(nn.Linear(n, n), nn.ReLU(), nn.Linear(n, n))
    weights = 2 * (n * n + n) * 4
    # Sequential frees each output once the next layer has made its own: two alive at most
    assert profile.peak_memory_mb(model, torch.randn(B, n)) == (weights + 2 * B * n * 4) / 2**20
    keep = nn.Sequential(nn.Linear(n, n))
    chain = lambda x: torch.stack([keep(x), keep(x), keep(x)])  # noqa: E731
    counted = profile.peak_memory_mb(Wrap(chain, keep), torch.randn(B, n))
    assert counted == ((n * n + n) * 4 + 3 * B * n * 4 + 3 * B * n * 4) / 2**20  # 3 kept + stack


def test_bad_arguments_raise_naming_them():
    with pytest.raises(ValueError, match="repeats: expected an int >= 1"):
        profile.latency_ms(nn.Linear(2, 2), torch.randn(1, 2), repeats=0)
    with pytest.raises(TypeError, match="model: expected an nn.Module"):
        profile.count_params("unet")
    with pytest.raises(TypeError, match="loss_fn: expected a function"):
        profile.training_flops("mse", nn.Linear(2, 2), torch.randn(1, 2))
