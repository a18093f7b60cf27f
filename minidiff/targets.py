"""What a network predicts, and the denoiser every sampler calls: denoiser(x, t) -> x0_hat.

Notation (x_t = alpha x0 + sigma eps, Kingma et al. 2021; Salimans & Ho 2022):
    x0 -> x_0,  eps -> epsilon,  v = alpha eps - sigma x0,  score = grad log p_t = -eps / sigma,
    velocity u = alpha' x0 + sigma' eps = d x_t / dt (flow matching, Lipman et al. 2023; = eps - x0
    on the linear path), snr = alpha^2 / sigma^2.  EDM (Karras et al. 2022) works with x / alpha
    and sigma / alpha.
Notable choices: the network's parameterisation (eps, x0, v or velocity) is a property of the
Denoiser wrapper, never of a sampler; samplers only see x0_hat (k-diffusion's contract).
"""

import torch
from torch import nn

from .checks import (
    check_callable,
    check_choice,
    check_float,
    check_instance,
    check_tensor,
    describe,
)
from .sde import SDE, append_dims, as_time

PREDICTIONS = ("eps", "x0", "v", "velocity")


def eps_from_x0(xt, x0, alpha, sigma):
    return (xt - alpha * x0) / sigma


def x0_from_eps(xt, eps, alpha, sigma):
    return (xt - sigma * eps) / alpha


def v_from_x0_eps(x0, eps, alpha, sigma):
    """v = alpha eps - sigma x0 (Salimans & Ho 2022, Sec. 4)."""
    return alpha * eps - sigma * x0


def x0_from_v(xt, v, alpha, sigma):
    """Inverts v: alpha xt - sigma v = (alpha^2 + sigma^2) x0, finite even where alpha = 0."""
    return (alpha * xt - sigma * v) / (alpha**2 + sigma**2)


def velocity_from_x0_eps(x0, eps, d_alpha, d_sigma):
    """u = alpha' x0 + sigma' eps: the conditional velocity d x_t / dt of flow matching (Lipman et
    al. 2023, Thm. 3 for Gaussian paths); eps - x0 on the linear path alpha = 1 - t, sigma = t."""
    return d_alpha * x0 + d_sigma * eps


def x0_from_velocity(xt, u, alpha, sigma, d_alpha, d_sigma):
    """Inverts u: sigma' xt - sigma u = (sigma' alpha - sigma alpha') x0 (= x0 on the linear path,
    where the bracket is 1). Where sigma = 0, xt = alpha x0 exactly (VP's sigma' is inf there)."""
    x0 = (d_sigma * xt - sigma * u) / (d_sigma * alpha - sigma * d_alpha)
    observed = sigma == 0  # the other branch's alpha is 1: no inf (nor NaN gradient) at alpha = 0
    return torch.where(observed, xt / torch.where(observed, alpha, 1.0), x0)


def eps_from_velocity(xt, u, alpha, sigma, d_alpha, d_sigma):
    """Inverts u for eps: alpha u - alpha' xt = (sigma' alpha - sigma alpha') eps."""
    return (alpha * u - d_alpha * xt) / (d_sigma * alpha - sigma * d_alpha)


def score_from_x0(xt, x0, alpha, sigma):
    """Tweedie: grad log p_t(xt) = (alpha E[x0 | xt] - xt) / sigma^2 (Efron 2011)."""
    return (alpha * x0 - xt) / sigma**2


def x0_from_score(xt, score, alpha, sigma):
    return (xt + sigma**2 * score) / alpha


def check_prediction(prediction: str) -> str:
    return check_choice("prediction", prediction, PREDICTIONS)


def _rates(d_alpha, d_sigma):
    if d_alpha is None or d_sigma is None:
        raise ValueError(
            "d_alpha, d_sigma: the 'velocity' prediction needs the process's rates "
            "alpha'(t), sigma'(t); pass coefficients(sde, t, x, rates=True)"
        )
    return d_alpha, d_sigma


def target(prediction: str, x0, eps, alpha, sigma, d_alpha=None, d_sigma=None):
    """The regression target of a network that predicts `prediction` (velocity needs the rates)."""
    if check_prediction(prediction) == "velocity":
        return velocity_from_x0_eps(x0, eps, *_rates(d_alpha, d_sigma))
    if prediction == "eps":
        return eps
    return x0 if prediction == "x0" else v_from_x0_eps(x0, eps, alpha, sigma)


def to_x0(prediction: str, xt, out, alpha, sigma, d_alpha=None, d_sigma=None):
    """x0_hat from a network output `out` that predicts `prediction` (velocity needs the rates)."""
    if check_prediction(prediction) == "velocity":
        return x0_from_velocity(xt, out, alpha, sigma, *_rates(d_alpha, d_sigma))
    if prediction == "eps":
        return x0_from_eps(xt, out, alpha, sigma)
    return out if prediction == "x0" else x0_from_v(xt, out, alpha, sigma)


def coefficients(sde: SDE, t, x: torch.Tensor, rates: bool = False):
    """alpha(t), sigma(t) (and alpha'(t), sigma'(t) if rates) as tensors broadcastable against x."""
    check_instance("sde", sde, SDE, "VP()")
    t = append_dims(as_time(t, x), x.ndim)
    if rates:
        return sde.alpha(t), sde.sigma(t), sde.d_alpha(t), sde.d_sigma(t)
    return sde.alpha(t), sde.sigma(t)


def denoise(denoiser, x: torch.Tensor, t, *cond) -> torch.Tensor:
    """Call denoiser(x, t) and check the contract: same shape as x, all values finite (if not, a
    non-finite x is reported as the caller's bad input, not as the denoiser's fault)."""
    check_callable("denoiser", denoiser, "a denoiser(x, t) such as a targets.Denoiser")
    t = as_time(t, x)
    x0_hat = denoiser(x, t, *cond)
    if not torch.is_tensor(x0_hat):
        raise TypeError(f"denoiser: returned a {type(x0_hat).__name__}, expected a tensor like x")
    if x0_hat.shape != x.shape or x0_hat.dtype != x.dtype:
        raise ValueError(
            f"denoiser: returned shape {tuple(x0_hat.shape)} and dtype {x0_hat.dtype}, "
            f"expected {tuple(x.shape)} and {x.dtype} like x"
        )
    if not torch.isfinite(x0_hat).all():
        check_tensor("x", x)  # only on failure: no host sync when all is well
        raise FloatingPointError(f"denoiser: returned NaN/inf at t={t.max().item():.4g}")
    return x0_hat


def _check_dtype(x: torch.Tensor, net) -> None:
    """x must have the dtype of net's weights (if net is an nn.Module that has any)."""
    weight = next(net.parameters(), None) if isinstance(net, nn.Module) else None
    if weight is not None and weight.is_floating_point() and x.dtype != weight.dtype:
        raise TypeError(f"x: expected {weight.dtype} like the network's weights, got {describe(x)}"
                        f"; cast one, e.g. x.to({weight.dtype}) or net.to({x.dtype})")  # fmt: skip


class Denoiser(nn.Module):
    """Wraps net(x, t, *cond) that predicts eps, x0, v or velocity into denoiser(x, t, *cond) ->
    x0_hat (the Denoiser's `prediction`; one of PREDICTIONS)."""

    def __init__(self, net: nn.Module, sde: SDE, prediction: str = "eps"):
        super().__init__()
        check_callable("net", net, "a network net(x, t)")
        check_instance("sde", sde, SDE, "VP()")
        self.net, self.sde, self.prediction = net, sde, check_prediction(prediction)
        net_config = getattr(net, "config", {})
        self.config = dict(
            net=type(net).__name__, **net_config, prediction=prediction, sde=repr(sde)
        )

    def forward(self, x, t, *cond):
        coefs = coefficients(self.sde, t, x, rates=self.prediction == "velocity")
        _check_dtype(x, self.net)
        return to_x0(self.prediction, x, self.net(x, as_time(t, x), *cond), *coefs)


class EDMDenoiser(nn.Module):
    """EDM preconditioning (Karras et al. 2022, Table 1) on any process, in x/alpha coordinates.

    D(x, t) = c_skip x~ + c_out F(c_in x~, c_noise) with x~ = x / alpha, s = sigma / alpha,
    c_skip = sd^2/(s^2+sd^2), c_out = s sd/sqrt(s^2+sd^2), c_in = 1/sqrt(s^2+sd^2),
    c_noise = ln(s)/4.
    """

    def __init__(self, net: nn.Module, sde: SDE, sigma_data: float = 0.5):
        super().__init__()
        check_callable("net", net, "a network net(x, c_noise)")
        check_instance("sde", sde, SDE, "VE()")
        check_float("sigma_data", sigma_data, 0, open_low=True)
        self.net, self.sde, self.sigma_data = net, sde, sigma_data
        net_config = getattr(net, "config", {})
        self.config = dict(
            net=type(net).__name__, **net_config, edm_sigma_data=sigma_data, sde=repr(sde)
        )

    def forward(self, x, t, *cond):
        alpha, sigma = coefficients(self.sde, t, x)
        _check_dtype(x, self.net)
        s, sd = sigma / alpha, self.sigma_data
        c_skip = sd**2 / (s**2 + sd**2)
        c_out = s * sd / (s**2 + sd**2).sqrt()
        c_in = 1 / (s**2 + sd**2).sqrt()
        c_noise = s.flatten(1)[:, 0].clamp(min=torch.finfo(s.dtype).tiny).log() / 4  # s = 0: t = 0
        x_tilde = x / alpha
        return c_skip * x_tilde + c_out * self.net(c_in * x_tilde, c_noise, *cond)


def edm_loss_weight(s: torch.Tensor, sigma_data: float = 0.5) -> torch.Tensor:
    """lambda(s) = 1 / c_out^2 (Karras et al. 2022, Eq. 8 and Table 1), s = sigma / alpha."""
    check_float("sigma_data", sigma_data, 0, open_low=True)
    return (s**2 + sigma_data**2) / (s * sigma_data) ** 2
