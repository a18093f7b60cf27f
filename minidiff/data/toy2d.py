"""Two-dimensional toy data; Gaussian mixtures come with their exact noised densities.

For x_t = alpha x0 + sigma eps, a GaussianMixture gives p_t, its score and the exact denoiser
E[x0 | x_t] in closed form (Tweedie's formula, Efron 2011; the toy example of Karras et al. 2024,
EDM2): the oracles that samplers and losses are tested against. Notable choices:
* Each component is used in its eigenbasis Sigma_k = U_k diag(lam_k) U_k^T, where the noised
  covariance alpha^2 Sigma_k + sigma^2 I is diagonal, so nothing is inverted per sample.
* Presets have per-coordinate std near 1 (VP-friendly); moons, swiss_roll, checkerboard: samples.
"""

import math
import numbers

import torch

from minidiff.checks import check_float, check_generator, check_tensor, describe
from minidiff.sde import as_time


def _check_positive(name: str, value, integer: bool = False):
    """value must be a positive (finite) int or number, numpy's too; returns it as int or float."""
    ok = isinstance(value, numbers.Integral if integer else numbers.Real)
    if isinstance(value, bool) or not ok or not 0 < value < math.inf:
        kind = "int" if integer else "number"
        raise ValueError(f"{name}: expected a positive {kind}, got {describe(value)}")
    return int(value) if integer else float(value)


def _check_sampling(n, generator, device="cpu") -> int:
    """n a positive int (returned as an int); generator None or a torch.Generator on `device`."""
    check_generator("generator", generator, device)
    return _check_positive("n", n, integer=True)


def _check_sde(sde):
    """sde must be a process instance such as sde.VP() (anything with alpha(t) and sigma(t))."""
    if isinstance(sde, type) or not (hasattr(sde, "alpha") and hasattr(sde, "sigma")):
        hint = f"; call it: {sde.__name__}()" if isinstance(sde, type) else ""
        raise TypeError(f"sde: expected a process such as sde.VP(), got {describe(sde)}{hint}")
    return sde


class GaussianMixture:
    """p(x0) = sum_k w_k N(x0; mu_k, Sigma_k), with its noised marginals
    p_t(x) = sum_k w_k N(x; alpha mu_k, alpha^2 Sigma_k + sigma^2 I) (Song et al. 2021, App. B).

    weights (K,) positive, normalised to sum to 1; means (K, d); covs (K, d, d) symmetric positive
    definite. dtype and device follow `means`; methods cast the parameters to their input's.
    """

    def __init__(self, weights, means, covs):
        means = check_tensor("means", torch.as_tensor(means), min_ndim=2)  # floating and finite
        if means.ndim != 2:
            raise ValueError(f"means: expected shape (K, d), got {tuple(means.shape)}")
        K, d = means.shape
        weights = torch.as_tensor(weights, dtype=means.dtype, device=means.device)
        covs = torch.as_tensor(covs, dtype=means.dtype, device=means.device)
        if weights.shape != (K,):
            raise ValueError(
                f"weights: expected shape ({K},) like means, got {tuple(weights.shape)}"
            )
        if not bool(torch.all((weights > 0) & (weights < math.inf))):
            raise ValueError(f"weights: expected finite weights > 0, got {weights.tolist()}")
        if covs.shape != (K, d, d) or not bool(torch.isfinite(covs).all()):
            raise ValueError(f"covs: expected finite matrices, shape ({K}, {d}, {d}), got "
                             f"{describe(covs)}")  # fmt: skip
        if not torch.allclose(covs, covs.mT):
            raise ValueError("covs: expected symmetric matrices, got non-symmetric covariances")
        lam, U = torch.linalg.eigh(covs)  # (K, d), (K, d, d)
        if not bool(torch.all(lam > 0)):
            bad = torch.nonzero(lam.min(1).values <= 0).flatten().tolist()
            raise ValueError(f"covs: expected positive definite matrices; components {bad} are not")
        self.weights, self.means, self.covs = weights / weights.sum(), means, covs
        self.lam, self.U = lam, U

    def _check_x(self, x):
        d = self.means.shape[1]
        if not isinstance(x, torch.Tensor) or not x.is_floating_point():
            raise TypeError(f"x: expected a floating-point tensor of shape (n, {d}), got {x!r:.80}")
        if x.ndim != 2 or x.shape[1] != d:
            raise ValueError(f"x: expected shape (n, {d}), got {tuple(x.shape)}")
        return x

    def _coefficients(self, x, t, sde):
        t, sde = as_time(t, self._check_x(x)), _check_sde(sde)
        return sde.alpha(t), sde.sigma(t)

    def _components(self, x, alpha, sigma):
        """log(w_k N_k(x)) (n, K), z = U_k^T (x - alpha mu_k) (n, K, d), and the variances of z."""
        means, lam, U, w = (p.to(x) for p in (self.means, self.lam, self.U, self.weights))
        a = alpha[:, None, None]  # (n, 1, 1)
        z = torch.einsum("kde,nkd->nke", U, x[:, None, :] - a * means)  # (n, K, d)
        var = a**2 * lam + sigma[:, None, None] ** 2  # (n, K, d)
        log_wN = w.log() - 0.5 * (z**2 / var + torch.log(2 * math.pi * var)).sum(-1)
        return log_wN, z, var

    def sample(self, n: int, generator=None, return_labels: bool = False):
        """n samples (n, d); with return_labels also the component index of each (n,)."""
        n = _check_sampling(n, generator, self.means.device)
        k = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        eps = torch.randn(
            n,
            self.means.shape[1],
            generator=generator,
            dtype=self.means.dtype,
            device=self.means.device,
        )
        x = self.means[k] + torch.einsum("nde,ne->nd", self.U[k], self.lam[k].sqrt() * eps)
        return (x, k) if return_labels else x

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """log p(x0) (n,) for x of shape (n, d)."""
        ones = self._check_x(x).new_ones(len(x))
        return torch.logsumexp(self._components(x, ones, 0 * ones)[0], dim=1)

    def log_prob_t(self, x: torch.Tensor, t, sde) -> torch.Tensor:
        """log p_t(x) (n,) at time t (a float or an (n,) tensor) under the process `sde`."""
        alpha, sigma = self._coefficients(x, t, sde)
        return torch.logsumexp(self._components(x, alpha, sigma)[0], dim=1)

    def score(self, x: torch.Tensor, t, sde) -> torch.Tensor:
        """grad_x log p_t(x) = -sum_k r_k C_k^{-1} (x - alpha mu_k), with C_k = alpha^2 Sigma_k +
        sigma^2 I and responsibilities r_k = p(k | x_t) (closed form, Song et al. 2021)."""
        alpha, sigma = self._coefficients(x, t, sde)
        log_wN, z, var = self._components(x, alpha, sigma)
        r = torch.softmax(log_wN, dim=1)[..., None]  # (n, K, 1)
        return -torch.einsum("kde,nke->nd", self.U.to(x), r * z / var)

    def posterior_mean(self, x: torch.Tensor, t, sde) -> torch.Tensor:
        """E[x0 | x_t = x] = sum_k r_k (mu_k + alpha Sigma_k C_k^{-1} (x - alpha mu_k)).

        Equals Tweedie's (x + sigma^2 score) / alpha (Efron 2011; Karras et al. 2024, EDM2 toy).
        """
        alpha, sigma = self._coefficients(x, t, sde)
        log_wN, z, var = self._components(x, alpha, sigma)
        r = torch.softmax(log_wN, dim=1)[..., None]  # (n, K, 1)
        shrink = alpha[:, None, None] * self.lam.to(x) * z / var  # (n, K, d), eigenbasis
        x0_k = self.means.to(x) + torch.einsum("kde,nke->nkd", self.U.to(x), shrink)
        return (r * x0_k).sum(1)

    def denoiser(self, sde):
        """The exact denoiser(x, t) -> x0_hat = E[x0 | x_t = x] under `sde` (library contract)."""
        _check_sde(sde)

        def denoiser(x, t):
            return self.posterior_mean(x, t, sde)

        return denoiser

    def marginal(self, sde, t: float) -> "GaussianMixture":
        """p_t at a scalar t: the GaussianMixture of alpha mu_k and alpha^2 Sigma_k + sigma^2 I."""
        _check_sde(sde)
        t = torch.as_tensor(t, dtype=self.means.dtype, device=self.means.device)
        if t.ndim != 0 or not 0 <= t.item() <= 1:
            raise ValueError(f"t: expected a float in [0, 1], got {t.tolist()}")
        alpha, sigma = sde.alpha(t), sde.sigma(t)
        eye = torch.eye(self.means.shape[1], dtype=self.means.dtype, device=self.means.device)
        covs = alpha**2 * self.covs + sigma**2 * eye
        return GaussianMixture(self.weights, alpha * self.means, covs)


def ring(k: int = 8, radius: float = 1.4, std: float = 0.1, dtype=torch.float32) -> GaussianMixture:
    """k equal isotropic Gaussians evenly spaced on a circle (the classic ring of 8).

    Per-coordinate variance is radius^2 / 2 + std^2 (for k >= 3): about 1 with the defaults.
    """
    k = _check_positive("k", k, integer=True)
    radius, std = _check_positive("radius", radius), _check_positive("std", std)
    angle = 2 * math.pi * torch.arange(k, dtype=dtype) / k
    means = radius * torch.stack([angle.cos(), angle.sin()], dim=1)  # (k, 2)
    covs = std**2 * torch.eye(2, dtype=dtype).expand(k, 2, 2)
    return GaussianMixture(torch.ones(k, dtype=dtype), means, covs)


def grid(
    side: int = 5, spacing: float = 0.7, std: float = 0.1, dtype=torch.float32
) -> GaussianMixture:
    """side x side equal isotropic Gaussians on a square grid centred at 0 (5 x 5 = 25 modes).

    Per-coordinate variance is spacing^2 (side^2 - 1) / 12 + std^2: about 1 with the defaults.
    """
    side = _check_positive("side", side, integer=True)
    spacing, std = _check_positive("spacing", spacing), _check_positive("std", std)
    ticks = spacing * (torch.arange(side, dtype=dtype) - (side - 1) / 2)
    means = torch.cartesian_prod(ticks, ticks).reshape(side * side, 2)  # (side^2, 2)
    covs = std**2 * torch.eye(2, dtype=dtype).expand(side * side, 2, 2)
    return GaussianMixture(torch.ones(side * side, dtype=dtype), means, covs)


def correlated(dtype=torch.float32) -> GaussianMixture:
    """Two unequally weighted Gaussians with full (non-diagonal) covariances: a test case where
    nothing factorises per coordinate."""
    means = torch.tensor([[-1.0, 0.5], [1.0, -0.5]], dtype=dtype)
    covs = torch.tensor([[[0.5, 0.3], [0.3, 0.4]], [[0.3, -0.2], [-0.2, 0.6]]], dtype=dtype)
    return GaussianMixture(torch.tensor([0.3, 0.7], dtype=dtype), means, covs)


def _noisy(x, noise, generator):
    noise = check_float("noise", noise, 0)
    return x + noise * torch.randn(x.shape, generator=generator)


def moons(n: int, noise: float = 0.05, generator=None) -> torch.Tensor:
    """Two interleaving half circles (as sklearn's make_moons, with uniform random angles).

    Centred and scaled by one factor (shape kept) to per-coordinate std about (1.2, 0.7);
    `noise` is the std of Gaussian noise added afterwards.
    """
    n = _check_sampling(n, generator)
    theta = math.pi * torch.rand(n, generator=generator)
    upper = torch.rand(n, generator=generator) < 0.5
    outer = torch.stack([theta.cos(), theta.sin()], dim=1)
    inner = torch.stack([1 - theta.cos(), 0.5 - theta.sin()], dim=1)
    x = torch.where(upper[:, None], outer, inner)
    return _noisy((x - torch.tensor([0.5, 0.25])) / 0.7, noise, generator)


def swiss_roll(n: int, noise: float = 0.05, generator=None) -> torch.Tensor:
    """The 2-D swiss roll (s cos s, s sin s), s ~ U(1.5 pi, 4.5 pi), as sklearn's make_swiss_roll.

    Centred at its exact mean (2, 2 / (3 pi)) and scaled by 1 / 6.8 to per-coordinate std about 1;
    `noise` is the std of Gaussian noise added afterwards.
    """
    n = _check_sampling(n, generator)
    s = 1.5 * math.pi * (1 + 2 * torch.rand(n, generator=generator))
    x = torch.stack([s * s.cos(), s * s.sin()], dim=1)
    return _noisy((x - torch.tensor([2.0, 2 / (3 * math.pi)])) / 6.8, noise, generator)


def checkerboard(n: int, generator=None) -> torch.Tensor:
    """Uniform on the 8 black cells of a 4 x 4 checkerboard (FFJORD's toy, Grathwohl et al. 2019).

    Cells have side sqrt(3) / 2, so each coordinate is uniform on [-sqrt(3), sqrt(3)]: std 1.
    """
    n = _check_sampling(n, generator)
    x1 = 4 * torch.rand(n, generator=generator)  # column coordinate in [0, 4)
    row = 2 * torch.randint(0, 2, (n,), generator=generator) + x1.floor() % 2  # col + row even
    x2 = row + torch.rand(n, generator=generator)
    return (torch.stack([x1, x2], dim=1) - 2) * (math.sqrt(3) / 2)
