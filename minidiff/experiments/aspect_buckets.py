"""Lesson 10's aspect-ratio study and its two-stage pipeline.

Composition (Any-Size-Diffusion's ARAD, Zheng et al. 2024): recipes.anysize.composition_runs, the
same UNet trained on the same scenes at their aspect-ratio buckets' sizes ("arad") or centre-cropped
to squares ("crop", the square-only model), 3 training seeds each (equal seeds: equal initial
weights, so the two are compared seed by seed). Each draws
SAMPLE["n"] canvases at every bucket's size; a canvas fails when it does not have exactly one
sun, whole (scenes.sun_components: none, two or more, or one cut by the border). Every run's
learning curve (the % well composed at 1:2 and 2:1 during training) says whether it converged.

Pipeline (ASD's two stages): an ARAD canvas at 1:2, then the 2x super-resolution model over it
tile by tile with FSTD; each stage timed.

python -m minidiff.experiments.aspect_buckets [--fast]
"""

import time

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from minidiff import buckets, report, stats, tiling, zoo
from minidiff.data import scenes
from minidiff.nets.superres import upsample
from minidiff.recipes import anysize

NAME = "aspect_buckets"
NAMES = {"arad": "ARAD (3 buckets)", "crop": "square only (centre crops)"}
RATIOS = tuple(buckets.BUCKETS)
SAMPLE = {False: dict(n=64, nfe=20), True: dict(n=4, nfe=2)}
WINDOW = 2  # learning-curve points compared by stats.plateaued (of anysize.POINTS)
LEARNED = 50  # % well composed: a flat curve below it has not learned to compose
TARGET = 0.5  # ARAD's failure rate at most this fraction of the square-only model's (the issue's)


def failures(images: torch.Tensor) -> dict[str, float]:
    """% of canvases that fail, and of those with no sun, two or more, one cut by the border."""
    count, cut = scenes.sun_components(images)
    pct = lambda right: 100 * right.double().mean().item()  # noqa: E731
    return dict(failed_pct=pct((count != 1) | cut), no_sun_pct=pct(count == 0),
                two_or_more_pct=pct(count >= 2), cut_pct=pct((count == 1) & cut))  # fmt: skip


def measure(fast: bool) -> dict[str, list[dict]]:
    """{name: [per seed: {ratio: failures()}, and the learning curve (steps, curve)]}."""
    out = {name: [] for name in NAMES}
    jobs = [(name, seed) for name in NAMES for seed in range(anysize.RUN_SEEDS)]
    for name, seed in tqdm(jobs, desc="trained models"):
        run = zoo.load(anysize.composition_runs[name][seed], fast=fast)
        scores = {
            ratio: failures(anysize.draw_at(run.model, name, ratio, **SAMPLE[fast],
                                            seed=anysize.SEEDS["val"]))
            for ratio in RATIOS
        }  # fmt: skip
        out[name].append(dict(scores, steps=run.steps.tolist(), curve=run.accuracy.tolist()))
    return out


def rates(raw: dict, name: str, ratio: str, key: str = "failed_pct") -> list[float]:
    return [r[ratio][key] for r in raw[name]]


def converged(raw: dict, name: str) -> list[bool]:
    """Per seed: has its curve plateaued (stats.plateaued), with its last WINDOW points above
    LEARNED on average?"""
    return [stats.plateaued(r["curve"], WINDOW) and sum(r["curve"][-WINDOW:]) / WINDOW > LEARNED
            for r in raw[name]]  # fmt: skip


def table(raw: dict) -> list[dict]:
    """Per model and aspect ratio: failure % and its kinds, mean ± sd over seeds."""
    rows = []
    for name, label in NAMES.items():
        for ratio in RATIOS:
            cells = {k: stats.cell(rates(raw, name, ratio, k)) for k in raw[name][0][ratio]}
            rows.append(dict(model=label, ratio=ratio, size="x".join(map(str,
                             buckets.BUCKETS[ratio])), **cells))  # fmt: skip
    return rows


def claims(raw: dict) -> list[dict]:
    """Per wide ratio: ARAD's failure rate at most TARGET of the square-only model's, and lower
    distinguishably; and every run converged."""
    out = []
    for ratio in anysize.WIDE:
        arad, square = rates(raw, "arad", ratio), rates(raw, "crop", ratio)
        diff = stats.paired(square, arad)
        halved = stats.spread(arad).mean <= TARGET * stats.spread(square).mean
        out.append(report.claim(
            f"At {ratio}, ARAD at least halves the square-only model's composition failures",
            bool(halved and diff.beyond(-1)),
            f"ARAD's mean failure rate <= {TARGET} x the square-only model's, and lower "
            f"distinguishably (paired over {anysize.RUN_SEEDS} training seeds)",
            arad_pct=stats.cell(arad), square_pct=stats.cell(square),
            arad_minus_square=str(diff)))  # fmt: skip
    flat = sum(sum(converged(raw, name)) for name in NAMES)
    runs = sum(len(raw[name]) for name in NAMES)
    out.append(report.claim("Every composition run's learning curve has flattened", flat == runs,
                            f"the last {WINDOW} points not distinguishable from the {WINDOW} "
                            f"before, and above {LEARNED} % well composed",
                            flat=f"{flat}/{runs}"))  # fmt: skip
    return out


def pipeline(fast: bool, n: int = 2, ratio: str = "1:2", seed: int = 0) -> dict:
    """ARAD (seed 0's model) draws n canvases at `ratio` (stage 1); the SR model doubles them
    through FSTD tiles (stage 2). -> the images of each stage and a row per stage."""
    nfe = SAMPLE[fast]["nfe"]
    arad = zoo.load(anysize.composition_runs["arad"][0], fast=fast).model
    sr = tiling.fstd(zoo.load(anysize.scenes_sr, fast=fast), anysize.TILE)
    height, width = buckets.BUCKETS[ratio]
    start = time.perf_counter()
    low = anysize.draw_at(arad, "arad", ratio, n, nfe, seed=seed)
    middle = time.perf_counter()
    high = anysize.sample(sr, 2 * height, 2 * width, n, nfe, upsample(low, 2), seed=seed)
    end = time.perf_counter()
    gap = lambda x: (F.avg_pool2d(x, 2) - low).abs().mean().item()  # noqa: E731
    rows = [
        dict(stage="1: ARAD", size=f"{height}x{width}", evaluations=n * nfe,
             seconds=middle - start, consistency=""),
        dict(stage="2: FSTD super-resolution", size=f"{2 * height}x{2 * width}",
             evaluations=sr.evaluations, seconds=end - middle, consistency=gap(high)),
        dict(stage="(bilinear upsampling)", size=f"{2 * height}x{2 * width}", evaluations=0,
             seconds=0, consistency=gap(upsample(low, 2))),
    ]  # fmt: skip
    return dict(low=low, high=high, rows=rows)


def run(fast: bool = False) -> dict:
    raw = measure(fast)
    figures = {name: {ratio: rates(raw, name, ratio) for ratio in RATIOS} for name in NAMES}
    return dict(raw=raw, table=table(raw), pipeline=pipeline(fast)["rows"], figures=figures)


def main(argv: list[str] | None = None) -> dict:
    """The command line: [--fast]; prints the tables, the claims, then one JSON line."""
    return report.benchmark_main(NAME, run, tables=("table", "pipeline"), threads=1, argv=argv,
                                 claims=lambda result: claims(result["raw"]))  # fmt: skip


if __name__ == "__main__":
    main()
