"""Lesson 05's measured claims on shapes: guidance buys alignment, dynamic thresholding keeps it
at high guidance, and (Imagen) a larger text encoder buys more alignment than a larger UNet.

Prompts are the captions of held-out images (seed SEEDS["test"]); samples come from DDIM with
classifier-free guidance on the zoo's text-to-image models (recipes.shapes: shapes_t2i for the
guidance and thresholding tables, the t2i grid for Imagen's). The zoo's shapes
classifier judges them: condition accuracy = % of samples whose predicted attributes all equal
the caption's (single objects: shape and colour; two objects: both shapes, colours and the
relation, compared in shapes.canonical form: "B right of A" is "A left of B"); the classifier
also gives the features of FD against the real images of the same captions.
Tables: guidance (accuracy and FD vs scale), thresholding (none / static / dynamic at high
scales; Saharia et al. 2022, Sec. 2.3) and the Imagen grid (encoder size x UNet size, Sec. 4.4).

python -m minidiff.experiments.text_to_image [--fast]
"""

import torch
from tqdm.auto import tqdm

from minidiff import fd, profile, recipes, report, samplers, schedules, text, zoo
from minidiff.data import shapes
from minidiff.nets import classifier
from minidiff.recipes import shapes as shape_recipes

NAME = "text_to_image"
CONFIG = {
    False: dict(n=200, nfe=15, scales=[0, 1, 2, 3, 5, 8], high=[8, 16], grid_scale=3),
    True: dict(n=16, nfe=4, scales=[0, 3], high=[8], grid_scale=3),
}
ATTRIBUTES = {1: ("shape", "colour"), 2: ("shape", "colour", "shape2", "colour2", "relation")}
THRESHOLDS = {
    "none": lambda d: d,
    "static": samplers.static_threshold,
    "dynamic": samplers.dynamic_threshold,  # percentile 0.995, as Imagen
}


def prompts(n: int, objects: int) -> shapes.Shapes:
    """n held-out images with `objects` objects each: their captions are the prompts."""
    total = 2 * n
    while True:  # half the images have two objects: draw more until n of the kind are found
        data = shapes.generate(total, shape_recipes.SIZE, seed=shape_recipes.SEEDS["test"])
        keep = torch.nonzero(data.labels["count"] == objects - 1).squeeze(1)[:n]
        if len(keep) == n:
            break
        total *= 2
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
    attributes: which ones (default ATTRIBUTES[objects])."""
    predicted, wanted = classifier.predict(judge_net, images), shapes.canonical(data.labels)
    attributes = ATTRIBUTES[objects] if attributes is None else attributes
    return torch.stack([predicted[k] == wanted[k] for k in attributes]).all(0)


def judge(judge_net, images, data: shapes.Shapes, objects: int) -> dict:
    """% of images with every attribute of their caption right, FD to the real images, and %
    of pixel values beyond +-1.1 before clipping (how far guidance overshoots the data range;
    black backgrounds and white shapes sit exactly at -1 and 1, so a small margin is allowed)."""
    clipped = images.clamp(-1, 1)
    right = all_right(judge_net, clipped, data, objects)
    real = classifier.features(judge_net, data.images)
    return dict(
        accuracy_pct=100 * right.double().mean().item(),
        fd=fd.fd(classifier.features(judge_net, clipped), real),
        overshoot_pct=100 * (images.abs() > 1.1).double().mean().item(),
    )


def guidance_rows(denoiser, judge_net, data, cfg) -> list[dict]:
    return [
        dict(scale=s, **judge(judge_net, sample(denoiser, data.captions, s, cfg["nfe"]), data, 1))
        for s in tqdm(cfg["scales"], desc="guidance scales")
    ]


def threshold_rows(denoiser, judge_net, data, cfg) -> list[dict]:
    rows = []
    for scale in tqdm(cfg["high"], desc="thresholding"):
        for name in THRESHOLDS:
            images = sample(denoiser, data.captions, scale, cfg["nfe"], threshold=name)
            rows.append(dict(scale=scale, threshold=name, **judge(judge_net, images, data, 1)))
    return rows


def grid_rows(judge_net, single, double, cfg, fast: bool) -> list[dict]:
    """Each (encoder, UNet) pair at the same scale: alignment on one- and two-object prompts."""
    rows, held_out = [], shape_recipes.encode(double.captions)  # held-out captions for MLM
    for (encoder, unet), recipe in tqdm(recipes.t2i.items(), desc="Imagen grid"):
        denoiser = zoo.load(recipe, fast=fast)
        mlm = zoo.load(recipes.text_encoders[encoder], fast=fast)
        row = dict(encoder=encoder, unet=unet)
        row["encoder_params_k"] = profile.count_params(mlm.encoder) // 1000
        row["unet_params_k"] = profile.count_params(denoiser.net.unet) // 1000
        row["mlm_accuracy_pct"] = 100 * text.mlm_accuracy(mlm, *held_out)
        for objects, data in ((1, single), (2, double)):
            images = sample(denoiser, data.captions, cfg["grid_scale"], cfg["nfe"])
            right = all_right(judge_net, images.clamp(-1, 1), data, objects)
            row[f"accuracy_{objects}obj_pct"] = 100 * right.double().mean().item()
        rows.append(row)
    return rows


def real_rows(judge_net, single, double) -> list[dict]:
    """The judge on real images of the prompts: the ceiling of condition accuracy."""
    rows = []
    for objects, data in ((1, single), (2, double)):
        right = all_right(judge_net, data.images, data, objects)
        accuracy = 100 * right.double().mean().item()
        rows.append(dict(prompts=f"{objects} object(s)", real_accuracy_pct=accuracy))
    return rows


def run(fast: bool = False) -> dict:
    cfg = CONFIG[fast]
    judge_net = zoo.load(recipes.shapes_classifier, fast=fast)
    denoiser = zoo.load(recipes.shapes_t2i, fast=fast)  # the guidance and thresholding model
    single, double = prompts(cfg["n"], 1), prompts(cfg["n"], 2)
    result = dict(
        guidance=guidance_rows(denoiser, judge_net, single, cfg),
        thresholding=threshold_rows(denoiser, judge_net, single, cfg),
        grid=grid_rows(judge_net, single, double, cfg, fast),
        real=real_rows(judge_net, single, double),
    )
    best = max(result["guidance"], key=lambda r: (r["accuracy_pct"], -r["scale"]))
    result["figures"] = dict(
        chosen_scale=best["scale"],
        accuracy_pct=best["accuracy_pct"],
        fd=best["fd"],
        accuracy_pct_vs_scale={str(r["scale"]): r["accuracy_pct"] for r in result["guidance"]},
        thresholding={
            f"{r['threshold']}@{r['scale']}": [r["accuracy_pct"], r["fd"]]
            for r in result["thresholding"]
        },
        grid={
            f"{r['encoder']}+{r['unet']}": [r["accuracy_1obj_pct"], r["accuracy_2obj_pct"]]
            for r in result["grid"]
        },
        real_accuracy_pct=[r["real_accuracy_pct"] for r in result["real"]],
        samples=cfg["n"],
    )
    return result


def main(argv: list[str] | None = None) -> dict:
    """The command line: [--fast]; prints the tables, then one JSON line of figures."""
    return report.benchmark_main(
        NAME, run, tables=("guidance", "thresholding", "grid", "real"), argv=argv
    )


if __name__ == "__main__":
    main()
