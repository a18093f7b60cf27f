"""Lesson 06's measured claims: MobileDiffusion's UNet changes (Zhao et al. 2023, Sec. 3), applied
one at a time to an SD-like baseline on text-to-16x16-shapes, cut FLOPs and CPU latency per step
>= 2x at <= 10 % FD and <= 3 points of condition accuracy; removing the whole transformer at
the highest resolution costs accuracy where removing only its self-attention did not; ReLU
attention works when fine-tuned from the softmax model, and is worse trained from scratch.

Costs, for every row of the chain and the contrasts (untrained models: the architecture decides
them): the UNet's parameters, forward FLOPs for one image, peak MiB and ms for a batch of `batch`
at 1 thread; ms are timed round by round, every model once per round (profile.interleaved_ms),
and reported as the median and quartiles over the rounds; a speed-up is the median of the
per-round ratios. The text encoder runs once per image, not per step, so it is left out.
Quality (mobile_quality): the models of recipes.mobile.runs, 3 training seeds each.

python -m minidiff.experiments.mobile_unet [--fast]
"""

import torch

from minidiff import profile, report
from minidiff.experiments import mobile_quality
from minidiff.experiments import text_to_image as t2i_bench
from minidiff.profile import quartiles  # (lesson 06 calls it as bench.quartiles)
from minidiff.recipes import mobile
from minidiff.recipes import shapes as shape_recipes

NAME = "mobile_unet"
CONFIG = {
    False: dict(n=200, nfe=15, scale=mobile.SCALE, batch=16, warmup=3, rounds=15),
    True: dict(n=16, nfe=4, scale=mobile.SCALE, batch=4, warmup=1, rounds=3),
}
BASELINE, EFFICIENT = mobile.CHAIN[0][0], mobile.CHAIN[-1][0]  # sd_like, relu_finetune


def unet_inputs(denoiser, captions):
    """(x, t, context, mask) for the UNet alone: the captions' encoded tokens, noise, t = 0.5."""
    ids, mask = shape_recipes.encode(captions)
    with torch.no_grad():
        context = denoiser.net.encoder(ids, mask)
    size = shape_recipes.SIZE
    x = torch.randn(len(ids), 3, size, size, generator=torch.Generator().manual_seed(0))
    return x, torch.full((len(ids),), 0.5), context, mask


def speedup(times: dict, slow: str, fast: str) -> tuple[float, float, float]:
    """Quartiles of times[slow] / times[fast] within each round."""
    return quartiles([a / b for a, b in zip(times[slow], times[fast])])


def cost_rows(cfg) -> tuple[dict[str, dict], dict[str, list]]:
    """{row: params (thousands), MFLOPs for one image, peak MiB and interleaved ms (median and
    quartiles) for a batch} of every chain and contrast row, and the raw timings."""
    names = [row[0] for row in mobile.CHAIN + mobile.CONTRASTS]
    unets = {name: mobile.build(name).eval() for name in names}
    captions = t2i_bench.prompts(cfg["batch"], 1).captions
    inputs = unet_inputs(unets[BASELINE], captions)  # every row shares the frozen tiny encoder
    nets = {name: model.net.unet for name, model in unets.items()}
    times = profile.interleaved_ms(nets, *inputs, warmup=cfg["warmup"], rounds=cfg["rounds"])
    rows = {}
    for name, net in nets.items():
        q1, ms, q3 = quartiles(times[name])
        rows[name] = dict(params_k=profile.count_params(net) / 1e3,
                          MFLOPs=profile.flops(net, *(v[:1] for v in inputs)) / 1e6,
                          ms=ms, ms_quartiles=f"{q1:.3g}–{q3:.3g}",
                          peak_MB=profile.peak_memory_mb(net, *inputs))  # fmt: skip
    return rows, times


def with_deltas(row: dict, reference: dict) -> dict:
    """row plus its cost change against reference, in %."""
    out = dict(row)
    for key in ("params_k", "MFLOPs", "ms"):
        out[f"Δ{key.removesuffix('_k')} %"] = 100 * (row[key] / reference[key] - 1)
    return out


def cost_tables(rows: dict) -> tuple[list, list]:
    """The chain (each change against the row above it) and the contrasts (against their row)."""
    chain, previous = [], None
    for name, change, _ in mobile.CHAIN:
        chain.append(
            with_deltas(dict(model=name, change=change, **rows[name]), previous or rows[name])
        )
        previous = rows[name]
    contrasts = [
        with_deltas(dict(model=name, change=change, against=base, **rows[name]), rows[base])
        for name, change, base, _ in mobile.CONTRASTS
    ]
    return chain, contrasts


def run(fast: bool = False) -> dict:
    cfg = CONFIG[fast]
    rows, times = cost_rows(cfg)
    chain, contrasts = cost_tables(rows)
    raw = mobile_quality.measure(fast, cfg)
    ratio = speedup(times, BASELINE, EFFICIENT)
    flops_ratio = rows[BASELINE]["MFLOPs"] / rows[EFFICIENT]["MFLOPs"]
    return dict(
        chain=chain,
        contrasts=contrasts,
        quality=mobile_quality.table(raw),
        raw=raw,
        times=times,
        figures=dict(
            flops_ratio=flops_ratio,
            params_ratio=rows[BASELINE]["params_k"] / rows[EFFICIENT]["params_k"],
            ms_ratio_quartiles=list(ratio),
            **mobile_quality.figures(raw),
            samples=cfg["n"],
            latency_batch=cfg["batch"],
            rounds=cfg["rounds"],
        ),
    )


def claims(out: dict) -> list[dict]:
    """The cost claims (exact FLOPs, interleaved ms), then the quality claims over seeds."""
    f = out["figures"]
    q1, ratio, q3 = f["ms_ratio_quartiles"]
    return [
        report.claim("The efficient UNet needs >= 2x fewer FLOPs per step than the SD-like "
                     "baseline", f["flops_ratio"] >= 2, "FLOPs ratio >= 2 (exact count)",
                     ratio=round(f["flops_ratio"], 2)),
        report.claim("The efficient UNet runs >= 2x faster per step on a CPU (batch of "
                     f"{f['latency_batch']}, 1 thread)", ratio >= 2,
                     "median of the per-round ms ratios >= 2",
                     median=round(ratio, 2), quartiles=f"{q1:.2f}–{q3:.2f}"),
        *mobile_quality.claims(out["raw"]),
    ]  # fmt: skip


def main(argv: list[str] | None = None) -> dict:
    """The command line: [--fast]; prints the tables and claims, then one JSON line of figures."""
    return report.benchmark_main(
        NAME, run, tables=("chain", "contrasts", "quality"), argv=argv, claims=claims
    )


if __name__ == "__main__":
    main()
