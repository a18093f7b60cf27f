"""Lesson 09's scaling study: how HDiT's and a flat DiT's cost grow with the number of pixels
(Crowson et al. 2024, Fig. 8; the paper: about linearly against about quadratically).

Models (untrained: weights do not change their cost): HDiT with patches of PATCH pixels, a global
innermost level of INNER x INNER tokens, and one neighbourhood-attention level (kernel KERNEL) more
for each doubling of the side (`hdit_at`), against the flat DiT of the same blocks, parameter-
matched to HDiT at 32 x 32 (DIT). FLOPs of one forward pass (batch 1) are counted on the meta
device, so no memory is spent and any size can be counted; CPU latency (1 thread, interleaved
rounds, median and quartiles) and peak memory are measured up to TIMED sides. HDiT's local
attention uses the "windows" backend, whose cost is local (a dense mask would pay for every
score). Slopes: least squares of log cost on log pixels.

python -m minidiff.experiments.hdit_scaling [--fast]
"""

import math

import torch
from tqdm.auto import tqdm

from minidiff import profile, report, stats
from minidiff.nets.dit import DiT
from minidiff.nets.hdit import HDiT, Level

NAME = "hdit_scaling"
PATCH, INNER, KERNEL = 2, 8, 7
LOCAL, GLOBAL = dict(width=32, depth=1), dict(width=64, depth=2)  # HDiT's levels
DIT = dict(width=64, depth=3)  # about HDiT's parameters at 32 x 32
COUNTED = (16, 32, 64, 128, 256, 512)
TIMED = {False: (16, 32, 64, 128), True: (16, 32, 64)}  # a slope from 32 needs two sides
ROUNDS = {False: 10, True: 2}
SLOPE_SIDES = (32, 256)  # the claims' range of sides for the FLOP slopes


def hdit_at(side: int, backend: str = "windows") -> HDiT:
    """HDiT for side x side images: log2(side / (PATCH INNER)) local levels, then the global one."""
    local = max(0, round(math.log2(side / (PATCH * INNER))))
    levels = [Level(**LOCAL, kernel=KERNEL)] * local + [Level(**GLOBAL)]
    return HDiT(levels=levels, patch=PATCH, backend=backend)


def models_at(side: int) -> dict:
    return {"HDiT": hdit_at(side), "DiT": DiT(patch=PATCH, **DIT)}


def counted(sides=COUNTED) -> list[dict]:
    """Per side: each model's parameters and forward GFLOPs (batch 1), counted on meta tensors."""
    rows = []
    for side in sides:
        with torch.device("meta"):
            models, x, c_noise = models_at(side), torch.zeros(1, 3, side, side), torch.zeros(1)
            row = dict(side=side, pixels=side * side)
            for name, model in models.items():
                row[f"{name}_params_k"] = profile.count_params(model) / 1e3
                row[f"{name}_GFLOPs"] = profile.flops(model, x, c_noise) / 1e9
        row["DiT_over_HDiT"] = row["DiT_GFLOPs"] / row["HDiT_GFLOPs"]
        rows.append(row)
    return rows


def timed(sides, rounds: int) -> list[dict]:
    """Per side: each model's median ms (with quartiles) at 1 thread, interleaved, and peak MiB."""
    rows = []
    for side in tqdm(sides, desc="timed sides"):
        models = {name: model.eval() for name, model in models_at(side).items()}
        x, c_noise = torch.randn(1, 3, side, side), torch.zeros(1)
        times = profile.interleaved_ms(models, x, c_noise, warmup=2, rounds=rounds)
        row = dict(side=side, pixels=side * side)
        for name, model in models.items():
            q1, median, q3 = profile.quartiles(times[name])
            row[f"{name}_ms"], row[f"{name}_ms_quartiles"] = median, f"{q1:.3g}–{q3:.3g}"
            row[f"{name}_peak_MB"] = profile.peak_memory_mb(model, x, c_noise)
        rows.append(row)
    return rows


def slope(rows: list[dict], key: str, sides=None) -> float:
    """stats.log_log_slope of row[key] on pixels, over rows with `sides` (default: all rows)."""
    rows = [r for r in rows if sides is None or sides[0] <= r["side"] <= sides[1]]
    return stats.log_log_slope([r["pixels"] for r in rows], [r[key] for r in rows])


def run(fast: bool = False) -> dict:
    flops, times = counted(), timed(TIMED[fast], ROUNDS[fast])
    at_128 = next(r for r in flops if r["side"] == 128)
    figures = dict(
        flops_slope={m: slope(flops, f"{m}_GFLOPs", SLOPE_SIDES) for m in ("HDiT", "DiT")},
        flops_ratio_128=at_128["DiT_over_HDiT"],
        ms_slope={m: slope(times, f"{m}_ms", (32, max(TIMED[fast]))) for m in ("HDiT", "DiT")},
        peak_slope={
            m: slope(times, f"{m}_peak_MB", (32, max(TIMED[fast]))) for m in ("HDiT", "DiT")
        },
        params_k_32={
            m: next(r for r in flops if r["side"] == 32)[f"{m}_params_k"] for m in ("HDiT", "DiT")
        },
    )
    return dict(flops=flops, times=times, figures=figures)


def claims(result: dict) -> list[dict]:
    """The paper's scaling claims on FLOPs (exact counts), with the measured slopes beside them."""
    f = result["figures"]
    lo, hi = SLOPE_SIDES
    measured = {m: dict(slope=round(f["flops_slope"][m], 3), ms_slope=round(f["ms_slope"][m], 2))
                for m in ("HDiT", "DiT")}  # fmt: skip
    return [
        report.claim(f"HDiT's forward FLOPs grow about linearly with pixels ({lo}² to {hi}²)",
                     f["flops_slope"]["HDiT"] <= 1.15, "log-log slope <= 1.15 (exact counts)",
                     **measured["HDiT"]),
        report.claim(f"A flat DiT's forward FLOPs grow about quadratically ({lo}² to {hi}²)",
                     f["flops_slope"]["DiT"] >= 1.6, "log-log slope >= 1.6 (exact counts)",
                     **measured["DiT"]),
        report.claim("At 128², the parameter-matched DiT needs >= 10x HDiT's FLOPs",
                     f["flops_ratio_128"] >= 10, "FLOPs ratio >= 10 (exact counts)",
                     ratio=round(f["flops_ratio_128"], 1)),
    ]  # fmt: skip


def main(argv: list[str] | None = None) -> dict:
    """The command line: [--fast]; prints the tables, the claims, then one JSON line."""
    return report.benchmark_main(NAME, run, tables=("flops", "times"), threads=1, argv=argv,
                                 claims=claims)  # fmt: skip


if __name__ == "__main__":
    main()
