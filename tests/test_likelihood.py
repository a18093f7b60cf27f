"""PF-ODE log-likelihood against the analytic Gaussian density; divergence estimators."""

import pytest
import torch
from gaussian_oracle import denoiser, log_prob_t

from minidiff import likelihood, samplers
from minidiff import sde as processes

X = torch.tensor([[1.0, 0.0], [2.0, -3.0], [0.0, 1.0], [1.5, 2.5]], dtype=torch.float64)


@pytest.mark.parametrize(
    "sde, tol",
    [
        (processes.VP(), 1e-4),
        (processes.SubVP(), 1e-4),
        (processes.VE(), 5e-4),
        (processes.Flow(), 5e-4),
    ],
    ids=repr,
)
def test_pf_ode_log_likelihood_is_exact(sde, tol):
    """log p_t0(x) = log p_1(x_1) + int div v dt, with the exact p_1 (testing.md, recipe 4)."""
    t0, ts = 1e-3, torch.linspace(1e-3, 1, 1001, dtype=torch.float64)
    log_p = likelihood.log_likelihood(
        denoiser(sde), sde, X, ts, prior_logp=lambda x: log_prob_t(sde, x, 1.0)
    )
    torch.testing.assert_close(log_p, log_prob_t(sde, X, t0), atol=tol, rtol=0)


def test_default_prior_is_close_for_vp():
    """With N(0, I) instead of the exact p_1 the error is small for VP (alpha(1) ~ 0.007)."""
    sde, ts = processes.VP(), torch.linspace(1e-3, 1, 201, dtype=torch.float64)
    log_p = likelihood.log_likelihood(denoiser(sde), sde, X, ts)
    assert (log_p - log_prob_t(sde, X, 1e-3)).abs().max() < 0.05


def test_exact_divergence_is_jacobian_trace():
    sde = processes.VE()
    velocity = samplers.pf_ode_velocity(denoiser(sde), sde)
    t = torch.full((4,), 0.3, dtype=torch.float64)
    _, div = likelihood.divergence_exact(velocity, X, t)
    for i in range(4):
        J = torch.autograd.functional.jacobian(lambda x: velocity(x[None], t[:1])[0], X[i])
        torch.testing.assert_close(div[i], torch.trace(J))


def test_hutchinson_unbiased_within_4_se():
    """Full (non-diagonal) Jacobian, so Rademacher probes have non-zero variance."""
    sde, n = processes.VP(), 2000
    velocity = samplers.pf_ode_velocity(denoiser(sde), sde)
    x = X[1:2].repeat(n, 1)
    t = torch.full((n,), 0.2, dtype=torch.float64)
    gen = torch.Generator().manual_seed(0)
    z = torch.randint(0, 2, x.shape, generator=gen).double() * 2 - 1
    _, est = likelihood.divergence_hutchinson(velocity, x, t, z)
    _, exact = likelihood.divergence_exact(velocity, x[:1], t[:1])
    assert est.std() > 0.01
    assert abs(est.mean() - exact[0]) < 4 * est.std() / n**0.5


def test_hutchinson_log_likelihood_unbiased():
    sde, n = processes.VP(), 400
    ts = torch.linspace(1e-3, 1, 101, dtype=torch.float64)
    x = X[1:2].repeat(n, 1)
    exact = likelihood.log_likelihood(denoiser(sde), sde, x[:1], ts)
    est = likelihood.log_likelihood(
        denoiser(sde), sde, x, ts, hutchinson=True, generator=torch.Generator().manual_seed(1)
    )
    assert abs(est.mean() - exact[0]) < 4 * est.std() / n**0.5


def test_bits_per_dim():
    log_p = torch.tensor([-2.0 * torch.log(torch.tensor(2.0)).item()], dtype=torch.float64)
    torch.testing.assert_close(likelihood.bits_per_dim(log_p, 2), torch.tensor([1.0]).double())
