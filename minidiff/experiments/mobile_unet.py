"""Lesson 06's measured claims: MobileDiffusion's UNet changes (Zhao et al. 2023, Sec. 3), applied
one at a time to an SD-like baseline on text-to-16x16-shapes, cut FLOPs and CPU latency per step
>= 2x at <= 10 % FD and <= 3 points of condition accuracy; removing the whole transformer at
the highest resolution costs more accuracy than removing only its self-attention; ReLU
attention works when fine-tuned from the softmax model.

Models: the zoo's recipes.mobile.ablation (one budget, batch order and seed each; only the UNet
differs), plus "relu_swap": one_resblock's weights under ReLU attention with no fine-tuning, and
the baseline and one_resblock trained LONG_STEPS (table "long": does the short budget's gap close?).
Costs are the UNet's (the text encoder runs once per image, not per step): forward FLOPs for one
image, median ms and peak MiB for a batch of `batch` at 1 thread. Quality: DDIM with CFG on
one-object held-out captions; condition accuracy = % of samples whose shape, colour, size and
position the shapes judge all reads as captioned; FD on the judge's features to the real images.

python -m minidiff.experiments.mobile_unet [--fast]
"""

import torch
from tqdm.auto import tqdm

from minidiff import fd, profile, recipes, report, zoo
from minidiff.experiments import text_to_image as t2i_bench
from minidiff.nets import classifier
from minidiff.recipes import mobile
from minidiff.recipes import shapes as shape_recipes

NAME = "mobile_unet"
CONFIG = {
    False: dict(n=200, nfe=15, scale=3.0, batch=16, repeats=10),
    True: dict(n=16, nfe=4, scale=3.0, batch=4, repeats=2),
}
ATTRIBUTES = ("shape", "colour", "size", "position")


def unet_inputs(denoiser, captions):
    """(x, t, context, mask) for the UNet alone: the captions' encoded tokens, noise, t = 0.5."""
    ids, mask = shape_recipes.encode(captions)
    with torch.no_grad():
        context = denoiser.net.encoder(ids, mask)
    size = shape_recipes.SIZE
    x = torch.randn(len(ids), 3, size, size, generator=torch.Generator().manual_seed(0))
    return x, torch.full((len(ids),), 0.5), context, mask


def cost(denoiser, captions, cfg) -> dict:
    """The UNet's parameters (thousands), MFLOPs for one image, ms and peak MiB for a batch."""
    unet, inputs = denoiser.net.unet, unet_inputs(denoiser, captions[: cfg["batch"]])
    return dict(
        params_k=profile.count_params(unet) / 1e3,
        MFLOPs=profile.flops(unet, *(v[:1] for v in inputs)) / 1e6,
        ms=profile.latency_ms(unet, *inputs, repeats=cfg["repeats"]),
        peak_MB=profile.peak_memory_mb(unet, *inputs),
    )


def quality(denoiser, judge_net, data, cfg) -> dict:
    """Condition accuracy (%) and FD of CFG samples for data's captions."""
    images = t2i_bench.sample(denoiser, data.captions, cfg["scale"], cfg["nfe"]).clamp(-1, 1)
    right = t2i_bench.all_right(judge_net, images, data, 1, ATTRIBUTES)
    real = classifier.features(judge_net, data.images)
    return dict(
        accuracy_pct=100 * right.double().mean().item(),
        fd=fd.fd(classifier.features(judge_net, images), real),
    )


def relu_swap(fast: bool):
    """one_resblock's trained weights in the ReLU-attention architecture: 0 fine-tune steps."""
    model = mobile.ablation["relu_finetune"].build()
    model.load_state_dict(zoo.load(mobile.ablation["one_resblock"], fast=fast).state_dict())
    return model.eval()


def with_deltas(row: dict, reference: dict) -> dict:
    """row plus its change against reference: % for the costs, differences for the quality."""
    out = dict(row)
    for key in ("params_k", "MFLOPs", "ms"):
        out[f"Δ{key.removesuffix('_k')} %"] = 100 * (row[key] / reference[key] - 1)
    out["ΔFD"] = row["fd"] - reference["fd"]
    out["Δaccuracy (points)"] = row["accuracy_pct"] - reference["accuracy_pct"]
    return out


def measure(fast: bool, cfg) -> dict[str, dict]:
    judge_net = zoo.load(recipes.shapes_classifier, fast=fast)
    data = t2i_bench.prompts(cfg["n"], 1)
    models = dict(mobile.ablation, **{f"{k}_long": r for k, r in mobile.long_runs.items()})
    rows = {}
    for name in tqdm([*models, "relu_swap"], desc="ablation models"):
        denoiser = relu_swap(fast) if name == "relu_swap" else zoo.load(models[name], fast)
        rows[name] = dict(
            cost(denoiser, data.captions, cfg), **quality(denoiser, judge_net, data, cfg)
        )
    return rows


def run(fast: bool = False) -> dict:
    cfg = CONFIG[fast]
    rows = measure(fast, cfg)
    ablation, previous = [], None
    for name, change, _ in mobile.CHAIN:  # each change against the row above it
        row = dict(model=name, change=change, **rows[name])
        ablation.append(with_deltas(row, previous or row))
        previous = rows[name]
    contrasts = [
        dict(model=name, change=change, against=base, **with_deltas(rows[name], rows[base]))
        for name, change, base, _ in mobile.CONTRASTS
    ]
    swap = "one_resblock weights, softmax -> ReLU, no fine-tuning"
    contrasts.append(dict(model="relu_swap", change=swap, against="relu_finetune",
                          **with_deltas(rows["relu_swap"], rows["relu_finetune"])))  # fmt: skip
    long_base, long_efficient = (
        dict(model=f"{name}_long", steps=mobile.LONG_STEPS, **rows[f"{name}_long"])
        for name in mobile.long_runs
    )
    base, efficient = rows["sd_like"], rows[mobile.CHAIN[-1][0]]
    return dict(
        ablation=ablation,
        contrasts=contrasts,
        long=[with_deltas(row, long_base) for row in (long_base, long_efficient)],
        figures=dict(
            flops_ratio=base["MFLOPs"] / efficient["MFLOPs"],
            ms_ratio=base["ms"] / efficient["ms"],
            params_ratio=base["params_k"] / efficient["params_k"],
            fd_change_pct=100 * (efficient["fd"] / base["fd"] - 1),
            accuracy_change_points=efficient["accuracy_pct"] - base["accuracy_pct"],
            long_fd_change_pct=100 * (long_efficient["fd"] / long_base["fd"] - 1),
            long_accuracy_change_points=long_efficient["accuracy_pct"] - long_base["accuracy_pct"],
            accuracy_pct={k: v["accuracy_pct"] for k, v in rows.items()},
            fd={k: v["fd"] for k, v in rows.items()},
            ms={k: v["ms"] for k, v in rows.items()},
            samples=cfg["n"],
            latency_batch=cfg["batch"],
        ),
    )


def main(argv: list[str] | None = None) -> dict:
    """The command line: [--fast]; prints the tables, then one JSON line of figures."""
    return report.benchmark_main(NAME, run, tables=("ablation", "contrasts", "long"), argv=argv)


if __name__ == "__main__":
    main()
