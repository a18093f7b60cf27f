"""Lesson 07's equal-compute comparison: the pixel budgets are the counted training FLOPs of the
latent model, the curves measure at them, latent seed 0's build is latent_t2i's, and the claims
follow made-up seeds (Welch verdicts either way)."""

import pytest
import torch

from minidiff.experiments import latent_space
from minidiff.recipes import latent


@pytest.fixture(scope="module")
def flops():
    return latent_space.training_flops()


def test_pixel_budgets_are_the_latent_models_counted_training_flops(flops):
    assert latent.EQUAL_COMPUTE["unet"] == round(flops["pixel_steps_equal_unet"])
    assert latent.EQUAL_COMPUTE["total"] == round(flops["pixel_steps_equal_total"])
    per = flops["per_image"]
    assert flops["latent_unet"] == latent.LATENT_STEPS * latent.BATCH * per["latent_step"]
    assert flops["latent_total"] == flops["latent_unet"] + flops["autoencoder"] + flops["encoding"]
    # one pixel step costs about 16x a latent step: 16x the positions, 3 channels instead of 4
    assert 12 < per["pixel_step"] / per["latent_step"] < 20


def test_the_curves_measure_at_the_equal_compute_steps():
    pixel = latent.curve_steps("pixel", False)
    for which, point in latent_space.POINTS.items():
        assert pixel[point] == latent.EQUAL_COMPUTE[which]
    assert latent.curve_steps("latent", False)[-1] == latent.LATENT_STEPS
    for space in latent.SPACE_SEEDS:
        full, fast = latent.curve_steps(space, False), latent.curve_steps(space, True)
        assert len(full) == len(fast) == len(latent.build_space_run(space, 1).steps)
        assert full == sorted(set(full)) and fast == sorted(set(fast))


def test_latent_seed_0_would_be_latent_t2i():
    run, t2i = latent.build_space_run("latent", 0).model.state_dict(), latent.build_latent_t2i()
    assert run.keys() == t2i.state_dict().keys()
    assert all(torch.equal(run[k], v) for k, v in t2i.state_dict().items())
    other = latent.build_space_run("latent", 1).model.state_dict()
    assert not all(torch.equal(other[k], v) for k, v in run.items() if v.is_floating_point())


def made_up(latent_end: float, pixel: list[float]) -> dict:
    """3 seeds per space, ±1 apart: latent curves flat at latent_end; pixel's 6 points."""
    curve = lambda end, e: [end - 20, end - 10, end + e, end - e, end + e, end - e, end, end + e]  # noqa: E731
    return dict(
        latent=[dict(seed=s, steps=[3000], curve=[latent_end + e]) if s == 0 else
                dict(seed=s, steps=list(range(8)), curve=curve(latent_end, e))
                for s, e in enumerate((-1.0, 0.0, 1.0))],
        pixel=[dict(seed=s, steps=list(range(6)), curve=[p + e for p in pixel])
               for s, e in enumerate((-1.0, 0.0, 1.0))],
        lesson06=[dict(seed=s, steps=[4000], curve=[80 + e]) for s, e in enumerate((-1, 0, 1))],
    )  # fmt: skip


def test_claims_follow_the_seeds():
    verdicts = lambda raw: [c["holds"] for c in latent_space.claims(raw)]  # noqa: E731
    assert verdicts(made_up(90, [10, 20, 30, 40, 50, 60])) == [True, True, True]
    # pixel catches up by equal total compute: the second claim fails
    assert verdicts(made_up(90, [10, 20, 30, 60, 80, 90])) == [True, False, True]
    assert verdicts(made_up(40, [10, 60, 70, 80, 90, 95])) == [False, False, True]
    rising = made_up(90, [10, 20, 30, 40, 50, 60])
    for run in rising["latent"][1:]:
        run["curve"] = [10.0 * i for i in range(8)]  # still climbing: not converged
    assert verdicts(rising)[2] is False


def test_the_table_counts_each_rows_training_flops(flops):
    raw = made_up(90, [10, 20, 30, 40, 50, 60])
    raw["pixel"] = [dict(r, steps=[94, 188, 287, 386, 484, 583]) for r in raw["pixel"]]
    raw["latent"][-1]["steps"] = latent.curve_steps("latent", False)
    rows = {r["model"].split(",")[-1]: r for r in latent_space.table(raw, flops)}
    assert rows["latent (8x8x4)"]["unet_TFLOPs"] == pytest.approx(flops["latent_unet"] / 1e12)
    equal = rows[" equal UNet compute"]["unet_TFLOPs"]
    assert equal == pytest.approx(flops["latent_unet"] / 1e12, rel=0.01)
    total = rows[" equal total compute"]["with_autoencoder_TFLOPs"]
    assert total == pytest.approx(flops["latent_total"] / 1e12, rel=0.01)
    assert rows["latent (8x8x4)"]["accuracy_pct"] == "90 ± 1"
