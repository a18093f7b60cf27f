"""Lesson 09's quality study: every architecture's budget is HDiT's counted training FLOPs, an
ablation differs from HDiT only in what it ablates (same initial weights, same batch order), the
judge reads real images as labelled, and the claims follow made-up seeds either way."""

import pytest
import torch

from minidiff.data import shapes
from minidiff.experiments import hdit_quality as bench
from minidiff.nets import classifier
from minidiff.recipes import hdit


@pytest.fixture(scope="module")
def flops():
    return bench.step_flops()


def test_each_architecture_gets_hdits_training_flops(flops):
    budget = hdit.STEPS["hdit"] * flops["hdit"]
    for name in hdit.NAMES:
        assert hdit.STEPS[hdit.arch(name)] == round(budget / flops[name])
    # the matched DiT pays for global attention over 256 tokens: about 2.7x HDiT per step
    assert 2 < flops["dit"] / flops["hdit"] < 3.5


def test_the_three_architectures_are_parameter_matched():
    params = {n: sum(p.numel() for p in hdit.build_run(n, 0).parameters()) for n in hdit.NAMES}
    assert max(params.values()) / min(params.values()) < 1.1


def test_an_ablation_starts_where_hdit_starts():
    base = hdit.build_run("hdit", 1).model.state_dict()
    uniform = hdit.build_run("hdit_uniform", 1).model.state_dict()
    add = hdit.build_run("hdit_add", 1).model.state_dict()
    assert all(torch.equal(uniform[k], v) for k, v in base.items())
    lerp_factors = {k for k in base if k.endswith(".fac")}
    assert lerp_factors and set(base) - set(add) == lerp_factors
    assert all(torch.equal(add[k], base[k]) for k in add)
    other = hdit.build_run("hdit", 2).model.state_dict()
    assert not all(torch.equal(other[k], v) for k, v in base.items() if v.numel() > 1)


def test_the_ablations_change_what_they_name():
    assert hdit.loss_fn("hdit").keywords["weighting"] is hdit.WEIGHTINGS["soft_min_snr"]
    assert hdit.loss_fn("hdit_uniform").keywords["weighting"] is hdit.WEIGHTINGS["uniform"]
    assert hdit.build_net("hdit_add").config["skip"] == "add"
    assert hdit.build_net("hdit").config["skip"] == "lerp"


def test_labels_are_shape_times_colours_plus_colour():
    data = shapes.generate(50, 32, seed=5, max_objects=1)
    y = hdit.labels(data)
    assert torch.equal(y // len(shapes.COLOURS), data.labels["shape"])
    assert torch.equal(y % len(shapes.COLOURS), data.labels["colour"])
    assert int(y.max()) < hdit.CLASSES


def test_right_asks_the_judge_at_16_pixels_for_shape_and_colour(monkeypatch):
    data = shapes.generate(6, 32, seed=hdit.SEEDS["test"], max_objects=1)
    read = dict(data.labels, colour=data.labels["colour"].clone(), size=1 - data.labels["size"])
    read["colour"][0] = (read["colour"][0] + 1) % len(shapes.COLOURS)  # one wrong colour

    def predict(judge_net, images):
        assert images.shape[-2:] == (16, 16)
        return read

    monkeypatch.setattr(classifier, "predict", predict)
    assert hdit.right(None, data.images, data).tolist() == [False] + [True] * 5  # size ignored


def test_a_bad_run_name_names_the_ones_that_exist():
    with pytest.raises(ValueError, match="hdit_uniform"):
        hdit.build_run("hdit_concat", 0)


def made_up(fd: dict, flat: bool = True) -> dict:
    """3 seeds per name, FD given per name (seed offsets -1, 0, +1, shared by all names, so the
    paired ablation differences have no spread); curves flat or climbing."""
    rising = [10.0 * i for i in range(8)]
    curve = [10.0, 40.0, 60.0, 59.0, 61.0, 60.0, 59.0, 61.0] if flat else rising
    return {
        name: [dict(fd=fd[name] + e, accuracy_pct=50.0 + e, steps=list(range(1, 9)),
                    curve=[c + e for c in curve]) for e in (-1.0, 0.0, 1.0)]
        for name in hdit.NAMES
    }  # fmt: skip


def test_claims_follow_the_seeds():
    verdicts = lambda raw: [c["holds"] for c in bench.claims(raw)]  # noqa: E731
    good = dict(hdit=5.0, dit=9.0, unet=6.0, hdit_add=5.5, hdit_uniform=8.0)
    assert verdicts(made_up(good)) == [True, True, True, True]
    # HDiT's FD within the DiT's seed spread: "at most" still holds; equal ablations: soft-min
    # SNR does not beat uniform
    tied = dict(good, dit=5.5, hdit_uniform=5.0)
    assert verdicts(made_up(tied)) == [True, True, False, True]
    worse = dict(good, dit=2.0, hdit_add=3.0)
    assert verdicts(made_up(worse)) == [False, False, True, True]
    assert verdicts(made_up(good, flat=False))[3] is False
    at_chance = made_up(good)
    at_chance["unet"] = [dict(r, curve=[c / 10 for c in r["curve"]]) for r in at_chance["unet"]]
    assert verdicts(at_chance)[3] is False  # flat, but at chance: not converged
