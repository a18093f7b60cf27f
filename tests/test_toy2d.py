"""minidiff.data.toy2d against closed forms, autograd, scipy and Monte Carlo (float64)."""

import math

import numpy as np
import pytest
import torch
from scipy import stats
from scipy.special import logsumexp

from minidiff import sde
from minidiff.data import toy2d

F64 = torch.float64
PROCESSES = [sde.VP(), sde.VE(), sde.SubVP(), sde.Flow()]


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def moments(gm):
    """Mean and covariance of a mixture: sum w mu, sum w (Sigma + mu mu^T) - mean mean^T."""
    w, mu, cov = gm.weights, gm.means, gm.covs
    mean = (w[:, None] * mu).sum(0)
    second = (w[:, None, None] * (cov + mu[:, :, None] * mu[:, None, :])).sum(0)
    return mean, second - torch.outer(mean, mean)


def assert_moments_match(x, mean, cov, z_max=5.0):
    """Sample mean and covariance within z_max standard errors of (mean, cov)."""
    n = len(x)
    xc = x - x.mean(0)
    se_mean = (x.var(0) / n).sqrt()
    assert torch.all((x.mean(0) - mean).abs() < z_max * se_mean), (x.mean(0), mean)
    prods = xc[:, :, None] * xc[:, None, :]  # (n, d, d)
    se_cov = (prods.var(0) / n).sqrt()
    assert torch.all((prods.mean(0) - cov).abs() < z_max * se_cov), (prods.mean(0), cov)


def test_log_prob_integrates_to_one():
    for gm, half, h in [(toy2d.correlated(F64), 7.0, 0.05), (toy2d.ring(dtype=F64), 3.0, 0.02)]:
        ticks = torch.arange(-half, half, h, dtype=F64) + h / 2  # midpoint rule
        grid = torch.cartesian_prod(ticks, ticks)
        total = gm.log_prob(grid).exp().sum().item() * h * h
        assert abs(total - 1) < 1e-9, total  # the midpoint rule is spectrally accurate here


def test_log_prob_matches_scipy():
    gm = toy2d.correlated(F64)
    x = gm.sample(50, gen())
    per_k = [
        stats.multivariate_normal(m.numpy(), c.numpy()).logpdf(x.numpy())
        for m, c in zip(gm.means, gm.covs, strict=True)
    ]
    want = logsumexp(np.stack(per_k, 1) + np.log(gm.weights.numpy()), axis=1)
    np.testing.assert_allclose(gm.log_prob(x).numpy(), want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("process", PROCESSES, ids=lambda p: type(p).__name__)
def test_score_equals_autograd_of_log_prob_t(process):
    gm = toy2d.correlated(F64)
    x = (1.5 * torch.randn(40, 2, generator=gen(1), dtype=F64)).requires_grad_()
    t_per_sample = torch.linspace(0, 0.99, 40, dtype=F64)
    for t in [0.0, 0.05, 0.4, 0.9, t_per_sample]:
        (grad,) = torch.autograd.grad(gm.log_prob_t(x, t, process).sum(), x)
        torch.testing.assert_close(gm.score(x.detach(), t, process), grad, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("process", [sde.VP(), sde.VE()], ids=["VP", "VE"])
def test_denoiser_is_tweedie(process):
    gm = toy2d.correlated(F64)
    x = 2 * torch.randn(30, 2, generator=gen(2), dtype=F64)
    t = torch.rand(30, generator=gen(3), dtype=F64) * 0.95 + 0.02
    alpha, sigma = process.alpha(t)[:, None], process.sigma(t)[:, None]
    tweedie = (x + sigma**2 * gm.score(x, t, process)) / alpha
    torch.testing.assert_close(gm.denoiser(process)(x, t), tweedie, rtol=1e-9, atol=1e-9)


def test_denoiser_of_one_gaussian_is_the_linear_posterior_mean():
    mu, cov = torch.tensor([[0.5, -1.0]], dtype=F64), torch.tensor([[[0.6, 0.25], [0.25, 0.3]]])
    gm = toy2d.GaussianMixture(torch.ones(1), mu, cov.to(F64))
    process, t = sde.VP(), torch.tensor([0.1, 0.3, 0.6], dtype=F64)
    x = torch.randn(3, 2, generator=gen(4), dtype=F64)
    alpha, sigma = process.alpha(t)[:, None, None], process.sigma(t)[:, None, None]
    C = alpha**2 * cov + sigma**2 * torch.eye(2, dtype=F64)  # (3, 2, 2)
    want = mu + (alpha * cov @ torch.linalg.solve(C, (x - alpha[:, 0] * mu)[:, :, None]))[..., 0]
    torch.testing.assert_close(gm.denoiser(process)(x, t), want, rtol=1e-10, atol=1e-10)


def test_sample_moments_and_labels():
    gm = toy2d.correlated(F64)
    x, k = gm.sample(200_000, gen(5), return_labels=True)
    assert x.shape == (200_000, 2) and x.dtype == F64 and k.shape == (200_000,)
    assert_moments_match(x, *moments(gm))
    frac = (k == 1).double().mean().item()  # weight 0.7, binomial standard error
    assert abs(frac - 0.7) < 5 * math.sqrt(0.7 * 0.3 / len(k))
    assert_moments_match(x[k == 0], gm.means[0], gm.covs[0])


@pytest.mark.parametrize("process", PROCESSES, ids=lambda p: type(p).__name__)
def test_marginal_matches_noising_samples(process):
    gm, t, n = toy2d.correlated(F64), 0.3, 200_000
    x0 = gm.sample(n, gen(6))
    xt = process.add_noise(x0, t, torch.randn(n, 2, generator=gen(7), dtype=F64))
    marginal = gm.marginal(process, t)
    assert_moments_match(xt, *moments(marginal))
    y = torch.randn(20, 2, generator=gen(8), dtype=F64)
    torch.testing.assert_close(marginal.log_prob(y), gm.log_prob_t(y, t, process))


def test_float32_agrees_with_float64():
    g32, g64, process = toy2d.correlated(torch.float32), toy2d.correlated(F64), sde.VP()
    x, t = torch.randn(16, 2, generator=gen(9)), torch.rand(16, generator=gen(10))
    for method in ["score", "posterior_mean", "log_prob_t"]:
        out = getattr(g32, method)(x, t, process)
        assert out.dtype == torch.float32
        want = getattr(g64, method)(x.double(), t.double(), process).float()
        torch.testing.assert_close(out, want, rtol=1e-4, atol=1e-4)
    assert g64.log_prob(x).dtype == torch.float32  # parameters are cast to the input's dtype


def test_presets_have_unit_scale():
    for gm, k in [(toy2d.ring(dtype=F64), 8), (toy2d.grid(dtype=F64), 25)]:
        _, cov = moments(gm)
        assert len(gm.weights) == k
        assert torch.allclose(cov.diagonal(), torch.ones(2, dtype=F64), atol=0.05), cov
    c = toy2d.correlated(F64).covs
    assert torch.all(c[:, 0, 1] != 0)  # full, not diagonal, covariances


def test_bad_inputs_raise_naming_the_argument():
    eye = torch.eye(2).expand(2, 2, 2)
    means = torch.zeros(2, 2)
    with pytest.raises(ValueError, match="weights"):
        toy2d.GaussianMixture(torch.tensor([0.5, -0.5]), means, eye)
    with pytest.raises(ValueError, match="weights"):
        toy2d.GaussianMixture(torch.ones(3), means, eye)
    with pytest.raises(ValueError, match="covs.*shape"):
        toy2d.GaussianMixture(torch.ones(2), means, torch.eye(2))
    with pytest.raises(ValueError, match="covs.*positive definite"):
        toy2d.GaussianMixture(torch.ones(2), means, torch.tensor([[[1.0, 2], [2, 1]]] * 2))
    with pytest.raises(ValueError, match="covs.*symmetric"):
        toy2d.GaussianMixture(torch.ones(2), means, torch.tensor([[[1.0, 0.5], [0, 1]]] * 2))
    with pytest.raises(TypeError, match="means"):
        toy2d.GaussianMixture(torch.ones(2), torch.zeros(2, 2, dtype=torch.long), eye)
    gm = toy2d.correlated()
    with pytest.raises(ValueError, match="x: expected shape"):
        gm.log_prob(torch.zeros(4, 3))
    with pytest.raises(ValueError, match="t: expected values in"):
        gm.score(torch.zeros(4, 2), 1.5, sde.VP())
    with pytest.raises(ValueError, match="t: expected a float or"):
        gm.score(torch.zeros(4, 2), torch.zeros(3), sde.VP())
    with pytest.raises(ValueError, match="t: expected a float in"):
        gm.marginal(sde.VP(), torch.zeros(2))
    with pytest.raises(ValueError, match="n: expected a positive int"):
        gm.sample(0)
    with pytest.raises(ValueError, match="std"):
        toy2d.ring(std=0.0)


@pytest.mark.parametrize("make", [toy2d.moons, toy2d.swiss_roll, toy2d.checkerboard])
def test_sample_only_datasets(make):
    x = make(20_000, generator=gen(11))
    assert x.shape == (20_000, 2) and x.dtype == torch.float32 and torch.isfinite(x).all()
    assert x.mean(0).abs().max() < 0.1
    assert 0.8 < x.var(0).mean().sqrt() < 1.2 and x.std(0).min() > 0.5
    torch.testing.assert_close(make(100, generator=gen(12)), make(100, generator=gen(12)))
    assert not torch.equal(make(100, generator=gen(12)), make(100, generator=gen(13)))
    with pytest.raises(ValueError, match="n: expected"):
        make(-3)


def test_checkerboard_fills_only_black_cells():
    x = toy2d.checkerboard(10_000, generator=gen(14)) / (math.sqrt(3) / 2) + 2  # cells of side 1
    assert x.min() >= 0 and x.max() <= 4
    cells = x.floor().long().clamp(max=3)
    assert torch.all(cells.sum(1) % 2 == 0)
    assert len(torch.unique(cells, dim=0)) == 8


def test_moons_noise_argument():
    clean, noisy = toy2d.moons(5000, 0.0, gen(15)), toy2d.moons(5000, 0.3, gen(15))
    assert (noisy - clean).std() == pytest.approx(0.3, rel=0.05)
    with pytest.raises(ValueError, match="noise"):
        toy2d.moons(10, noise=-1.0)
