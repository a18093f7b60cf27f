"""Aspect-ratio buckets (lesson 10): padding keeps every image and its bucket; the sampler draws
each minibatch from one bucket, buckets in proportion to their images, reproducibly; train.fit
drives it and the loss sees one size and its bucket label per step; nearest picks the bucket by
aspect ratio and refuses a canvas that fits none."""

import functools
import math

import pytest
import torch

from minidiff import buckets, train

SIZES = list(buckets.BUCKETS.values())


def groups(counts=(30, 50, 20)):
    g = torch.Generator().manual_seed(0)
    return [torch.randn(n, 3, h, w, generator=g) for n, (h, w) in zip(counts, SIZES)]


def test_pad_keeps_every_image_in_its_corner():
    images, bucket = buckets.pad(groups())
    assert images.shape == (100, 3, 48, 48) and bucket.tolist() == [0] * 30 + [1] * 50 + [2] * 20
    for k, g in enumerate(groups()):
        h, w = SIZES[k]
        torch.testing.assert_close(images[bucket == k][..., :h, :w], g)
        assert (images[bucket == k][..., h:, :] == 0).all()


def test_the_sampler_draws_one_bucket_per_minibatch_in_proportion():
    _, bucket = buckets.pad(groups())
    sampler, g = buckets.BucketSampler(bucket), torch.Generator().manual_seed(1)
    drawn = [sampler(100, 16, g) for _ in range(3000)]
    chosen = torch.tensor([int(bucket[idx[0]]) for idx in drawn])
    assert all(len(set(bucket[idx].tolist())) == 1 for idx in drawn)
    share, expected = torch.bincount(chosen, minlength=3) / 3000, torch.tensor([0.3, 0.5, 0.2])
    assert (share - expected).abs().max() < 4 * math.sqrt(0.25 / 3000)  # 4 binomial sd
    again = buckets.BucketSampler(bucket)(100, 16, torch.Generator().manual_seed(1))
    assert torch.equal(again, drawn[0])
    with pytest.raises(ValueError, match="n: expected the 100 examples"):
        sampler(99, 16, g)


def test_fit_drives_the_sampler_and_the_loss_sees_one_bucket():
    images, bucket = buckets.pad(groups())
    seen = []

    def loss_fn(model, x, label, generator=None):
        seen.append((tuple(x.shape[-2:]), set(label.tolist())))
        return (model(x.mean((1, 2, 3))[:, None]) ** 2).mean() + 0 * label.sum()

    model = torch.nn.Linear(1, 1)
    loss = buckets.bucketed(loss_fn, SIZES)
    train.fit(model, loss, (images, bucket), steps=30, batch_size=8, lr=1e-3,
              sampler=buckets.BucketSampler(bucket), checkpoint=None, progress=False)  # fmt: skip
    assert len(seen) == 30
    for shape, labels in seen:
        assert len(labels) == 1 and shape == SIZES[labels.pop()]
    with pytest.raises(ValueError, match="one bucket per minibatch"):
        loss(model, images[[0, 40]], bucket[[0, 40]])


def test_nearest_bucket_by_aspect_ratio():
    assert buckets.nearest(32, 64, SIZES) == 0 and buckets.nearest(64, 64, SIZES) == 1
    assert buckets.nearest(128, 48, SIZES) == 2
    with pytest.raises(ValueError, match="32x160 fits no bucket"):
        buckets.nearest(32, 160, SIZES)


def test_fit_refuses_a_sampler_that_is_not_callable():
    with pytest.raises(TypeError, match="sampler"):
        train.fit(torch.nn.Linear(1, 1), functools.partial(lambda m, x, generator=None: x.sum()),
                  torch.zeros(4, 1), steps=1, sampler=3)  # fmt: skip
