"""What a network costs: parameters, forward FLOPs and CPU latency (MobileDiffusion's yardsticks).

FLOPs are counted by torch.utils.flop_counter (2 per multiply-add, matmuls and convolutions),
plus the attention of scaled_dot_product_attention's CPU kernel, which that counter does not see
(4 B H L S D: Q K^T and the weighted sum of V). Latency is the median wall time of `repeats`
forward passes after `warmup` untimed ones, under inference mode at a fixed torch thread count
(restored afterwards): one number that two models measured the same way can be compared by.
"""

import statistics
import time

import torch
from torch import nn
from torch.utils import flop_counter

from .checks import check_int

_CPU_SDPA = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu


def _cpu_sdpa_flops(query, key, value, *args, out_shape=None, **kwargs) -> int:
    return flop_counter.sdpa_flop_count(query, key, value)


def count_params(model: nn.Module) -> int:
    """Number of parameters (frozen ones included: they cost memory and compute too)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected an nn.Module, got {type(model).__name__}")
    return sum(p.numel() for p in model.parameters())


def flops(model, *inputs) -> int:
    """Forward FLOPs of model(*inputs), counted once on the actual call (no gradients)."""
    counter = flop_counter.FlopCounterMode(
        display=False, custom_mapping={_CPU_SDPA: _cpu_sdpa_flops}
    )
    with torch.inference_mode(), counter:
        model(*inputs)
    return counter.get_total_flops()


def latency_ms(model, *inputs, threads: int = 1, warmup: int = 3, repeats: int = 10) -> float:
    """Median milliseconds of model(*inputs) over `repeats` timed calls at `threads` threads."""
    for name, value, low in (
        ("threads", threads, 1),
        ("warmup", warmup, 0),
        ("repeats", repeats, 1),
    ):
        check_int(name, value, low)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with torch.inference_mode():
            for _ in range(warmup):
                model(*inputs)
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                model(*inputs)
                times.append(1000 * (time.perf_counter() - start))
    finally:
        torch.set_num_threads(before)
    return statistics.median(times)


def profile_row(name: str, model, *inputs, threads: int = 1, repeats: int = 10) -> dict:
    """One table row: name, parameters (millions), forward GFLOPs and median CPU ms."""
    return dict(
        model=name,
        params_M=count_params(model) / 1e6,
        GFLOPs=flops(model, *inputs) / 1e9,
        ms=latency_ms(model, *inputs, threads=threads, repeats=repeats),
    )
