"""Zoo recipes for lesson 10 (any size), all on data.scenes; every denoiser is a v-prediction
UNet on VP.

* scenes_judge: a classifier of 32 x 32 crops of wide canvases (is there sun, tree, house in the
  crop): the feature net of crop FD.
* scenes_tile: an unconditional 16-32-64 UNet trained on TILE x TILE crops of 32 x 128 canvases:
  the model the tiled samplers (minidiff.tiling) drive over canvases of any size.
* composition_runs["arad" | "crop"][seed]: the ARAD study, 3 training seeds each. Both are the
  same 8-16-32 UNet conditioned on a bucket label (the smaller UNet buys six runs in the budget),
  trained on the same scenes: "arad" on each at its bucket's size (minidiff.buckets; one bucket a
  minibatch), "crop" on each rendered 32 high and centre-cropped to 32 x 32 (the square-only
  model: Stable Diffusion's resize-and-crop), with the 1:1 label. Equal seeds start from equal
  weights. Each keeps a learning curve: the % of well composed samples (one whole sun) at 1:2
  and 2:1.
* scenes_sr: stage 2, a 2x super-resolution UNet (nets.superres) trained on TILE x TILE crops of
  48 x 96 canvases beside their 2x-downsampled-then-upsampled version.
"""

import functools

import torch
import torch.nn.functional as F

from .. import buckets, checkpoint, losses, samplers, schedules, targets, train, zoo
from ..data import scenes
from ..nets import classifier
from ..nets.attention import Block
from ..nets.superres import SuperResolution, upsample
from ..nets.unet import Stage, UNet
from ..sde import VP
from ..zoo import seeded_init
from . import curves
from .digits import ClassConditional

TILE = 32  # the tile model's and SR model's training crops, and the tiled samplers' tile
SEEDS = dict(tile=10, buckets=11, sr=13, judge=14, val=15)  # scenes.generate seeds
BUCKETS = list(buckets.BUCKETS.values())  # (height, width) of bucket 0, 1, 2
SQUARE = list(buckets.BUCKETS).index("1:1")  # the square-only model's one label
WIDE = ("1:2", "2:1")  # the aspect ratios the composition study measures
RUN_SEEDS, POINTS, COMPOSITION_STEPS, BATCH, LR = 3, 5, 4000, 32, 2e-3
CURVE = {False: dict(n=32, nfe=10), True: dict(n=4, nfe=2)}  # samples per bucket, DDIM steps
JUDGE_HEADS = ("sun", "tree", "house")  # is the segment in the crop (at least PRESENT pixels)
PRESENT = 4


def unet(channels, **kwargs) -> UNet:
    """A three-stage UNet with self-attention at its lowest resolution."""
    stages = (
        Stage(channels[0]),
        Stage(channels[1]),
        Stage(channels[2], attention=Block(num_heads=2)),
    )
    return UNet(stages=stages, **kwargs)


def _judge_crops(n: int, seed: int) -> tuple[torch.Tensor, dict]:
    """n TILE x TILE crops of 32 x 128 canvases and {head: (n,) 0/1 presence}."""
    data = scenes.generate(max(n // 16, 1), 32, 128, seed=seed)
    both = torch.cat([data.images, data.segments[:, None].float()], 1)
    cut = scenes.crops(both, TILE, n, seed=seed)
    images, segments = cut[:, :3], cut[:, 3]
    labels = {
        h: ((segments == scenes.SEGMENTS.index(h)).flatten(1).sum(1) >= PRESENT).long()
        for h in JUDGE_HEADS
    }
    return images, labels


def build_judge():
    with seeded_init():
        return classifier.Classifier(in_channels=3, heads={h: 2 for h in JUDGE_HEADS}, width=16)


def train_judge(model, fast, progress):
    images, labels = _judge_crops(512 if fast else 20_000, SEEDS["judge"])
    generator = torch.Generator().manual_seed(1)
    steps = 20 if fast else 800
    classifier.train_classifier(model, images, labels, steps, 128, generator=generator,
                                progress=progress)  # fmt: skip
    return model


def build_tile():
    with seeded_init():
        return targets.Denoiser(unet((16, 32, 64)), VP(), "v")


def _v_dsm(model, x0, *cond, generator=None):
    return losses.dsm(model, x0, *cond, sde=VP(), weighting=losses.v_weight, generator=generator)


def train_tile(model, fast, progress):
    """TILE x TILE crops of 32 x 128 canvases (a wide world seen through a square window)."""
    canvases = scenes.generate(64 if fast else 4000, 32, 128, seed=SEEDS["tile"]).images
    crops = scenes.crops(canvases, TILE, 256 if fast else 16_000, seed=SEEDS["tile"])
    history = train.fit(model, _v_dsm, crops, steps=5 if fast else 2000, batch_size=BATCH, lr=LR,
                        ema_decay=0.9 if fast else 0.995, progress=progress,
                        generator=torch.Generator().manual_seed(2))  # fmt: skip
    return history.ema.model


def build_sr():
    with seeded_init():
        return targets.Denoiser(SuperResolution(unet((16, 32, 64), in_channels=6,
                                                     out_channels=3)), VP(), "v")  # fmt: skip


def sr_pairs(high: torch.Tensor, factor: int = 2) -> torch.Tensor:
    """(high, low upsampled back to high's size) side by side as 6 channels: low = high
    average-pooled by factor, what stage 1 would have drawn."""
    return torch.cat([high, upsample(F.avg_pool2d(high, factor), factor)], 1)


def _sr_dsm(model, pairs, generator=None):
    return _v_dsm(model, pairs[:, :3], pairs[:, 3:], generator=generator)


def train_sr(model, fast, progress):
    canvases = scenes.generate(32 if fast else 2000, 48, 96, seed=SEEDS["sr"]).images
    crops = scenes.crops(sr_pairs(canvases), TILE, 256 if fast else 16_000, seed=SEEDS["sr"])
    history = train.fit(model, _sr_dsm, crops, steps=5 if fast else 2000, batch_size=BATCH, lr=LR,
                        ema_decay=0.9 if fast else 0.995, progress=progress,
                        generator=torch.Generator().manual_seed(3))  # fmt: skip
    return history.ema.model


def sample(denoiser, height: int, width: int, n: int, nfe: int, *cond, seed: int = 0):
    """n height x width images by DDIM (eta = 0) in nfe steps, clipped to [-1, 1]."""
    x = torch.randn(n, 3, height, width, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        bound = samplers.conditioned(denoiser, *cond)
        return samplers.ddim(bound, denoiser.sde, x, schedules.uniform(nfe)).clamp(-1, 1)


def composed(images: torch.Tensor) -> torch.Tensor:
    """(N,) bool: exactly one sun, and no border cuts it."""
    count, cut = scenes.sun_components(images)
    return (count == 1) & ~cut


def draw_at(denoiser, name: str, ratio: str, n: int, nfe: int, seed: int = 0) -> torch.Tensor:
    """n canvases of `ratio`'s bucket size drawn by run `name`'s model with its label for that
    size (the square-only model has only the 1:1 label)."""
    label = list(buckets.BUCKETS).index(ratio) if name == "arad" else SQUARE
    height, width = buckets.BUCKETS[ratio]
    return sample(denoiser, height, width, n, nfe, torch.full((n,), label), seed=seed)


def compose(denoiser, name: str, ratio: str, n: int, nfe: int, seed: int = 0) -> torch.Tensor:
    """(n,) bool: which of draw_at's canvases are well composed."""
    return composed(draw_at(denoiser, name, ratio, n, nfe, seed))


def centre_crop(images: torch.Tensor, size: int) -> torch.Tensor:
    top, left = (images.shape[-2] - size) // 2, (images.shape[-1] - size) // 2
    return images[..., top : top + size, left : left + size]


def composition_data(name: str, fast: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """(images padded to 48 x 48, bucket index), an equal share of scenes per bucket: "arad" at
    its bucket's size; "crop" the same scenes rendered 32 high (the shorter side) and
    centre-cropped to 32 x 32, all with the 1:1 bucket's index."""
    n = 32 if fast else 4000
    if name == "crop":
        images = torch.cat([centre_crop(scenes.generate(n, 32 * h // min(h, w),
                                                        32 * w // min(h, w),
                                                        seed=SEEDS["buckets"] + k).images, 32)
                            for k, (h, w) in enumerate(BUCKETS)])  # fmt: skip
        return buckets.pad([images[:0], images, images[:0]])
    groups = [scenes.generate(n, h, w, seed=SEEDS["buckets"] + k).images
              for k, (h, w) in enumerate(BUCKETS)]  # fmt: skip
    return buckets.pad(groups)


def build_composition(name: str, seed: int):
    with seeded_init(seed):
        net = ClassConditional(unet((8, 16, 32), num_classes=len(BUCKETS)))
        model = targets.Denoiser(net, VP(), "v")
    return curves.Run(model, POINTS, dict(model=name, seed=seed))


def curve_composition(denoiser, name: str, fast: bool) -> float:
    """% of well composed CURVE samples, over the WIDE ratios."""
    hits = [compose(denoiser, name, r, **CURVE[fast], seed=SEEDS["val"]) for r in WIDE]
    return 100 * torch.cat(hits).double().mean().item()


def train_composition(run, fast, progress, name, seed):
    """COMPOSITION_STEPS of BATCH (one bucket each), EMA 0.995, paused at POINTS even steps to
    measure curve_composition (resuming one checkpoint: the pauses do not change the run)."""
    images, bucket = composition_data(name, fast)
    fit = functools.partial(
        train.fit, loss_fn=buckets.bucketed(_v_dsm, BUCKETS), data=(images, bucket),
        batch_size=BATCH, lr=LR, ema_decay=0.9 if fast else 0.995, progress=progress,
        generator=torch.Generator().manual_seed(7 + 1000 * seed),
        sampler=buckets.BucketSampler(bucket),
    )  # fmt: skip
    steps = [3 * i if fast else COMPOSITION_STEPS * i // POINTS for i in range(1, POINTS + 1)]
    measure = functools.partial(curve_composition, name=name, fast=fast)
    with checkpoint.one_run() as path:
        run.model = curves.legs(run, fit, steps, path, measure)
    return run


scenes_judge = zoo.Recipe("scenes_judge", build_judge, train_judge)
scenes_tile = zoo.Recipe("scenes_tile", build_tile, train_tile)
scenes_sr = zoo.Recipe("scenes_sr", build_sr, train_sr)
composition_runs = curves.seed_runs(
    "composition", ("arad", "crop"), RUN_SEEDS, build_composition, train_composition
)
