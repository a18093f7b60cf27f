"""Zoo recipes for lesson 07: latent diffusion on 32x32 shapes (Rombach et al. 2022) with
MobileDiffusion's lightweight decoder (Zhao et al. 2023, Sec. 3.4).

* shapes_autoencoder: 32x32x3 <-> 8x8x4 (16-32-64 channels), MSE + 1e-3 KL on 20,000 one- or
  two-object images; its `scale` is set to 1 / std of the training latents.
* shapes_light_decoder: the same encoder (copied, frozen) with a decoder of the same widths made
  of depthwise-separable convolutions (upsampling ones included), trained for 6,000 steps to
  decode that encoder's latents into the images (decoder-only steps are cheap).
* latent_t2i: lesson 06's efficient UNet layout (mobile.options("one_resblock"), softmax) on the
  8x8x4 latents of one-object images, text from the tiny frozen encoder, as lesson 06's models.
* space_runs[space][seed]: latent diffusion against pixel space at equal training compute, with
  learning curves. "latent": latent_t2i's recipe for training seeds 1 and 2 (seed 0 is latent_t2i
  itself: the same build, batch order and budget; it was trained before curves were kept);
  "pixel": the same UNet, data, batch and learning rate on the 32x32 images themselves, for
  EQUAL_COMPUTE["total"] steps: as many training FLOPs as latent_t2i's UNet and autoencoder
  together (measured on the way at EQUAL_COMPUTE["unet"]: as many as its UNet alone).
"""

import functools

import torch

from .. import checkpoint, losses, targets, text, train, zoo
from ..data import shapes
from ..nets import autoencoder
from ..nets.unet import UNet
from ..sde import VP
from ..zoo import seeded_init
from . import curves, mobile
from .shapes import (
    ENCODERS,
    MAX_LEN,
    SEEDS,
    encode,
    null_condition,
    shapes_classifier,
    text_encoders,
    tokenizer,
)

# LIGHT: the light decoder's widths, those of the full decoder: only its convolutions change
SIZE, Z_CHANNELS, CHANNELS, LIGHT = 32, 4, (16, 32, 64), (64, 32, 16)
AUTOENCODER_STEPS, AUTOENCODER_BATCH = 2000, 32  # train_autoencoder's budget
LATENT_STEPS, BATCH = 3000, 64  # train_latent_t2i's budget; both spaces' batch
# pixel steps of BATCH images with the training FLOPs of latent_t2i's UNet alone (188), then of
# its UNet, the autoencoder and encoding the training set once (583): counted by
# experiments.latent_space.training_flops, which a test checks against these
EQUAL_COMPUTE = dict(unet=188, total=583)
SPACE_SEEDS = {"latent": (1, 2), "pixel": (0, 1, 2)}


def images(fast: bool, max_objects: int = 2) -> shapes.Shapes:
    return shapes.generate(1000 if fast else 20_000, SIZE, SEEDS["train"], max_objects)


def build_autoencoder(light: bool = False):
    with seeded_init():
        if light:
            return autoencoder.AutoEncoder(3, Z_CHANNELS, CHANNELS, LIGHT, separable=True)
        return autoencoder.AutoEncoder(3, Z_CHANNELS, CHANNELS)


@torch.no_grad()
def set_scale(model: autoencoder.AutoEncoder, x: torch.Tensor) -> None:
    """scale = 1 / std of the latent means of x (LDM's scale factor)."""
    device = train.device_of(model)
    means = torch.cat([model.encode(chunk.to(device))[0] for chunk in x.split(500)])
    model.scale.fill_(1.0 / means.std().item())


def train_autoencoder(model, fast, progress):
    """MSE + 1e-3 KL; the EMA model, its scale set from the training images."""
    data = images(fast).images
    history = train.fit(
        model,
        autoencoder.vae_loss,
        data,
        steps=20 if fast else 2000,
        batch_size=32,
        lr=2e-3,
        ema_decay=0.9 if fast else 0.995,
        generator=torch.Generator().manual_seed(7),
        progress=progress,
    )
    model = history.ema.model
    set_scale(model, data)
    return model


def train_light_decoder(model, fast, progress):
    """The full autoencoder's encoder and scale, frozen; the light decoder learns to decode."""
    full = zoo.load(shapes_autoencoder, fast=fast, progress=progress)
    model.encoder.load_state_dict(full.encoder.state_dict())
    model.scale.copy_(full.scale)
    model.encoder.requires_grad_(False)
    history = train.fit(
        model,
        autoencoder.decoder_loss,
        images(fast).images,
        steps=20 if fast else 6000,
        batch_size=32,
        lr=2e-3,
        ema_decay=0.9 if fast else 0.995,
        generator=torch.Generator().manual_seed(8),
        progress=progress,
    )
    return history.ema.model


def build_latent_t2i(name: str = "one_resblock"):
    with seeded_init():
        encoder = ENCODERS["tiny"](len(tokenizer()), max_len=MAX_LEN)
        stages = mobile.unet_stages(mobile.options(name))
        unet = UNet(Z_CHANNELS, stages, context_dim=encoder.config["width"])
        return targets.Denoiser(text.TextConditional(encoder, unet), VP(), "v")


def train_latent_t2i(model, fast, progress):
    """v-prediction DSM with 10 % caption dropout on the autoencoder's latents of 20,000
    one-object images (the tiny pre-trained encoder, frozen); the EMA model."""
    pretrained = zoo.load(text_encoders["tiny"], fast=fast, progress=progress)
    model.net.encoder.load_state_dict(pretrained.encoder.state_dict())
    ae = zoo.load(shapes_autoencoder, fast=fast, progress=progress)
    data = images(fast, max_objects=1)
    with torch.no_grad():
        latents = torch.cat([ae.latents(chunk) for chunk in data.images.split(500)])
    history = train.fit(
        model,
        functools.partial(losses.cfg_dsm, sde=model.sde, null=null_condition()),
        (latents, *encode(data.captions)),
        steps=20 if fast else 3000,
        batch_size=64,
        lr=2e-3,
        ema_decay=0.9 if fast else 0.995,
        generator=torch.Generator().manual_seed(6),
        progress=progress,
    )
    return history.ema.model


def curve_steps(space: str, fast: bool) -> list[int]:
    """Where a space run measures its learning curve: latent, 8 points to LATENT_STEPS; pixel,
    halfway to and at EQUAL_COMPUTE["unet"], then 4 points to EQUAL_COMPUTE["total"] (fast: the
    same count, 3 steps apart)."""
    if space == "latent":
        return [3 * i if fast else LATENT_STEPS * i // 8 for i in range(1, 9)]
    unet, total = EQUAL_COMPUTE["unet"], EQUAL_COMPUTE["total"]
    full = [unet // 2, unet] + [round(unet + (total - unet) * i / 4) for i in range(1, 5)]
    return [3 * i for i in range(1, 7)] if fast else full


def build_space_run(space: str, seed: int):
    channels = Z_CHANNELS if space == "latent" else 3
    model = mobile.build("one_resblock", seed, channels)
    return curves.Run(model, len(curve_steps(space, False)), dict(space=space, seed=seed))


def train_space_run(run, fast, progress, space, seed):
    """latent_t2i's recipe (seed: initial weights and batch order) in latent space or on the
    32x32 images themselves, paused at curve_steps to measure the EMA model's condition accuracy
    on validation captions (mobile.curve_accuracy; latents decoded by the autoencoder)."""
    pretrained = zoo.load(text_encoders["tiny"], fast=fast, progress=progress)
    run.model.net.encoder.load_state_dict(pretrained.encoder.state_dict())
    ae = zoo.load(shapes_autoencoder, fast=fast, progress=progress)
    judge_net = zoo.load(shapes_classifier, fast=fast, progress=progress)
    data = images(fast, max_objects=1)
    x, decoder = data.images, None
    if space == "latent":
        with torch.no_grad():
            x, decoder = torch.cat([ae.latents(chunk) for chunk in data.images.split(500)]), ae
    fit = functools.partial(
        train.fit,
        loss_fn=functools.partial(losses.cfg_dsm, sde=run.model.sde, null=null_condition()),
        data=(x, *encode(data.captions)),
        batch_size=BATCH,
        lr=2e-3,
        ema_decay=0.9 if fast else 0.995,
        generator=torch.Generator().manual_seed(6 + 1000 * seed),
        progress=progress,
    )
    measure = functools.partial(
        mobile.curve_accuracy, judge_net=judge_net, fast=fast, size=SIZE, decoder=decoder
    )
    with checkpoint.one_run() as path:
        run.model = curves.legs(run, fit, curve_steps(space, fast), path, measure)
    return run


shapes_autoencoder = zoo.Recipe("shapes_autoencoder", build_autoencoder, train_autoencoder)
shapes_light_decoder = zoo.Recipe(
    "shapes_light_decoder",
    functools.partial(build_autoencoder, light=True),
    train_light_decoder,
    needs=(shapes_autoencoder,),
)
latent_t2i = zoo.Recipe(
    "latent_t2i",
    build_latent_t2i,
    train_latent_t2i,
    needs=(text_encoders["tiny"], shapes_autoencoder),
)
space_runs = {
    space: {
        seed: zoo.Recipe(
            f"{space}_t2i_seed{seed}",
            functools.partial(build_space_run, space, seed),
            functools.partial(train_space_run, space=space, seed=seed),
            needs=(text_encoders["tiny"], shapes_autoencoder, shapes_classifier),
        )
        for seed in seeds
    }
    for space, seeds in SPACE_SEEDS.items()
}
