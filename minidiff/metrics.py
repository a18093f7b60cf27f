"""Sample-quality metrics for low-dimensional data with a known target.

Sliced Wasserstein-2 (Bonneel et al. 2015), unbiased RBF MMD^2 (Gretton et al. 2012), and mode
coverage / precision for Gaussian mixtures (the 2-D metrics of roadmap.md). Image metrics (FD on
in-house features) come with the image lessons.
"""

import torch

from .checks import check_float, check_generator, check_int, check_samples, describe


def _check_pair(x, y, names=("x", "y"), least: int = 1) -> None:
    """x (n, d) and y (m, d): finite samples of one dtype and dim, n and m >= least."""
    check_samples(names[0], x, least), check_samples(names[1], y, least)
    if x.dtype != y.dtype or x.shape[1] != y.shape[1]:
        raise ValueError(f"{names[1]}: expected the dtype and dim of {names[0]} "
                         f"({x.dtype}, d={x.shape[1]}), got {describe(y)}")  # fmt: skip


def sliced_wasserstein(x, y, projections: int = 256, generator=None) -> float:
    """SW_2 = sqrt(E_theta W_2^2(theta^T x, theta^T y)) over random unit directions theta.

    1-D W_2 compares sorted projections (quantiles when n != m).
    """
    _check_pair(x, y)
    projections = check_int("projections", projections, 1)
    check_generator("generator", generator, "cpu")
    theta = torch.randn(x.shape[1], projections, generator=generator, dtype=x.dtype)
    theta = theta / theta.norm(dim=0, keepdim=True)
    px, py = (x @ theta).sort(0).values, (y @ theta).sort(0).values
    if len(px) != len(py):
        q = torch.linspace(0, 1, max(len(px), len(py)), dtype=x.dtype)
        px, py = torch.quantile(px, q, dim=0), torch.quantile(py, q, dim=0)
    return ((px - py) ** 2).mean().sqrt().item()


def mmd_rbf(x, y, bandwidth: float = 0.5) -> float:
    """Unbiased MMD^2, k(a, b) = exp(-|a - b|^2 / (2 bandwidth^2)) (Gretton et al. 2012, Eq. 3)."""
    _check_pair(x, y, least=2)  # the unbiased estimate divides by n (n - 1)
    bandwidth = check_float("bandwidth", bandwidth, 0, open_low=True)

    def mean_k(a, b, same):
        k = torch.exp(-(torch.cdist(a, b) ** 2) / (2 * bandwidth**2))
        n = len(a)
        return (k.sum() - k.diagonal().sum()) / (n * (n - 1)) if same else k.mean()

    return (mean_k(x, x, True) + mean_k(y, y, True) - 2 * mean_k(x, y, False)).item()


def mode_coverage(x, means, stds, k_sigma: float = 3.0, min_fraction: float = 0.01):
    """(coverage, precision) for a mixture with isotropic component stds.

    coverage: fraction of modes holding >= min_fraction of the samples within k_sigma std;
    precision: fraction of samples within k_sigma std of some mode.
    """
    _check_pair(x, means, ("x", "means"))
    try:
        stds = torch.as_tensor(stds, dtype=x.dtype)
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(f"stds: expected a number or a tensor, got {describe(stds)}") from None
    if stds.ndim > 1 or stds.numel() not in (1, len(means)) or not bool((stds > 0).all()):
        raise ValueError(f"stds: expected one positive std or one per mode ({len(means)}), "
                         f"got {describe(stds)}")  # fmt: skip
    check_float("k_sigma", k_sigma, 0, open_low=True)
    check_float("min_fraction", min_fraction, 0, 1)
    dist = torch.cdist(x, means) / stds  # (n, K) in stds
    near = dist <= k_sigma
    coverage = (near.to(x.dtype).mean(0) >= min_fraction).to(x.dtype).mean().item()
    return coverage, near.any(1).to(x.dtype).mean().item()
