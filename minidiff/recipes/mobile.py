"""Zoo recipes for lesson 06: MobileDiffusion's UNet study (Zhao et al. 2023, Sec. 3) at toy scale.

Every model is a text-to-image denoiser on 16x16 one-object shapes (the tiny pre-trained text
encoder, frozen; v-prediction on VP; 10 % caption dropout for CFG), trained with one budget and
batch order per seed; only the UNet differs. CHAIN applies the paper's changes one at a time to
an "SD-like" baseline (self+cross attention at every level, two ResBlocks per stage, FFN
expansion 4, GELU, softmax, full convolutions), each row keeping the changes above it; CONTRASTS
are the paper's two side experiments, on the chain's efficient end: the whole transformer removed
at the highest resolution instead of only its self-attention, and ReLU attention trained from
scratch instead of fine-tuned from the softmax model. Costs need no training (every row is
built). runs: the models whose quality is measured (QUALITY), RUN_SEEDS training seeds each,
with their learning curves.
"""

import functools

import torch
import torch.nn.functional as F

from .. import checkpoint, losses, targets, text, train, zoo
from ..data import shapes
from ..nets.attention import Block
from ..nets.unet import Stage, UNet
from ..sde import VP
from ..zoo import seeded_init
from . import curves
from .shapes import (
    ENCODERS,
    MAX_LEN,
    SEEDS,
    SIZE,
    encode,
    null_condition,
    shapes_classifier,
    text_encoders,
    tokenizer,
)

STEPS, BATCH, FINETUNE_STEPS, RUN_SEEDS = 4000, 32, 1000, 3
POINTS = 8  # learning-curve points per run from scratch
# samples and DDIM steps per learning-curve point (not in the runs' fingerprints: changing them
# changes only the curves, so give the runs a new Recipe version to re-measure them)
CURVE = {False: dict(n=100, nfe=10), True: dict(n=8, nfe=2)}
SCALE, ATTRIBUTES = 3.0, ("shape", "colour", "size", "position")  # CFG; what accuracy reads
BASELINE = dict(
    high="self+cross",  # the transformer at 16x16: "self+cross", "cross" or None
    mid="self+cross",  # at 8x8
    shared_kv=False,
    activation="gelu",
    kernel="softmax",
    ffn_expansion=4,
    separable=False,  # depthwise + pointwise convs in every stage but the first
    num_res_blocks=2,  # per stage except the innermost (which keeps 2)
)
CHAIN = [  # (name, the change, its options): applied one at a time, cumulatively
    ("sd_like", "baseline: self+cross attention at 16, 8 and 4 px", {}),
    ("cross_only_high", "16x16: self-attention removed, cross-attention kept", dict(high="cross")),
    ("cross_only_mid", "8x8: self-attention removed too (kept at 4x4)", dict(mid="cross")),
    ("shared_kv", "key and value projections shared (W_K = W_V)", dict(shared_kv=True)),
    ("swish", "GELU -> Swish in the gated FFN", dict(activation="swish")),
    ("ffn_3", "FFN expansion 4 -> 3", dict(ffn_expansion=3)),
    ("separable", "separable convs except at 16x16", dict(separable=True)),
    ("one_resblock", "1 ResBlock per stage (2 at 4x4)", dict(num_res_blocks=1)),
    ("relu_finetune", f"ReLU attention, {FINETUNE_STEPS} fine-tune steps", dict(kernel="relu")),
]
QUALITY = ("sd_like", "one_resblock", "no_attention_high", "relu_finetune", "relu_scratch")
CONTRASTS = [  # (name, the change, the chain row it varies, its options)
    ("no_attention_high", "16x16: cross-attention removed too", "one_resblock", dict(high=None)),
    ("relu_scratch", f"ReLU attention, {STEPS} steps from scratch", "relu_finetune", {}),
]


def options(name: str) -> dict:
    """The UNet options of a chain or contrast row: the baseline plus every change up to it."""
    names = [row[0] for row in CHAIN]
    contrasts = {row[0]: row[2:] for row in CONTRASTS}
    if name in contrasts:
        base, change = contrasts[name]
        return {**options(base), **change}
    if name not in names:
        raise ValueError(f"name: expected one of {names + list(contrasts)}, got {name!r}")
    merged = dict(BASELINE)
    for row in CHAIN[: names.index(name) + 1]:
        merged.update(row[2])
    return merged


def unet_stages(o: dict) -> tuple[Stage, ...]:
    """16-32-64 channels at 16, 8 and 4 px, from an options() dict."""

    def block(kind):
        if kind is None:
            return None
        ffn = o["ffn_expansion"]
        return Block(kind, 1, 2, ffn, o["shared_kv"], o["activation"], o["kernel"])

    n, sep = o["num_res_blocks"], o["separable"]
    return (
        Stage(16, n, False, block(o["high"])),
        Stage(32, n, sep, block(o["mid"])),
        Stage(64, max(n, 2), sep, block("self+cross")),
    )


def build(name: str, seed: int = 0, channels: int = 3):
    """Design `name`'s text-to-image denoiser for images (or latents) of `channels` channels,
    its initial weights drawn from `seed`."""
    with seeded_init(seed):
        encoder = ENCODERS["tiny"](len(tokenizer()), max_len=MAX_LEN)
        unet = UNet(channels, unet_stages(options(name)), context_dim=encoder.config["width"])
        return targets.Denoiser(text.TextConditional(encoder, unet), VP(), "v")


class Run(curves.Run):
    """One training seed's EMA denoiser of design `name` with its learning curve: the condition
    accuracy (%) of its EMA model at `points` training steps."""

    def __init__(self, name: str, seed: int, points: int):
        super().__init__(build(name, seed), points, dict(model=name, seed=seed))


def curve_steps(name: str, fast: bool, steps: int | None = None) -> list[int]:
    """Where a run of `steps` (default STEPS, FINETUNE_STEPS for the fine-tune) measures its
    learning curve: POINTS times from scratch; before and 4 times during a fine-tune (fast: the
    same count, 3 steps apart)."""
    if name == "relu_finetune":
        every = 3 if fast else (steps or FINETUNE_STEPS) // 4
        return [every * i for i in range(5)]
    every = 3 if fast else (steps or STEPS) // POINTS
    return [every * i for i in range(1, POINTS + 1)]


def build_run(name: str, seed: int):
    return Run(name, seed, len(curve_steps(name, False)))


def curve_accuracy(denoiser, judge_net, fast: bool, size: int = SIZE, decoder=None) -> float:
    """% of samples (DDIM with CFG) whose shape, colour, size and position the judge reads as
    the validation caption says: images of `size` px (sampled in `decoder`'s latent space and
    decoded, when one is given), average-pooled to the judge's SIZE."""
    from ..experiments import text_to_image as t2i  # (the experiments import the recipes)

    n, nfe = CURVE[fast]["n"], CURVE[fast]["nfe"]
    data = shapes.generate(n, size, seed=SEEDS["val"], max_objects=1)
    side, channels = size, 3
    if decoder is not None:
        side, channels = size // decoder.factor, decoder.config["z_channels"]
    x = t2i.sample(denoiser, data.captions, SCALE, nfe, shape=(channels, side, side))
    with torch.no_grad():
        images = (x if decoder is None else decoder.decode(x)).clamp(-1, 1)
    images = F.avg_pool2d(images, size // SIZE)
    return 100 * t2i.all_right(judge_net, images, data, 1, ATTRIBUTES).double().mean().item()


def train_run(run, fast, progress, name, seed, steps):
    """v-prediction DSM with 10 % caption dropout on 20,000 one-object images, the pre-trained
    tiny encoder frozen (relu_finetune: from the same seed's one_resblock at a quarter of the
    learning rate), paused at curve_steps to measure the EMA model's accuracy. The pauses don't
    change the run: each leg resumes the one checkpoint (weights, EMA, optimizer, batch order)."""
    finetune = name == "relu_finetune"
    if finetune:
        start = zoo.load(runs["one_resblock"][seed], fast=fast, progress=progress)
        run.model.load_state_dict(start.model.state_dict())
    else:
        pretrained = zoo.load(text_encoders["tiny"], fast=fast, progress=progress)
        run.model.net.encoder.load_state_dict(pretrained.encoder.state_dict())
    judge_net = zoo.load(shapes_classifier, fast=fast, progress=progress)
    data = shapes.generate(1000 if fast else 20_000, SIZE, seed=SEEDS["train"], max_objects=1)
    fit = functools.partial(
        train.fit,
        loss_fn=functools.partial(losses.cfg_dsm, sde=run.model.sde, null=null_condition()),
        data=(data.images, *encode(data.captions)),
        batch_size=BATCH,
        lr=5e-4 if finetune else 2e-3,
        ema_decay=0.9 if fast else 0.995,
        generator=torch.Generator().manual_seed(6 + 1000 * seed),
        progress=progress,
    )
    with checkpoint.one_run() as path:
        run.model = _legs(run, fit, curve_steps(name, fast, steps), path, judge_net, fast)
    return run


def _legs(run, fit, steps, path, judge_net, fast):
    """curves.legs, measuring condition accuracy at 16x16 (curve_accuracy)."""
    return curves.legs(run, fit, steps, path, lambda ema: curve_accuracy(ema, judge_net, fast))


runs = {}  # name -> one recipe per training seed; relu_finetune starts from one_resblock's
for name in QUALITY:
    budget = FINETUNE_STEPS if name == "relu_finetune" else STEPS  # in the fingerprint
    runs[name] = [
        zoo.Recipe(
            f"mobile_{name}_seed{seed}",
            functools.partial(build_run, name, seed),
            functools.partial(train_run, name=name, seed=seed, steps=budget),
            needs=(
                shapes_classifier,
                runs["one_resblock"][seed] if name == "relu_finetune" else text_encoders["tiny"],
            ),
        )
        for seed in range(RUN_SEEDS)
    ]
