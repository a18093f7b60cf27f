"""What train.fit costs beyond the maths: fit against a bare AdamW loop, ops per step, step time.

* Time per step of fit (AdamW, clipping, EMA, checkpoint-free) against the minimal loop a reader
  would write (randint, loss, zero_grad, backward, AdamW.step), same model, loss, batch and thread
  count: a 4x64 MLP on 2-D data at batch 2,048 (the claim: fit <= 1.10x the bare loop on a CPU).
* Top-level aten ops of each per-step piece, for a small and a 4x deeper MLP: fit's EMA,
  clipping and AdamW issue O(1) ops, a per-parameter loop O(parameters).
* digits_unet's training step time vs batch size on runtime.device() (the GPU claim: <= 8 ms at
  batch 64, where host work, not maths, used to set the pace).
"""

import copy
import functools
import statistics
import time

import torch
from torch import nn

from .. import losses, report, runtime, sde, targets, train
from ..data import toy2d
from ..nets.mlp import MLP
from ..recipes import digits

NAME = "fit_overhead"
CONFIG = {
    False: dict(steps=300, repeats=5, unet_steps=20, batches=(64, 256)),
    True: dict(steps=20, repeats=2, unet_steps=3, batches=(64,)),
}


def mlp_setup(depth: int = 4, seed: int = 0):
    """(denoiser, loss_fn, data): an eps-prediction MLP (width 64) on 20,000 ring points."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        denoiser = targets.Denoiser(MLP(hidden=64, depth=depth), sde.VP(), "eps")
    data = toy2d.ring().sample(20_000, generator=torch.Generator().manual_seed(0))
    return denoiser, functools.partial(losses.dsm, sde=denoiser.sde), data


def bare_loop(model, loss_fn, data, steps: int, batch_size: int, **adamw) -> None:
    """The minimal training loop: no EMA, no clipping, no logging."""
    optimizer, generator = torch.optim.AdamW(model.parameters(), **adamw), torch.Generator()
    for _ in range(steps):
        idx = torch.randint(len(data), (batch_size,), generator=generator)
        loss = loss_fn(model, data[idx], generator=generator)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()


def fit_loop(model, loss_fn, data, steps: int, batch_size: int) -> None:
    train.fit(model, loss_fn, data, steps=steps, batch_size=batch_size, log_every=steps,
              generator=torch.Generator(), progress=False)  # fmt: skip


def ms_per_step(loop, steps: int, repeats: int, *args) -> float:
    """Median over `repeats` of a fresh copy of the model trained `steps` steps, in ms per step;
    args: (model, loss_fn, data, batch_size)."""
    model, rest = args[0], args[1:]
    loop(copy.deepcopy(model), *rest[:2], 5, *rest[2:])  # warm-up
    times = []
    for _ in range(repeats):
        fresh = copy.deepcopy(model)
        start = time.perf_counter()
        loop(fresh, *rest[:2], steps, *rest[2:])
        times.append((time.perf_counter() - start) / steps * 1e3)
    return statistics.median(times)


def aten_ops(fn) -> int:
    """aten ops that a second call of fn() issues itself (the first creates optimizer state):
    those with no aten op above them (user annotations, e.g. the optimizer's step, don't count)."""
    fn()
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        fn()

    def top_level(event) -> bool:
        parent = event.cpu_parent
        while parent is not None and not parent.name.startswith("aten::"):
            parent = parent.cpu_parent
        return parent is None

    return sum(1 for e in prof.events() if e.name.startswith("aten::") and top_level(e))


def per_parameter_ema(shadow: nn.Module, model: nn.Module, decay: float = 0.999) -> None:
    """The EMA as a loop over parameters (what train.EMA did before foreach)."""
    with torch.no_grad():
        for s, p in zip(shadow.parameters(), model.parameters()):
            s.mul_(decay).add_(p, alpha=1 - decay)


def overhead_rows(steps: int, repeats: int, batch_size: int = 2048) -> list[dict]:
    """ms per step of fit and of the bare loop (default and fused AdamW), 4x64 MLP, one thread."""
    denoiser, loss_fn, data = mlp_setup()
    args = (denoiser, loss_fn, data, batch_size)
    bare = functools.partial(bare_loop, lr=1e-3)
    fused = functools.partial(bare_loop, lr=1e-3, fused=True)
    rows = [("bare loop, AdamW defaults", bare), ("bare loop, fused AdamW", fused),
            ("train.fit (EMA, clipping, fused AdamW)", fit_loop)]  # fmt: skip
    return [dict(loop=name, ms=ms_per_step(loop, steps, repeats, *args)) for name, loop in rows]


def pieces(model: nn.Module) -> dict:
    """name -> a call of one per-step piece on model (whose gradients are set)."""
    ema, shadow = train.EMA(model), copy.deepcopy(model)
    fitted, default = train._adamw(model, 1e-3), torch.optim.AdamW(model.parameters())
    return {
        "EMA (train.EMA)": functools.partial(ema.update, model),
        "EMA (per-parameter loop)": functools.partial(per_parameter_ema, shadow, model),
        "clipping (train.clip_gradients)": functools.partial(
            train.clip_gradients, list(model.parameters()), 1.0),
        "clipping (nn.utils.clip_grad_norm_)": functools.partial(
            nn.utils.clip_grad_norm_, list(model.parameters()), 1.0),
        "AdamW (fit's)": fitted.step,
        "AdamW (defaults)": default.step,
    }  # fmt: skip


def op_rows() -> list[dict]:
    """Top-level aten ops of each per-step piece, for MLPs of depth 2 and 8."""
    rows = []
    for depth in (2, 8):
        model = mlp_setup(depth)[0]
        for p in model.parameters():
            p.grad = torch.randn_like(p)
        tensors = len(list(model.parameters()))
        for name, call in pieces(model).items():
            rows.append(dict(piece=name, parameters=tensors, aten_ops=aten_ops(call)))
    return rows


def unet_rows(steps: int, batches) -> list[dict]:
    """digits_unet's fit step time (ms) per batch size on runtime.device() (on a GPU: batches
    64 to 4,096, issue 11's table)."""
    device, rows = runtime.device(), []
    batches = batches if device.type == "cpu" else (64, 256, 1024, 4096)
    model = digits.build_digits_unet().to(device)
    loss_fn = functools.partial(losses.cfg_dsm, sde=model.sde, null=(digits.null_label(model),))
    for batch in batches:
        images = torch.randn(max(batch, 1024), 1, 16, 16, generator=torch.Generator())
        labels = torch.randint(10, (len(images),), generator=torch.Generator())
        args = (model, loss_fn, (images, labels), batch)
        rows.append(
            dict(device=str(device), batch=batch, ms=ms_per_step(fit_loop, steps, 1, *args))
        )
    return rows


def run(fast: bool = False) -> dict:
    config = CONFIG[fast]
    overhead = overhead_rows(config["steps"], config["repeats"])
    ops, unet = op_rows(), unet_rows(config["unet_steps"], config["batches"])
    ms = {row["loop"]: row["ms"] for row in overhead}
    ratio = overhead[-1]["ms"] / overhead[0]["ms"]
    ops_figure = {f"{r['piece']} @{r['parameters']}": r["aten_ops"] for r in ops}
    unet_ms = {str(r["batch"]): r["ms"] for r in unet}
    figures = dict(fit_vs_bare=ratio, ms=ms, threads=torch.get_num_threads(), aten_ops=ops_figure,
                   unet_ms=unet_ms, device=unet[0]["device"])  # fmt: skip
    return dict(overhead=overhead, ops=ops, unet=unet, figures=figures)


def main(argv=None) -> dict:
    """The command line: [--fast]; one torch thread, as the claim is stated."""
    return report.benchmark_main(
        NAME, run, tables=("overhead", "ops", "unet"), threads=1, argv=argv
    )
