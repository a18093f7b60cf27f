"""Stochastic samplers: Euler-Maruyama, the reverse SDE, and predictor-corrector (Song et al. 2021).

Notation: the forward SDE is dx = f(t) x dt + g(t) dW; its reverse (Anderson 1982; Song et al.
2021, Eq. 6) is dx = [f(t) x - g(t)^2 score(x, t)] dt + g(t) dW_bar, run from t = 1 down to 0.
score(x, t) is computed from the denoiser by Tweedie's formula (targets.score_from_x0).
"""

import torch

from .. import schedules, targets
from ..checks import (
    check_callable,
    check_float,
    check_generator,
    check_instance,
    check_int,
    check_tensor,
)
from ..sde import SDE, append_dims, as_time, noise_like
from ._checks import DENOISER, check_output, check_sampler_args, check_solver_args


def euler_maruyama(drift, diffusion, x, ts, generator=None, progress=False, *, check_finite=True):
    """Integrate dx = drift(x, t) dt + diffusion(t) dW along ts (increasing or decreasing).

    x_next = x + drift(x, t) dt + diffusion(t) sqrt(|dt|) z,  z ~ N(0, I)  (Kloeden & Platen 1992).
    drift(x, t) takes t as a (B,) tensor; diffusion(t) returns a (B,) tensor.
    check_finite=False skips the NaN/inf check of x, for a caller that has checked it.
    """
    ts = check_solver_args(drift, x, ts, generator, name="drift", finite=check_finite)
    check_callable("diffusion", diffusion, "a function diffusion(t), e.g. sde.VP().diffusion")
    for t, t_next in schedules.pairs(ts, progress, desc="Euler-Maruyama"):
        t_vec = as_time(t, x)
        z = noise_like(x, generator)
        g = append_dims(check_output("diffusion", diffusion(t_vec), t_vec), x.ndim)
        drift_x = check_output("drift", drift(x, t_vec), x)
        x = x + drift_x * (t_next - t) + g * abs(t_next - t) ** 0.5 * z
    return x


def score_fn(denoiser, sde: SDE):
    """score(x, t) = (alpha x0_hat - x) / sigma^2 from a denoiser (Tweedie's formula)."""
    check_callable("denoiser", denoiser, DENOISER)
    check_instance("sde", sde, SDE, "sde.VP()")

    def score(x, t):
        alpha, sigma = targets.coefficients(sde, t, x)
        return targets.score_from_x0(x, targets.denoise(denoiser, x, t), alpha, sigma)

    return score


def check_sde_grid(sde: SDE, ts: torch.Tensor):
    """The reverse SDE needs finite f(t) and g(t)^2 at every time it steps from."""
    coefs = torch.stack([sde.f(ts[:-1].double()), sde.g2(ts[:-1].double())])
    if not torch.isfinite(coefs).all():
        raise ValueError(
            f"ts: {sde} has an infinite drift or diffusion at t={ts[0].item():.4g}; "
            "start the grid below that time (e.g. t_max=0.999)"
        )


@torch.no_grad()
def reverse_sde(denoiser, sde: SDE, x, ts, generator=None, progress=False, *, check_finite=True):
    """Sample by Euler-Maruyama on the reverse-time SDE (Song et al. 2021, Eq. 6).
    check_finite=False skips the NaN/inf check of x, for a caller that has checked it."""
    check_sde_grid(sde, check_sampler_args(denoiser, sde, x, ts, generator, finite=check_finite))
    score = score_fn(denoiser, sde)

    def reverse_drift(x, t):
        return sde.drift(x, t) - append_dims(sde.g2(t), x.ndim) * score(x, t)

    return euler_maruyama(
        reverse_drift, sde.diffusion, x, ts, generator, progress, check_finite=False
    )


def langevin(score, x, t, snr=0.16, generator=None, *, check_finite=True):
    """One Langevin corrector step at fixed t (Song et al. 2021, Alg. 5).

    step = 2 (snr ||z|| / ||score||)^2 with norms averaged over the batch, as in the authors'
    code (per-sample norms make the step explode where the score is near 0, e.g. in 2-D);
    x <- x + step * score + sqrt(2 step) z. check_finite=False: x is known to be finite.
    """
    check_callable("score", score, "a function score(x, t), e.g. samplers.sde.score_fn(den, sde)")
    x = check_tensor("x", x, min_ndim=2, finite=check_finite)
    snr = check_float("snr", snr, 0, open_low=True)
    check_generator("generator", generator)
    grad = score(x, t)
    z = noise_like(x, generator)
    ratio = z.flatten(1).norm(dim=1).mean() / grad.flatten(1).norm(dim=1).mean().clamp(min=1e-12)
    step = 2 * (snr * ratio) ** 2
    return x + step * grad + (2 * step) ** 0.5 * z


@torch.no_grad()
def predictor_corrector(
    denoiser, sde: SDE, x, ts, snr=0.16, corrector_steps=1, generator=None, progress=False
):
    """Reverse-SDE predictor + Langevin corrector (Song et al. 2021, Alg. 1 with Alg. 5)."""
    ts = check_sampler_args(denoiser, sde, x, ts, generator, min_ndim=2)
    snr = check_float("snr", snr, 0, open_low=True)
    corrector_steps = check_int("corrector_steps", corrector_steps, 0)
    check_sde_grid(sde, ts)
    score = score_fn(denoiser, sde)
    for i, (_, t_next) in enumerate(schedules.pairs(ts, progress, desc="predictor-corrector")):
        # x was checked above; the denoiser's outputs are checked at every call
        x = reverse_sde(denoiser, sde, x, ts[i : i + 2], generator, check_finite=False)
        for _ in range(corrector_steps if t_next > 0 else 0):  # no score at t = 0
            x = langevin(score, x, as_time(t_next, x), snr, generator, check_finite=False)
    return x
