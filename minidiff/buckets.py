"""Aspect-ratio buckets (ARAD, Zheng et al. 2024; SDXL's multi-aspect training): one model
trained on images of several shapes at about the same area, each minibatch from one bucket, and
told which bucket it is drawing.

train.fit needs tensors with one first dimension, so `pad` stores every image in the top-left
corner of one (N, C, H_max, W_max) tensor beside its bucket index; `BucketSampler` is fit's
`sampler` (a bucket with probability proportional to its images, then a minibatch from it); and
`bucketed(loss_fn, sizes)` crops the minibatch back to its bucket's size and passes the bucket
index on as the model's class label. At sampling time, `nearest(height, width, sizes)` picks the
bucket whose aspect ratio is closest to the canvas asked for (in log ratio, as ARAD does).
"""

import math

import torch

from .checks import check_int

BUCKETS = {"1:2": (24, 48), "1:1": (32, 32), "2:1": (48, 24)}  # height x width, about 1,024 px
MAX_RATIO_GAP = 1.5  # nearest(): how far a canvas's aspect ratio may be from its bucket's


def pad(groups: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """groups[k]: the images (N_k, C, H_k, W_k) of bucket k -> (images padded with zeros to the
    largest height and width, top-left aligned; bucket index (N,) int64)."""
    height = max(g.shape[-2] for g in groups)
    width = max(g.shape[-1] for g in groups)
    out = groups[0].new_zeros(sum(len(g) for g in groups), groups[0].shape[1], height, width)
    index, start = torch.empty(len(out), dtype=torch.long), 0
    for k, g in enumerate(groups):
        out[start : start + len(g), :, : g.shape[-2], : g.shape[-1]] = g
        index[start : start + len(g)] = k
        start += len(g)
    return out, index


class BucketSampler:
    """train.fit's sampler: draw a bucket with probability N_k / N, then batch_size of its
    examples uniformly with replacement. bucket: (N,) bucket index of each example."""

    def __init__(self, bucket: torch.Tensor):
        self.bucket = torch.as_tensor(bucket, dtype=torch.long).cpu()
        self.members = [torch.nonzero(self.bucket == k).flatten()
                        for k in range(int(self.bucket.max()) + 1)]  # fmt: skip
        self.counts = torch.tensor([len(m) for m in self.members], dtype=torch.float64)

    def __call__(self, n: int, batch_size: int, generator) -> torch.Tensor:
        if n != len(self.bucket):
            raise ValueError(f"n: expected the {len(self.bucket)} examples the sampler was made "
                             f"for, got {n}")  # fmt: skip
        k = int(torch.multinomial(self.counts, 1, generator=generator))
        members = self.members[k]
        return members[torch.randint(len(members), (batch_size,), generator=generator)]


def bucketed(loss_fn, sizes: list[tuple[int, int]]):
    """loss(model, images, bucket, *rest, generator) = loss_fn(model, images cropped to the
    batch's bucket size, *rest, bucket, generator): the bucket index becomes the last
    condition (a class label; cfg_dsm's `null` then needs one entry more)."""

    def loss(model, images, bucket, *rest, generator=None):
        k = int(bucket[0])
        if not bool((bucket == k).all()):
            raise ValueError("bucket: expected one bucket per minibatch; pass "
                             "sampler=BucketSampler(bucket) to train.fit")  # fmt: skip
        height, width = sizes[k]
        return loss_fn(model, images[..., :height, :width], *rest, bucket, generator=generator)

    return loss


def nearest(height: int, width: int, sizes: list[tuple[int, int]]) -> int:
    """The index of the bucket whose aspect ratio is closest to height : width (in log ratio);
    a canvas more than MAX_RATIO_GAP times off every bucket's ratio fits none (ValueError)."""
    height, width = check_int("height", height, 1), check_int("width", width, 1)
    gaps = [abs(math.log(height / width) - math.log(h / w)) for h, w in sizes]
    if min(gaps) > math.log(MAX_RATIO_GAP):
        ratios = ", ".join(f"{h}x{w}" for h, w in sizes)
        raise ValueError(f"height, width: {height}x{width} fits no bucket: expected an aspect "
                         f"ratio within {MAX_RATIO_GAP}x of one of {ratios}")  # fmt: skip
    return gaps.index(min(gaps))
