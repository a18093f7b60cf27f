"""Real handwritten digits: scikit-learn's 1,797 8x8 grey images, upsampled to 16x16.

The data is the test set of the UCI Optical Recognition of Handwritten Digits data (Alpaydin &
Kaynak 1998, CC BY 4.0), shipped inside scikit-learn, so nothing is downloaded. Notable choices:
* Upsampled 8x8 -> 16x16 by bilinear interpolation (align_corners=False), then 0..16 -> [-1, 1].
* One fixed, stratified split for the whole course: 30 images of each digit (300) are the test
  set, the other 1,497 the training set, chosen by a permutation seeded with the constant SEED.
"""

from functools import cache

import torch
import torch.nn.functional as F

SEED = 1797  # the split's seed; changing it changes every metric of the course
TEST_PER_CLASS = 30
NUM_CLASSES = 10
SIZE = 16
SPLITS = ("train", "test", "all")


def upsample(images8: torch.Tensor) -> torch.Tensor:
    """(N, 1, 8, 8) values 0..16 -> (N, 1, 16, 16) in [-1, 1], bilinear, align_corners=False.

    At 2x with clamped edges every input pixel's weights sum to 2 per axis, so each image keeps
    its mean intensity exactly.
    """
    x = F.interpolate(images8, size=(SIZE, SIZE), mode="bilinear", align_corners=False)
    return x / 8.0 - 1.0  # 0..16 -> -1..1; bilinear weights are convex, so the range holds


@cache
def _raw() -> tuple[torch.Tensor, torch.Tensor]:
    """All 1,797 images (N, 1, 8, 8) float32 in 0..16 and labels (N,) int64, in sklearn's order."""
    from sklearn.datasets import load_digits  # lazy: only lessons with digits pay the import

    data = load_digits()
    images = torch.as_tensor(data.images, dtype=torch.float32)[:, None]  # (N, 1, 8, 8)
    return images, torch.as_tensor(data.target, dtype=torch.int64)


def split_indices(split: str) -> torch.Tensor:
    """Sorted indices into sklearn's order of the images in `split` ("train", "test" or "all").

    Stratified: for each digit, a permutation of its images drawn from a generator seeded with
    SEED; the first TEST_PER_CLASS go to the test set.
    """
    if split not in SPLITS:
        raise ValueError(f"split: expected one of {SPLITS}, got {split!r}")
    labels = _raw()[1]
    if split == "all":
        return torch.arange(len(labels))
    generator = torch.Generator().manual_seed(SEED)
    test = []
    for k in range(NUM_CLASSES):
        members = torch.nonzero(labels == k).flatten()
        order = torch.randperm(len(members), generator=generator)
        test.append(members[order[:TEST_PER_CLASS]])
    is_test = torch.zeros(len(labels), dtype=torch.bool)
    is_test[torch.cat(test)] = True
    return torch.nonzero(is_test if split == "test" else ~is_test).flatten()


def load(split: str = "train") -> tuple[torch.Tensor, torch.Tensor]:
    """Images (N, 1, 16, 16) float32 in [-1, 1] and labels (N,) int64 in 0..9 of a split.

    split: "train" (1,497 images), "test" (300, 30 per digit) or "all" (1,797). Returns new
    tensors on the CPU; move them with `.to(device)`.
    """
    index = split_indices(split)
    images8, labels = _raw()
    return upsample(images8[index]), labels[index].clone()
