"""Zoo recipes for lesson 09: HDiT against a flat DiT and the course's UNet on 32x32 shapes at
equal training FLOPs, and HDiT's two ablations (Crowson et al. 2024, Table 1).

Every model is the F of targets.EDMDenoiser (sigma_data 0.5) on VP, conditioned on one of CLASSES
labels (shape x colour; 10 % label dropout for CFG), trained on lesson 07's 20,000 one-object
32x32 images as the paper trains HDiT: soft-min-SNR weighting and interpolated-cosine times. The
three architectures have about the same parameters (about 220k): HDiT is experiments.hdit_scaling's
model at 32 x 32 (a 16 x 16-token neighbourhood level, an 8 x 8 global one), the DiT its matched
flat transformer, the UNet the course's (8-16-32 channels, self-attention at 8 x 8). Each gets
the same training FLOPs: STEPS[arch] steps of BATCH images, as many FLOPs as HDiT's STEPS["hdit"]
(counted by profile.training_flops; a test recounts them). runs[name][seed]: one recipe per
training seed (initial weights and batch order), with its learning curve; names: "hdit", "dit",
"unet", and the ablations "hdit_add" (additive skips instead of the lerp) and "hdit_uniform" (EDM's
weighting, uniform in F's units, instead of soft-min-SNR).

The learning rate is 2e-3, not the paper's 5e-4, which learned several times slower in a pilot.
"""

import functools

import torch
import torch.nn.functional as F

from .. import checkpoint, losses, samplers, schedules, targets, train, zoo
from ..data import shapes
from ..experiments import hdit_scaling
from ..nets import classifier
from ..nets.attention import Block
from ..nets.dit import DiT
from ..nets.unet import Stage, UNet
from ..sde import VP
from ..zoo import seeded_init
from . import curves
from .digits import ClassConditional
from .latent import SIZE, images
from .shapes import SEEDS, shapes_classifier

CLASSES = len(shapes.SHAPES) * len(shapes.COLOURS)  # label = shape * len(COLOURS) + colour
BATCH, LR, RUN_SEEDS, POINTS = 32, 2e-3, 3, 8
STEPS = dict(hdit=2000, dit=734, unet=1802)  # equal training FLOPs (about 10 TFLOPs a run)
ABLATIONS = dict(hdit_add=dict(skip="add"), hdit_uniform=dict(weighting="uniform"))
NAMES = ("hdit", "dit", "unet", *ABLATIONS)
WEIGHTINGS = dict(soft_min_snr=losses.soft_min_snr_weight, uniform=losses.edm_weight)
# samples and DDIM steps per learning-curve point (not in the fingerprints: see recipes.mobile)
CURVE = {False: dict(n=100, nfe=10), True: dict(n=8, nfe=2)}
SCALE = 3.0  # CFG scale for every sample of the lesson


def arch(name: str) -> str:
    return name.split("_")[0]


def labels(data: shapes.Shapes) -> torch.Tensor:
    """The class of each image: shape * len(COLOURS) + colour."""
    return data.labels["shape"] * len(shapes.COLOURS) + data.labels["colour"]


def build_net(name: str):
    """The untrained F of run `name` (its architecture, and its skips for "hdit_add")."""
    if arch(name) == "hdit":
        skip = ABLATIONS.get(name, {}).get("skip", "lerp")
        model = hdit_scaling.hdit_at(SIZE, backend=None)
        return type(model)(**{**model.config, "num_classes": CLASSES, "skip": skip})
    if arch(name) == "dit":
        return DiT(patch=hdit_scaling.PATCH, num_classes=CLASSES, **hdit_scaling.DIT)
    attention = Block(num_heads=2)
    unet = UNet(3, (Stage(8), Stage(16), Stage(32, attention=attention)), num_classes=CLASSES)
    return ClassConditional(unet)


def build_run(name: str, seed: int):
    if name not in NAMES:
        raise ValueError(f"name: expected one of {NAMES}, got {name!r}")
    with seeded_init(seed):
        model = targets.EDMDenoiser(build_net(name), VP())
    return curves.Run(model, POINTS, dict(model=name, seed=seed))


def loss_fn(name: str):
    """cfg_dsm with the paper's times and run `name`'s weighting."""
    weighting = ABLATIONS.get(name, {}).get("weighting", "soft_min_snr")
    return functools.partial(
        losses.cfg_dsm,
        sde=VP(),
        null=(torch.tensor([CLASSES]),),
        weighting=WEIGHTINGS[weighting],
        times=functools.partial(schedules.sample_cosine_interpolated, image_d=SIZE),
    )


def curve_steps(name: str, fast: bool) -> list[int]:
    """POINTS evenly spaced to STEPS[arch] (fast: 3 steps apart)."""
    steps = STEPS[arch(name)]
    return [3 * i if fast else steps * i // POINTS for i in range(1, POINTS + 1)]


def sample(denoiser, classes: torch.Tensor, nfe: int, seed: int = 0) -> torch.Tensor:
    """32x32 images of `classes` by DDIM (eta = 0) with CFG at SCALE, clipped to [-1, 1]."""
    guided = samplers.cfg(denoiser, SCALE, (classes,), (torch.full_like(classes, CLASSES),))
    x = torch.randn(len(classes), 3, SIZE, SIZE, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        return samplers.ddim(guided, denoiser.sde, x, schedules.uniform(nfe)).clamp(-1, 1)


def read(judge_net, images: torch.Tensor, data: shapes.Shapes) -> dict[str, torch.Tensor]:
    """{"shape", "colour"} -> (N,) bool: the judge (at its 16 x 16) reads it as data's labels."""
    predicted = classifier.predict(judge_net, F.avg_pool2d(images, 2))
    return {k: predicted[k] == data.labels[k] for k in ("shape", "colour")}


def right(judge_net, images: torch.Tensor, data: shapes.Shapes) -> torch.Tensor:
    """(N,) bool: the judge reads both the shape and the colour of data's labels."""
    seen = read(judge_net, images, data)
    return seen["shape"] & seen["colour"]


def curve_accuracy(denoiser, judge_net, fast: bool) -> float:
    """% of CURVE samples of validation classes whose shape and colour the judge reads."""
    data = shapes.generate(CURVE[fast]["n"], SIZE, seed=SEEDS["val"], max_objects=1)
    images = sample(denoiser, labels(data), CURVE[fast]["nfe"])
    return 100 * right(judge_net, images, data).double().mean().item()


def train_run(run, fast, progress, name, seed):
    """STEPS[arch] steps of BATCH at LR, EMA 0.995, paused at curve_steps to measure the EMA
    model's accuracy (the pauses resume one checkpoint, so they do not change the run)."""
    judge_net = zoo.load(shapes_classifier, fast=fast, progress=progress)
    data = images(fast, max_objects=1)
    fit = functools.partial(
        train.fit,
        loss_fn=loss_fn(name),
        data=(data.images, labels(data)),
        batch_size=BATCH,
        lr=LR,
        ema_decay=0.9 if fast else 0.995,
        generator=torch.Generator().manual_seed(9 + 1000 * seed),
        progress=progress,
    )
    measure = functools.partial(curve_accuracy, judge_net=judge_net, fast=fast)
    with checkpoint.one_run() as path:
        run.model = curves.legs(run, fit, curve_steps(name, fast), path, measure)
    return run


runs = curves.seed_runs(
    "hdit_study", NAMES, RUN_SEEDS, build_run, train_run, needs=(shapes_classifier,)
)
