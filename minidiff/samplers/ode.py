"""Probability-flow ODE samplers (Song et al. 2021, Eq. 13; Karras et al. 2022, Alg. 1).

The PF-ODE dx/dt = f x - g^2 score / 2 has the same marginals as the SDE. Written with the
denoiser it is dx/dt = alpha'(t) x0_hat + sigma'(t) eps_hat, eps_hat = (x - alpha x0_hat) / sigma,
which stays finite where alpha = 0 (flow matching's velocity eps - x0).
euler and heun are generic ODE solvers for velocity(x, t); likelihood.py reuses them.
"""

import torch

from .. import schedules, targets
from ..checks import check_callable, check_instance
from ..sde import SDE, append_dims, as_time
from ._checks import DENOISER, check_output, check_sampler_args, check_solver, check_solver_args


def pf_ode_velocity(denoiser, sde: SDE):
    """velocity(x, t) = alpha'(t) x0_hat + sigma'(t) eps_hat: the probability-flow ODE."""
    check_callable("denoiser", denoiser, DENOISER)
    check_instance("sde", sde, SDE, "sde.VP()")

    def velocity(x, t):
        t_b = append_dims(as_time(t, x), x.ndim)
        alpha, sigma = sde.alpha(t_b), sde.sigma(t_b)
        x0_hat = targets.denoise(denoiser, x, t)
        eps_hat = targets.eps_from_x0(x, x0_hat, alpha, sigma)
        return sde.d_alpha(t_b) * x0_hat + sde.d_sigma(t_b) * eps_hat

    return velocity


def euler(velocity, x, ts, progress=False):
    """Euler's method along ts: x <- x + (t_next - t) velocity(x, t).  NFE = len(ts) - 1."""
    ts = check_solver_args(velocity, x, ts)
    for t, t_next in schedules.pairs(ts, progress, desc="Euler"):
        x = x + (t_next - t) * check_output("velocity", velocity(x, as_time(t, x)), x)
    return x


def heun(velocity, x, ts, progress=False):
    """Heun's 2nd-order method (Karras et al. 2022, Alg. 1); the step ending at t = 0 is Euler.

    NFE = 2 (len(ts) - 1), minus one if the grid ends at 0.
    """
    ts = check_solver_args(velocity, x, ts)
    for t, t_next in schedules.pairs(ts, progress, desc="Heun"):
        d = check_output("velocity", velocity(x, as_time(t, x)), x)
        x_next = x + (t_next - t) * d  # Euler step
        if t_next != 0:  # 2nd-order correction
            d_next = velocity(x_next, as_time(t_next, x))
            x_next = x + (t_next - t) * (d + d_next) / 2
        x = x_next
    return x


@torch.no_grad()
def pf_ode(denoiser, sde: SDE, x, ts, solver=heun, progress=False):
    """Sample by solving the probability-flow ODE from ts[0] to ts[-1] with `solver`."""
    check_sampler_args(denoiser, sde, x, ts)
    check_solver(solver)
    return solver(pf_ode_velocity(denoiser, sde), x, ts, progress)
