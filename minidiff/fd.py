"""Distances between sets of image features: FD, KD, precision/recall, within-class spread,
condition accuracy.

Fréchet distance (Dowson & Landau 1982; as FID, Heusel et al. 2017), kernel distance (KID,
Bińkowski et al. 2018) and k-NN precision/recall (Kynkäänniemi et al. 2019), computed on the
features of minidiff's own classifier (nets/classifier.py), never Inception: call the numbers
"FD-<net>", not FID. Notable choices: all statistics in float64; FD's matrix square root from
`torch.linalg.eigh` of symmetric matrices (no scipy); FD and KD are biased by sample size, so
compare them only at equal n.
"""

import numpy as np
import torch

from .checks import check_generator, check_int, check_samples, check_tensor, describe

_CHUNK = 1024  # rows per block of pairwise distances, so memory stays O(_CHUNK * N)


def _features(x, name: str) -> torch.Tensor:
    """x as a float64 (N, D) tensor with N >= 2 finite rows, or a ValueError/TypeError naming it."""
    return check_samples(name, x, 2).detach().double()


def _pair(a, b, names=("features_a", "features_b")):
    a, b = _features(a, names[0]), _features(b, names[1])
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"{', '.join(names)}: expected equal D, got {a.shape[1]} and {b.shape[1]}")
    return a, b.to(a.device)


def _statistic(name: str, value, shape: tuple | None = None) -> torch.Tensor:
    """A mean or covariance as a finite float64 tensor of `shape` (None: a mean (D >= 1,))."""
    if not isinstance(value, torch.Tensor | np.ndarray | list | tuple):
        raise TypeError(f"{name}: expected a tensor, got {describe(value)}")
    value = torch.as_tensor(value).double()
    if not (value.shape == shape if shape else value.ndim == 1 and len(value) > 0):
        expected = f"shape {shape}" if shape else "a mean vector (D,)"
        raise ValueError(f"{name}: expected {expected}, got {describe(value)}")
    return check_tensor(name, value, min_ndim=0)


def _sqrtm_psd(cov: torch.Tensor) -> torch.Tensor:
    """Symmetric square root V diag(sqrt(w)) V^T; round-off negative eigenvalues count as 0."""
    w, V = torch.linalg.eigh((cov + cov.T) / 2)
    return (V * w.clamp(min=0).sqrt()) @ V.T


def frechet_distance(mu1, cov1, mu2, cov2) -> float:
    """FD = W_2^2 between N(mu1, cov1) and N(mu2, cov2) (Dowson & Landau 1982; Heusel et al. 2017):

    |mu1 - mu2|^2 + tr(cov1) + tr(cov2) - 2 tr sqrt(cov1^(1/2) cov2 cov1^(1/2)).
    The symmetric form has the same trace as sqrt(cov1 cov2) and real, non-negative eigenvalues.
    """
    mu1 = _statistic("mu1", mu1)
    dim = len(mu1)
    mu2, cov1 = _statistic("mu2", mu2, (dim,)), _statistic("cov1", cov1, (dim, dim))
    cov2 = _statistic("cov2", cov2, (dim, dim))
    root1 = _sqrtm_psd(cov1)
    middle = root1 @ cov2 @ root1
    tr_sqrt = torch.linalg.eigvalsh((middle + middle.T) / 2).clamp(min=0).sqrt().sum()
    return ((mu1 - mu2).square().sum() + cov1.trace() + cov2.trace() - 2 * tr_sqrt).item()


def mean_and_covariance(features) -> tuple[torch.Tensor, torch.Tensor]:
    """Sample mean (D,) and unbiased covariance (D, D) of (N, D) features, in float64."""
    x = _features(features, "features")
    return x.mean(0), torch.cov(x.T).reshape(x.shape[1], x.shape[1])


def fd(features_a, features_b) -> float:
    """Fréchet distance between Gaussians fitted to two (N, D) feature samples (biased ~ 1/N)."""
    a, b = _pair(features_a, features_b)
    return frechet_distance(*mean_and_covariance(a), *mean_and_covariance(b))


def _mmd2_unbiased(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Unbiased MMD^2, KID's k(x, y) = (x.y / D + 1)^3 (Bińkowski 2018)."""
    m, dim = x.shape

    def mean_k(a, b, same):
        k = (a @ b.T / dim + 1) ** 3
        return (k.sum() - k.diagonal().sum()) / (m * (m - 1)) if same else k.mean()

    return mean_k(x, x, True) + mean_k(y, y, True) - 2 * mean_k(x, y, False)


def kd(features_a, features_b, subsets=100, subset_size=None, generator=None):
    """Kernel distance (KID) -> (mean, std) of the unbiased MMD^2 over `subsets` random subsets of
    `subset_size` rows of each set, drawn without replacement (Bińkowski et al. 2018). KD is
    unbiased: about 0 for equal distributions at any n. subset_size=None: min(1000, N_a, N_b)."""
    a, b = _pair(features_a, features_b)
    subsets, limit = check_int("subsets", subsets, 1), min(len(a), len(b))
    subset_size = min(1000, limit) if subset_size is None else check_int("subset_size", subset_size)
    if not 2 <= subset_size <= limit:
        raise ValueError(f"subset_size: expected an int in [2, {limit}] (at most the smaller "
                         f"sample's size), got {subset_size}")  # fmt: skip
    check_generator("generator", generator, device="cpu")  # randperm draws on the CPU
    mmd2 = torch.stack(
        [
            _mmd2_unbiased(
                a[torch.randperm(len(a), generator=generator)[:subset_size].to(a.device)],
                b[torch.randperm(len(b), generator=generator)[:subset_size].to(a.device)],
            )
            for _ in range(subsets)
        ]
    )
    std = mmd2.std().item() if subsets > 1 else 0.0
    return mmd2.mean().item(), std


def _kth_neighbour_radius(x: torch.Tensor, k: int) -> torch.Tensor:
    """(N,) distance from each row to its k-th nearest other row (index 0 of topk is itself)."""
    blocks = [torch.cdist(x[i : i + _CHUNK], x) for i in range(0, len(x), _CHUNK)]
    return torch.cat([d.topk(k + 1, dim=1, largest=False).values[:, k] for d in blocks])


def _inside_manifold(query: torch.Tensor, support: torch.Tensor, radius: torch.Tensor):
    """(M,) bool: query row within radius[j] of some support row j (Kynkäänniemi et al., Eq. 1)."""
    blocks = [torch.cdist(query[i : i + _CHUNK], support) for i in range(0, len(query), _CHUNK)]
    return torch.cat([(d <= radius).any(dim=1) for d in blocks])


def precision_recall(real, fake, k: int = 3) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019, Eq. 1-2) -> (precision, recall).

    Each set's manifold is the union of balls around its points with radius the distance to the
    k-th nearest neighbour in the set. Precision: fraction of fake inside the real manifold
    (quality); recall: fraction of real inside the fake manifold (coverage).
    """
    real, fake = _pair(real, fake, ("real", "fake"))
    k = check_int("k", k, 1)
    if k >= min(len(real), len(fake)):
        raise ValueError(f"k: expected an int in [1, {min(len(real), len(fake)) - 1}] (each set "
                         f"needs more than k samples), got {k}")  # fmt: skip
    precision = _inside_manifold(fake, real, _kth_neighbour_radius(real, k))
    recall = _inside_manifold(real, fake, _kth_neighbour_radius(fake, k))
    return precision.double().mean().item(), recall.double().mean().item()


def within_class_spread(features, labels) -> float:
    """Diversity: the mean Euclidean distance between two features of the same class (all pairs
    i < j of a class), averaged over the classes, each class weighing the same; a class with one
    row has no pair and is left out. Compare samples' spread with real images' at the same class
    balance: guidance that collapses a class onto a few typical images lowers it.
    features (N, D); labels (N,) ints, at least one class with >= 2 rows."""
    x = _features(features, "features")
    labels = _labels(labels, "labels")
    if len(labels) != len(x):
        raise ValueError(f"labels: expected one label per row of features ({len(x)}), "
                         f"got {len(labels)}")  # fmt: skip
    classes, counts = labels.unique(return_counts=True)
    if not (counts >= 2).any():
        raise ValueError(f"labels: expected a class with >= 2 rows (a pair), got {len(labels)} "
                         f"labels in {len(classes)} classes")  # fmt: skip
    means = []
    for k in classes[counts >= 2]:
        members = x[(labels == k).to(x.device)]
        upper = torch.triu_indices(len(members), len(members), offset=1, device=x.device)
        means.append(torch.cdist(members, members)[upper[0], upper[1]].mean())
    return torch.stack(means).mean().item()


def _labels(value, name: str, n: int | None = None) -> torch.Tensor:
    """Integer labels (B,) as they are, or (if n is given) logits (B, K) -> argmax labels."""
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(value).__name__}")
    if n is not None and value.is_floating_point() and value.ndim == 2:
        value = value.argmax(dim=1)
    if value.ndim != 1 or value.is_floating_point() or n not in (None, len(value)):
        expected = "integer labels (B,)" if n is None else f"logits ({n}, K) or labels ({n},)"
        raise ValueError(f"{name}: expected {expected}, got {value.dtype} {tuple(value.shape)}")
    return value


def condition_accuracy(predictions: dict, targets: dict) -> dict:
    """{head: fraction of images whose predicted label equals the target}, over targets != -1.

    predictions: {head: logits (B, K) or labels (B,)}, e.g. a classifier's output on samples;
    targets: {head: labels (B,)}, the attributes the samples were conditioned on (-1: none given).
    A head with no target given scores nan.
    """
    if not isinstance(predictions, dict) or not isinstance(targets, dict):
        raise TypeError("predictions, targets: expected dicts of {head name: tensor}, got "
                        f"{type(predictions).__name__} and {type(targets).__name__}")  # fmt: skip
    if missing := sorted(set(targets) - set(predictions)):
        raise ValueError(f"predictions: no head {missing}, has {sorted(predictions)}")
    result = {}
    for head, target in targets.items():
        target = _labels(target, f"targets[{head!r}]")
        predicted = _labels(predictions[head], f"predictions[{head!r}]", len(target))
        given = target != -1
        correct = (predicted.to(target.device) == target)[given].double()
        result[head] = correct.mean().item() if given.any() else float("nan")
    return result
