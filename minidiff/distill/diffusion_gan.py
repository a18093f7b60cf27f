"""UFOGen: one-step generation by diffusion-GAN fine-tuning (Xu et al. 2023, CVPR 2024).

The generator G is the pretrained denoiser, x0_hat = G(x_t, t, *cond); the discriminator D is
made from the same network (gan.Discriminator). One iteration, as the first author's
train_ufo.py but in continuous time (t in [0, 1]; jump = t - t'):
    t ~ U(t_min, 1),  t' = max(t - jump, 0),  x_t = alpha_t x0 + sigma_t eps,  x0_hat = G(x_t, t)
    real_t' ~ q(x_t' | x0),  fake_t' ~ q(x_t' | x0_hat)      (fresh noise for each)
    D step (every d_every-th iteration): L_D(D(real_t', t'), D(fake_t', t'))
    G step: w(t) ||x0_hat - x0||^2 + adv_weight L_G(D(fake_t', t'))
Notable choices: the fake is x0_hat *forward-noised* to t' (DDGAN and SIDDM use the posterior
q(x_t' | x_t, x0_hat)), so D judges x0_hat itself and G learns to output samples: one step from
pure noise works. w = snr is UFOGen's L_simple (the eps loss) in x0 units. The default jump
is 1/2, not train_ufo.py's 1/num_times = 1/4: on DDPM's linear schedule (our VP) t' = 3/4 has
SNR 0.0035, and D learns nothing about one-step samples (lesson 08 measures it). Each player's
step differentiates its own parameters only, so a step never touches the other player.
Sampling with k steps (train_ufo.py): x0_hat = G(x, t_i); x = q(x_{t_{i+1}} | x0_hat).
"""

import copy
import functools
import os
import warnings
from dataclasses import dataclass, field

import torch
from torch import nn
from tqdm.auto import tqdm

from .. import distributed, gan, losses, schedules, targets, train
from ..checkpoint import CheckpointError, check_fits, check_same_run, next_checkpoint
from ..checks import (
    check_denoiser,
    check_float,
    check_generator,
    check_instance,
    check_int,
    check_tensor,
    describe,
)
from ..files import atomic_write
from ..sde import noise_like


class UFOGen:
    """The two players and their AdamW optimisers; d_step and g_step each update one of them."""

    def __init__(
        self, generator, discriminator, lr=1e-5, lr_d=1e-5, jump=0.5, adv_weight=1.0,
        loss="non_saturating", r1=0.0,
    ):  # fmt: skip
        check_instance("generator", generator, nn.Module, "targets.Denoiser(net, sde)")
        check_denoiser("generator", generator)
        check_instance("discriminator", discriminator, nn.Module, "gan.Discriminator(net)")
        check_float("jump", jump, 0, 1, open_low=True)
        for name, value in dict(lr=lr, lr_d=lr_d, adv_weight=adv_weight).items():
            check_float(name, value, 0, open_low=True)
        check_float("r1", r1, 0)  # the R1 weight gamma
        self.hyper = dict(lr=lr, lr_d=lr_d, jump=jump, adv_weight=adv_weight, loss=loss, r1=r1)
        self.G, self.D, self.sde = generator, discriminator, generator.sde
        self.jump, self.adv_weight, self.loss, self.r1 = jump, adv_weight, gan.check_loss(loss), r1
        self.weighting = losses.snr_weight  # UFOGen's L_simple
        self.g_params = [p for p in generator.parameters() if p.requires_grad]
        self.d_params = [p for p in discriminator.parameters() if p.requires_grad]
        self.opt_g = torch.optim.AdamW(self.g_params, lr=lr, weight_decay=0.0)
        self.opt_d = torch.optim.AdamW(self.d_params, lr=lr_d, weight_decay=0.0)

    def _noised(self, x0, *cond, generator=None):
        """t, t', x0_hat = G(x_t, t) (with grad), and real and fake forward-noised to t'."""
        t = schedules.sample_uniform(len(x0), generator=generator, device=x0.device, dtype=x0.dtype)
        t_prime = (t - self.jump).clamp(min=0)
        x0_hat = self.G(self.sde.add_noise(x0, t, noise_like(x0, generator)), t, *cond)
        real = self.sde.add_noise(x0, t_prime, noise_like(x0, generator))
        fake = self.sde.add_noise(x0_hat, t_prime, noise_like(x0, generator))
        return t, t_prime, x0_hat, real, fake

    def _update(self, loss, params, optimizer, who: str) -> float:
        if not torch.isfinite(loss):
            raise FloatingPointError(f"UFOGen: the {who} loss is {loss.item()}; try a lower lr")
        optimizer.zero_grad(set_to_none=True)
        loss.backward(inputs=params)  # this player's parameters only
        train.clip_gradients(params, 1.0)
        optimizer.step()
        return loss.item()

    def d_step(self, x0, *cond, generator=None) -> float:
        """One discriminator step (L_D, + r1/2 R1 on the real inputs); returns its loss."""
        self.D.train()
        with torch.no_grad():
            _, t_prime, _, real, fake = self._noised(x0, *cond, generator=generator)
        d_real, d_fake = self.D(real, t_prime, *cond), self.D(fake, t_prime, *cond)
        loss = gan.discriminator_loss(d_real, d_fake, self.loss)
        if self.r1 > 0:
            loss = loss + self.r1 / 2 * gan.r1_penalty(self.D, real, t_prime, *cond)
        return self._update(loss, self.d_params, self.opt_d, "discriminator")

    def g_step(self, x0, *cond, generator=None) -> tuple[float, float]:
        """One generator step; returns (total loss, reconstruction part)."""
        self.G.train()
        t, t_prime, x0_hat, _, fake = self._noised(x0, *cond, generator=generator)
        recon = losses.weighted_mse(x0_hat, x0, self.weighting(self.sde, t))
        adversarial = gan.generator_loss(self.D(fake, t_prime, *cond), self.loss)
        total = recon + self.adv_weight * adversarial
        return self._update(total, self.g_params, self.opt_g, "generator"), recon.item()


@dataclass
class History:
    """fit's record: losses per iteration and the EMA generator's weights at `snapshots`."""

    d_loss: list = field(default_factory=list)
    g_loss: list = field(default_factory=list)
    recon: list = field(default_factory=list)
    snapshots: dict = field(default_factory=dict)
    ema: train.EMA | None = None


def fit(ufogen: UFOGen, data, *, steps, batch_size=64, d_every=2, ema_decay=0.99,
        snapshots=(), generator=None, progress=None, checkpoint=None) -> History:  # fmt: skip
    """Alternate the players on random minibatches of data (x0, *cond): a D step every d_every-th
    iteration, a G step every iteration, then the EMA of G (train_ufo.py: d_every 2, EMA 0.99).
    Every 100 iterations both players' state goes to `checkpoint` (a path; default: see
    checkpoint.checkpoints_in), resumed if present (the losses before it are not kept)."""
    check_instance("ufogen", ufogen, UFOGen, "UFOGen(generator, discriminator)")
    steps, batch_size = check_int("steps", steps, 1), check_int("batch_size", batch_size, 1)
    d_every, data = check_int("d_every", d_every, 1), train._as_tuple(data, "data")
    if not isinstance(snapshots, (tuple, list, set, range)):
        raise TypeError(f"snapshots: expected a collection of steps, e.g. (50, 200), got "
                        f"{describe(snapshots)}")  # fmt: skip
    snapshots = {check_int("snapshots", step, 1) for step in snapshots}
    generator = check_generator("generator", generator, "cpu") or torch.Generator().manual_seed(0)
    ema_decay = check_float("ema_decay", ema_decay, 0, 1, open_high=True)
    history = History(ema=train.EMA(ufogen.G, ema_decay))
    given, checkpoint = checkpoint is not None, checkpoint or next_checkpoint(".pt")
    run = train._run_record(ufogen.hyper["lr"], batch_size, ema_decay, data) | ufogen.hyper
    run["d_every"] = d_every
    start = _restore(checkpoint, ufogen, history, generator, run, given) if checkpoint else 0
    device = next(ufogen.G.parameters()).device
    for step in tqdm(range(start + 1, steps + 1), desc="UFOGen", disable=not progress):
        idx = torch.randint(len(data[0]), (batch_size,), generator=generator)
        batch = [d[idx].to(device) for d in data]
        if (step - 1) % d_every == 0:
            history.d_loss.append(ufogen.d_step(*batch, generator=generator))
        total, recon = ufogen.g_step(*batch, generator=generator)
        history.g_loss.append(total)
        history.recon.append(recon)
        history.ema.update(ufogen.G)
        if step in snapshots:
            history.snapshots[step] = copy.deepcopy(history.ema.model.state_dict())
        if checkpoint and (step % 100 == 0 or step == steps) and distributed.world()[0] == 0:
            _save(checkpoint, ufogen, history, generator, step, run)
    return history


def _save(path, ufogen: UFOGen, history: History, generator, step: int, run: dict) -> None:
    """Everything fit needs to go on from `step`, in one file written atomically."""
    state = dict(step=step, G=ufogen.G.state_dict(), D=ufogen.D.state_dict(),
                 opt_g=ufogen.opt_g.state_dict(), opt_d=ufogen.opt_d.state_dict(),
                 ema=history.ema.model.state_dict(), snapshots=history.snapshots,
                 generator=generator.get_state(), run=run)  # fmt: skip
    atomic_write(path, functools.partial(torch.save, state))


def _read(path, ufogen: UFOGen, history: History, run: dict) -> dict:
    """The _save file at path, checked (same run arguments, players' shapes) before any load."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        check_same_run(path, state["run"], run)
        for key, module in dict(G=ufogen.G, D=ufogen.D, ema=history.ema.model).items():
            check_fits(path, module, state[key], key)
    except CheckpointError:
        raise
    except Exception as err:
        raise CheckpointError(f"{path} is corrupt or not a UFOGen checkpoint ({err})") from err
    return state


def _restore(path, ufogen: UFOGen, history: History, generator, run: dict, given: bool) -> int:
    """Load a _save file into the players, optimisers, EMA and generator; its step (0: none, or
    a build's own checkpoint that can't be used: it starts afresh, with a warning)."""
    if not os.path.exists(path):
        return 0
    try:
        state = _read(path, ufogen, history, run)
    except CheckpointError as err:
        if given:
            raise
        warnings.warn(f"UFOGen: starting afresh, {path} is unusable ({err})", stacklevel=3)
        return 0
    owners = dict(G=ufogen.G, D=ufogen.D, opt_g=ufogen.opt_g, opt_d=ufogen.opt_d)
    for key, owner in (owners | dict(ema=history.ema.model)).items():
        owner.load_state_dict(state[key])
    history.snapshots.update(state["snapshots"])
    generator.set_state(state["generator"])
    return state["step"]


@torch.no_grad()
def sample(G, x, ts, *cond, generator=None):
    """UFOGen's k-step sampler on the grid ts (k = len(ts) - 1; one step: ts = [1, 0]): the
    generator's x0_hat, forward-noised to the next time, until t = 0."""
    check_denoiser("G", G)
    check_tensor("x", x)
    ts, generator = schedules.check_times(ts), check_generator("generator", generator)
    for t, s in schedules.pairs(ts):
        x0_hat = targets.denoise(G, x, t, *cond)
        x = G.sde.add_noise(x0_hat, s, noise_like(x0_hat, generator)) if s > 0 else x0_hat
    return x
