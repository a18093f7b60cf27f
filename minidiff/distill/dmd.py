"""Distribution Matching Distillation: DMD (Yin et al. 2024) and DMD2 (Yin et al. 2024b).

Three networks of the teacher's architecture:
* the teacher (frozen) gives the real score: its x0_hat mu_real(x_t, t), guided when cfg =
  (scale, null conditions) is given (DMD distils a guided teacher; the fake model is unguided);
* the fake model D, a copy of the teacher trained online with the teacher's own denoising loss
  on the generator's samples (stop-gradient): its score tracks the generator's distribution;
* the generator G, a copy of the teacher called at fixed `times` (one step: t = 1 from noise).
The distribution-matching (DM) gradient (DMD Eq. 7-8, as DMD2's code computes it): x = G(...),
t ~ U(t_range), x_t = alpha_t x + sigma_t eps, and
    grad = (mu_fake(x_t) - mu_real(x_t)) / mean|x - mu_real(x_t)|.
mu_fake - mu_real = sigma^2 / alpha (s_fake - s_real), the difference of the diffused
distributions' scores that the gradient of KL(p_fake,t || p_real,t) is made of; the division by
mean|x - mu_real| is DMD's weight, which gives the gradient the same scale at every t. dm_loss
writes it as 1/2 mean((x - sg(x - grad))^2), whose gradient in x is grad / x.numel(), so any
optimiser applies. DMD adds a regression loss on precomputed teacher ODE pairs (z, y); DMD2 drops
it and updates the fake model several times per generator update (fit's `ratio`, the
two-time-scale rule). A multi-step G (DMD2: 4 times) is trained at one of its times per batch, on
inputs made by the current G itself from noise (backward simulation) or by noising real images.
Notable choice: the regression distance is the mean squared error (DMD uses LPIPS, a pretrained
network the course does not download; on 2-D points or latents MSE is the natural distance).
"""

import copy

import torch
import torch.nn.functional as F
from torch import nn

from .. import gan, losses, samplers, schedules
from ..checks import check_denoiser, check_float, check_instance, check_tensor, describe
from ..sde import noise_like
from . import diffusion_gan, players


def check_times(times) -> tuple[float, ...]:
    """The generator's times: a non-empty, strictly decreasing sequence in (0, 1]."""
    try:
        out = tuple(float(t) for t in times)
    except (TypeError, ValueError):
        out = ()
    if not out or any(not 0 < t <= 1 for t in out) or any(a <= b for a, b in zip(out, out[1:])):
        raise ValueError(f"times: expected strictly decreasing times in (0, 1], e.g. (1.0,) or "
                         f"(1.0, 0.75, 0.5, 0.25), got {describe(times)}")  # fmt: skip
    return out


def dm_loss(x, real, fake, sde, *cond, t_range=(0.02, 0.98), normalise=True, generator=None):
    """The DM loss of generator samples x (with grad): its gradient in x is grad / x.numel(),
    grad = (fake(x_t) - real(x_t)) [/ mean|x - real(x_t)| per sample when normalise] at
    t ~ U(t_range), x_t = sde.add_noise(x, t, eps). real, fake: denoisers (x, t, *cond) -> x0."""
    with torch.no_grad():
        x_t, t = diffuse(x, sde, t_range, generator)
        mu_real, mu_fake = real(x_t, t, *cond), fake(x_t, t, *cond)
        grad = mu_fake - mu_real
        if normalise:
            scale = (x - mu_real).abs().flatten(1).mean(1)
            grad = grad / scale.clamp(min=1e-8).view(-1, *[1] * (x.ndim - 1))
    return 0.5 * F.mse_loss(x, (x - grad).detach())


def check_t_range(t_range) -> tuple[float, float]:
    """(low, high) with 0 < low <= high <= 1: the times the DM loss and the GAN term draw."""
    low, high = (check_float("t_range", t, 0, 1, open_low=True) for t in t_range)
    if low > high:
        raise ValueError(f"t_range: expected (low, high) with low <= high, got {t_range}")
    return low, high


def diffuse(x, sde, t_range, generator=None) -> tuple[torch.Tensor, torch.Tensor]:
    """(x_t, t): x forward-noised to t ~ U(t_range), one t per sample."""
    low, high = check_t_range(t_range)
    u = schedules.sample_uniform(len(x), 0.0, generator, device=x.device, dtype=x.dtype)
    t = low + (high - low) * u
    return sde.add_noise(x, t, noise_like(x, generator)), t


@torch.no_grad()
def teacher_pairs(teacher, z, nfe: int, *cond, cfg=None):
    """(z, y): the teacher's DDIM (eta = 0, nfe uniform steps; guided when cfg = (scale, null
    conditions)) from noise z to y."""
    check_denoiser("teacher", teacher)
    guided = _guided(teacher, *((1.0, None) if cfg is None else cfg))
    y = samplers.ddim(samplers.conditioned(guided, *cond), teacher.sde, z, schedules.uniform(nfe))
    return z, y


def _guided(teacher, scale, null):
    return teacher if null is None else samplers.cfg_denoiser(teacher, scale, null)


class DMD:
    """The generator G and the fake model D (copies of the frozen teacher), their AdamW
    optimisers (both at lr); d_step trains D on G's samples, g_step moves G along the DM
    gradient and the regression loss on `pairs` = (z, y, *cond), weighted by weights = (DM,
    regression): DMD (1, 0.25), DMD2 (1, 0), regression only (0, 1); two more weights, (...,
    GAN for G, GAN for D), add DMD2's GAN term (gan.BottleneckHead on the fake model, real
    images against G's, both noised; DMD2's ImageNet weights are 3e-3 and 1e-2). cfg:
    (scale, null conditions) to distil the guided teacher."""

    def __init__(self, teacher, *, lr=1e-5, times=(1.0,), t_range=(0.02, 0.98), cfg=None,
                 weights=(1.0, 0.0), pairs=None, backward=True):  # fmt: skip
        check_instance("teacher", teacher, nn.Module, "a targets.Denoiser (the teacher)")
        check_denoiser("teacher", teacher)
        self.times, self.t_range = check_times(times), check_t_range(t_range)
        check_float("lr", lr, 0, open_low=True)  # both players' (DMD2's setting)
        scale, null = (1.0, None) if cfg is None else cfg
        self.dm_weight, self.reg_weight, self.gan_g, self.gan_d = _check_weights(weights)
        self.pairs = _check_pairs(pairs, self.reg_weight)
        self.hyper = dict(lr=lr, times=self.times, t_range=self.t_range,
                          scale=scale, weights=weights, backward=bool(backward))  # fmt: skip
        self.teacher, self.sde, self.backward = teacher.eval(), teacher.sde, bool(backward)
        teacher.requires_grad_(False)
        self.real = _guided(teacher, check_float("scale", scale, 0), null)
        self.G, self.D = (copy.deepcopy(teacher).requires_grad_(True) for _ in range(2))
        if self.gan_g or self.gan_d:
            self.D.gan_head = gan.BottleneckHead(self.D)
        self.weighting = losses.native_weight(getattr(teacher, "prediction", "eps"))
        if self.pairs is not None:
            _check_teacher_shape(self.G, self.pairs, self.times[0])
        self.g_params, self.d_params = list(self.G.parameters()), list(self.D.parameters())
        self.opt_g = torch.optim.AdamW(self.g_params, lr=lr, weight_decay=0.0)
        self.opt_d = torch.optim.AdamW(self.d_params, lr=lr, weight_decay=0.0)

    @torch.no_grad()
    def inputs(self, x0, k: int, *cond, generator=None) -> torch.Tensor:
        """G's input at its k-th time: noise for k = 0; for a later one the current G's own k
        steps from noise (backward simulation) or, with backward=False, x0 noised to that
        time."""
        z = noise_like(x0, generator)
        if k == 0:
            return z
        if self.backward:
            return diffusion_gan.sample(self.G, z, self.times[: k + 1], *cond, generator=generator)
        return self.sde.add_noise(x0, torch.full((len(x0),), self.times[k], device=x0.device), z)

    def _samples(self, x0, *cond, generator=None, grad=True) -> torch.Tensor:
        """G's output at one of its times drawn uniformly, from that time's inputs."""
        k = int(torch.randint(len(self.times), (), generator=generator))
        x_in = self.inputs(x0, k, *cond, generator=generator)
        with torch.set_grad_enabled(grad):
            return self.G(x_in, torch.full((len(x0),), self.times[k], device=x0.device), *cond)

    def d_step(self, x0, *cond, generator=None) -> float:
        """One fake-model step: the teacher's denoising loss on G's samples (no grad to G)."""
        self.D.train()
        x = self._samples(x0, *cond, generator=generator, grad=False)
        loss = losses.dsm(self.D, x, *cond, sde=self.sde, weighting=self.weighting,
                          generator=generator)  # fmt: skip
        if self.gan_d:
            real, fake = (self._logits(y, *cond, generator=generator) for y in (x0, x))
            loss = loss + self.gan_d * gan.discriminator_loss(real, fake)
        return players.update(loss, self.d_params, self.opt_d, "DMD: the fake model")

    def g_step(self, x0, *cond, generator=None) -> dict[str, float]:
        """One generator step: {"loss": the weighted sum of "dm" and "reg", "mean": the mean of
        G's samples (DMD2's running statistic: its drift shows an oscillating generator)}."""
        self.G.train()
        x = self._samples(x0, *cond, generator=generator)
        dm = dm_loss(x, self.real, self.D, self.sde, *cond, t_range=self.t_range,
                     generator=generator)  # fmt: skip
        reg = self._regression(len(x0), generator) if self.reg_weight else x.new_zeros(())
        total = self.dm_weight * dm + self.reg_weight * reg
        if self.gan_g:
            total = total + self.gan_g * gan.generator_loss(
                self._logits(x, *cond, generator=generator)
            )
        loss = players.update(total, self.g_params, self.opt_g, "DMD: the generator")
        return dict(loss=loss, dm=dm.item(), reg=reg.item(), mean=x.mean().item())

    def _logits(self, x, *cond, generator=None) -> torch.Tensor:
        """The GAN head's logits of x noised to t ~ U(t_range) (gradients reach x)."""
        x_t, t = diffuse(x, self.sde, self.t_range, generator)
        return self.D.gan_head.logits(self.D, x_t, t, *cond)

    def _regression(self, n: int, generator) -> torch.Tensor:
        """MSE between G's one step from a batch of the pairs' z and the teacher's y."""
        idx = torch.randint(len(self.pairs[0]), (n,), generator=generator)
        device = next(self.G.parameters()).device
        z, y, *cond = (p[idx].to(device) for p in self.pairs)
        t = torch.full((n,), self.times[0], device=device)
        return F.mse_loss(self.G(z, t, *cond), y)


def _check_weights(weights) -> tuple[float, float, float, float]:
    """(DM, regression, GAN for G, GAN for D); the GAN pair defaults to (0, 0)."""
    if not isinstance(weights, (tuple, list)) or len(weights) not in (2, 4):
        raise ValueError(f"weights: expected (DM, regression) or (DM, regression, GAN for G, GAN "
                         f"for D), e.g. (1.0, 0.25), got {describe(weights)}")  # fmt: skip
    out = [check_float(f"weights[{i}]", w, 0) for i, w in enumerate(weights)] + [0.0, 0.0]
    if not sum(out[:3]):
        raise ValueError(f"weights: expected a positive weight for the generator, got {weights}")
    return tuple(out[:4])


def _check_pairs(pairs, reg_weight: float):
    if reg_weight and pairs is None:
        raise ValueError("pairs: expected (z, y, *cond) from teacher_pairs when the regression "
                         "weight is positive, "
                         "got None")  # fmt: skip
    if pairs is None:
        return None
    z, y = (check_tensor(name, p) for name, p in zip(("pairs[0]", "pairs[1]"), pairs))
    if z.shape != y.shape or any(len(c) != len(z) for c in pairs[2:]):
        raise ValueError(f"pairs: expected z and y of one shape and conditions batched like "
                         f"them, got {[describe(p) for p in pairs]}")  # fmt: skip
    return tuple(pairs)


@torch.no_grad()
def _check_teacher_shape(G, pairs, t: float) -> None:
    z, y, *cond = (p[:1] for p in pairs)
    try:
        out = G(z, torch.full((1,), t), *cond)
    except (RuntimeError, ValueError) as err:
        raise ValueError(f"pairs: the teacher does not take z shaped {tuple(z.shape)} ({err}): "
                         "pairs from another teacher?") from err  # fmt: skip
    if out.shape != y.shape:
        raise ValueError(f"pairs: expected y shaped like the teacher's output, "
                         f"{tuple(out.shape)} for one pair, got {tuple(y.shape)}: pairs from "
                         "another teacher?")  # fmt: skip


def fit(dmd: DMD, data, *, steps, batch_size=64, ratio=1, ema_decay=0.99, snapshots=(),
        generator=None, progress=None, checkpoint=None) -> players.History:  # fmt: skip
    """players.fit for DMD: a fake-model step every iteration and a generator step every
    `ratio`-th (DMD: 1; DMD2's two-time-scale rule: 5); data: real (x0, *cond), whose conditions
    the students are trained on (and whose x0 are the noised-real inputs when backward=False)."""
    check_instance("dmd", dmd, DMD, "DMD(teacher)")
    if not isinstance(ratio, int) or isinstance(ratio, bool) or ratio < 1:
        raise ValueError(f"ratio: expected fake-model steps per generator step, an integer >= 1 "
                         f"(DMD 1, DMD2 5), got {describe(ratio)}")  # fmt: skip
    return players.fit(dmd, data, steps=steps, batch_size=batch_size, d_every=1, g_every=ratio,
                       ema_decay=ema_decay, snapshots=snapshots, generator=generator,
                       progress=progress, checkpoint=checkpoint, desc="DMD")  # fmt: skip


def sample(G, z, times, *cond, generator=None):
    """G's k-step samples from noise z at its `times` (diffusion_gan.sample on times + (0,))."""
    return diffusion_gan.sample(G, z, [*check_times(times), 0.0], *cond, generator=generator)
