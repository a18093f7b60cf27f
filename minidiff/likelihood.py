"""Exact log-likelihood through the probability-flow ODE (Song et al. 2021, Sec. 4.3, App. D.2).

log p_t0(x) = log p_1(x_1) + int_t0^1 div v(x_t, t) dt, with x_t solving dx/dt = v (the PF-ODE)
from x_t0 = x (Chen et al. 2018, instantaneous change of variables). The divergence is exact
(one autograd pass per dimension, for low d) or Hutchinson's estimate E_z[z^T (dv/dx) z] with
Rademacher probes held fixed along the path (Grathwohl et al. 2019, FFJORD).
"""

import torch

from .checks import check_callable, check_generator, check_int, check_tensor
from .samplers._checks import check_sampler_args
from .samplers.ode import heun, pf_ode_velocity
from .sde import SDE


def divergence_exact(velocity, x, t):
    """sum_i d v_i / d x_i by autograd, one pass per dimension (cost grows with d)."""
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        v = velocity(x, t).flatten(1)
        div = torch.zeros(len(x), dtype=x.dtype, device=x.device)
        for i in range(v.shape[1]):
            div = div + torch.autograd.grad(v[:, i].sum(), x, retain_graph=True)[0].flatten(1)[:, i]
    return v.reshape(x.shape).detach(), div.detach()


def divergence_hutchinson(velocity, x, t, z):
    """z^T (dv/dx) z by one vector-Jacobian product (Hutchinson 1989); unbiased if E[zz^T] = I."""
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        v = velocity(x, t)
        vjp = torch.autograd.grad((v * z).sum(), x)[0]
    return v.detach(), (vjp * z).flatten(1).sum(1).detach()


def log_likelihood(
    denoiser, sde: SDE, x, ts, prior_logp=None, hutchinson=False, generator=None, progress=False
):
    """log p_{ts[0]}(x) in nats per sample, integrating the augmented PF-ODE with Heun along ts.

    ts increases from the data time (e.g. 1e-3) to 1; prior_logp defaults to sde.prior_logp.
    hutchinson=True uses one Rademacher probe per sample instead of the exact divergence.
    """
    ts = check_sampler_args(denoiser, sde, x, ts, decreasing=False, min_ndim=2)
    if not sde.sigma(ts[:1]).item() > 0:  # eps_hat = (x - alpha x0_hat) / sigma: 0 / 0
        raise ValueError(f"ts: expected a grid that starts where sigma > 0, e.g. at 1e-3, got "
                         f"ts[0] = {ts[0].item():.4g} (sigma = 0 there)")  # fmt: skip
    check_generator("generator", generator, x.device if hutchinson else None)
    prior_logp = sde.prior_logp if prior_logp is None else prior_logp
    check_callable("prior_logp", prior_logp, "a function prior_logp(x1) -> (B,), or None")
    velocity = pf_ode_velocity(denoiser, sde)
    z = None
    if hutchinson:
        z = torch.randint(0, 2, x.shape, generator=generator, device=x.device).to(x.dtype) * 2 - 1

    def augmented(state, t):  # state = [x flattened, integral of div v]
        xs = state[:, :-1].reshape(x.shape)
        if z is None:
            v, div = divergence_exact(velocity, xs, t)
        else:
            v, div = divergence_hutchinson(velocity, xs, t, z)
        return torch.cat([v.flatten(1), div[:, None]], dim=1)

    state = torch.cat([x.flatten(1), x.new_zeros(len(x), 1)], dim=1)
    state = heun(augmented, state, ts, progress)
    x1, integral = state[:, :-1].reshape(x.shape), state[:, -1]
    return prior_logp(x1) + integral


def bits_per_dim(log_p: torch.Tensor, d: int) -> torch.Tensor:
    """Negative log-likelihood in bits per dimension: -log p / (d ln 2)."""
    log_p, d = check_tensor("log_p", log_p, min_ndim=0), check_int("d", d, 1)
    return -log_p / (d * torch.log(torch.tensor(2.0, dtype=log_p.dtype)))
