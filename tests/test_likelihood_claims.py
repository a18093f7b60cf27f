"""Lesson 03's seed runs (recipes.toy.ring_seeds) and the logic of its claims, on known inputs."""

import math

import pytest
import torch

from minidiff import zoo
from minidiff.experiments import likelihood as bench
from minidiff.experiments import ode_solvers
from minidiff.recipes import toy


def weights(model):
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def test_seed_runs_share_init_across_predictions_and_differ_across_seeds():
    runs = {name: recipe.build() for name, recipe in toy.ring_seeds.items()}
    assert set(runs) == {*bench.PREDICTIONS, bench.CONTRAST}
    for name, r in runs.items():
        assert len(r.models) == toy.SEEDS and r.val_loss.shape == (toy.SEEDS, toy.EVALS)
        assert r.models[0].prediction == name.split("_")[0]
    for i in range(toy.SEEDS):  # seed i: the same initial network for every parameterisation
        torch.testing.assert_close(weights(runs["eps"].models[i]), weights(runs["v"].models[i]))
    assert not torch.equal(weights(runs["eps"].models[0]), weights(runs["eps"].models[1]))
    assert runs[bench.CONTRAST].models[0].net.config["time_scale"] == 1000.0
    names = [r.name for r in toy.ring_seeds.values()]
    assert len(set(names)) == len(names)


def test_seed_steps_are_multiples_of_evals():
    """fit_seed logs every steps // EVALS steps: EVALS values only if EVALS divides steps."""
    assert all(steps % toy.EVALS == 0 for steps in toy.SEED_STEPS.values())


def test_fast_seed_run_trains_every_seed_and_records_its_curve(tmp_path):
    runs = zoo.load(toy.ring_seeds["velocity"], fast=True, progress=False, root=tmp_path)
    steps = toy.SEED_STEPS[True]
    assert runs.val_steps.tolist() == [steps // toy.EVALS * (k + 1) for k in range(toy.EVALS)]
    assert bool(torch.isfinite(runs.val_loss).all()) and bool((runs.val_loss > 0).all())
    assert not torch.equal(runs.val_loss[0], runs.val_loss[1])  # different seeds, different runs
    fresh = toy.ring_seeds["velocity"].build()
    assert not torch.equal(weights(runs.models[0]), weights(fresh.models[0]))  # trained


def power_law_rows(nfes, c_euler=1.0, c_heun=1.0):
    """Euler's error c/n and Heun's c/n^2: Euler needs n^2/c_h * c_e ... i.e. k = n c_e / c_h."""
    rows = [dict(solver="euler", nfe=n, ode_error=c_euler / n) for n in nfes]
    return rows + [dict(solver="heun", nfe=n, ode_error=c_heun / n**2) for n in nfes]


def test_nfe_ratio_on_power_laws():
    """Euler error 1/n, Heun 1/n^2: Heun at n matches Euler at n^2, a ratio of n (closed form),
    inside Euler's range by interpolation and beyond it along Euler's slope -1."""
    ratios = dict(ode_solvers.nfe_ratio(power_law_rows([4, 8, 16, 32, 64])))
    for n, k in ratios.items():
        assert k == pytest.approx(n, rel=1e-9)


def figures(ts1000_heun_scale: float, ratio50: float = 3.0):
    """Synthetic run() figures: three seeds of power-law errors; the contrast's Heun errors are
    scaled by ts1000_heun_scale at NFE 128."""
    nfes = [4, 8, 16, 32, 64, 128, 256]
    f = dict(nfes=nfes)
    for kind, scale in (("ts50", 1.0), ("ts1000", ts1000_heun_scale), ("exact", 1.0)):
        seeds = []
        for s in range(1 if kind == "exact" else 3):
            rows = power_law_rows(nfes, c_heun=(32 / ratio50) * (1 + 0.01 * s))
            for r in rows:
                if r["solver"] == "heun" and r["nfe"] == 128:
                    r["ode_error"] = min(r["ode_error"] * scale, 1 / 128 * 0.9)
            seeds.append(rows)
        f |= ode_solvers.solver_figures({kind: seeds})
    return f


def test_solver_claims_hold_and_fail_as_they_should(capsys):
    heun_ok, contrast_ok = (c["holds"] for c in ode_solvers.claims(figures(1000.0)))
    assert heun_ok and contrast_ok  # contrast: Heun's 128-NFE error near Euler's
    heun_ok, contrast_ok = (c["holds"] for c in ode_solvers.claims(figures(1.0)))
    assert heun_ok and not contrast_ok  # no contrast: the same errors
    heun_ok, _ = (c["holds"] for c in ode_solvers.claims(figures(1.0, ratio50=1.5)))
    assert not heun_ok
    assert capsys.readouterr().out.count("[claim ") == 6


def test_nll_claims_use_every_seed(capsys):
    f = dict(nll_true=1.7, nll_exact_denoiser_gap=0.001, train_steps=4000)
    f["nll_gap_pct"] = {p: [2.0, 3.0, 4.0] for p in bench.PREDICTIONS} | {"x0": [2.0, 3.0, 6.0]}
    f["nll_gap"] = {p: [v * 0.017 for v in f["nll_gap_pct"][p]] for p in bench.PREDICTIONS}
    f |= figures(1000.0)
    claims = bench.claims(dict(figures=f))
    holds = {c["claim"]: c["holds"] for c in claims}
    assert len(claims) == 1 + len(bench.PREDICTIONS) + 2
    text = "The {} model's PF-ODE NLL is within 5 % of the true NLL after 4000 training steps"
    assert [holds[text.format(p)]
            for p in bench.PREDICTIONS] == [True, False, True, True]  # fmt: skip
    assert all(math.isfinite(c["figures"].get("true_nll", 0.0)) for c in claims)
    assert "[claim ✗] The x0 model's" in capsys.readouterr().out
