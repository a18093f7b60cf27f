"""DDPM ancestral sampling and DDIM, written for any process x_t = alpha(t) x0 + sigma(t) eps.

Notation (Kingma et al. 2021, Eq. 33; diffusers' DDIM): going from t to s < t,
alpha_ts = alpha_t / alpha_s, sigma_ts^2 = sigma_t^2 - alpha_ts^2 sigma_s^2 (the noise added
between s and t). With the VP process these are the discrete DDPM/DDIM updates with
alpha_bar = alpha^2.
"""

import torch

from .. import schedules, targets
from ..checks import check_float
from ..sde import SDE, noise_like
from ._checks import check_sampler_args


def _step_coefficients(sde: SDE, t: float, s: float, x: torch.Tensor):
    ts = torch.tensor([t, s], dtype=torch.float64)
    alpha_t, alpha_s = sde.alpha(ts).tolist()
    sigma_t, sigma_s = sde.sigma(ts).tolist()
    sigma2_ts = sigma_t**2 - (alpha_t / alpha_s) ** 2 * sigma_s**2
    return alpha_t, alpha_s, sigma_t, sigma_s, max(sigma2_ts, 0.0)


@torch.no_grad()
def ddpm(denoiser, sde: SDE, x, ts, generator=None, progress=False):
    """Ancestral sampling from the posterior q(x_s | x_t, x0_hat) (Ho et al. 2020, Alg. 2).

    mean = (alpha_ts sigma_s^2 x_t + alpha_s sigma_ts^2 x0_hat) / sigma_t^2,
    var = sigma_ts^2 sigma_s^2 / sigma_t^2  (the "fixed small" variance beta_tilde).
    """
    ts = check_sampler_args(denoiser, sde, x, ts, generator)
    for t, s in schedules.pairs(ts, progress, desc="DDPM"):
        alpha_t, alpha_s, sigma_t, sigma_s, sigma2_ts = _step_coefficients(sde, t, s, x)
        x0_hat = targets.denoise(denoiser, x, t)
        mean = ((alpha_t / alpha_s) * sigma_s**2 * x + alpha_s * sigma2_ts * x0_hat) / sigma_t**2
        z = noise_like(x, generator)
        x = mean + (sigma2_ts * sigma_s**2 / sigma_t**2) ** 0.5 * z if s > 0 else mean
    return x


@torch.no_grad()
def ddim(denoiser, sde: SDE, x, ts, eta=0.0, generator=None, progress=False):
    """DDIM (Song, Meng & Ermon 2021, Eq. 12).

    x_s = alpha_s x0_hat + sqrt(sigma_s^2 - c^2) eps_hat + c z with
    c = eta sigma_s sigma_ts / sigma_t; eta = 0 is deterministic (Euler on the PF-ODE in
    x/alpha, sigma/alpha coordinates), eta = 1 equals DDPM ancestral sampling.
    """
    ts = check_sampler_args(denoiser, sde, x, ts, generator)
    eta = check_float("eta", eta, 0, 1)
    for t, s in schedules.pairs(ts, progress, desc="DDIM"):
        alpha_t, alpha_s, sigma_t, sigma_s, sigma2_ts = _step_coefficients(sde, t, s, x)
        x0_hat = targets.denoise(denoiser, x, t)
        eps_hat = targets.eps_from_x0(x, x0_hat, alpha_t, sigma_t)
        c = eta * sigma_s * sigma2_ts**0.5 / sigma_t
        x = alpha_s * x0_hat + max(sigma_s**2 - c**2, 0.0) ** 0.5 * eps_hat
        if c > 0:
            x = x + c * noise_like(x, generator)
    return x
