"""Lesson 11's 2-D recipes: every variant gets as many generator steps (DMD2's ratio multiplies
the iterations), snapshots end at the last iteration, a fast build fills the learning curve and
the running statistic, bad variants are refused."""

import pytest
import torch

from minidiff import zoo
from minidiff.recipes import matching


def test_every_variant_gets_the_same_generator_steps():
    for variant, v in matching.TOY_VARIANTS.items():
        iterations, snapshots = matching.toy_schedule(variant, fast=False)
        assert iterations == matching.TOY_G_STEPS * v["ratio"]
        assert len(snapshots) == matching.TOY_POINTS and snapshots[-1] == iterations
        assert snapshots == sorted(set(snapshots))
    assert matching.toy_schedule("dmd2", False)[0] == 5 * matching.toy_schedule("dmd", False)[0]


def test_a_fast_build_fills_its_curve_and_trace(tmp_path):
    run = zoo.load(matching.toy_runs["dmd2"][0], fast=True, progress=False, root=tmp_path)
    iterations, snapshots = matching.toy_schedule("dmd2", fast=True)
    assert run.steps[: len(snapshots)].tolist() == snapshots
    assert all(0 <= m <= 25 for m in run.modes.tolist())
    assert bool((run.trace[:10] != 0).all()) and bool((run.trace[10:] == 0).all())
    z = torch.randn(8, 2)
    assert run.G(z, torch.ones(8)).shape == (8, 2)


def test_a_bad_variant_is_refused():
    with pytest.raises(ValueError, match="variant: expected one of"):
        matching.build_toy_run("dm_plus", 0)
