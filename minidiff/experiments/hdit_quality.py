"""Lesson 09's quality study: HDiT, its parameter-matched flat DiT and the course's UNet trained
for the same FLOPs on 32x32 shapes, and HDiT's two ablations (recipes.hdit.runs, RUN_SEEDS
training seeds each; Crowson et al. 2024, Table 1 and Sec. 5).

Each seed's EMA model draws CFG["n"] images of held-out classes (DDIM with CFG); condition
accuracy is the % whose shape and colour the shapes judge reads as asked, FD is measured on the
judge's features against as many held-out real images. Architectures are compared by Welch's test
over seeds; an ablation shares its seeds' initial weights and batch order with HDiT's, so it is
compared seed by seed (paired). Every run's learning curve (accuracy during training, kept by the
zoo) says whether it converged.

python -m minidiff.experiments.hdit_quality [--fast]
"""

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from minidiff import fd, profile, recipes, report, stats, zoo
from minidiff.data import shapes
from minidiff.experiments.mobile_quality import WINDOW, converged, values  # lesson 06's rule
from minidiff.nets import classifier
from minidiff.recipes import hdit

NAME = "hdit_quality"
CHANCE = 100 / hdit.CLASSES  # % of samples right by guessing the class
CFG = {False: dict(n=200, nfe=10), True: dict(n=16, nfe=2)}
LABELS = {
    "hdit": "HDiT",
    "dit": "DiT (flat, global attention)",
    "unet": "UNet (the course's)",
    "hdit_add": "HDiT, additive skips",
    "hdit_uniform": "HDiT, uniform weighting",
}


def quality(denoiser, judge_net, data: shapes.Shapes, nfe: int) -> dict:
    """Condition accuracy (%; and the % of right shapes and of right colours) and FD of CFG
    samples of data's classes against data's images."""
    images = hdit.sample(denoiser, hdit.labels(data), nfe)
    seen = hdit.read(judge_net, images, data)
    pct = lambda right: 100 * right.double().mean().item()  # noqa: E731
    features = [classifier.features(judge_net, F.avg_pool2d(x, 2)) for x in (images, data.images)]
    return dict(
        accuracy_pct=pct(seen["shape"] & seen["colour"]),
        shape_pct=pct(seen["shape"]),
        colour_pct=pct(seen["colour"]),
        fd=fd.fd(*features),
    )


def measure(fast: bool) -> dict[str, list[dict]]:
    """{name: [per seed: quality() (accuracy_pct, shape_pct, colour_pct, fd) and the learning
    curve (steps, curve)]}."""
    judge_net = zoo.load(recipes.shapes_classifier, fast=fast)
    data = shapes.generate(CFG[fast]["n"], hdit.SIZE, seed=hdit.SEEDS["test"], max_objects=1)
    out = {name: [] for name in hdit.NAMES}
    jobs = [(name, seed) for name in hdit.NAMES for seed in range(hdit.RUN_SEEDS)]
    for name, seed in tqdm(jobs, desc="trained models"):
        run = zoo.load(hdit.runs[name][seed], fast=fast)
        scores = quality(run.model, judge_net, data, CFG[fast]["nfe"])
        out[name].append(dict(scores, steps=run.steps.tolist(), curve=run.accuracy.tolist()))
    return out


def step_flops() -> dict[str, float]:
    """Exact training FLOPs of one step (hdit.BATCH images, forward and backward) per name."""
    x = torch.zeros(hdit.BATCH, 3, hdit.SIZE, hdit.SIZE)
    y = torch.zeros(hdit.BATCH, dtype=torch.long)
    out = {}
    for name in hdit.NAMES:
        model = hdit.build_run(name, 0).model
        out[name] = profile.training_flops(hdit.loss_fn(name), model, x, y)
    return out


def table(raw: dict, flops: dict) -> list[dict]:
    """Per model: parameters, training steps and TFLOPs, accuracy and FD over seeds, and how
    many of its learning curves are flat and how many are still near chance."""
    rows = []
    for name in hdit.NAMES:
        steps = raw[name][0]["steps"][-1]
        params = profile.count_params(hdit.build_run(name, 0).model)
        rows.append(dict(model=LABELS[name], params_k=params / 1e3, steps=steps,
                         train_TFLOPs=steps * flops[name] / 1e12,
                         accuracy_pct=stats.cell(values(raw, name, "accuracy_pct")),
                         shape_pct=stats.cell(values(raw, name, "shape_pct")),
                         colour_pct=stats.cell(values(raw, name, "colour_pct")),
                         fd=stats.cell(values(raw, name, "fd")),
                         flat_curves=f"{sum(converged(raw, name))}/{len(raw[name])}",
                         at_chance=f"{sum(at_chance(raw, name))}/{len(raw[name])}"))  # fmt: skip
    return rows


def comparisons(raw: dict) -> dict:
    """{(other, key): HDiT minus other}: Welch against the DiT and the UNet, paired against the
    ablations (which share HDiT's seeds); key "fd" or "accuracy_pct"."""
    out = {}
    for other in ("dit", "unet", *hdit.ABLATIONS):
        test = stats.paired if other in hdit.ABLATIONS else stats.difference
        for key in ("fd", "accuracy_pct"):
            out[other, key] = test(values(raw, other, key), values(raw, "hdit", key))
    return out


def at_chance(raw: dict, name: str) -> list[bool]:
    """Per seed: is its curve still near chance (the mean of its last WINDOW points below twice
    CHANCE)? Such a curve is flat because the model has not begun to follow its labels."""
    return [sum(r["curve"][-WINDOW:]) / WINDOW < 2 * CHANCE for r in raw[name]]


def claims(raw: dict) -> list[dict]:
    """HDiT's FD at most the DiT's at equal training FLOPs; lerp skips at least as good as
    additive ones, soft-min-SNR better than uniform weighting; every run converged above chance."""
    c, seeds = comparisons(raw), f"{hdit.RUN_SEEDS} training seeds each"
    flat = sum(sum(converged(raw, name)) for name in hdit.NAMES)
    chance = sum(sum(at_chance(raw, name)) for name in hdit.NAMES)
    runs = sum(len(raw[name]) for name in hdit.NAMES)
    at_most = "HDiT minus the other: lower, or not distinguishable"
    return [
        report.claim(f"At 32² and equal training FLOPs, HDiT's FD is at most the DiT's ({seeds})",
                     not c["dit", "fd"].beyond(+1), f"FD: {at_most} (Welch)",
                     hdit_minus_dit=str(c["dit", "fd"])),
        report.claim("Lerp skips are at least as good as additive ones (FD)",
                     not c["hdit_add", "fd"].beyond(+1), f"FD: {at_most} (paired)",
                     lerp_minus_add=str(c["hdit_add", "fd"])),
        report.claim("Soft-min-SNR weighting beats uniform weighting (FD)",
                     c["hdit_uniform", "fd"].beyond(-1), "FD distinguishably lower (paired)",
                     soft_minus_uniform=str(c["hdit_uniform", "fd"])),
        report.claim("Every run's learning curve has flattened, above chance",
                     flat == runs and chance == 0,
                     f"the last {WINDOW} points not distinguishable from the {WINDOW} before, and "
                     f"their mean above twice chance ({2 * CHANCE:.3g} %)",
                     flat=f"{flat}/{runs}", at_chance=f"{chance}/{runs}"),
    ]  # fmt: skip


def run(fast: bool = False) -> dict:
    raw, flops = measure(fast), step_flops()
    figures = {
        name: dict(accuracy_pct=values(raw, name, "accuracy_pct"), fd=values(raw, name, "fd"))
        for name in hdit.NAMES
    }
    return dict(raw=raw, table=table(raw, flops), figures=figures)


def main(argv: list[str] | None = None) -> dict:
    """The command line: [--fast]; prints the table, the claims, then one JSON line."""
    return report.benchmark_main(NAME, run, tables=("table",), threads=1, argv=argv,
                                 claims=lambda result: claims(result["raw"]))  # fmt: skip


if __name__ == "__main__":
    main()
