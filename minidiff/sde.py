"""Forward noising processes x_t = alpha(t) x0 + sigma(t) eps, t in [0, 1].

Implements the VP, VE and sub-VP SDEs of Song et al. 2021 (Score-based generative modeling
through SDEs, Eq. 11, 9, 17) and the linear path of flow matching (Lipman et al. 2023).
Notable choices:
* Each process is defined by alpha(t), sigma(t) and their time derivatives; the SDE
  dx = f(t) x dt + g(t) dW follows from them (f = alpha'/alpha, g^2 = 2 sigma (sigma' - f sigma)).
* Every method takes t as a float or a tensor and broadcasts per-sample t against x.
"""

import math
import numbers
from dataclasses import dataclass

import torch

from .checks import (
    check_dtype,
    check_float,
    check_generator,
    check_shape,
    check_tensor,
    describe,
    values_checked,
)


def append_dims(v: torch.Tensor, ndim: int) -> torch.Tensor:
    """Append trailing singleton dims so a per-sample tensor (B,) broadcasts against (B, ...)."""
    if v.ndim > ndim:
        raise ValueError(f"append_dims: v has {v.ndim} dims, more than the target {ndim}")
    return v.reshape(*v.shape, *([1] * (ndim - v.ndim)))


def noise_like(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """N(0, I) noise shaped like x, drawn on the generator's device, returned on x's device."""
    device = x.device if check_generator("generator", generator) is None else generator.device
    return torch.randn(x.shape, generator=generator, dtype=x.dtype, device=device).to(x.device)


def as_time(t, x: torch.Tensor) -> torch.Tensor:
    """t as a (B,) tensor on x's device and dtype; checks 0 <= t <= 1 (checks.values_checked)."""
    check_tensor("x", x, finite=False)
    hint = "t is continuous time in [0, 1], not a step index (DDPM's step i of N is t = i/N)"
    if t is None or isinstance(t, bool | str) or torch.is_tensor(t) and not t.is_floating_point():
        raise TypeError(f"t: expected a float or a float tensor, got {describe(t)}; {hint}")
    number = isinstance(t, numbers.Real)
    if number and not 0 <= t <= 1:  # NaN fails too
        raise ValueError(f"t: expected values in [0, 1], got {describe(t)}; {hint}")
    t = torch.as_tensor(t, dtype=x.dtype, device=x.device)
    if t.ndim == 0:
        t = t.expand(x.shape[0])
    if t.shape != x.shape[:1]:
        raise ValueError(f"t: expected a float or a ({x.shape[0]},) tensor like x's batch, "
                         f"got {describe(t)}")  # fmt: skip
    if not number and values_checked(t) and not bool(((t >= 0) & (t <= 1)).all()):  # NaN too
        raise ValueError(f"t: expected values in [0, 1], got min {t.min():.4g}, "
                         f"max {t.max():.4g}; {hint}")  # fmt: skip
    return t


class SDE:
    """A linear forward SDE dx = f(t) x dt + g(t) dW with Gaussian marginals (alpha(t), sigma(t)).
    Subclasses define alpha, sigma, d_alpha, d_sigma on tensors of times."""

    def alpha(self, t: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def sigma(self, t: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def d_alpha(self, t: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def d_sigma(self, t: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def add_noise(self, x0: torch.Tensor, t, eps: torch.Tensor) -> torch.Tensor:
        """Sample the marginal q(x_t | x0) = N(alpha x0, sigma^2 I) with the given noise eps."""
        check_tensor("x0", x0, finite=values_checked(x0))
        if not torch.is_tensor(eps) or eps.shape != x0.shape or eps.dtype != x0.dtype:
            raise ValueError(f"eps: expected shape {tuple(x0.shape)} and dtype {x0.dtype} like x0, "
                             f"got {describe(eps)}")  # fmt: skip
        t = append_dims(as_time(t, x0), x0.ndim)
        return self.alpha(t) * x0 + self.sigma(t) * eps

    def f(self, t: torch.Tensor) -> torch.Tensor:
        """Drift coefficient f(t) = d log alpha / dt, so that drift(x, t) = f(t) x."""
        return self.d_alpha(t) / self.alpha(t)

    def g2(self, t: torch.Tensor) -> torch.Tensor:
        """Squared diffusion g(t)^2 = d sigma^2/dt - 2 f sigma^2 (matches the marginal variance)."""
        sigma = self.sigma(t)
        return 2 * sigma * (self.d_sigma(t) - self.f(t) * sigma)

    def drift(self, x: torch.Tensor, t) -> torch.Tensor:
        return append_dims(self.f(as_time(t, x)), x.ndim) * x

    def diffusion(self, t: torch.Tensor) -> torch.Tensor:
        return self.g2(t).clamp(min=0).sqrt()

    def prior_sample(self, shape, generator=None, dtype=None, device=None) -> torch.Tensor:
        """x_1 ~ N(0, (alpha(1)^2 s^2 + sigma(1)^2) I), treating data as having scale s ~ 0."""
        shape, dtype = check_shape("shape", shape), check_dtype("dtype", dtype)
        generator = check_generator("generator", generator, device)
        std = self.sigma(torch.tensor(1.0, dtype=torch.float64)).item()
        return std * torch.randn(shape, generator=generator, dtype=dtype, device=device)

    def prior_logp(self, x: torch.Tensor) -> torch.Tensor:
        """log N(x; 0, sigma(1)^2 I), summed over all but the batch dim."""
        check_tensor("x", x)
        var = self.sigma(torch.tensor(1.0, dtype=torch.float64)).item() ** 2
        d = x[0].numel()
        return -0.5 * (x.flatten(1) ** 2).sum(1) / var - 0.5 * d * math.log(2 * math.pi * var)

    def log_snr(self, t: torch.Tensor) -> torch.Tensor:
        """lambda(t) = log(alpha^2 / sigma^2), decreasing in t."""
        return 2 * (self.alpha(t).log() - self.sigma(t).log())

    def t_from_log_snr(self, lam: torch.Tensor) -> torch.Tensor:
        """Inverse of log_snr (closed form per process)."""
        raise NotImplementedError


def _solve_quadratic_time(B: torch.Tensor, beta_min: float, beta_max: float) -> torch.Tensor:
    """t >= 0 solving beta_min t + (beta_max - beta_min) t^2 / 2 = B (the integrated beta)."""
    d = beta_max - beta_min
    if d == 0:
        return B / beta_min
    return (-beta_min + (beta_min**2 + 2 * d * B).sqrt()) / d


@dataclass(frozen=True)
class VP(SDE):
    """Variance preserving: dx = -beta(t) x / 2 dt + sqrt(beta(t)) dW (Song et al. 2021, Eq. 11).

    beta(t) = beta_min + t (beta_max - beta_min); alpha = exp(-B/2), sigma^2 = 1 - alpha^2 with
    B(t) = int_0^t beta. The continuous limit of DDPM (Ho et al. 2020).
    """

    beta_min: float = 0.1
    beta_max: float = 20.0

    def __post_init__(self):  # 0 <= beta_min <= beta_max, beta_max > 0
        beta_max = check_float("beta_max", self.beta_max, 0, open_low=True)
        check_float("beta_min", self.beta_min, 0, beta_max)

    def beta(self, t):
        return self.beta_min + t * (self.beta_max - self.beta_min)

    def B(self, t):
        return self.beta_min * t + 0.5 * (self.beta_max - self.beta_min) * t**2

    def alpha(self, t):
        return torch.exp(-0.5 * self.B(t))

    def sigma(self, t):
        return torch.sqrt(-torch.expm1(-self.B(t)))

    def d_alpha(self, t):
        return -0.5 * self.beta(t) * self.alpha(t)

    def d_sigma(self, t):
        return 0.5 * self.beta(t) * self.alpha(t) ** 2 / self.sigma(t)

    def g2(self, t):
        return self.beta(t)  # the generic formula is 0 * inf at t = 0

    def t_from_log_snr(self, lam):
        return _solve_quadratic_time(
            torch.nn.functional.softplus(-lam), self.beta_min, self.beta_max
        )


@dataclass(frozen=True)
class VE(SDE):
    """Variance exploding: dx = sigma(t) sqrt(2 ln(s_max/s_min)) dW (Song et al. 2021, Eq. 9).

    alpha = 1, sigma(t) = sigma_min (sigma_max / sigma_min)^t (the NCSN noise levels).
    """

    sigma_min: float = 0.01
    sigma_max: float = 10.0

    def __post_init__(self):  # 0 < sigma_min < sigma_max
        sigma_max = check_float("sigma_max", self.sigma_max, 0, open_low=True)
        check_float("sigma_min", self.sigma_min, 0, sigma_max, open_low=True, open_high=True)

    def alpha(self, t):
        return torch.ones_like(t)

    def sigma(self, t):
        return self.sigma_min * (self.sigma_max / self.sigma_min) ** t

    def d_alpha(self, t):
        return torch.zeros_like(t)

    def d_sigma(self, t):
        return self.sigma(t) * math.log(self.sigma_max / self.sigma_min)

    def t_from_log_snr(self, lam):
        return torch.log(torch.exp(-0.5 * lam) / self.sigma_min) / math.log(
            self.sigma_max / self.sigma_min
        )


@dataclass(frozen=True)
class SubVP(VP):
    """Sub-VP: same drift as VP, g^2 = beta(t) (1 - exp(-2B)) (Song et al. 2021, Eq. 17).

    alpha = exp(-B/2), sigma = 1 - exp(-B): the variance stays below the VP one at every t.
    """

    def sigma(self, t):
        return -torch.expm1(-self.B(t))

    def d_sigma(self, t):
        return self.beta(t) * self.alpha(t) ** 2

    def g2(self, t):
        return self.beta(t) * -torch.expm1(-2 * self.B(t))

    def t_from_log_snr(self, lam):
        r = torch.exp(-0.5 * lam)  # sigma / alpha
        alpha = 0.5 * (-r + torch.sqrt(r**2 + 4))  # alpha^2 + r alpha - 1 = 0
        return _solve_quadratic_time(-2 * alpha.log(), self.beta_min, self.beta_max)


@dataclass(frozen=True)
class Flow(SDE):
    """Linear path x_t = (1 - t) x0 + t eps (rectified flow / flow matching, Lipman et al. 2023).

    As an SDE: f = -1/(1 - t), g^2 = 2t / (1 - t), singular at t = 1 where alpha = 0; the
    probability-flow ODE has the bounded velocity eps - x0.
    """

    def alpha(self, t):
        return 1 - t

    def sigma(self, t):
        return t

    def d_alpha(self, t):
        return -torch.ones_like(t)

    def d_sigma(self, t):
        return torch.ones_like(t)

    def t_from_log_snr(self, lam):
        return torch.sigmoid(-0.5 * lam)
