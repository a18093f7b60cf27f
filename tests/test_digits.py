"""minidiff.data.digits: the fixed split, the upsampling (against an interpolation matrix)."""

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from minidiff.data import digits


def bilinear_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) 1-D linear interpolation, half-pixel centres, clamped (align_corners=False)."""
    A = np.zeros((n_out, n_in))
    for i in range(n_out):
        src = min(max((i + 0.5) * n_in / n_out - 0.5, 0.0), n_in - 1)
        lo = int(np.floor(src))
        hi, w = min(lo + 1, n_in - 1), src - lo
        A[i, lo] += 1 - w
        A[i, hi] += w
    return A


def test_shapes_dtypes_and_range():
    for split, n in [("train", 1497), ("test", 300), ("all", 1797)]:
        x, y = digits.load(split)
        assert x.shape == (n, 1, 16, 16) and x.dtype == torch.float32
        assert y.shape == (n,) and y.dtype == torch.int64
        assert x.min() >= -1 and x.max() <= 1
        assert x.min() == -1 and x.max() == 1  # sklearn's 0 and 16 both occur
        assert set(y.tolist()) == set(range(10))


def test_split_is_disjoint_covers_everything_and_is_stratified():
    train, test = digits.split_indices("train"), digits.split_indices("test")
    assert len(train) == 1497 and len(test) == 300
    assert not set(train.tolist()) & set(test.tolist())
    assert sorted(train.tolist() + test.tolist()) == list(range(1797))
    _, y_test = digits.load("test")
    assert torch.equal(torch.bincount(y_test), torch.full((10,), 30))


def test_class_balance_is_roughly_uniform():
    _, y = digits.load("train")
    counts = torch.bincount(y, minlength=10)
    assert counts.min() >= 140 and counts.max() <= 160, counts  # 1497 / 10 = 149.7


def test_deterministic_across_calls_and_not_a_shared_buffer():
    x1, y1 = digits.load("train")
    x1[:] = 0  # a caller editing its copy must not change the next load
    x2, y2 = digits.load("train")
    x3, y3 = digits.load("train")
    assert torch.equal(x2, x3) and torch.equal(y1, y2) and torch.equal(y2, y3)
    assert not torch.equal(x1, x2)
    assert torch.equal(digits.split_indices("test"), digits.split_indices("test"))


def test_images_are_sklearn_digits_upsampled():
    data = load_digits()
    index = digits.split_indices("test").numpy()
    A = bilinear_matrix(8, 16)
    want = np.einsum("ij,njk,lk->nil", A, data.images[index], A) / 8 - 1  # A X A^T, to [-1, 1]
    x, y = digits.load("test")
    np.testing.assert_allclose(x[:, 0].numpy(), want, atol=1e-5)
    np.testing.assert_array_equal(y.numpy(), data.target[index])


def test_upsampling_preserves_each_image_mean():
    """A 2x bilinear upsampling with clamped edges gives each input pixel a total weight of 2 per
    axis, so the mean intensity is preserved exactly (up to float rounding)."""
    images8 = torch.as_tensor(load_digits().images, dtype=torch.float32)[:, None]
    mean8 = (images8 / 8 - 1).mean((1, 2, 3))
    mean16 = digits.upsample(images8).mean((1, 2, 3))
    torch.testing.assert_close(mean16, mean8, atol=1e-5, rtol=0)


def test_bad_split_raises_naming_the_argument():
    for bad in ["val", "Train", None]:
        with pytest.raises(ValueError, match="split"):
            digits.load(bad)
