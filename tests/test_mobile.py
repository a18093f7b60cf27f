"""recipes.mobile (lesson 06's ablation): each chain row is the row above plus exactly its change,
the contrasts differ from their chain row only where they say, the architectures are what the
paper's changes describe, ReLU fine-tuning can load the softmax weights, the efficient UNet is
the cheaper one, fingerprints do not depend on memory addresses; a run paused for its learning
curve is the run it would have been, and a resumed build keeps the curve it had measured; the
benchmark's deltas, speed-ups and claims on made-up results."""

from types import SimpleNamespace

import pytest
import torch

from minidiff import profile, zoo
from minidiff.experiments import mobile_quality, mobile_unet
from minidiff.recipes import mobile


def test_each_chain_row_adds_exactly_its_change():
    previous = mobile.BASELINE
    for name, _, change in mobile.CHAIN:
        current = mobile.options(name)
        assert {k for k in current if current[k] != previous[k]} == set(change), name
        previous = current


def test_contrasts_differ_from_their_row_only_by_their_change():
    for name, _, base, change in mobile.CONTRASTS:
        a, b = mobile.options(name), mobile.options(base)
        assert {k for k in a if a[k] != b[k]} == set(change), name


def test_stages_follow_the_options():
    base = mobile.unet_stages(mobile.options("sd_like"))
    assert [s.attention.kind for s in base] == ["self+cross"] * 3
    assert [s.num_res_blocks for s in base] == [2, 2, 2] and not any(s.separable for s in base)
    assert mobile.unet_stages(mobile.options("cross_only_high"))[0].attention.kind == "cross"
    assert mobile.unet_stages(mobile.options("no_attention_high"))[0].attention is None
    final = mobile.unet_stages(mobile.options("relu_finetune"))
    assert [s.attention.kind for s in final] == ["cross", "cross", "self+cross"]
    assert [s.num_res_blocks for s in final] == [1, 1, 2]
    assert [s.separable for s in final] == [False, True, True]
    assert {(s.attention.kernel, s.attention.shared_kv, s.attention.ffn_expansion,
             s.attention.activation) for s in final} == {("relu", True, 3, "swish")}  # fmt: skip
    with pytest.raises(ValueError, match="name: expected one of"):
        mobile.options("mobile")


def test_relu_finetune_loads_the_softmax_weights_and_changes_the_output():
    softmax, relu = mobile.build("one_resblock"), mobile.build("relu_finetune")
    with torch.no_grad():
        for p in softmax.parameters():
            p.add_(0.1 * torch.randn_like(p))
    relu.load_state_dict(softmax.state_dict())  # strict: the same parameters
    ids, mask = mobile.encode(["a small red circle on the left", "a large blue square"])
    x, t = torch.randn(2, 3, 16, 16), torch.full((2,), 0.5)
    with torch.no_grad():
        assert not torch.allclose(softmax(x, t, ids, mask), relu(x, t, ids, mask))


def test_the_efficient_unet_halves_the_flops_of_the_baseline():
    unets = {n: mobile.build(n).net.unet for n in ("sd_like", "relu_finetune")}
    x, t, context = torch.randn(1, 3, 16, 16), torch.full((1,), 0.5), torch.randn(1, 12, 32)
    mask = torch.ones(1, 12, dtype=torch.bool)
    counts = {n: profile.flops(u, x, t, context, mask) for n, u in unets.items()}
    assert counts["sd_like"] >= 2 * counts["relu_finetune"]


def test_fingerprints_hold_no_memory_addresses():
    for recipe in [r for seeds in mobile.runs.values() for r in seeds]:
        source = zoo._source(recipe.train) + zoo._source(recipe.build)
        assert " at 0x" not in source, recipe.name


def test_with_deltas_is_relative():
    reference = dict(params_k=100.0, MFLOPs=10.0, ms=4.0)
    out = mobile_unet.with_deltas(dict(params_k=50.0, MFLOPs=2.5, ms=5.0), reference)
    assert (out["Δparams %"], out["ΔMFLOPs %"], out["Δms %"]) == (-50.0, -75.0, 25.0)


def test_speedup_is_taken_within_each_round():
    times = dict(slow=[10.0, 40.0, 20.0, 30.0, 50.0], fast=[5.0, 20.0, 10.0, 10.0, 25.0])
    assert mobile_unet.speedup(times, "slow", "fast") == (2.0, 2.0, 2.0)  # 3 only once
    assert profile.quartiles([1.0, 2.0, 3.0, 4.0, 5.0]) == (2.0, 3.0, 4.0)  # inclusive


def test_curve_steps_have_as_many_points_fast_as_full():
    for name in mobile.QUALITY:
        full, fast = mobile.curve_steps(name, False), mobile.curve_steps(name, True)
        assert len(full) == len(fast) == len(mobile.build_run(name, 0).steps)
    assert mobile.curve_steps("sd_like", False)[-1] == mobile.STEPS
    assert mobile.curve_steps("relu_finetune", False) == [0, 250, 500, 750, 1000]


def test_a_resumed_build_keeps_its_measured_curve_and_finishes_the_run(tmp_path, monkeypatch):
    run = mobile.Run("one_resblock", 0, 4)
    path = tmp_path / "fit-1.safetensors"
    (tmp_path / "fit-1.curve.json").write_text('{"10": 1.0, "20": 2.0}')  # measured before a kill
    fitted, measured = [], []

    def fit(model, steps, checkpoint):
        fitted.append(steps)
        return SimpleNamespace(ema=SimpleNamespace(model=model))

    monkeypatch.setattr(mobile, "curve_accuracy", lambda m, j, f: measured.append(1) or 5.0)
    mobile._legs(run, fit, [10, 20, 30, 40], path, None, True)
    assert fitted == [30, 40] and len(measured) == 2
    assert run.accuracy.tolist() == [1.0, 2.0, 5.0, 5.0] and run.steps.tolist() == [10, 20, 30, 40]


def made_up(shift: dict) -> dict:
    """Results of 3 seeds per model: accuracy 80 + shift ± 1, FD 10 - shift / 10 ± 0.1."""

    def seed(name, e):
        s = shift.get(name, 0)
        return dict(accuracy_pct=80 + s + e, fd=10 - s / 10 + e / 10, steps=list(range(8)),
                    curve=[70 + e] * 8)  # fmt: skip

    return {name: [seed(name, e) for e in (-1.0, 0.0, 1.0)] for name in mobile.QUALITY}


def test_quality_claims_follow_the_seeds():
    verdicts = lambda raw: [c["holds"] for c in mobile_quality.claims(raw)]  # noqa: E731
    # no transformer at 16x16 far worse; ReLU from scratch far worse: those claims hold
    assert verdicts(made_up(dict(no_attention_high=-20, relu_scratch=-20))) == [True] * 6
    # all alike: the two "worse" claims fail, the rest hold
    assert verdicts(made_up({})) == [True, True, False, True, False, True]
    # the efficient UNet 20 points below the baseline and its FD 20 % higher: both fail
    assert verdicts(made_up(dict(relu_finetune=-20)))[:2] == [False, False]
    flat = made_up({})
    flat["sd_like"][0]["curve"] = [10, 20, 30, 40, 50, 60, 70, 80]
    assert not mobile_quality.claims(flat)[-1]["holds"]


def test_recovery_is_the_first_fine_tune_step_near_the_softmax_end():
    raw = made_up({})  # every curve flat at 70 + e: the fine-tune is there from its first point
    assert mobile_quality.recovery(raw) == "0/0/0"
    raw["relu_finetune"][1]["curve"] = [10, 40, 64, 80, 90, 90, 90, 90]  # seed 1's end: 70
    raw["relu_finetune"][2]["curve"] = [10] * 8
    assert mobile_quality.recovery(raw) == "0/3/-"  # within 5 points of 70 at step 3; never
