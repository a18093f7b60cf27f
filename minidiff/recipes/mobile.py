"""Zoo recipes for lesson 06: MobileDiffusion's UNet study (Zhao et al. 2023, Sec. 3) at toy scale.

Every model is a text-to-image denoiser on 16x16 one-object shapes (the tiny pre-trained text
encoder, frozen; v-prediction on VP; 10 % caption dropout for CFG), trained with one budget, one
batch order and one seed; only the UNet differs. CHAIN applies the paper's changes one at a time to
an "SD-like" baseline (self+cross attention at every level, two ResBlocks per stage, FFN
expansion 4, GELU, softmax, full convolutions), each row keeping the changes above it. CONTRASTS are
the paper's two side experiments: removing the whole transformer at the highest resolution
instead of only its self-attention, and ReLU attention trained from scratch instead of fine-tuned
from the softmax model (the chain's last row: same weights, kernel swapped, then a short
fine-tune). long_runs: the baseline and the efficient architecture trained LONG_STEPS, to see
whether the short budget's quality differences survive longer training.
"""

import functools

import torch

from .. import losses, targets, text, train, zoo
from ..data import shapes
from ..nets.attention import Block
from ..nets.unet import Stage, UNet
from ..sde import VP
from ..zoo import seeded_init
from .shapes import ENCODERS, MAX_LEN, SEEDS, SIZE, encode, null_condition, text_encoders, tokenizer

STEPS, BATCH, FINETUNE_STEPS, LONG_STEPS = 1500, 32, 300, 4000
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
CONTRASTS = [  # (name, the change, the chain row it varies, its options)
    ("no_attention_high", "16x16: whole transformer removed", "cross_only_high", dict(high=None)),
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


def build(name: str):
    with seeded_init():
        encoder = ENCODERS["tiny"](len(tokenizer()), max_len=MAX_LEN)
        unet = UNet(3, unet_stages(options(name)), context_dim=encoder.config["width"])
        return targets.Denoiser(text.TextConditional(encoder, unet), VP(), "v")


def train_variant(model, fast, progress, init=None, steps=None):
    """The pre-trained tiny encoder (frozen), then v-prediction DSM with 10 % caption dropout on
    20,000 one-object images for `steps` (default STEPS); `init` (an ablation name): start from
    that trained model's weights and fine-tune (default FINETUNE_STEPS) at a quarter of the
    learning rate. Returns the EMA model."""
    if init is None:
        pretrained = zoo.load(text_encoders["tiny"], fast=fast, progress=progress)
        model.net.encoder.load_state_dict(pretrained.encoder.state_dict())
    else:
        start = zoo.load(ablation[init], fast=fast, progress=progress)
        model.load_state_dict(start.state_dict())
    data = shapes.generate(1000 if fast else 20_000, SIZE, seed=SEEDS["train"], max_objects=1)
    if steps is None:
        steps = STEPS if init is None else FINETUNE_STEPS
    history = train.fit(
        model,
        functools.partial(losses.cfg_dsm, sde=model.sde, null=null_condition()),
        (data.images, *encode(data.captions)),
        steps=20 if fast else steps,
        batch_size=BATCH,
        lr=2e-3 if init is None else 5e-4,
        ema_decay=0.9 if fast else 0.995,
        generator=torch.Generator().manual_seed(6),
        progress=progress,
    )
    return history.ema.model


ablation = {}  # name -> recipe; relu_finetune starts from one_resblock (init by name: the
# fingerprint reads the partial's arguments)
for name, *_ in CHAIN + CONTRASTS:
    init = "one_resblock" if name == "relu_finetune" else None
    ablation[name] = zoo.Recipe(
        f"mobile_{name}",
        functools.partial(build, name),
        functools.partial(train_variant, init=init),
        needs=(text_encoders["tiny"],) if init is None else (ablation[init],),
    )
long_runs = {  # the baseline and the efficient architecture (softmax) at LONG_STEPS: does the
    # quality gap of the short budget close with training?
    name: zoo.Recipe(
        f"mobile_{name}_long",
        functools.partial(build, name),
        functools.partial(train_variant, steps=LONG_STEPS),
        needs=(text_encoders["tiny"],),
    )
    for name in ("sd_like", "one_resblock")
}
