"""Lesson 03's measured claims: PF-ODE likelihood of trained denoisers, and Euler vs Heun.

The models are the zoo's seed runs (recipes.toy.ring_seeds): a small MLP on the VP process trained
by denoising score matching with each of four parameterisations (eps, x0, v and flow matching's
velocity, each under its native weighting), toy.SEEDS training seeds each, equal budgets.
1. Each model's PF-ODE NLL on held-out data is within a few % of the true NLL of the mixture
   (Song et al. 2021, Sec. 4.3); the gap in nats estimates KL(p || p_model). One claim per
   parameterisation, over the training seeds (each seed's gap with its paired standard error).
2. At equal NFE, Heun solves the PF-ODE of the eps model more accurately than Euler: Euler needs
   2-3x Heun's NFE for the same error (Karras et al. 2022). This needs a velocity that is smooth
   in t (time_scale 50 in the MLP's sinusoidal time embedding).
3. The eps model trained identically but with DDPM's time_scale 1000 loses Heun's advantage at
   high NFE (lesson 04's UNet, which embeds t x 1000, refers to this finding).
The solver code is in experiments.ode_solvers; this module measures and states the claims.

python -m minidiff.experiments.likelihood [--fast]
"""

import itertools
import math

import torch
from tqdm.auto import tqdm

from minidiff import likelihood, metrics, report, samplers, schedules, stats, zoo
from minidiff import sde as sde_mod
from minidiff.experiments import ode_solvers
from minidiff.experiments.ode_solvers import SOLVERS, T0, sampling_grid  # noqa: F401 (lesson 03)
from minidiff.recipes import toy

NAME = "likelihood"
PREDICTIONS = ("eps", "x0", "v", "velocity")
CONTRAST = "eps_ts1000"  # the eps model with time_scale 1000 (key of load_runs)
NLL_WITHIN_PCT = 5.0  # "within a few %" of the true NLL
CONFIG = {  # by fast; the lesson's Settings cell uses the same numbers
    False: dict(n_test=1000, nll_steps=100, n_samples=2000, sample_steps=32, n_ode=500,
                nfes=[4, 8, 16, 32, 64, 128, 256], ref_steps=512),
    True: dict(n_test=200, nll_steps=20, n_samples=500, sample_steps=8, n_ode=200,
               nfes=[4, 8, 16, 32], ref_steps=128),
}  # fmt: skip


def problem():
    """The VP process and the mixture: a ring of 8 Gaussians, std 0.2 (true NLL about 1.7 nats)."""
    return sde_mod.VP(), toy.ring_data()[0]


def datasets(mixture, n_test: int):
    """(train 50k, validation 2k) as the zoo's models were trained on, and a held-out test set."""
    _, data, val = toy.ring_data()
    return data, val, mixture.sample(n_test, generator=torch.Generator().manual_seed(1))


def load_runs(fast: bool, progress: bool = False) -> dict:
    """name -> toy.SeedRuns (models[i], val_loss[i]) for each of PREDICTIONS and CONTRAST."""
    return {name: zoo.load(r, fast=fast, progress=progress) for name, r in toy.ring_seeds.items()}


def likelihood_grid(sde, n: int) -> torch.Tensor:
    """n steps uniform in log-SNR from t0 up to 1 (increasing, as log_likelihood wants)."""
    return schedules.log_snr(sde, n + 1, t_min=T0)[:-1].flip(0)


def nll_gap(model, sde, x, true, ts) -> dict:
    """The model's mean PF-ODE NLL on x and its gap to the true NLL (per point), with the gap's
    paired standard error: both NLLs are of the same points, so their spread cancels."""
    gap = -likelihood.log_likelihood(model, sde, x, ts).detach().double() - true
    return dict(
        nll=(true + gap).mean().item(),
        gap=gap.mean().item(),
        gap_se=(gap.std() / math.sqrt(len(gap))).item(),
        gap_pct=100 * gap.mean().item() / true.mean().item(),
    )


def seed_rows(runs: dict, sde, mixture, cfg, progress=False) -> list[dict]:
    """One row per (parameterisation, training seed): NLL gap (paired s.e.), sliced Wasserstein
    distance of its PF-ODE samples to true samples, last validation loss, plateaued or not."""
    _, _, test = datasets(mixture, cfg["n_test"])
    true = -mixture.log_prob_t(test, T0, sde).double()
    ts_ll, grid = likelihood_grid(sde, cfg["nll_steps"]), sampling_grid(sde, cfg["sample_steps"])
    x1 = sde.prior_sample((cfg["n_samples"], 2), generator=torch.Generator().manual_seed(0))
    true_x = mixture.sample(cfg["n_samples"], generator=torch.Generator().manual_seed(7))
    jobs = [(name, i, m) for name in PREDICTIONS for i, m in enumerate(runs[name].models)]
    rows = []
    for name, i, model in tqdm(jobs, desc="NLL", disable=not progress):
        x = samplers.pf_ode(model, sde, x1, grid)
        curve = runs[name].val_loss[i].tolist()
        rows.append(dict(model=name, seed=i, **nll_gap(model, sde, test, true, ts_ll),
                         sw=metrics.sliced_wasserstein(x, true_x, generator=_sw_generator()),
                         val_loss=curve[-1], plateaued=stats.plateaued(curve)))  # fmt: skip
    return rows


def _sw_generator():
    return torch.Generator().manual_seed(3)  # the same projections for every SW


def sw_floor(mixture, cfg, n: int = 3) -> list:
    """SW between the reference samples and n fresh true sample sets: the best SW possible."""
    true_x = mixture.sample(cfg["n_samples"], generator=torch.Generator().manual_seed(7))
    fresh = (mixture.sample(cfg["n_samples"], generator=torch.Generator().manual_seed(20 + s))
             for s in range(n))  # fmt: skip
    return [metrics.sliced_wasserstein(y, true_x, generator=_sw_generator()) for y in fresh]


def by_model(rows: list, key: str) -> dict:
    """{parameterisation: [row[key] per training seed]}."""
    return {p: [r[key] for r in rows if r["model"] == p] for p in PREDICTIONS}


def summary(rows: list, floor: list) -> list[dict]:
    """One row per parameterisation: mean ± sd over training seeds."""
    gap, pct, se, sw = (by_model(rows, k) for k in ("gap", "gap_pct", "gap_se", "sw"))
    flat = by_model(rows, "plateaued")
    table = [{"model": p, "NLL gap (nats)": stats.cell(gap[p]), "gap (%)": stats.cell(pct[p], 2),
              "paired s.e. (nats)": f"{max(se[p]):.2g} (max)", "SW": stats.cell(sw[p]),
              "curve flat": f"{sum(flat[p])}/{len(flat[p])}"} for p in PREDICTIONS]  # fmt: skip
    table.append({"model": "true samples (SW floor)", "SW": stats.cell(floor)})
    return table


def gap_differences(rows: list) -> list[dict]:
    """Each pair of parameterisations: the difference of NLL gaps over training seeds (Welch)."""
    gap = by_model(rows, "gap")
    out = []
    for a, b in itertools.combinations(PREDICTIONS, 2):
        d = stats.difference(gap[a], gap[b])
        out.append({"comparison": f"{b} − {a}", "gap difference (nats)": f"{d.diff:+.3g} ± "
                    f"{d.se:.2g}", "verdict (3 seeds)": d.verdict})  # fmt: skip
    return out


def run(fast: bool, runs: dict | None = None, progress: bool = False) -> dict:
    """Load (or train) the zoo's seed runs unless given, then measure NLL, SW and the solvers."""
    cfg, (sde, mixture) = CONFIG[fast], problem()
    runs = runs or load_runs(fast, progress)
    rows = seed_rows(runs, sde, mixture, cfg, progress)
    floor = sw_floor(mixture, cfg)
    _, _, test = datasets(mixture, cfg["n_test"])
    true = -mixture.log_prob_t(test, T0, sde).double()
    ts_ll = likelihood_grid(sde, cfg["nll_steps"])
    exact = nll_gap(mixture.denoiser(sde), sde, test.double(), true, ts_ll)
    solver = ode_solvers.solver_runs(runs["eps"].models, runs[CONTRAST].models, sde, mixture, cfg)
    figures = dict(
        nll_true=true.mean().item(), nll_exact_denoiser_gap=exact["gap"],
        **{f"nll_{k}": by_model(rows, k) for k in ("gap", "gap_pct", "gap_se")},
        sw=by_model(rows, "sw"), sw_floor=floor, plateaued=by_model(rows, "plateaued"),
        **ode_solvers.solver_figures(solver), nfes=cfg["nfes"], train_steps=toy.SEED_STEPS[fast],
    )  # fmt: skip
    return dict(
        rows=summary(rows, floor), diff_rows=gap_differences(rows), seed_rows=rows,
        solver_rows=ode_solvers.solver_table(solver, cfg["nfes"]), solver=solver,
        figures=figures, runs=runs,
    )  # fmt: skip


def claims(out: dict) -> list[dict]:
    """The lesson's claim lines (report.claim), from run's figures."""
    f = out["figures"]
    result = [report.claim(
        "The exact denoiser through the PF-ODE likelihood integrator reproduces the true NLL",
        abs(f["nll_exact_denoiser_gap"]) < 0.005, "gap below 0.005 nats",
        gap_nats=f["nll_exact_denoiser_gap"], true_nll=f["nll_true"])]  # fmt: skip
    for p in PREDICTIONS:
        pct = f["nll_gap_pct"][p]
        result.append(report.claim(
            f"The {p} model's PF-ODE NLL is within {NLL_WITHIN_PCT:g} % of the true NLL "
            f"after {f['train_steps']} training steps",
            max(pct) < NLL_WITHIN_PCT,
            f"gap below {NLL_WITHIN_PCT:g} % of the true NLL in each of {len(pct)} training seeds",
            gap_pct=str(stats.spread(pct)), gap_nats=str(stats.spread(f["nll_gap"][p])),
        ))  # fmt: skip
    return result + ode_solvers.claims(f)


def main(argv: list[str] | None = None) -> dict:
    """The command line: [--fast]; prints the tables, the claim lines, then one JSON line."""
    return report.benchmark_main(
        NAME, run, tables=("rows", "diff_rows", "solver_rows"), argv=argv, claims=claims
    )


if __name__ == "__main__":
    main()
