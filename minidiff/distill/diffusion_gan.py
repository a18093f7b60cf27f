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

import torch
from torch import nn

from .. import gan, losses, schedules, targets
from ..checks import check_denoiser, check_float, check_generator, check_instance, check_tensor
from ..sde import noise_like
from . import players


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

    def d_step(self, x0, *cond, generator=None) -> float:
        """One discriminator step (L_D, + r1/2 R1 on the real inputs); returns its loss."""
        self.D.train()
        with torch.no_grad():
            _, t_prime, _, real, fake = self._noised(x0, *cond, generator=generator)
        d_real, d_fake = self.D(real, t_prime, *cond), self.D(fake, t_prime, *cond)
        loss = gan.discriminator_loss(d_real, d_fake, self.loss)
        if self.r1 > 0:
            loss = loss + self.r1 / 2 * gan.r1_penalty(self.D, real, t_prime, *cond)
        return players.update(loss, self.d_params, self.opt_d, "UFOGen: the discriminator")

    def g_step(self, x0, *cond, generator=None) -> dict[str, float]:
        """One generator step; returns {"loss": the total, "recon": its reconstruction part}."""
        self.G.train()
        t, t_prime, x0_hat, _, fake = self._noised(x0, *cond, generator=generator)
        recon = losses.weighted_mse(x0_hat, x0, self.weighting(self.sde, t))
        adversarial = gan.generator_loss(self.D(fake, t_prime, *cond), self.loss)
        total = recon + self.adv_weight * adversarial
        return dict(
            loss=players.update(total, self.g_params, self.opt_g, "UFOGen: the generator"),
            recon=recon.item(),
        )


def fit(ufogen: UFOGen, data, *, steps, batch_size=64, d_every=2, ema_decay=0.99, snapshots=(),
        generator=None, progress=None, checkpoint=None) -> players.History:  # fmt: skip
    """players.fit for UFOGen: a D step every d_every-th iteration, a G step every iteration,
    then the EMA of G (train_ufo.py: d_every 2, EMA 0.99); history.parts["recon"] holds the
    reconstruction part of each G loss."""
    check_instance("ufogen", ufogen, UFOGen, "UFOGen(generator, discriminator)")
    return players.fit(ufogen, data, steps=steps, batch_size=batch_size, d_every=d_every,
                       ema_decay=ema_decay, snapshots=snapshots, generator=generator,
                       progress=progress, checkpoint=checkpoint, desc="UFOGen")  # fmt: skip


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
