"""Lesson 10's tiled-sampling study: one tile model (recipes.anysize.scenes_tile, trained on 32 x 32
crops) draws wide canvases through each wrapper of minidiff.tiling, from the same initial noise.

Per method: tile evaluations and wall time per canvas, the seam score (tiling.seam_score) of each
canvas on the tile-boundary lines of every method (their union, so that no method is judged on
its own lines only) and on its own lines, and crop FD: random TILE x TILE crops of the canvases
against as many crops of real canvases, on the scenes judge's features. The canvases share their
noise, so methods are compared canvas by canvas (paired). "Whole canvas" runs the UNet on the
full canvas at once (it is convolutional, with attention at its lowest resolution): what tiling
is for when a canvas is too large for memory.

python -m minidiff.experiments.tiled_sampling [--fast]
"""

import time

import torch
from tqdm.auto import tqdm

from minidiff import fd, report, samplers, schedules, stats, tiling, zoo
from minidiff.data import scenes
from minidiff.nets import classifier
from minidiff.recipes import anysize

NAME = "tiled_sampling"
TILE = anysize.TILE
CANVAS = {
    False: dict(height=32, width=256, n=16, nfe=20),
    True: dict(height=32, width=64, n=2, nfe=2),
}
CROPS = {False: 1024, True: 16}  # crops per method for crop FD
METHODS = {  # name -> wrapper of the tile model (None: the whole canvas at once)
    "whole canvas": None,
    "naive": lambda d: tiling.naive(d, TILE),
    "MultiDiffusion, stride 16": lambda d: tiling.multidiffusion(d, TILE, TILE // 2),
    "MultiDiffusion, stride 8": lambda d: tiling.multidiffusion(d, TILE, TILE // 4),
    "FSTD": lambda d: tiling.fstd(d, TILE),
}
MD = "MultiDiffusion, stride 8"  # MultiDiffusion's own setting: a stride of 1/8 of its window
SEAM_TARGET, EVALUATIONS_TARGET, TIME_TARGET = 1.1, 0.5, 0.6  # FSTD against MD (the issue's)


def draw(denoiser, method: str, height: int, width: int, n: int, nfe: int, seed: int = 0):
    """n canvases by DDIM (eta = 0) through `method` -> (images, wrapper or None, seconds)."""
    wrapper = None if METHODS[method] is None else METHODS[method](denoiser)
    x = torch.randn(n, 3, height, width, generator=torch.Generator().manual_seed(seed))
    start = time.perf_counter()
    with torch.no_grad():
        images = samplers.ddim(wrapper or denoiser, denoiser.sde, x, schedules.uniform(nfe))
    return images.clamp(-1, 1), wrapper, time.perf_counter() - start


def lines(wrapper, height: int, width: int, nfe: int) -> tuple[set, set]:
    """(rows, columns) of every tile boundary the wrapper used over nfe calls."""
    return (set(), set()) if wrapper is None else wrapper.boundaries(height, width, nfe)


def crop_fd(judge_net, images: torch.Tensor, real: torch.Tensor, n: int) -> float:
    """FD between n random TILE x TILE crops of images and of real, on the judge's features."""
    cut = [scenes.crops(x, TILE, n, seed=anysize.SEEDS["val"]) for x in (images, real)]
    return fd.fd(*(classifier.features(judge_net, c) for c in cut))


def measure(fast: bool) -> dict:
    """{"methods": {name: per canvas seam scores (union and own lines), evaluations, seconds,
    crop FD}, "real": the same scores of real canvases, "images": the canvases, "lines": each
    method's boundary lines, "union": all of them}."""
    c = CANVAS[fast]
    tile_model = zoo.load(anysize.scenes_tile, fast=fast)
    judge_net = zoo.load(anysize.scenes_judge, fast=fast)
    real = scenes.generate(c["n"], c["height"], c["width"], seed=anysize.SEEDS["val"]).images
    drawn = {}
    for method in tqdm(METHODS, desc="tiled samplers"):
        drawn[method] = draw(tile_model, method, **c)
    own = {m: lines(w, c["height"], c["width"], c["nfe"]) for m, (_, w, _) in drawn.items()}
    union = tuple(set().union(*(o[i] for o in own.values())) for i in (0, 1))
    per_canvas = lambda x, at: [tiling.seam_score(im[None], *at) for im in x]  # noqa: E731
    out = {}
    for method, (images, wrapper, seconds) in drawn.items():
        calls = c["nfe"] * c["n"] if wrapper is None else wrapper.evaluations
        out[method] = dict(
            seam_union=per_canvas(images, union),
            seam_own=per_canvas(images, own[method]) if wrapper is not None else None,
            evaluations_per_canvas=calls / c["n"],
            seconds_per_canvas=seconds / c["n"],
            crop_fd=crop_fd(judge_net, images, real, CROPS[fast]),
        )
    real_fd = crop_fd(judge_net, scenes.generate(c["n"], c["height"], c["width"]).images, real,
                      CROPS[fast])  # fmt: skip
    return dict(methods=out, real=dict(seam_union=per_canvas(real, union), crop_fd=real_fd),
                images={m: d[0] for m, d in drawn.items()}, union=union, lines=own)  # fmt: skip


def table(raw: dict) -> list[dict]:
    """Per method: seam scores (mean ± sd over canvases), cost per canvas (evaluations: of a
    tile, or of the whole canvas for "whole canvas"), crop FD; real canvases last (their crop FD:
    another set of real canvases, the floor)."""
    rows = []
    for method, r in raw["methods"].items():
        own = "" if r["seam_own"] is None else stats.cell(r["seam_own"])
        rows.append(dict(method=method, seam_all_lines=stats.cell(r["seam_union"]),
                         seam_own_lines=own, evaluations=r["evaluations_per_canvas"],
                         ms_per_canvas=1e3 * r["seconds_per_canvas"],
                         crop_fd=r["crop_fd"]))  # fmt: skip
    real = raw["real"]
    rows.append(dict(method="real canvases", seam_all_lines=stats.cell(real["seam_union"]),
                     seam_own_lines="", evaluations=0, ms_per_canvas=0,
                     crop_fd=real["crop_fd"]))  # fmt: skip
    return rows


def claims(raw: dict) -> list[dict]:
    """FSTD's seams within SEAM_TARGET of MultiDiffusion's, naive's clearly worse, FSTD's
    evaluations and time at most EVALUATIONS_TARGET and TIME_TARGET of MultiDiffusion's."""
    m = raw["methods"]
    mean = lambda method: stats.spread(m[method]["seam_union"]).mean  # noqa: E731
    naive_minus_md = stats.paired(m[MD]["seam_union"], m["naive"]["seam_union"])
    fstd_minus_md = stats.paired(m[MD]["seam_union"], m["FSTD"]["seam_union"])
    cost = lambda key: m["FSTD"][key] / m[MD][key]  # noqa: E731
    n = len(m[MD]["seam_union"])
    return [
        report.claim(f"FSTD's seams are within 10 % of MultiDiffusion's (stride {TILE // 4})",
                     mean("FSTD") <= SEAM_TARGET * mean(MD),
                     f"FSTD's mean seam score <= {SEAM_TARGET} x MultiDiffusion's, on every "
                     f"method's boundary lines ({n} canvases)",
                     fstd=mean("FSTD"), multidiffusion=mean(MD), fstd_minus_md=str(fstd_minus_md)),
        report.claim("Naive tiling's seams are clearly worse than MultiDiffusion's",
                     naive_minus_md.beyond(+1), "naive minus MultiDiffusion distinguishably "
                     "above 0 (paired over canvases)", naive_minus_md=str(naive_minus_md)),
        report.claim("FSTD needs at most half MultiDiffusion's tile evaluations",
                     cost("evaluations_per_canvas") <= EVALUATIONS_TARGET,
                     f"ratio <= {EVALUATIONS_TARGET}", ratio=cost("evaluations_per_canvas")),
        report.claim("FSTD takes at most 0.6x MultiDiffusion's wall time",
                     cost("seconds_per_canvas") <= TIME_TARGET, f"ratio <= {TIME_TARGET} (one "
                     "timing of each, same process)", ratio=cost("seconds_per_canvas")),
    ]  # fmt: skip


def run(fast: bool = False) -> dict:
    raw = measure(fast)
    figures = {
        method: dict(seam=stats.spread(r["seam_union"]).mean, crop_fd=r["crop_fd"],
                     evaluations=r["evaluations_per_canvas"], ms=1e3 * r["seconds_per_canvas"])
        for method, r in raw["methods"].items()
    }  # fmt: skip
    return dict(raw=raw, table=table(raw), figures=figures)


def main(argv: list[str] | None = None) -> dict:
    """The command line: [--fast]; prints the table, the claims, then one JSON line."""
    return report.benchmark_main(NAME, run, tables=("table",), threads=1, argv=argv,
                                 claims=lambda result: claims(result["raw"]))  # fmt: skip


if __name__ == "__main__":
    main()
