"""What a network costs: parameters, forward FLOPs and CPU latency (MobileDiffusion's yardsticks).

FLOPs are counted by torch.utils.flop_counter (2 per multiply-add, matmuls and convolutions),
plus the attention of scaled_dot_product_attention's CPU kernel, which that counter does not see
(4 B H L S D: Q K^T and the weighted sum of V). Latency is the median wall time of `repeats`
forward passes after `warmup` untimed ones, under inference mode at a fixed torch thread count
(restored afterwards): one number that two models measured the same way can be compared by.
interleaved_ms times several models in turn, round by round, so that a slow spell of the
machine (another process, a frequency change) lands on all of them alike: compare models by the
ratio within each round and report its median and spread.
Peak memory is the bytes of parameters and buffers plus the most bytes that the forward's tensors
held at once, counted by a dispatch mode on every device (storage shared by views counted once;
scratch space inside a kernel, and the inputs, are not counted).
"""

import statistics
import time
import weakref

import torch
from torch import nn
from torch.utils import flop_counter
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

from .checks import check_callable, check_instance, check_int, describe

MODEL = "a module to measure, e.g. nn.Linear(8, 8)"

_CPU_SDPA = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu
_CPU_SDPA_BACKWARD = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu_backward


def _cpu_sdpa_flops(query, key, value, *args, out_shape=None, **kwargs) -> int:
    return flop_counter.sdpa_flop_count(query, key, value)


def _cpu_sdpa_backward_flops(grad_out, query, key, value, *args, out_shape=None, **kwargs) -> int:
    return flop_counter.sdpa_backward_flop_count(grad_out, query, key, value)


def _counter():  # torch's counter, taught the CPU attention kernels it does not know
    mapping = {_CPU_SDPA: _cpu_sdpa_flops, _CPU_SDPA_BACKWARD: _cpu_sdpa_backward_flops}
    return flop_counter.FlopCounterMode(display=False, custom_mapping=mapping)


def count_params(model: nn.Module) -> int:
    """Number of parameters (frozen ones included: they cost memory and compute too)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected an nn.Module, got {describe(model)}")
    return sum(p.numel() for p in model.parameters())


def flops(model, *inputs) -> int:
    """Forward FLOPs of model(*inputs), counted once on the actual call (no gradients)."""
    check_callable("model", model, MODEL)
    counter = _counter()
    with torch.inference_mode(), counter:
        model(*inputs)
    return counter.get_total_flops()


def training_flops(loss_fn, model: nn.Module, *batch) -> int:
    """FLOPs of one training step's forward and backward passes, loss_fn(model, *batch).backward()
    counted on the actual call (the optimizer's update, a few FLOPs per weight, is left out); the
    gradients it leaves are cleared."""
    check_callable("loss_fn", loss_fn, "a function (model, *batch) -> scalar loss")
    counter = _counter()
    with counter:
        loss_fn(model, *batch).backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops()


class _LiveBytes(TorchDispatchMode):
    """Bytes of the storages that the ops' outputs hold, and their peak, as tensors die."""

    def __init__(self):
        super().__init__()
        self.refs, self.now, self.peak = {}, 0, 0  # storage id -> [live tensors, bytes]

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for tensor in tree_leaves(out):
            if isinstance(tensor, torch.Tensor):
                self._track(tensor)
        return out

    def _track(self, tensor):
        storage = tensor.untyped_storage()
        key = (storage.device, storage.data_ptr())
        if key not in self.refs:
            self.refs[key] = [0, storage.nbytes()]
            self.now += storage.nbytes()
            self.peak = max(self.peak, self.now)
        self.refs[key][0] += 1
        weakref.finalize(tensor, self._release, key)

    def _release(self, key):
        entry = self.refs[key]
        entry[0] -= 1
        if entry[0] == 0:
            self.now -= self.refs.pop(key)[1]


def peak_memory_mb(model, *inputs) -> float:
    """MiB of model's parameters and buffers plus the peak bytes of model(*inputs)'s tensors."""
    check_instance("model", model, nn.Module, "nn.Linear(8, 8)")
    weights = sum(t.nbytes for t in [*model.parameters(), *model.buffers()])
    counter = _LiveBytes()
    with torch.inference_mode(), counter:
        model(*inputs)
    return (weights + counter.peak) / 2**20


def latency_ms(model, *inputs, threads: int = 1, warmup: int = 3, repeats: int = 10) -> float:
    """Median milliseconds of model(*inputs) over `repeats` timed calls at `threads` threads."""
    check_callable("model", model, MODEL)
    repeats = check_int("repeats", repeats, 1)
    times = interleaved_ms(
        {"model": model}, *inputs, threads=threads, warmup=warmup, rounds=repeats
    )
    return statistics.median(times["model"])


def interleaved_ms(models: dict, *inputs, threads: int = 1, warmup: int = 3, rounds: int = 10):
    """{name: [ms of each round]}: every round calls each model of `models` ({name: module})
    once on `inputs`, in turn (the order reversed every other round, so that no model always
    runs first), after `warmup` untimed rounds, under inference mode at `threads`."""
    if not isinstance(models, dict) or not models:
        raise ValueError(f"models: expected a non-empty dict {{name: module}}, got "
                         f"{describe(models)}")  # fmt: skip
    for name, model in models.items():
        check_callable(f"models[{name!r}]", model, MODEL)
    threads, warmup = check_int("threads", threads, 1), check_int("warmup", warmup, 0)
    rounds = check_int("rounds", rounds, 1)
    times, before = {name: [] for name in models}, torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with torch.inference_mode():
            for i in range(warmup + rounds):
                for name, model in list(models.items())[:: 1 if i % 2 == 0 else -1]:
                    start = time.perf_counter()
                    model(*inputs)
                    if i >= warmup:
                        times[name].append(1000 * (time.perf_counter() - start))
    finally:
        torch.set_num_threads(before)
    return times


def quartiles(times) -> tuple[float, float, float]:
    """(25 %, median, 75 %) of timings (or of within-round ratios), by the inclusive method."""
    q1, median, q3 = statistics.quantiles(times, n=4, method="inclusive")
    return q1, median, q3


def profile_row(name: str, model, *inputs, threads: int = 1, repeats: int = 10) -> dict:
    """One table row: name, parameters (millions), forward GFLOPs, median CPU ms, peak MiB."""
    return dict(
        model=name,
        params_M=count_params(model) / 1e6,
        GFLOPs=flops(model, *inputs) / 1e9,
        ms=latency_ms(model, *inputs, threads=threads, repeats=repeats),
        peak_MB=peak_memory_mb(model, *inputs),
    )
