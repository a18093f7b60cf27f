"""Forward processes: closed-form marginals against simulation, and internal consistency."""

import pytest
import torch
from scipy import stats

from minidiff import samplers
from minidiff import sde as processes

PROCESSES = [processes.VP(), processes.VE(), processes.SubVP(), processes.Flow()]
T = torch.linspace(0.02, 0.95, 12, dtype=torch.float64)


@pytest.mark.parametrize("sde", PROCESSES, ids=repr)
def test_derivatives_match_finite_differences(sde):
    h = 1e-6
    torch.testing.assert_close(sde.d_alpha(T), (sde.alpha(T + h) - sde.alpha(T - h)) / (2 * h))
    torch.testing.assert_close(sde.d_sigma(T), (sde.sigma(T + h) - sde.sigma(T - h)) / (2 * h))


@pytest.mark.parametrize("sde", PROCESSES, ids=repr)
def test_log_snr_inverse_and_monotone(sde):
    lam = sde.log_snr(T)
    assert (lam[1:] < lam[:-1]).all()
    torch.testing.assert_close(sde.t_from_log_snr(lam), T)


@pytest.mark.parametrize("sde", PROCESSES, ids=repr)
def test_g2_closed_forms_agree_with_generic_formula(sde):
    """g^2 = 2 sigma (sigma' - f sigma) makes Var x_t = sigma^2 (VP, sub-VP override it)."""
    torch.testing.assert_close(processes.SDE.g2(sde, T), sde.g2(T))


def test_song_coefficients():
    """f and g^2 derived from alpha, sigma equal the SDEs as Song et al. 2021 write them."""
    vp, sub = processes.VP(), processes.SubVP()
    beta = 0.1 + T * 19.9
    B = 0.1 * T + 0.5 * 19.9 * T**2
    torch.testing.assert_close(vp.f(T), -beta / 2)
    torch.testing.assert_close(vp.g2(T), beta)
    torch.testing.assert_close(sub.g2(T), beta * (1 - torch.exp(-2 * B)))
    torch.testing.assert_close(vp.alpha(T) ** 2 + vp.sigma(T) ** 2, torch.ones_like(T))
    ve = processes.VE(0.01, 10.0)
    torch.testing.assert_close(ve.g2(T), ve.sigma(T) ** 2 * 2 * torch.log(torch.tensor(1000.0)))


@pytest.mark.parametrize("sde", PROCESSES, ids=repr)
def test_simulated_marginal_matches_closed_form(sde):
    """Euler-Maruyama on dx = f x dt + g dW from x0 gives N(alpha x0, sigma^2): KS test."""
    g = torch.Generator().manual_seed(0)
    n, t_end, x0 = 20_000, 0.6, 1.5
    start = sde.add_noise(
        torch.full((n, 1), x0, dtype=torch.float64),
        0.0,
        torch.randn(n, 1, generator=g, dtype=torch.float64),
    )
    ts = torch.linspace(0, t_end, 601, dtype=torch.float64)
    x = samplers.euler_maruyama(sde.drift, sde.diffusion, start, ts, g)
    t = torch.tensor(t_end, dtype=torch.float64)
    z = (x[:, 0] - sde.alpha(t) * x0) / sde.sigma(t)
    assert stats.kstest(z.numpy(), "norm").pvalue > 1e-4


def test_add_noise_moments():
    g = torch.Generator().manual_seed(0)
    sde, x0 = processes.VP(), torch.full((50_000, 1), 2.0, dtype=torch.float64)
    xt = sde.add_noise(x0, 0.3, torch.randn(x0.shape, generator=g, dtype=torch.float64))
    t = torch.tensor(0.3, dtype=torch.float64)
    assert abs(xt.mean() - 2 * sde.alpha(t)) < 4 * sde.sigma(t) / 50_000**0.5
    assert abs(xt.std() / sde.sigma(t) - 1) < 0.02


def test_prior_matches_marginal_at_one():
    sde = processes.VP()
    x = sde.prior_sample(
        (10_000, 2), generator=torch.Generator().manual_seed(0), dtype=torch.float64
    )
    assert abs(x.std() - 1) < 0.02
    ref = torch.distributions.Normal(0.0, 1.0).log_prob(x).sum(1)
    torch.testing.assert_close(sde.prior_logp(x), ref, atol=1e-3, rtol=0)


@pytest.mark.parametrize("bad", [-0.1, 1.5, torch.tensor([0.5, 0.2, 0.1])])
def test_bad_times_raise(bad):
    with pytest.raises(ValueError, match="t:"):
        processes.VP().add_noise(torch.zeros(2, 3), bad, torch.zeros(2, 3))
