"""Zoo recipes for shapes (lesson 05 onwards), all at 16x16.

* shapes_classifier: one head per attribute (shapes.VOCAB) predicting the canonical labels: the
  judge of condition accuracy and the feature net of FD.
* text_encoder_{tiny,small,base}: the three encoder sizes, masked-token pre-trained on captions
  only (text-only pre-training, as Imagen's T5), loaded frozen.
* shapes_t2i_{encoder}_{unet}: text-to-image denoisers (v-prediction on VP, 10 % caption dropout
  for CFG) for the Imagen grid of lesson 05: every pair of encoder in ENCODERS and UNet in UNETS,
  trained with the same steps, batch and data.
* shapes_t2i: the grid's best cell (tiny encoder, small UNet) trained 4x longer: the main model.
"""

import functools

import torch

from .. import losses, targets, text, train, zoo
from ..data import shapes
from ..nets import classifier
from ..nets.attention import Block
from ..nets.unet import Stage, UNet
from ..sde import VP
from ..zoo import seeded_init

SIZE, MAX_LEN = 16, 12  # image side; tokens per caption ([CLS] and at most 10 words + 1 spare)
SEEDS = dict(train=0, test=1, text=2, val=3)  # shapes.generate seeds: images, tokenizer captions
ENCODERS = dict(
    tiny=text.text_encoder_tiny, small=text.text_encoder_small, base=text.text_encoder_base
)
UNETS = dict(  # cross-attention only at 8x8, self+cross at 4x4 (MobileDiffusion's layout)
    small=(Stage(16), Stage(32, attention=Block("cross", num_heads=2, ffn_expansion=2)),
           Stage(64, attention=Block(num_heads=2, ffn_expansion=2))),
    large=(Stage(32), Stage(64, attention=Block("cross", num_heads=4, ffn_expansion=2)),
           Stage(128, attention=Block(num_heads=4, ffn_expansion=2))),
)  # fmt: skip


@functools.cache
def tokenizer() -> text.Tokenizer:
    """The caption language's tokenizer: every word of 20,000 generated captions (all of them)."""
    return text.Tokenizer.from_captions(shapes.generate(20_000, SIZE, seed=SEEDS["text"]).captions)


def encode(captions: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids (B, MAX_LEN) and mask for captions; an unknown word raises."""
    return tokenizer().encode(captions, MAX_LEN, strict=True)


def null_condition(batch: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """(ids, mask) of the empty caption, repeated `batch` times: CFG's unconditional input."""
    ids, mask = encode([""])
    return ids.expand(batch, -1), mask.expand(batch, -1)


def build_shapes_classifier():
    with seeded_init():
        heads = {name: len(values) for name, values in shapes.VOCAB.items()}
        return classifier.Classifier(in_channels=3, heads=heads, width=16, depth=3)


def train_shapes_classifier(model, fast, progress):
    """Multi-head cross-entropy on the train images' canonical labels (shapes.canonical: the
    relation read left to right, top to bottom; -1 labels ignored); the EMA model."""
    data = shapes.generate(1000 if fast else 20_000, SIZE, seed=SEEDS["train"])
    labels = shapes.canonical(data.labels)
    history = train.fit(
        model,
        classifier.cross_entropy,
        (data.images, *(labels[k] for k in model.config["heads"])),
        steps=30 if fast else 1500,
        batch_size=128,
        lr=2e-3,
        ema_decay=0.9 if fast else 0.99,
        generator=torch.Generator().manual_seed(4),
        progress=progress,
    )
    return history.ema.model


def build_text_encoder(size: str):
    with seeded_init():
        return text.MaskedLM(ENCODERS[size](len(tokenizer()), max_len=MAX_LEN))


def train_text_encoder(model, fast, progress, steps=2000):
    """Masked-token prediction (BERT) on 20,000 captions: text only, no images."""
    ids, mask = encode(shapes.generate(20_000, SIZE, seed=SEEDS["text"]).captions)
    text.pretrain_mlm(
        model,
        ids,
        mask,
        steps=20 if fast else steps,
        batch_size=128,
        lr=1e-3,
        generator=torch.Generator().manual_seed(5),
        progress=progress,
    )
    return model


def build_t2i(encoder_size: str, unet_size: str):
    with seeded_init():
        encoder = ENCODERS[encoder_size](len(tokenizer()), max_len=MAX_LEN)
        unet = UNet(3, UNETS[unet_size], context_dim=encoder.config["width"])
        return targets.Denoiser(text.TextConditional(encoder, unet), VP(), "v")


def train_t2i(model, fast, progress, encoder_size: str, steps: int):
    """The pre-trained encoder_size encoder (frozen), then v-prediction DSM with 10 % caption
    dropout on the train images (1 or 2 objects); the EMA model."""
    pretrained = zoo.load(text_encoders[encoder_size], fast=fast, progress=progress)
    model.net.encoder.load_state_dict(pretrained.encoder.state_dict())
    data = shapes.generate(1000 if fast else 20_000, SIZE, seed=SEEDS["train"])
    loss_fn = functools.partial(losses.cfg_dsm, sde=model.sde, null=null_condition())
    history = train.fit(
        model,
        loss_fn,
        (data.images, *encode(data.captions)),
        steps=20 if fast else steps,
        batch_size=64,
        lr=2e-3,
        ema_decay=0.9 if fast else 0.995,
        generator=torch.Generator().manual_seed(6),
        progress=progress,
    )
    return history.ema.model


shapes_classifier = zoo.Recipe(
    "shapes_classifier", build_shapes_classifier, train_shapes_classifier
)
text_encoders = {
    size: zoo.Recipe(
        f"text_encoder_{size}",
        functools.partial(build_text_encoder, size),
        train_text_encoder,
    )
    for size in ENCODERS
}
shapes_t2i = zoo.Recipe(  # the best cell of the grid, trained 4x longer: lesson 05's main model
    "shapes_t2i",
    functools.partial(build_t2i, "tiny", "small"),
    functools.partial(train_t2i, encoder_size="tiny", steps=6000),
    needs=(text_encoders["tiny"],),
)
t2i = {  # (encoder size, UNet size) -> recipe; one budget for all
    (e, u): zoo.Recipe(
        f"shapes_t2i_{e}_{u}",
        functools.partial(build_t2i, e, u),
        functools.partial(train_t2i, encoder_size=e, steps=1500),
        needs=(text_encoders[e],),
    )
    for e in ("tiny", "base")
    for u in UNETS
}
