"""Lesson 05's measured claims on shapes: guidance buys alignment at the price of diversity;
without thresholding, strong guidance saturates backgrounds; what static and dynamic thresholding
(Saharia et al. 2022, Sec. 2.3) do instead.

Prompts are the captions of held-out images (seed SEEDS["test"]); samples come from DDIM with
classifier-free guidance on the zoo's shapes_t2i, one run per sampling seed (CONFIG["seeds"]).
The zoo's shapes classifier judges them, with two names for two metrics:
* shape + colour accuracy: % of samples whose shape and colour (two objects: both shapes and
  colours and the relation) are the caption's;
* condition accuracy (lessons 06-08's metric): % of samples with *every* attribute the caption
  names right: size and position too (two objects: sizes and relation), compared in
  shapes.canonical form ("B right of A" is "A left of B");
* grey background: % of samples the judge reads as grey (captions never name the background; the
  data has black and grey equally often), where guidance's overshoot shows;
* FD against the real images of the same captions; within-caption spread (fd.within_class_spread
  over several samples of each of a few captions) for diversity.
The Imagen grid (encoder size x UNet size, Sec. 4.4) is an exercise (imagen_grid.py), not a claim.

python -m minidiff.experiments.text_to_image [--fast]
"""

import torch
from tqdm.auto import tqdm

from minidiff import fd, recipes, report, samplers, schedules, stats, zoo
from minidiff.data import shapes
from minidiff.nets import classifier
from minidiff.recipes import shapes as shape_recipes

NAME = "text_to_image"
CONFIG = {
    False: dict(n=200, nfe=15, seeds=(0, 1, 2), scales=[0, 1, 2, 3, 5, 8], high=[8, 16],
                captions=20, per_caption=10, spread_scales=[1, 3, 8], grid_scale=3),
    True: dict(n=16, nfe=4, seeds=(0, 1, 2), scales=[0, 3], high=[8], captions=4, per_caption=3,
               spread_scales=[1, 3], grid_scale=3),
}  # fmt: skip
SHAPE_COLOUR = {1: ("shape", "colour"), 2: ("shape", "colour", "shape2", "colour2", "relation")}
EVERY = {
    1: ("shape", "colour", "size", "position"),
    2: ("shape", "colour", "size", "shape2", "colour2", "size2", "relation"),
}
ATTRIBUTES = SHAPE_COLOUR  # all_right's default
THRESHOLDS = {
    "none": lambda d: d,
    "static": samplers.static_threshold,
    "dynamic": samplers.dynamic_threshold,  # percentile 0.995, as Imagen
}
GREY = shapes.BACKGROUNDS.index("grey")


def prompts(n: int, objects: int) -> shapes.Shapes:
    """n held-out images with `objects` objects each: their captions are the prompts."""
    total = 2 * n
    while True:  # half the images have two objects: draw more until n of the kind are found
        data = shapes.generate(total, shape_recipes.SIZE, seed=shape_recipes.SEEDS["test"])
        keep = torch.nonzero(data.labels["count"] == objects - 1).squeeze(1)[:n]
        if len(keep) == n:
            break
        total *= 2
    return subset(data, keep)


def subset(data: shapes.Shapes, keep: torch.Tensor) -> shapes.Shapes:
    return shapes.Shapes(
        data.images[keep],
        {k: v[keep] for k, v in data.labels.items()},
        [data.captions[i] for i in keep.tolist()],
    )


def sample(denoiser, captions, scale: float, nfe: int, threshold="none", seed=0, shape=(3, 16, 16)):
    """DDIM (eta = 0) with CFG at `scale` and a THRESHOLDS wrapper on the guided x0_hat; the
    final images (or latents: `shape` per sample) before clipping (to measure how far they
    overshoot [-1, 1])."""
    ids, mask = shape_recipes.encode(captions)
    guided = samplers.cfg(denoiser, scale, (ids, mask), shape_recipes.null_condition(len(ids)))
    x = torch.randn(len(ids), *shape, generator=torch.Generator().manual_seed(seed))
    return samplers.ddim(THRESHOLDS[threshold](guided), denoiser.sde, x, schedules.uniform(nfe))


def all_right(judge_net, images, data: shapes.Shapes, objects: int, attributes=None):
    """(N,) bool: the judge reads every attribute of the caption (canonical form) off the image;
    attributes: which ones (default ATTRIBUTES[objects]: shape and colour)."""
    predicted, wanted = classifier.predict(judge_net, images), shapes.canonical(data.labels)
    attributes = ATTRIBUTES[objects] if attributes is None else attributes
    return torch.stack([predicted[k] == wanted[k] for k in attributes]).all(0)


def judge(judge_net, images, data: shapes.Shapes, objects: int) -> dict:
    """Shape + colour and condition accuracy (%), grey backgrounds (%), FD to the real images,
    and % of pixel values beyond +-1.1 before clipping (how far guidance overshoots the data
    range; black backgrounds and white shapes sit at -1 and 1, so a small margin is allowed)."""
    clipped = images.clamp(-1, 1)
    pct = lambda right: 100 * right.double().mean().item()  # noqa: E731
    grey = classifier.predict(judge_net, clipped)["background"] == GREY
    return dict(
        shape_colour_pct=pct(all_right(judge_net, clipped, data, objects, SHAPE_COLOUR[objects])),
        accuracy_pct=pct(all_right(judge_net, clipped, data, objects, EVERY[objects])),
        grey_pct=pct(grey),
        fd=fd.fd(
            classifier.features(judge_net, clipped), classifier.features(judge_net, data.images)
        ),
        overshoot_pct=100 * (images.abs() > 1.1).double().mean().item(),
    )


def guidance(denoiser, judge_net, data, cfg) -> dict:
    """{scale: [judge() per sampling seed]}."""
    return {
        s: [judge(judge_net, sample(denoiser, data.captions, s, cfg["nfe"], seed=seed), data, 1)
            for seed in cfg["seeds"]]
        for s in tqdm(cfg["scales"], desc="guidance scales")
    }  # fmt: skip


def thresholding(denoiser, judge_net, data, cfg) -> dict:
    """{(scale, threshold): [judge() per sampling seed]} at the high scales."""
    out = {}
    for scale in tqdm(cfg["high"], desc="thresholding"):
        for name in THRESHOLDS:
            out[scale, name] = [
                judge(judge_net, sample(denoiser, data.captions, scale, cfg["nfe"], name, seed),
                      data, 1) for seed in cfg["seeds"]
            ]  # fmt: skip
    return out


def repeated_captions(cfg, pool: int = 4000) -> shapes.Shapes:
    """cfg["per_caption"] held-out one-object images of each of the first cfg["captions"]
    captions that have that many in `pool` held-out images (the real images of one caption
    differ by jitter and background only): the diversity prompts."""
    data, groups = prompts(pool, 1), {}
    for i, caption in enumerate(data.captions):
        groups.setdefault(caption, []).append(i)
    full = [idx[: cfg["per_caption"]] for idx in groups.values() if len(idx) >= cfg["per_caption"]]
    if len(full) < cfg["captions"]:
        raise ValueError(f"pool: {pool} images hold only {len(full)} captions with "
                         f"{cfg['per_caption']} images each; pass a larger pool")  # fmt: skip
    return subset(data, torch.tensor([i for idx in full[: cfg["captions"]] for i in idx]))


def spread(judge_net, images, data: shapes.Shapes) -> float:
    """Within-caption spread of the judge's features (each caption a class)."""
    index = {c: i for i, c in enumerate(dict.fromkeys(data.captions))}
    labels = torch.tensor([index[c] for c in data.captions])
    return fd.within_class_spread(classifier.features(judge_net, images.clamp(-1, 1)), labels)


def diversity(denoiser, judge_net, cfg) -> dict:
    """{scale: [within-caption spread per sampling seed]}, and "real": the real images' own."""
    data = repeated_captions(cfg)
    out = {"real": spread(judge_net, data.images, data)}
    for s in tqdm(cfg["spread_scales"], desc="diversity"):
        out[s] = [spread(judge_net, sample(denoiser, data.captions, s, cfg["nfe"], seed=seed), data)
                  for seed in cfg["seeds"]]  # fmt: skip
    return out


def real_rows(judge_net, single, double) -> list[dict]:
    """The judge on real images of the prompts: the ceiling of both accuracies."""
    rows = []
    for objects, data in ((1, single), (2, double)):
        scores = judge(judge_net, data.images, data, objects)
        keys = ("shape_colour_pct", "accuracy_pct", "grey_pct")
        rows.append(dict(prompts=f"{objects} object(s)", **{k: scores[k] for k in keys}))
    return rows


def run(fast: bool = False) -> dict:
    cfg = CONFIG[fast]
    judge_net = zoo.load(recipes.shapes_classifier, fast=fast)
    denoiser = zoo.load(recipes.shapes_t2i, fast=fast)
    single, double = prompts(cfg["n"], 1), prompts(cfg["n"], 2)
    raw = dict(
        guidance=guidance(denoiser, judge_net, single, cfg),
        thresholding=thresholding(denoiser, judge_net, single, cfg),
        diversity=diversity(denoiser, judge_net, cfg),
        real=real_rows(judge_net, single, double),
        n=cfg["n"],
    )
    return dict(
        guidance=[summary(dict(scale=s), v) for s, v in raw["guidance"].items()],
        thresholding=[
            summary(dict(scale=s, threshold=t), v) for (s, t), v in raw["thresholding"].items()
        ],  # fmt: skip
        diversity=[
            dict(samples=f"w = {s}", within_caption_spread=stats.cell(v))
            for s, v in raw["diversity"].items()
            if s != "real"
        ]
        + [dict(samples="real images", within_caption_spread=f"{raw['diversity']['real']:.3g}")],
        real=raw["real"],
        raw=raw,
        figures=figures(raw, cfg),
    )


def summary(key: dict, per_seed: list[dict]) -> dict:
    """A table row: mean ± sd over sampling seeds of every score."""
    return dict(key, **{k: stats.cell([s[k] for s in per_seed]) for k in per_seed[0]})


def mean(per_seed: list[dict], key: str) -> float:
    return stats.spread([s[key] for s in per_seed]).mean


def figures(raw: dict, cfg: dict) -> dict:
    """The JSON line: means over sampling seeds (the tables hold the sds)."""
    keys = ("shape_colour_pct", "accuracy_pct", "grey_pct", "fd")
    return dict(
        by_scale={str(s): {k: mean(v, k) for k in keys} for s, v in raw["guidance"].items()},
        thresholding={
            f"{t}@{s}": {k: mean(v, k) for k in keys} for (s, t), v in raw["thresholding"].items()
        },  # fmt: skip
        spread={
            str(s): stats.spread(v).mean if s != "real" else v for s, v in raw["diversity"].items()
        },  # fmt: skip
        real=raw["real"],
        samples=cfg["n"],
        seeds=len(cfg["seeds"]),
    )


def main(argv: list[str] | None = None) -> dict:
    """The command line: [--fast]; prints the tables, the claims, then one JSON line."""
    from minidiff.experiments import text_to_image_claims  # (it imports this module)

    tables = ("guidance", "thresholding", "diversity", "real")
    return report.benchmark_main(NAME, run, tables, argv=argv, claims=text_to_image_claims.claims)


if __name__ == "__main__":
    main()
