"""Lesson 10's recipes and studies: a bound condition is the conditional call; the ARAD and
square-only (centre-cropped) data hold what they say, and equal seeds start from equal weights;
the SR pairs hold the degraded image; the judge's labels are read from the segment map; the
composition check and the failure kinds on known images; the claims follow the measurements
(made-up results)."""

import pytest
import torch
import torch.nn.functional as F

from minidiff import buckets, samplers
from minidiff.data import scenes
from minidiff.experiments import aspect_buckets, tiled_sampling
from minidiff.nets.superres import upsample
from minidiff.recipes import anysize


def test_conditioned_is_the_conditional_call():
    net = lambda x, t, y: x * t[:, None] + y[:, None]  # noqa: E731
    x, t, y = torch.randn(3, 2), torch.rand(3), torch.arange(3.0)
    assert torch.equal(samplers.conditioned(net, y)(x, t), net(x, t, y))
    with pytest.raises(ValueError, match="cond: expected entries batched like x"):
        samplers.conditioned(net, y[:2])(x, t)


def test_composition_data():
    images, bucket = anysize.composition_data("arad", fast=True)
    assert bucket.bincount().tolist() == [32, 32, 32] and images.shape[-2:] == (48, 48)
    for k, (h, w) in enumerate(anysize.BUCKETS):  # each scene fills its bucket's size, no more
        mine = images[bucket == k]
        assert (mine[..., :h, :w].abs().flatten(1).amax(1) > 0).all()
        assert mine[..., h:, :].abs().sum() == 0 and mine[..., :, w:].abs().sum() == 0
    images, bucket = anysize.composition_data("crop", fast=True)
    assert images.shape == (96, 3, 32, 32) and (bucket == anysize.SQUARE).all()
    wide = scenes.generate(32, 32, 64, seed=anysize.SEEDS["buckets"]).images  # the 1:2 scenes
    assert torch.equal(images[:32], wide[..., 16:48])  # rendered 32 high, the centre kept
    count, cut = scenes.sun_components(images)
    assert ((count != 1) | cut).any()  # cropping loses or cuts some suns: what ARAD avoids


def test_arad_and_square_only_runs_start_from_the_same_weights():
    a = anysize.build_composition("arad", 1).model.state_dict()
    b = anysize.build_composition("crop", 1).model.state_dict()
    c = anysize.build_composition("arad", 2).model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_sr_pairs_hold_the_degraded_image():
    high = scenes.generate(2, 32, 64, seed=3).images
    pairs = anysize.sr_pairs(high)
    assert torch.equal(pairs[:, :3], high)
    assert torch.allclose(pairs[:, 3:], upsample(F.avg_pool2d(high, 2), 2))
    flat = torch.full((1, 3, 8, 8), 0.3)
    assert torch.allclose(anysize.sr_pairs(flat)[:, 3:], flat)  # a flat image loses nothing


def test_judge_labels_come_from_the_segment_map():
    images, labels = anysize._judge_crops(64, seed=5)
    assert images.shape == (64, 3, anysize.TILE, anysize.TILE)
    assert set(labels) == set(anysize.JUDGE_HEADS)
    sun = torch.tensor(scenes.RGB["sun"])[:, None, None] * 2 - 1
    near_sun = ((images - sun).norm(dim=1) < 0.1).flatten(1).sum(1)
    assert (near_sun[labels["sun"] == 0] < anysize.PRESENT).all()  # no sun: no sun pixels
    assert 0 < labels["sun"].sum() < 64 and 0 < labels["tree"].sum() < 64


def test_composed_and_failure_kinds():
    s = scenes.generate(4, 32, 32, seed=2).images
    two = torch.cat([s[:2], s[2:]], -1)  # two suns side by side
    sun = (torch.tensor(scenes.RGB["sun"]) * 2 - 1)[:, None, None]
    no_sun = torch.where((s[:1] - sun).norm(dim=1, keepdim=True) < 0.6, 0.0, s[:1])
    assert anysize.composed(s).all() and not anysize.composed(two).any()
    assert not anysize.composed(no_sun).any()
    kinds = aspect_buckets.failures(torch.cat([s[:2, :, :, :32], two[:, :, :, :32]]))
    assert kinds == dict(failed_pct=0.0, no_sun_pct=0.0, two_or_more_pct=0.0, cut_pct=0.0)
    assert aspect_buckets.failures(two)["two_or_more_pct"] == 100.0
    assert aspect_buckets.failures(no_sun)["no_sun_pct"] == 100.0


def made_up_composition(arad: list, square: list, flat=True) -> dict:
    curve = [20.0, 60.0, 80.0, 81.0, 80.0] if flat else [10.0, 20.0, 30.0, 40.0, 50.0]
    return {
        name: [{**{r: dict(failed_pct=v) for r in aspect_buckets.RATIOS},
                "steps": [1, 2, 3, 4, 5], "curve": curve} for v in values]
        for name, values in (("arad", arad), ("crop", square))
    }  # fmt: skip


def test_composition_claims_follow_the_seeds():
    verdicts = lambda raw: [c["holds"] for c in aspect_buckets.claims(raw)]  # noqa: E731
    assert verdicts(made_up_composition([4, 5, 6], [20, 24, 22])) == [True, True, True]
    assert verdicts(made_up_composition([9, 13, 14], [20, 24, 22])) == [False, False, True]
    assert verdicts(made_up_composition([4, 5, 6], [20, 4, 40])) == [False, False, True]
    assert verdicts(made_up_composition([4, 5, 6], [20, 24, 22], flat=False))[2] is False


def made_up_tiling(seams: dict, costs: dict) -> dict:
    offsets = [-0.01, 0.0, 0.01, 0.02]
    methods = {
        m: dict(seam_union=[seams[m] + e for e in offsets], seconds_per_canvas=costs[m],
                evaluations_per_canvas=costs[m])
        for m in tiled_sampling.METHODS
    }  # fmt: skip
    return dict(methods=methods)


def test_tiling_claims_follow_the_canvases():
    verdicts = lambda raw: [c["holds"] for c in tiled_sampling.claims(raw)]  # noqa: E731
    md = tiled_sampling.MD
    seams = {m: 1.0 for m in tiled_sampling.METHODS} | {"naive": 2.0, "FSTD": 1.05}
    costs = {m: 10.0 for m in tiled_sampling.METHODS} | {"naive": 2.0, "FSTD": 2.5, md: 8.0}
    assert verdicts(made_up_tiling(seams, costs)) == [True, True, True, True]
    assert verdicts(made_up_tiling(seams | {"FSTD": 1.2}, costs)) == [False, True, True, True]
    assert verdicts(made_up_tiling(seams | {"naive": 1.0}, costs))[1] is False
    assert verdicts(made_up_tiling(seams, costs | {"FSTD": 4.5})) == [True, True, False, True]


def test_whole_canvas_has_no_tile_lines():
    assert tiled_sampling.lines(None, 32, 64, 5) == (set(), set())
    wrapper = tiled_sampling.METHODS["naive"](anysize.build_tile())
    assert tiled_sampling.lines(wrapper, 32, 64, 5) == (set(), {32})


def test_buckets_of_the_study_are_the_librarys():
    assert anysize.BUCKETS == list(buckets.BUCKETS.values())
    assert set(anysize.WIDE) <= set(buckets.BUCKETS)
