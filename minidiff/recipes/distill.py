"""Zoo recipes for lesson 08: 8 steps by progressive distillation, 1 step by UFOGen, from lesson
07's latent text-to-image model (latent_t2i: the efficient UNet on 8x8x4 latents).

* pd[n], n = 32, 16, 8, 4, 2, 1: progressive distillation rounds (distill.progressive). The first
  round's teacher is latent_t2i guided at SCALE with 64 DDIM steps (CFG-aware, as SnapFusion);
  each later round's teacher is the previous student. ROUND_STEPS iterations of batch 64 each,
  the student starting from its teacher's weights; the EMA student.
* ufogen, ufogen_random_d: UFOGen fine-tuning of latent_t2i (distill.diffusion_gan), the
  discriminator made from latent_t2i's network or from a freshly built one (its text encoder the
  same pre-trained one), R1 penalty 10; the model is the EMA generator at SNAPSHOTS iterations
  (Snapshots).
* ring_ufogen: UFOGen on lesson 03's 2-D ring teacher, the toy view (Snapshots too).

Each latent recipe exists for SEEDS training seeds (pd_runs[seed], ufogen_runs[seed],
ufogen_random_d_runs[seed]; seed 0 is pd, ufogen and ufogen_random_d): the seed draws the
minibatches and noise (and UFOGen's new discriminator layer); the teacher is the same.
"""

import functools

import torch
from torch import nn

from .. import gan, samplers, train, zoo
from ..data import toy2d
from ..distill import diffusion_gan, progressive
from ..zoo import seeded_init
from . import latent, toy
from .shapes import encode, null_condition

SCALE, TEACHER_STEPS, ROUNDS = 3.0, 64, (32, 16, 8, 4, 2, 1)
# JUMP: UFOGen's t - t' (1/num_times); 1/4 leaves our VP's t' = 3/4 at SNR 0.0035 (lesson 08).
# R1: the discriminator's gradient penalty (gamma) on shapes; without it the one-step FD of our
# first run drifted from 3.3 (250 iterations) back to 5.9 (1,500).
ROUND_STEPS, JUMP, R1 = 400, 0.5, 10.0
SNAPSHOTS = {False: (100, 250, 500, 1000, 1500), True: (1, 2, 3, 4, 6)}  # by fast
SEEDS = 3
RING_SNAPSHOTS = {False: (250, 500, 1000, 2000, 3000), True: (1, 2, 3, 4, 6)}


class Snapshots(nn.Module):
    """models[i]: a model after steps[i] training iterations (a buffer, set by training)."""

    def __init__(self, build, count: int = len(SNAPSHOTS[False])):
        super().__init__()
        self.models = nn.ModuleList(build() for _ in range(count))
        self.register_buffer("steps", torch.zeros(count, dtype=torch.long))
        self.config = dict(count=count, model=self.models[0].config)


def training_set(fast: bool) -> tuple:
    """(latents, ids, mask) of latent_t2i's training images and captions."""
    ae = zoo.load(latent.shapes_autoencoder, fast=fast, progress=False)
    data = latent.images(fast, max_objects=1)
    with torch.no_grad():
        latents = torch.cat([ae.latents(chunk) for chunk in data.images.split(500)])
    return (latents, *encode(data.captions))


def train_round(model, fast, progress, n, seed=0):
    """One round: the student (n steps) starts from its teacher (2n steps, the same seed's
    chain) and learns its steps."""
    device = train.device_of(model)  # the zoo loads on the CPU; the student may train elsewhere
    if n == ROUNDS[0]:
        start = zoo.load(latent.latent_t2i, fast=fast, progress=progress).to(device)
        null = tuple(c.to(device) for c in null_condition())
        teacher = samplers.cfg_denoiser(start, SCALE, null)
    else:
        start = teacher = zoo.load(pd_runs[seed][2 * n], fast=fast, progress=progress)
        start = teacher = teacher.to(device)
    model.load_state_dict(start.state_dict())
    history = train.fit(
        model,
        functools.partial(progressive.loss, teacher=teacher, n=n),
        training_set(fast),
        steps=4 if fast else ROUND_STEPS,
        batch_size=16 if fast else 64,
        lr=1e-4,
        ema_decay=0.9 if fast else 0.99,
        generator=torch.Generator().manual_seed(10 + n + 1000 * seed),
        progress=progress,
    )
    return history.ema.model


def train_ufogen(model, fast, progress, pretrained_d=True, seed=0):
    """G = latent_t2i, D from latent_t2i (or freshly built); UFOGen on its training set."""
    teacher = zoo.load(latent.latent_t2i, fast=fast, progress=progress)
    generator = latent.build_latent_t2i()
    generator.load_state_dict(teacher.state_dict())
    d_net = latent.build_latent_t2i().net
    d_net.encoder.load_state_dict(teacher.net.encoder.state_dict())
    if pretrained_d:
        d_net.load_state_dict(teacher.net.state_dict())
    with seeded_init(1 + seed):  # the new logit layer
        discriminator = gan.Discriminator(d_net)
    ufogen = diffusion_gan.UFOGen(generator, discriminator, lr=1e-4, lr_d=1e-4, jump=JUMP, r1=R1)
    data, batch = training_set(fast), 4 if fast else 32
    return _fit_snapshots(model, ufogen, data, SNAPSHOTS[fast], batch, progress, 20 + seed)


def _fit_snapshots(model, ufogen, data, steps, batch_size, progress, seed=20):
    """diffusion_gan.fit on model's device, the EMA generator kept at `steps` iterations."""
    for player in (ufogen.G, ufogen.D):
        player.to(train.device_of(model))
    history = diffusion_gan.fit(
        ufogen,
        data,
        steps=steps[-1],
        batch_size=batch_size,
        snapshots=steps,
        generator=torch.Generator().manual_seed(seed),
        progress=progress,
    )
    for snapshot, step in zip(model.models, steps):
        snapshot.load_state_dict(history.snapshots[step])
    model.steps.copy_(torch.tensor(steps))
    return model


def train_ring_ufogen(model, fast, progress):
    """UFOGen on the ring's v-teacher: G and D from it, 50,000 ring samples, batch 256."""
    teacher = zoo.load(toy.ring_v_teacher, fast=fast, progress=progress)
    generator = toy.build_ring_teacher("v")
    generator.load_state_dict(teacher.state_dict())
    with seeded_init(1):  # the new logit layer
        discriminator = gan.Discriminator(generator.net)
    ufogen = diffusion_gan.UFOGen(generator, discriminator, lr=3e-4, lr_d=3e-4, jump=JUMP)
    data = toy2d.ring().sample(50_000, generator=torch.Generator().manual_seed(0))
    return _fit_snapshots(model, ufogen, data, RING_SNAPSHOTS[fast], 8 if fast else 256, progress)


def build_ufogen():
    return Snapshots(latent.build_latent_t2i)


def build_ring_ufogen():
    return Snapshots(functools.partial(toy.build_ring_teacher, "v"))


def _named(name: str, seed: int) -> str:
    return name if seed == 0 else f"{name}_seed{seed}"


pd_runs = {}  # seed -> {n: the round whose student takes n steps; its teacher: the round before}
for seed in range(SEEDS):
    pd_runs[seed] = {}
    for n in ROUNDS:
        teacher = latent.latent_t2i if n == ROUNDS[0] else pd_runs[seed][2 * n]
        pd_runs[seed][n] = zoo.Recipe(
            _named(f"pd_{n}", seed),
            latent.build_latent_t2i,
            functools.partial(train_round, n=n, seed=seed),
            needs=(teacher, latent.shapes_autoencoder),
        )
UFOGEN_NEEDS = (latent.latent_t2i, latent.shapes_autoencoder)
ufogen_runs, ufogen_random_d_runs = (
    {
        seed: zoo.Recipe(
            _named(name, seed),
            build_ufogen,
            functools.partial(train_ufogen, pretrained_d=pretrained_d, seed=seed),
            needs=UFOGEN_NEEDS,
        )
        for seed in range(SEEDS)
    }
    for name, pretrained_d in (("ufogen", True), ("ufogen_random_d", False))
)
pd, ufogen, ufogen_random_d = pd_runs[0], ufogen_runs[0], ufogen_random_d_runs[0]
ring_ufogen = zoo.Recipe(
    "ring_ufogen", build_ring_ufogen, train_ring_ufogen, needs=(toy.ring_v_teacher,)
)
