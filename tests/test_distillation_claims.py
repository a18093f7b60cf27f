"""Lesson 08's seed measurements: the snapshot chosen on validation captions, the caption splits,
and the claims' verdicts on per-seed scores built to satisfy them (and to break them)."""

from minidiff.experiments import distillation_seeds as ds
from minidiff.experiments import text_to_image as t2i_bench
from minidiff.recipes import distill

SNAPSHOTS = 5


def score(fd, accuracy=95.0):
    return dict(fd=fd, accuracy_pct=accuracy)


def seed_raw(seed, pd_1=3.4, ufogen=2.9, drift=1.5, teacher_8=2.70, pd_8=2.75, spread_pd=6.0):
    """One seed's scores: jitter by seed so that sds are non-zero."""
    j = 0.01 * seed
    out = {("teacher", n): score(2.68 + j if n > 1 else 11.0 + j) for n in ds.TEACHER_AT}
    out["teacher", 8] = score(teacher_8 + j)
    out |= {("pd", n): score(2.7 + j) for n in distill.ROUNDS}
    out["pd", 8], out["pd", 1] = score(pd_8 + 2 * j), score(pd_1 + 2 * j)
    for name in ds.VARIANTS:  # best validation FD at snapshot 2, worse after
        for i in range(SNAPSHOTS):
            fd = ufogen + j + (0 if i == 2 else drift * abs(i - 2) / 2)
            out[name, i], out[name, i, "val"] = score(fd), score(fd + 0.05)
    out["spread", "teacher_8"], out["spread", "pd_1"] = 6.0 + j, spread_pd + j
    out["spread", "pretrained_d"] = out["spread", "random_d"] = 5.9 + j
    return out


def verdicts(raw):
    return [c["holds"] for c in ds.claims(raw)]


def test_chosen_is_the_snapshot_with_the_lowest_validation_fd():
    raw = seed_raw(0)
    assert ds.chosen(raw, "pretrained_d", SNAPSHOTS) == 2
    raw["pretrained_d", 4, "val"] = score(0.1)  # validation decides, not test
    assert ds.chosen(raw, "pretrained_d", SNAPSHOTS) == 4
    assert ds.picked([raw], "pretrained_d") == [raw["pretrained_d", 4]["fd"]]


def test_splits_are_disjoint_and_test_is_lesson_07s_prompts():
    test, val = ds.splits(6)
    assert test.captions == t2i_bench.prompts(6, 1).captions
    assert len(val.captions) == 6 and len(val.images) == 6
    assert (val.labels["count"] == 0).all()  # one object each, like the test captions
    same = (test.images.flatten(1)[:, None] == val.images.flatten(1)[None]).all(2)
    assert not same.any()  # no test image is also a validation image


def test_claims_hold_on_scores_built_to_satisfy_them(capsys):
    raw = [seed_raw(s) for s in range(3)]
    assert verdicts(raw) == [True] * 8
    assert capsys.readouterr().out.count("[claim ✓]") == 8


def test_claims_fail_on_scores_built_to_break_them():
    raw = [seed_raw(s, pd_1=2.5, ufogen=2.9, drift=0.0, pd_8=3.5, spread_pd=3.0) for s in range(3)]
    # PD-8 45 % above the teacher; PD-1 below UFOGen; no drift; PD-1's spread collapsed
    holds = verdicts(raw)
    assert holds[0] is False  # within 15 %
    assert holds[3] is False and holds[4] is False  # UFOGen beats PD-1
    assert holds[6] is False  # drift
    assert holds[7] is False  # diversity


def test_pd_8_better_than_the_8_step_teacher_breaks_the_cfg_claim():
    raw = [seed_raw(s, teacher_8=3.2) for s in range(3)]
    assert verdicts(raw)[1] is False
