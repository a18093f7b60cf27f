"""Lesson 07's controlled comparison: latent diffusion against pixel space at equal training
compute (Rombach et al. 2022's quality-per-FLOP argument, measured at toy scale).

The same UNet layout (lesson 06's efficient one_resblock), data, batch, learning rate and batch
order, trained either on the autoencoder's 8x8x4 latents (latent_t2i's recipe: seeds 0, 1, 2) or
on the 32x32 images themselves (recipes.latent.space_runs, seeds 0, 1, 2). Training compute is
counted exactly (profile.training_flops of one step, per image): pixel space gets as many FLOPs as
the latent run's UNet alone (EQUAL_COMPUTE["unet"] steps), then as its UNet, the autoencoder's
training and encoding the training set once together (["total"]). Quality: condition accuracy
(shape, colour, size and position all read as captioned) of each run's EMA model on 100
validation captions, 10 DDIM steps with CFG, as its learning curve measured it.

python -m minidiff.experiments.latent_space [--fast]
"""

import functools

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from minidiff import losses, profile, recipes, report, stats, zoo
from minidiff.data import shapes
from minidiff.nets import autoencoder
from minidiff.recipes import latent, mobile
from minidiff.recipes import shapes as shape_recipes

# the budgets of recipes.latent by fast: latent_t2i's steps, the autoencoder's, and the training
# images (encoded once for the latent model)
LATENT_T2I_STEPS = {False: latent.LATENT_STEPS, True: 20}
AUTOENCODER_STEPS = {False: latent.AUTOENCODER_STEPS, True: 20}
TRAINING_IMAGES = {False: 20_000, True: 1000}
POINTS = dict(unet=1, total=-1)  # where latent.curve_steps("pixel") puts the equal-compute steps
WINDOW = 3  # learning-curve points compared by stats.plateaued


def per_image_flops() -> dict:
    """Exact FLOPs per training image of one step (forward + backward) of the efficient UNet on
    latents, on 32x32 pixels and on lesson 06's 16x16 pixels, and of the autoencoder; and of
    encoding one image (forward only)."""
    data = shapes.generate(8, latent.SIZE, seed=0, max_objects=1)
    ids, mask = shape_recipes.encode(data.captions)
    ae = latent.build_autoencoder()
    side = latent.SIZE // ae.factor
    z, small = torch.randn(8, latent.Z_CHANNELS, side, side), F.avg_pool2d(data.images, 2)
    counts, null = {}, shape_recipes.null_condition()
    for space, x in (("pixel", data.images), ("latent", z), ("lesson06", small)):
        model = mobile.build("one_resblock", 0, channels=x.shape[1])
        loss = functools.partial(losses.cfg_dsm, sde=model.sde, null=null)
        counts[f"{space}_step"] = profile.training_flops(loss, model, x, ids, mask) / len(x)
    counts["autoencoder_step"] = profile.training_flops(autoencoder.vae_loss, ae, data.images) / 8
    counts["encode"] = profile.flops(ae.encoder, data.images[:1])
    return counts


def training_flops(fast: bool = False) -> dict:
    """Training FLOPs of latent_t2i (its UNet; the autoencoder; encoding the training set) and
    the pixel steps of latent.BATCH images that match its UNet alone and the total."""
    per = per_image_flops()
    unet = LATENT_T2I_STEPS[fast] * latent.BATCH * per["latent_step"]
    ae = AUTOENCODER_STEPS[fast] * latent.AUTOENCODER_BATCH * per["autoencoder_step"]
    encoding = TRAINING_IMAGES[fast] * per["encode"]
    pixel_step = latent.BATCH * per["pixel_step"]
    return dict(
        per_image=per,
        latent_unet=unet,
        autoencoder=ae,
        encoding=encoding,
        latent_total=unet + ae + encoding,
        pixel_steps_equal_unet=unet / pixel_step,
        pixel_steps_equal_total=(unet + ae + encoding) / pixel_step,
    )


def measure(fast: bool) -> dict[str, list[dict]]:
    """{space: [per seed: seed, steps, curve (accuracy %)]}; latent seed 0 is latent_t2i, which
    kept no curve: its final model is measured as the curves were (one point). "lesson06": the
    efficient UNet on 16x16 pixels (mobile.runs["one_resblock"]), for reference."""
    judge_net = zoo.load(recipes.shapes_classifier, fast=fast)
    ae = zoo.load(latent.shapes_autoencoder, fast=fast)
    seed0 = zoo.load(latent.latent_t2i, fast=fast)
    accuracy = mobile.curve_accuracy(seed0, judge_net, fast, latent.SIZE, ae)
    out = {"latent": [dict(seed=0, steps=[LATENT_T2I_STEPS[fast]], curve=[accuracy])], "pixel": []}
    lesson06 = enumerate(mobile.runs["one_resblock"])
    out["lesson06"] = [dict(seed=s, **_curve(zoo.load(r, fast=fast))) for s, r in lesson06]
    for space, seeds in latent.space_runs.items():
        for seed, recipe in tqdm(seeds.items(), desc=f"{space} runs"):
            out[space].append(dict(seed=seed, **_curve(zoo.load(recipe, fast=fast))))
    return out


def _curve(run) -> dict:
    return dict(steps=run.steps.tolist(), curve=run.accuracy.tolist())


def final(raw: dict, space: str, point: int = -1) -> list[float]:
    """Each seed's accuracy at a point of its curve (pixel: POINTS["unet"] or ["total"])."""
    return [r["curve"][point] for r in raw[space]]


def table(raw: dict, flops: dict) -> list[dict]:
    """The latent runs, pixel space at equal compute and lesson 06's 16x16 model: steps of batch,
    training TFLOPs (the UNet's; with the autoencoder's and encoding's), accuracy over seeds."""
    per, extra = flops["per_image"], flops["autoencoder"] + flops["encoding"]
    rows = [  # label, runs, curve point, batch, autoencoder FLOPs
        ("latent (8x8x4)", "latent", -1, latent.BATCH, extra),
        ("pixel (32x32), equal UNet compute", "pixel", POINTS["unet"], latent.BATCH, 0),
        ("pixel (32x32), equal total compute", "pixel", POINTS["total"], latent.BATCH, 0),
        ("lesson 06: pixel (16x16)", "lesson06", -1, mobile.BATCH, 0),
    ]
    out = []
    for label, space, point, batch, more in rows:
        steps = raw[space][-1]["steps"][point]
        unet = steps * batch * per[f"{space}_step"]
        accuracy = stats.cell(final(raw, space, point))
        out.append(dict(model=label, steps=steps, batch=batch, unet_TFLOPs=unet / 1e12,
                        with_autoencoder_TFLOPs=(unet + more) / 1e12, accuracy_pct=accuracy,
                        seeds=len(raw[space])))  # fmt: skip
    return out


def comparisons(raw: dict) -> dict:
    """Latent minus pixel space accuracy (Welch over seeds) at each equal-compute point."""
    latent_acc = final(raw, "latent")
    return {k: stats.difference(final(raw, "pixel", i), latent_acc) for k, i in POINTS.items()}


def claims(raw: dict) -> list[dict]:
    """Latent beats pixel space at equal UNet compute, and with the autoencoder counted; the
    latent runs' learning curves have flattened."""
    c = comparisons(raw)
    curves = [r["curve"] for r in raw["latent"] if len(r["curve"]) > 1]
    flat = sum(stats.plateaued(curve, WINDOW) for curve in curves)
    seeds = f"{len(raw['latent'])} latent and {len(raw['pixel'])} pixel training seeds"
    return [
        report.claim(f"At equal UNet training FLOPs, latent diffusion's samples are right more "
                     f"often than pixel space's ({seeds})", c["unet"].beyond(+1),
                     "condition accuracy distinguishably higher (Welch)",
                     latent_minus_pixel=str(c["unet"])),
        report.claim("With the autoencoder's training counted too, latent diffusion's samples "
                     "are still right more often", c["total"].beyond(+1),
                     "condition accuracy distinguishably higher (Welch)",
                     latent_minus_pixel=str(c["total"])),
        report.claim("The latent runs' learning curves have flattened", flat == len(curves),
                     f"the last {WINDOW} points not distinguishable from the {WINDOW} before",
                     flat=f"{flat}/{len(curves)}"),
    ]  # fmt: skip
