"""Samplers: each moves x along a time grid ts (see schedules), calling denoiser(x, t) -> x0_hat.

sde.py: Euler-Maruyama (any SDE, forward or reverse), reverse-SDE and predictor-corrector
samplers (Song et al. 2021). ode.py: probability-flow ODE with Euler or Heun (Karras et al. 2022).
discrete.py: DDPM ancestral (Ho et al. 2020) and DDIM (Song, Meng & Ermon 2021).
guidance.py: conditions bound to a denoiser, classifier-free guidance (Ho & Salimans 2022) and
static/dynamic thresholding (Saharia et al. 2022), as denoiser wrappers.
_checks.py: the argument checks they share, run once at a sampler's start.
"""

from .discrete import ddim, ddpm
from .guidance import cfg, cfg_denoiser, conditioned, dynamic_threshold, static_threshold
from .ode import euler, heun, pf_ode, pf_ode_velocity
from .sde import euler_maruyama, langevin, predictor_corrector, reverse_sde

__all__ = [
    "ddim",
    "ddpm",
    "cfg",
    "cfg_denoiser",
    "conditioned",
    "dynamic_threshold",
    "static_threshold",
    "euler",
    "heun",
    "pf_ode",
    "pf_ode_velocity",
    "euler_maruyama",
    "langevin",
    "predictor_corrector",
    "reverse_sde",
]
