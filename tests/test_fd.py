"""FD, KD, precision/recall, within-class spread and condition accuracy against closed forms
and exact cases."""

import math

import numpy as np
import pytest
import scipy.linalg
import torch

from minidiff import fd


def random_cov(D, seed):
    g = torch.Generator().manual_seed(seed)
    A = torch.randn(D, D, generator=g, dtype=torch.float64)
    return A @ A.T / D + 0.1 * torch.eye(D, dtype=torch.float64)


def random_rotation(D, seed):
    g = torch.Generator().manual_seed(seed)
    Q, R = torch.linalg.qr(torch.randn(D, D, generator=g, dtype=torch.float64))
    return Q * torch.sign(torch.diagonal(R))  # a Haar-random orthogonal matrix


def gaussian(n, D, seed, shift=0.0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, D, generator=g, dtype=torch.float64) + shift


def test_fd_closed_form_for_diagonal_gaussians():
    """Diagonal covariances commute: FD = |mu1 - mu2|^2 + sum (sqrt(a) - sqrt(b))^2."""
    g = torch.Generator().manual_seed(0)
    mu1, mu2 = torch.randn(6, generator=g).double(), torch.randn(6, generator=g).double()
    a, b = torch.rand(6, generator=g).double() + 0.1, 3 * torch.rand(6, generator=g).double()
    expected = (mu1 - mu2).square().sum() + (a.sqrt() - b.sqrt()).square().sum()
    got = fd.frechet_distance(mu1, torch.diag(a), mu2, torch.diag(b))
    assert abs(got - expected.item()) < 1e-10


def test_fd_full_covariances_match_scipy_sqrtm():
    D = 7
    mu1, mu2 = gaussian(1, D, 1)[0], gaussian(1, D, 2)[0]
    c1, c2 = random_cov(D, 3).numpy(), random_cov(D, 4).numpy()
    covmean = scipy.linalg.sqrtm(c1 @ c2).real  # pytorch-fid's formula
    expected = np.sum((mu1 - mu2).numpy() ** 2) + np.trace(c1) + np.trace(c2) - 2 * covmean.trace()
    got = fd.frechet_distance(mu1, torch.from_numpy(c1), mu2, torch.from_numpy(c2))
    assert abs(got - expected) < 1e-8 and got > 0.1


def test_fd_is_rotation_invariant_symmetric_and_zero_for_equal_stats():
    D = 8
    mu1, mu2, c1, c2 = (
        gaussian(1, D, 5)[0],
        gaussian(1, D, 6)[0],
        random_cov(D, 7),
        random_cov(D, 8),
    )
    Q = random_rotation(D, 9)
    base = fd.frechet_distance(mu1, c1, mu2, c2)
    rotated = fd.frechet_distance(Q @ mu1, Q @ c1 @ Q.T, Q @ mu2, Q @ c2 @ Q.T)
    assert abs(rotated - base) < 1e-10 * max(1, base)
    assert abs(fd.frechet_distance(mu2, c2, mu1, c1) - base) < 1e-10
    assert abs(fd.frechet_distance(mu1, c1, mu1, c1)) < 1e-10


def test_fd_samples_are_rotation_and_translation_invariant():
    a, b = gaussian(300, 5, 0), gaussian(300, 5, 1) * 1.5
    Q, shift = random_rotation(5, 2), torch.linspace(-3, 3, 5, dtype=torch.float64)
    assert fd.fd(a @ Q.T + shift, b @ Q.T + shift) == pytest.approx(fd.fd(a, b), rel=1e-9)


def test_fd_of_two_samples_of_one_gaussian_shrinks_like_one_over_n():
    """E FD(same) ~ c / n: 10x more samples should give roughly 10x less (testing.md A4, 6)."""
    small = np.mean([fd.fd(gaussian(500, 8, s), gaussian(500, 8, s + 100)) for s in range(4)])
    large = np.mean([fd.fd(gaussian(5000, 8, s), gaussian(5000, 8, s + 100)) for s in range(4)])
    assert 0 < large < small < 0.2
    assert 4 < small / large < 25


def test_fd_grows_monotonically_with_added_noise():
    clean, reference = gaussian(2000, 8, 0), gaussian(2000, 8, 1)
    noise = gaussian(2000, 8, 2)
    values = [fd.fd(reference, clean + s * noise) for s in (0.0, 0.5, 1.0, 2.0)]
    assert all(x < y for x, y in zip(values, values[1:]))
    # sqrt(1 + s^2) scaling: the population FD is D (sqrt(1 + s^2) - 1)^2
    assert values[-1] == pytest.approx(8 * (math.sqrt(5) - 1) ** 2, rel=0.05)


def test_fd_float32_features_and_stats():
    a = gaussian(400, 4, 0).float()
    mu, cov = fd.mean_and_covariance(a)
    assert mu.dtype == cov.dtype == torch.float64 and cov.shape == (4, 4)
    torch.testing.assert_close(cov, torch.from_numpy(np.cov(a.double().numpy().T)))


def test_kd_is_unbiased_near_zero_and_positive_for_a_shift():
    a, b = gaussian(600, 16, 0), gaussian(600, 16, 1)
    g = torch.Generator().manual_seed(0)
    mean, std = fd.kd(a, b, subsets=50, subset_size=200, generator=g)
    assert abs(mean) < 3 * std
    shifted, shifted_std = fd.kd(a, b + 0.5, subsets=50, subset_size=200, generator=g)
    assert shifted > 3 * shifted_std + abs(mean) and shifted_std >= 0


def test_kd_equals_a_direct_unbiased_mmd_with_all_rows():
    """One subset of all rows (a permutation changes nothing) equals a loop-free numpy formula."""
    a, b = gaussian(40, 3, 0), gaussian(50, 3, 1)[:40] + 0.3
    mean, std = fd.kd(a, b, subsets=1, subset_size=40)
    x, y, m = a.numpy(), b.numpy(), 40

    def k(u, v):
        return (u @ v.T / 3 + 1) ** 3

    kxx, kyy = k(x, x), k(y, y)
    expected = (
        (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
        + (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
        - 2 * k(x, y).mean()
    )
    assert mean == pytest.approx(expected, rel=1e-12) and std == 0.0


def test_precision_recall_exact_cases():
    real = gaussian(200, 4, 0)
    assert fd.precision_recall(real, real.clone()) == (1.0, 1.0)
    assert fd.precision_recall(real, gaussian(200, 4, 1, shift=100.0)) == (0.0, 0.0)


def four_modes(n_per_mode, seed, modes=(0, 1, 2, 3)):
    centres = 20.0 * torch.eye(4, dtype=torch.float64)
    return torch.cat([centres[m] + gaussian(n_per_mode, 4, seed + m) for m in modes])


def test_precision_recall_when_half_the_modes_are_missing():
    real = four_modes(150, 0)
    # a subset of the real points: exact, precision 1 and recall 1/2
    assert fd.precision_recall(real, real[:300]) == (1.0, 0.5)
    # fresh samples of two modes: precision near 1, recall near 1/2
    precision, recall = fd.precision_recall(real, four_modes(150, 10, modes=(0, 1)))
    assert precision > 0.85 and 0.42 < recall <= 0.5  # modes 2, 3 are 20 std away


def test_within_class_spread_exact_pairs_and_class_weighting():
    x = torch.tensor([[0.0, 0.0], [3.0, 4.0], [9.0, 9.0], [10.0, 9.0], [9.0, 10.0]])
    labels = torch.tensor([0, 0, 1, 1, 1])
    # class 0: one pair at distance 5; class 1: 1, 1 and sqrt(2); each class weighs 1/2
    expected = (5 + (2 + math.sqrt(2)) / 3) / 2
    assert fd.within_class_spread(x, labels) == pytest.approx(expected, rel=1e-12)
    # invariant to moving a whole class, equivariant to scale, blind to the row order
    moved = x + 100.0 * (labels == 1)[:, None]
    assert fd.within_class_spread(moved, labels) == pytest.approx(expected, rel=1e-12)
    assert fd.within_class_spread(3 * x, labels) == pytest.approx(3 * expected, rel=1e-12)
    order = torch.tensor([4, 2, 0, 3, 1])
    assert fd.within_class_spread(x[order], labels[order]) == pytest.approx(expected, rel=1e-12)
    # a class of one row has no pair and is left out
    lonely = torch.cat([x, torch.tensor([[50.0, 50.0]])]), torch.cat([labels, torch.tensor([7])])
    assert fd.within_class_spread(*lonely) == pytest.approx(expected, rel=1e-12)


def test_within_class_spread_of_a_gaussian_matches_the_chi_mean():
    """x - y ~ N(0, 2 s^2 I_D) for iid x, y ~ N(0, s^2 I_D), so E|x - y| = 2 s G((D+1)/2) / G(D/2)
    (the mean of a chi distribution with D dof, times s sqrt 2)."""
    D, s = 8, 0.7
    x = s * gaussian(4000, D, 0)
    labels = torch.arange(4000) % 2
    expected = 2 * s * math.exp(math.lgamma((D + 1) / 2) - math.lgamma(D / 2))
    # sd of the estimate over seeds: 0.47 % (20 seeds); the bound is 4 sd
    assert fd.within_class_spread(x, labels) == pytest.approx(expected, rel=0.02)


def test_within_class_spread_bad_inputs():
    x = gaussian(6, 3, 0)
    with pytest.raises(ValueError, match="labels: expected one label per row"):
        fd.within_class_spread(x, torch.zeros(5, dtype=torch.long))
    with pytest.raises(ValueError, match=r"labels: expected a class with >= 2 rows \(a pair\)"):
        fd.within_class_spread(x, torch.arange(6))
    with pytest.raises(ValueError, match="labels"):
        fd.within_class_spread(x, torch.zeros(6))
    with pytest.raises(TypeError, match="labels"):
        fd.within_class_spread(x, [0, 0, 0, 1, 1, 1])
    with pytest.raises(ValueError, match="features"):
        fd.within_class_spread(x[0], torch.zeros(3, dtype=torch.long))


def test_condition_accuracy_ignores_missing_targets():
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0], [3.0, 0.0], [0.0, 5.0]])
    targets = {"side": torch.tensor([0, 0, -1, 1]), "colour": torch.tensor([2, 1, 0, -1])}
    predictions = {"side": logits, "colour": torch.tensor([2, 0, 0, 1])}
    got = fd.condition_accuracy(predictions, targets)
    assert got == {"side": pytest.approx(2 / 3), "colour": pytest.approx(2 / 3)}
    none_given = fd.condition_accuracy({"side": logits}, {"side": torch.full((4,), -1)})
    assert math.isnan(none_given["side"])


def test_bad_inputs_raise_naming_the_argument():
    a = gaussian(10, 3, 0)
    with pytest.raises(ValueError, match="features_b"):
        fd.fd(a, gaussian(10, 4, 1))
    with pytest.raises(ValueError, match="features_a"):
        fd.fd(a[0], a)
    with pytest.raises(TypeError, match="features_a"):
        fd.kd(a.numpy(), a)
    with pytest.raises(ValueError, match="features"):
        fd.fd(torch.ones(5, 3, dtype=torch.long), a)
    with pytest.raises(ValueError, match="cov2"):
        fd.frechet_distance(a[0], torch.eye(3), a[1], torch.eye(4))
    with pytest.raises(ValueError, match="subset_size"):
        fd.kd(a, a, subset_size=11)
    with pytest.raises(ValueError, match="subsets"):
        fd.kd(a, a, subsets=0)
    with pytest.raises(ValueError, match="k:"):
        fd.precision_recall(a, a, k=10)
    with pytest.raises(ValueError, match="fake"):
        fd.precision_recall(a, torch.full((10, 3), float("nan")))
    with pytest.raises(ValueError, match="predictions"):
        fd.condition_accuracy({}, {"side": torch.zeros(3, dtype=torch.long)})
    with pytest.raises(ValueError, match=r"targets\['side'\]"):
        fd.condition_accuracy({"side": torch.zeros(3, 2)}, {"side": torch.zeros(3)})
    with pytest.raises(ValueError, match=r"predictions\['side'\]"):
        fd.condition_accuracy({"side": torch.zeros(4, 2)}, {"side": torch.zeros(3, dtype=int)})
