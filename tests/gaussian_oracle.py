"""Closed forms for Gaussian data x0 ~ N(mu, Sigma), written independently of minidiff.

Used as the reference for sampler, likelihood and loss tests (float64 throughout).
"""

import torch

MU = torch.tensor([1.5, -0.5], dtype=torch.float64)
SIGMA = torch.tensor([[0.25, 0.3], [0.3, 4.0]], dtype=torch.float64)  # full covariance


def coefs(sde, t):
    t = torch.as_tensor(t, dtype=torch.float64)
    return sde.alpha(t), sde.sigma(t)


def cov_t(sde, t):
    alpha, sigma = coefs(sde, t)
    return alpha**2 * SIGMA + sigma**2 * torch.eye(2, dtype=torch.float64)


def log_prob_t(sde, x, t):
    """log N(x; alpha mu, alpha^2 Sigma + sigma^2 I) for a scalar t."""
    alpha, _ = coefs(sde, t)
    return torch.distributions.MultivariateNormal(alpha * MU, cov_t(sde, t)).log_prob(x)


def sample_t(sde, t, n, generator):
    alpha, _ = coefs(sde, t)
    chol = torch.linalg.cholesky(cov_t(sde, t))
    z = torch.randn(n, 2, generator=generator, dtype=torch.float64)
    return alpha * MU + z @ chol.T


def denoiser(sde):
    """E[x0 | x_t = x] = mu + alpha Sigma C_t^{-1} (x - alpha mu), per-sample t.

    In Sigma's eigenbasis (Sigma = V diag(w) V^T) the gain is alpha w / (alpha^2 w + sigma^2).
    """
    w, V = torch.linalg.eigh(SIGMA)

    def D(x, t):
        alpha, sigma = (c[:, None] for c in coefs(sde, t))
        gain = alpha * w / (alpha**2 * w + sigma**2)  # (B, 2)
        return MU + ((x - alpha * MU) @ V * gain) @ V.T

    return D


def _sqrtm(A):
    w, V = torch.linalg.eigh(A)
    return V @ torch.diag(w.sqrt()) @ V.T


def flow_map(sde, x1, t1, t0):
    """The exact probability-flow map x_{t1} -> x_{t0}: x_t = alpha mu + C_t^{1/2} C_1^{-1/2} (...).

    All C_t share Sigma's eigenvectors, so the linear PF-ODE solution is this product of roots.
    """
    a1, _ = coefs(sde, t1)
    a0, _ = coefs(sde, t0)
    A = _sqrtm(cov_t(sde, t0)) @ torch.linalg.inv(_sqrtm(cov_t(sde, t1)))
    return a0 * MU + (x1 - a1 * MU) @ A.T
