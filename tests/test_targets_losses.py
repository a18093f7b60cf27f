"""Parameterisations, the denoiser contract, EDM preconditioning and the DSM losses."""

from functools import partial

import pytest
import torch
from gaussian_oracle import SIGMA, coefs, denoiser, sample_t

from minidiff import losses, samplers, targets
from minidiff import sde as processes

g = torch.Generator().manual_seed(0)
X0, EPS = (torch.randn(64, 2, generator=g, dtype=torch.float64) for _ in range(2))
T = torch.rand(64, generator=g, dtype=torch.float64) * 0.98 + 0.01


def test_conversions_round_trip():
    alpha, sigma = targets.coefficients(processes.SubVP(), T, X0)
    xt = alpha * X0 + sigma * EPS
    torch.testing.assert_close(targets.eps_from_x0(xt, X0, alpha, sigma), EPS)
    torch.testing.assert_close(targets.x0_from_eps(xt, EPS, alpha, sigma), X0)
    v = targets.v_from_x0_eps(X0, EPS, alpha, sigma)
    torch.testing.assert_close(targets.x0_from_v(xt, v, alpha, sigma), X0)
    score = targets.score_from_x0(xt, X0, alpha, sigma)
    torch.testing.assert_close(score, -EPS / sigma)
    torch.testing.assert_close(targets.x0_from_score(xt, score, alpha, sigma), X0)


PROCESSES = [processes.VP(), processes.SubVP(), processes.VE(), processes.Flow()]


@pytest.mark.parametrize("sde", PROCESSES, ids=repr)
def test_velocity_round_trip(sde):
    """u = alpha' x0 + sigma' eps from known x0, eps; x0 and eps recovered from (x_t, u)."""
    t = T[:, None]
    alpha, sigma, d_alpha, d_sigma = (
        f(t) for f in (sde.alpha, sde.sigma, sde.d_alpha, sde.d_sigma)
    )
    xt = alpha * X0 + sigma * EPS
    u = targets.velocity_from_x0_eps(X0, EPS, d_alpha, d_sigma)
    torch.testing.assert_close(u, d_alpha * X0 + d_sigma * EPS)
    torch.testing.assert_close(targets.x0_from_velocity(xt, u, alpha, sigma, d_alpha, d_sigma), X0)
    torch.testing.assert_close(
        targets.eps_from_velocity(xt, u, alpha, sigma, d_alpha, d_sigma), EPS
    )
    coefs = targets.coefficients(sde, T, X0, rates=True)
    torch.testing.assert_close(targets.target("velocity", X0, EPS, *coefs), u)


def test_velocity_on_the_linear_path_is_eps_minus_x0():
    """alpha = 1 - t, sigma = t: u = eps - x0 and x0_hat = x_t - t u_hat (Liu et al. 2023)."""
    sde = processes.Flow()
    coefs = targets.coefficients(sde, T, X0, rates=True)
    torch.testing.assert_close(targets.target("velocity", X0, EPS, *coefs), EPS - X0)
    xt, u_hat = sde.add_noise(X0, T, EPS), torch.randn(X0.shape, generator=g, dtype=torch.float64)
    D = targets.Denoiser(lambda x, t: u_hat, sde, "velocity")
    torch.testing.assert_close(D(xt, T), xt - T[:, None] * u_hat)
    torch.testing.assert_close(losses.velocity_weight(sde, T), 1 / T**2)
    x = xt.clone().requires_grad_()  # at t = 1 (alpha = 0): finite values and gradients
    D(x, 1.0).sum().backward()
    assert torch.isfinite(x.grad).all()


@pytest.mark.parametrize("sde", PROCESSES, ids=repr)
def test_exact_velocity_denoiser_is_the_exact_denoiser(sde):
    """E[u | x_t] = alpha' E[x0|x_t] + sigma' E[eps|x_t] (Gaussian data, closed form): wrapped as a
    'velocity' Denoiser it gives the exact E[x0 | x_t], and it is the PF-ODE velocity."""
    xt = sample_t(sde, 0.0, 64, torch.Generator().manual_seed(2))
    exact = denoiser(sde)

    def u_exact(x, t):
        alpha, sigma, d_alpha, d_sigma = targets.coefficients(sde, t, x, rates=True)
        x0 = exact(x, t)
        return d_alpha * x0 + d_sigma * targets.eps_from_x0(x, x0, alpha, sigma)

    D = targets.Denoiser(u_exact, sde, "velocity")
    torch.testing.assert_close(D(xt, T), exact(xt, T))
    torch.testing.assert_close(samplers.pf_ode_velocity(D, sde)(xt, T), u_exact(xt, T))


def test_velocity_denoiser_at_t_zero_on_vp():
    """VP's sigma'(0) is infinite; at sigma = 0 the data is observed: x0_hat = x / alpha(0) = x."""
    D = targets.Denoiser(lambda x, t: torch.ones_like(x), processes.VP(), "velocity")
    x = torch.randn(8, 2, generator=g)
    torch.testing.assert_close(D(x, 0.0), x)


@pytest.mark.parametrize("prediction", targets.PREDICTIONS)
def test_denoiser_inverts_each_parameterisation(prediction):
    sde = processes.VP()
    coefs = targets.coefficients(sde, T, X0, rates=True)
    exact = targets.target(prediction, X0, EPS, *coefs)
    D = targets.Denoiser(lambda x, t: exact, sde, prediction)
    torch.testing.assert_close(D(sde.add_noise(X0, T, EPS), T), X0)


@pytest.mark.parametrize("sde", [processes.VP(), processes.Flow()], ids=repr)
def test_velocity_weighting_is_the_velocity_mse(sde):
    """dsm with velocity_weight == ||u_hat - u||^2 per dimension, u written out by hand; and
    velocity_weight = g^2 / 4 times the likelihood weighting g^2 alpha^2 / sigma^4."""
    W = torch.randn(2, 2, generator=g, dtype=torch.float64)
    t = T[:, None]
    xt = sde.alpha(t) * X0 + sde.sigma(t) * EPS
    u = sde.d_alpha(t) * X0 + sde.d_sigma(t) * EPS
    by_hand = ((xt @ W - u) ** 2).mean()
    D = targets.Denoiser(lambda x, t: x @ W, sde, "velocity")
    loss = losses.dsm(D, X0, sde=sde, weighting=losses.velocity_weight, t=T, eps=EPS)
    torch.testing.assert_close(loss, by_hand)
    torch.testing.assert_close(
        losses.velocity_weight(sde, T), sde.g2(T) / 4 * losses.likelihood_weight(sde, T)
    )


def test_native_weight_and_bad_prediction():
    assert losses.native_weight("velocity") is losses.velocity_weight
    assert losses.native_weight("eps") is losses.snr_weight
    for bad in (lambda: losses.native_weight("flow"),
                lambda: targets.Denoiser(torch.nn.Identity(), processes.VP(), "flow")):  # fmt: skip
        with pytest.raises(ValueError, match="prediction: expected one of .*'velocity'.*'flow'"):
            bad()
    alpha, sigma = targets.coefficients(processes.VP(), T, X0)
    with pytest.raises(ValueError, match="d_alpha, d_sigma: .*rates=True"):
        targets.to_x0("velocity", X0, EPS, alpha, sigma)


@pytest.mark.parametrize(
    "prediction, weighting",
    [
        ("eps", losses.snr_weight),
        ("v", losses.v_weight),
        ("x0", losses.x0_weight),
        ("velocity", losses.velocity_weight),
    ],
)
@pytest.mark.parametrize("sde", [processes.VP(), processes.VE(), processes.Flow()], ids=repr)
def test_native_loss_equals_weighted_x0_loss(prediction, weighting, sde):
    """||net - target||^2 in eps/v/x0 units == w(t) ||x0_hat - x0||^2 (Kingma & Gao 2023)."""
    W = torch.randn(2, 2, generator=g, dtype=torch.float64)

    def net(x, t):
        return x @ W + t[:, None]

    native = losses.native_mse(net, sde, X0, T, EPS, prediction)
    D = targets.Denoiser(net, sde, prediction)
    torch.testing.assert_close(
        losses.dsm(D, X0, sde=sde, weighting=weighting, t=T, eps=EPS), native
    )


def test_edm_denoiser_and_weight():
    """D recovers x0 from the exact F-target; lambda = 1/c_out^2 makes the x0 loss the F loss."""
    sde, sd = processes.VE(0.01, 10.0), 0.5
    xt = sde.add_noise(X0, T, EPS)
    s = sde.sigma(T)[:, None]
    c_skip, c_out = sd**2 / (s**2 + sd**2), s * sd / (s**2 + sd**2).sqrt()
    F_target = (X0 - c_skip * xt) / c_out
    D = targets.EDMDenoiser(lambda x, c_noise: F_target, sde, sd)
    torch.testing.assert_close(D(xt, T), X0)
    W = torch.randn(2, 2, generator=g, dtype=torch.float64)
    D = targets.EDMDenoiser(lambda x, c_noise: x @ W, sde, sd)
    F_loss = ((xt / (s**2 + sd**2).sqrt() @ W - F_target) ** 2).mean()
    loss = losses.dsm(
        D, X0, sde=sde, weighting=partial(losses.edm_weight, sigma_data=sd), t=T, eps=EPS
    )
    torch.testing.assert_close(loss, F_loss)


def test_edm_denoiser_on_vp_works_in_x_over_alpha():
    """On VP, D(x_t) = c_skip x~ + c_out F(c_in x~) with x~ = x_t / alpha and s = sigma / alpha
    (lesson 09 trains HDiT so): the exact F-target for that x~ recovers x0."""
    sde, sd = processes.VP(), 0.5
    xt = sde.add_noise(X0, T, EPS)
    alpha, s = sde.alpha(T)[:, None], (sde.sigma(T) / sde.alpha(T))[:, None]
    x_tilde = xt / alpha
    torch.testing.assert_close(x_tilde, X0 + s * EPS)  # x~ is VE's x at sigma = s
    c_skip, c_out = sd**2 / (s**2 + sd**2), s * sd / (s**2 + sd**2).sqrt()
    F_target = (X0 - c_skip * x_tilde) / c_out
    seen = {}

    def net(x, c_noise):
        seen.update(x=x, c_noise=c_noise)
        return F_target

    torch.testing.assert_close(targets.EDMDenoiser(net, sde, sd)(xt, T), X0)
    torch.testing.assert_close(seen["x"], x_tilde / (s**2 + sd**2).sqrt())
    torch.testing.assert_close(seen["c_noise"], s[:, 0].log() / 4)


def test_dsm_with_exact_denoiser_equals_irreducible_loss():
    """E||x0 - E[x0|x_t]||^2 = tr Cov[x0 | x_t] = tr(Sigma - alpha^2 Sigma C_t^-1 Sigma)."""
    sde, t, n = processes.VP(), 0.4, 100_000
    gen = torch.Generator().manual_seed(1)
    x0 = sample_t(sde, 0.0, n, gen)
    loss = losses.dsm(
        denoiser(sde),
        x0,
        sde=sde,
        weighting=losses.x0_weight,
        t=torch.full((n,), t, dtype=torch.float64),
        generator=gen,
    )
    alpha, sigma = coefs(sde, t)
    C = alpha**2 * SIGMA + sigma**2 * torch.eye(2, dtype=torch.float64)
    posterior = SIGMA - alpha**2 * SIGMA @ torch.linalg.solve(C, SIGMA)
    assert abs(loss.item() - torch.trace(posterior).item() / 2) < 0.01 * loss.item()


@pytest.mark.parametrize(
    "weighting",
    [
        losses.snr_weight,
        losses.v_weight,
        losses.likelihood_weight,
        losses.velocity_weight,
        losses.min_snr(5.0),
        partial(losses.edm_weight, sigma_data=0.5),
    ],
)
def test_dsm_gradcheck(weighting):
    sde = processes.VP()

    def loss_of(W):
        D = targets.Denoiser(lambda x, t: torch.tanh(x @ W), sde, "eps")
        return losses.dsm(D, X0[:8], sde=sde, weighting=weighting, t=T[:8], eps=EPS[:8])

    W = torch.randn(2, 2, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(loss_of, (W,))


def test_min_snr_caps_weight():
    sde = processes.VP()
    w = losses.min_snr(5.0)(sde, T)
    torch.testing.assert_close(
        w, torch.minimum(losses.snr_weight(sde, T), torch.tensor(5.0).double())
    )


def test_denoise_contract_errors():
    x, t = torch.zeros(3, 2), torch.full((3,), 0.5)
    with pytest.raises(FloatingPointError, match="denoiser"):
        targets.denoise(lambda x, t: x * float("nan"), x, t)
    with pytest.raises(ValueError, match="denoiser: returned shape"):
        targets.denoise(lambda x, t: x[:, :1], x, t)
    with pytest.raises(ValueError, match="dtype torch.float64, expected"):
        targets.denoise(lambda x, t: x.double(), x, t)
    with pytest.raises(TypeError, match="x: expected a floating-point tensor"):
        targets.denoise(lambda x, t: x, torch.zeros(3, 2, dtype=torch.long), t)
    with pytest.raises(ValueError, match="eps: expected shape"):
        processes.VP().add_noise(x, 0.5, torch.zeros(3, 2, dtype=torch.float64))
    with pytest.raises(ValueError, match="prediction"):
        targets.Denoiser(torch.nn.Identity(), processes.VP(), "score")
    with pytest.raises(ValueError, match="eps: expected shape"):
        losses.dsm(
            targets.Denoiser(lambda x, t: x, processes.VP()),
            x,
            sde=processes.VP(),
            eps=torch.zeros(3, 3),
        )


def test_edm_denoiser_at_t_zero_returns_x_not_nan():
    """At t = 0 (s = 0) EDM's c_skip = 1 and c_out = 0, so D(x) = x / alpha; log(s) must not
    feed -inf to the network (it did: the output was NaN)."""
    for sde in (processes.VP(), processes.SubVP()):  # sigma(0) = 0 (VE starts at sigma_min)
        D = targets.EDMDenoiser(lambda x, c_noise: x * c_noise[:, None], sde, 0.5)
        x = torch.randn(8, 2)
        torch.testing.assert_close(D(x, 0.0), x / sde.alpha(torch.zeros(())))


def test_soft_min_snr_is_a_smooth_min_and_edm_times_k_diffusions_factor():
    ve, vp, t, sd = processes.VE(), processes.VP(), torch.linspace(0.05, 0.95, 19), 0.5
    w, s = losses.soft_min_snr_weight(ve, t, sd), ve.sigma(t)
    assert (w <= torch.minimum(losses.snr_weight(ve, t), torch.tensor(1 / sd**2))).all()
    assert w[0] > 0.9 / sd**2 and w[-1] > 0.9 * losses.snr_weight(ve, t)[-1]  # the two limits
    s = vp.sigma(t) / vp.alpha(t)
    factor = (s * sd) ** 2 / (s**2 + sd**2) ** 2  # k-diffusion's, on EDM's preconditioned target
    torch.testing.assert_close(losses.soft_min_snr_weight(vp, t), losses.edm_weight(vp, t) * factor)


def test_dsm_draws_its_times_from_a_given_sampler():
    vp, x0 = processes.VP(), torch.randn(4, 2)
    fixed = lambda sde, n, generator=None: torch.full((n,), 0.3)  # noqa: E731
    net = lambda x, t: 0.5 * x  # noqa: E731
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    a = losses.dsm(net, x0, sde=vp, times=fixed, generator=g())
    b = losses.dsm(net, x0, sde=vp, t=torch.full((4,), 0.3), generator=g())
    torch.testing.assert_close(a, b)
    with pytest.raises(TypeError, match="times: expected a times"):
        losses.dsm(net, x0, sde=vp, times="cosine")
