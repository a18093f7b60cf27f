"""Samplers against closed forms on Gaussian data (float64)."""

import pytest
import torch
from gaussian_oracle import MU, SIGMA, denoiser, flow_map, sample_t

from minidiff import samplers, schedules
from minidiff import sde as processes

PROCESSES = [processes.VP(), processes.VE(), processes.SubVP(), processes.Flow()]
N = 20_000


def assert_moments(x, mean, cov, n):
    """Sample mean within 4 standard errors; sample covariance within 4 SE of each entry."""
    se_mean = (torch.diagonal(cov) / n).sqrt()
    assert ((x.mean(0) - mean).abs() < 4 * se_mean).all(), (x.mean(0), mean)
    var = torch.diagonal(cov)
    se_cov = ((cov**2 + var[:, None] * var[None, :]) / n).sqrt()  # Var of a Gaussian sample cov
    assert ((torch.cov(x.T) - cov).abs() < 4 * se_cov).all(), (torch.cov(x.T), cov)


@pytest.mark.parametrize("sde", PROCESSES, ids=repr)
def test_ddpm_exact_denoiser_recovers_gaussian(sde):
    g = torch.Generator().manual_seed(1)
    t_max = 0.999 if isinstance(sde, processes.Flow) else 1.0
    x = samplers.ddpm(
        denoiser(sde), sde, sample_t(sde, t_max, N, g), schedules.uniform(500, t_max), g
    )
    assert_moments(x, MU, SIGMA, N)


@pytest.mark.parametrize("sde", PROCESSES, ids=repr)
def test_reverse_sde_and_pc_recover_gaussian(sde):
    g = torch.Generator().manual_seed(2)
    ts = schedules.uniform(500, t_max=0.999)
    x1 = sample_t(sde, 0.999, N, g)
    assert_moments(samplers.reverse_sde(denoiser(sde), sde, x1, ts, g), MU, SIGMA, N)
    ts = schedules.uniform(200, t_max=0.999)
    x = samplers.predictor_corrector(denoiser(sde), sde, x1, ts, snr=0.05, generator=g)
    assert_moments(x, MU, SIGMA, N)


@pytest.mark.parametrize("sde", PROCESSES, ids=repr)
def test_ddim_converges_to_flow_map_at_first_order(sde):
    g = torch.Generator().manual_seed(3)
    t0, x1 = 0.01, sample_t(sde, 1.0, 500, g)
    exact = flow_map(sde, x1, 1.0, t0)
    errs = [
        (samplers.ddim(denoiser(sde), sde, x1, schedules.uniform(k, t_min=t0)) - exact).abs().max()
        for k in (50, 200, 800)
    ]
    slopes = [torch.log(errs[i] / errs[i + 1]) / torch.log(torch.tensor(4.0)) for i in range(2)]
    assert all(0.8 < s < 1.3 for s in slopes), (errs, slopes)


@pytest.mark.parametrize("sde", PROCESSES, ids=repr)
def test_heun_is_second_order_and_beats_euler(sde):
    g = torch.Generator().manual_seed(4)
    t0, x1 = 0.01, sample_t(sde, 0.99, 500, g)
    exact = flow_map(sde, x1, 0.99, t0)
    velocity = samplers.pf_ode_velocity(denoiser(sde), sde)
    err = {}
    for solver in (samplers.euler, samplers.heun):
        for k in (40, 160):
            ts = schedules.uniform(k, t_max=0.99, t_min=t0)
            err[solver.__name__, k] = (solver(velocity, x1, ts) - exact).abs().max().item()
    assert err["heun", 40] < err["euler", 160]
    assert err["heun", 40] / err["heun", 160] > 10  # 4x steps -> ~16x smaller error


def test_ddim_eta_one_equals_ddpm():
    sde, ts = processes.VP(), schedules.uniform(30)
    x1 = torch.randn(64, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    a = samplers.ddpm(denoiser(sde), sde, x1, ts, torch.Generator().manual_seed(9))
    b = samplers.ddim(
        denoiser(sde), sde, x1, ts, eta=1.0, generator=torch.Generator().manual_seed(9)
    )
    torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


def test_euler_maruyama_brownian_and_ou_marginals():
    g = torch.Generator().manual_seed(6)
    x0 = torch.zeros(N, 1, dtype=torch.float64)
    ts = torch.linspace(0, 1, 101, dtype=torch.float64)
    w = samplers.euler_maruyama(lambda x, t: 0 * x, lambda t: torch.ones_like(t), x0, ts, g)
    assert abs(w.var().item() - 1.0) < 4 * (2 / N) ** 0.5  # Var W_1 = 1
    theta, x_start = 2.0, torch.full((N, 1), 3.0, dtype=torch.float64)  # OU: dx = -theta x dt + dW
    x = samplers.euler_maruyama(
        lambda x, t: -theta * x,
        lambda t: torch.ones_like(t),
        x_start,
        torch.linspace(0, 1, 1001, dtype=torch.float64),
        g,
    )
    mean = 3.0 * torch.exp(torch.tensor(-theta))
    var = (1 - torch.exp(torch.tensor(-2 * theta))) / (2 * theta)
    assert abs(x.mean() - mean) < 4 * (var / N).sqrt() + 0.01  # + O(dt) Euler bias
    assert abs(x.var() - var) < 4 * var * (2 / N) ** 0.5 + 0.01


def test_cfg_interpolates_denoisers():
    def D(x, t, y):
        return x + y[:, None].to(x.dtype)

    x, t = torch.zeros(4, 2), torch.full((4,), 0.5)
    guided = samplers.cfg(D, 3.0, torch.ones(4), torch.zeros(4))
    torch.testing.assert_close(guided(x, t), torch.full((4, 2), 3.0))  # 0 + 3 (1 - 0)


def test_exact_score_reverse_sde_on_a_mixture_passes_two_sample_test():
    """KS tests on 8 fixed 1-D projections, Bonferroni-corrected (alpha = 1e-3 overall)."""
    from scipy import stats

    from minidiff.data import toy2d

    gm, sde, g = (
        toy2d.correlated(dtype=torch.float64),
        processes.VP(),
        torch.Generator().manual_seed(7),
    )
    n = 3000
    x1 = gm.marginal(sde, 1.0).sample(n, generator=g)
    x = samplers.reverse_sde(gm.denoiser(sde), sde, x1, schedules.uniform(500), g)
    ref = gm.sample(n, generator=g)
    angles = torch.arange(8, dtype=torch.float64) * torch.pi / 8
    dirs = torch.stack([angles.cos(), angles.sin()], 1)
    pvalues = [stats.ks_2samp((x @ d).numpy(), (ref @ d).numpy()).pvalue for d in dirs]
    assert min(pvalues) > 1e-3 / 8, pvalues


def test_cfg_with_tuple_conditions_and_none():
    def D(x, t, y, scale):
        assert scale is None
        return x + y[:, None].to(x.dtype)

    guided = samplers.cfg(D, 2.0, (torch.ones(3), None), (torch.zeros(3), None))
    torch.testing.assert_close(
        guided(torch.zeros(3, 2), torch.full((3,), 0.5)), torch.full((3, 2), 2.0)
    )
    with pytest.raises(ValueError, match="null_cond"):
        samplers.cfg(D, 2.0, (torch.ones(3), None), torch.zeros(3))


def test_static_and_dynamic_thresholding():
    x0 = torch.stack(
        [torch.linspace(-0.9, 0.9, 1000), torch.linspace(-3.0, 3.0, 1000)]
    )  # (2, 1000)
    t = torch.full((2,), 0.5)
    static = samplers.static_threshold(lambda x, t: x0)(x0, t)
    assert static.abs().max() == 1.0 and torch.equal(static[0], x0[0])
    dynamic = samplers.dynamic_threshold(lambda x, t: x0, percentile=0.9)(x0, t)
    torch.testing.assert_close(dynamic[0], x0[0])  # in range: s = 1, unchanged
    s = torch.quantile(x0[1].abs(), 0.9)  # 2.7
    torch.testing.assert_close(dynamic[1], x0[1].clamp(-s, s) / s)
    assert dynamic[1].abs().max() == 1.0 and (dynamic[1].abs() == 1).float().mean() < 0.15
    with pytest.raises(ValueError, match="percentile"):
        samplers.dynamic_threshold(lambda x, t: x0, percentile=1.5)
