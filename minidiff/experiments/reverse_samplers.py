"""Lesson 02's claims: exact-score samplers recover a 25-mode Gaussian mixture, the probability-flow
ODE and the reverse SDE agree, and at equal NFE (denoiser calls) the time grid and the solver
interact: each sampler on the uniform and the Karras grid, 3 sampling seeds (mean ± sd). ODE error:
RMS distance to a 255-NFE Heun solution from the same noise (a bound on the W2 distance to its
law); NLL - H: mean -log p of the samples minus the entropy (> 0: modes too wide).

    python -m minidiff.experiments.reverse_samplers [--fast]
"""

import torch
from tqdm.auto import tqdm

from minidiff import metrics, report, samplers, schedules, stats
from minidiff import sde as sdes
from minidiff.data import toy2d

NAME = "reverse_samplers"
SEEDS = (0, 1, 2)  # sampling seeds
REF_STEPS = 128  # Heun steps of the reference ODE solution (255 NFE)
GRIDS = ("uniform", "Karras")
SAME = "not distinguishable"  # the verdict of stats.difference when the spreads overlap
COLUMNS = ("ODE error", "NLL - H", "SW / floor", "coverage", "precision")
EM, PC = "Euler-Maruyama (SDE)", "predictor-corrector"
_pf, _pc = samplers.pf_ode, samplers.predictor_corrector
# sampler -> (sample(denoiser, sde, x, ts, generator), evaluations per step)
SAMPLERS = {
    "Euler (PF-ODE)": (lambda d, s, x, ts, g: _pf(d, s, x, ts, solver=samplers.euler), 1),
    "Heun (PF-ODE)": (lambda d, s, x, ts, g: _pf(d, s, x, ts, solver=samplers.heun), 2),
    "DDIM": (lambda d, s, x, ts, g: samplers.ddim(d, s, x, ts), 1),
    "Euler-Maruyama (SDE)": (lambda d, s, x, ts, g: samplers.reverse_sde(d, s, x, ts, g), 1),
    "DDPM": (lambda d, s, x, ts, g: samplers.ddpm(d, s, x, ts, g), 1),
    "predictor-corrector": (lambda d, s, x, ts, g: _pc(d, s, x, ts, generator=g), 2),
}
ODE = ("Euler (PF-ODE)", "Heun (PF-ODE)", "DDIM")
PAIR = ("Heun (PF-ODE)", "DDPM")  # the ODE and the SDE sampler of the agreement claim
CONFIGS = [("VP", s, g) for s in list(SAMPLERS)[:-1] for g in GRIDS]  # (process, sampler, grid)
CONFIGS += [("VP", PC, "uniform")] + [("flow", s, "uniform") for s in ODE[:2]]
LONGER = [("VP", "DDPM", "Karras"), ("VP", EM, "Karras"), ("flow", ODE[1], "uniform")]  # 2x budget


def nfe_of(name: str, steps: int) -> int:
    """Denoiser calls of `steps` steps of sampler `name` (a key of SAMPLERS): 2 per step for Heun
    and predictor-corrector, less one in the last step (into t = 0: Euler, no corrector)."""
    if name not in SAMPLERS:
        raise ValueError(f"name: expected one of {list(SAMPLERS)}, got {name!r}")
    return SAMPLERS[name][1] * (steps - 1) + 1


def time_grid(sde, grid: str, steps: int) -> torch.Tensor:
    """`steps` steps from t = 1 to 0: uniform in t, or Karras et al.'s rho = 7 grid in
    sigma/alpha over the process's whole range (sigma_max = sigma(1)/alpha(1))."""
    if grid == "uniform":
        return schedules.uniform(steps)
    one = torch.tensor(1.0, dtype=torch.float64)
    return schedules.karras(sde, steps, sigma_max=(sde.sigma(one) / sde.alpha(one)).item())


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def references(mix, n: int) -> dict:
    """The true reference `ref` (n samples), the mixture's entropy H (from 20 n samples), and
    5 independent true sets scored like samples: the floor of every measure."""
    ref = mix.sample(n, generator=_gen(1))
    entropy = -mix.log_prob(mix.sample(20 * n, generator=_gen(3))).mean().item()
    truth = [_scores(mix, mix.sample(n, generator=_gen(10 + i)), ref, entropy)
             for i in range(5)]  # fmt: skip
    floor = _mean([r["SW"] for r in truth])
    return {"ref": ref, "entropy": entropy, "floor": floor,
            "truth": [{**r, "SW / floor": r["SW"] / floor} for r in truth]}  # fmt: skip


def _scores(mix, x, ref, entropy: float, floor: float = 1.0) -> dict:
    """NLL - H, SW to ref (and / floor), coverage and precision of samples x."""
    sw = metrics.sliced_wasserstein(x, ref, generator=_gen(0))  # the same projections everywhere
    cov, prec = metrics.mode_coverage(x, mix.means, mix.lam.sqrt()[:, 0])
    nll = -mix.log_prob(x).mean().item() - entropy
    return {"NLL - H": nll, "SW": sw, "SW / floor": sw / floor, "coverage": cov, "precision": prec}


def _seed_runs(mix, processes: dict, refs: dict, budgets, seed: int, n: int) -> list[dict]:
    """Every configuration at every budget from one sampling seed's noise (runs keep samples x)."""
    runs = []
    for proc, sde in processes.items():
        den = mix.denoiser(sde)
        x1 = sde.prior_sample((n, 2), generator=_gen(100 + seed), dtype=torch.float64)
        exact = _pf(den, sde, x1, time_grid(sde, ("uniform", "Karras")[proc == "VP"], REF_STEPS))
        for name, grid in [(s, g) for p, s, g in CONFIGS if p == proc]:
            sample, per_step = SAMPLERS[name]
            for budget in budgets + [2 * budgets[-1]] * ((proc, name, grid) in LONGER):
                steps = budget // per_step
                x = sample(den, sde, x1, time_grid(sde, grid, steps), _gen(200 + seed))
                err = (x - exact).norm(dim=1).pow(2).mean().sqrt().item() if name in ODE else None
                scores = _scores(mix, x, refs["ref"], refs["entropy"], refs["floor"])
                runs.append({"process": proc, "sampler": name, "grid": grid, "budget": budget,
                             "steps": steps, "NFE": nfe_of(name, steps), "seed": seed,
                             "ODE error": err, **scores, "x": x})  # fmt: skip
    return runs


def _mean(values) -> float:
    return sum(values) / len(values)


def _spread(values) -> str:
    s = stats.spread(values)
    return f"{s.mean:.3g} ± {s.sd:.1g}"


def _key(r: dict) -> tuple:
    return r["process"], r["sampler"], r["grid"], r["budget"]


def select(runs: list[dict], key: str, sampler: str, grid: str, budget: int, process="VP"):
    """The values of `key` over the sampling seeds of one configuration and budget."""
    return [r[key] for r in runs if _key(r) == (process, sampler, grid, budget)]


def table(runs: list[dict], truth: list[dict], process: str) -> list[dict]:
    """One row per configuration and budget of `process` (mean ± sd over the sampling seeds),
    then the true samples' row."""
    rows = []
    for proc, name, grid, budget in dict.fromkeys(_key(r) for r in runs if r["process"] == process):
        pick = [r for r in runs if _key(r) == (proc, name, grid, budget)]
        row = {"sampler": name, "grid": grid, "steps": pick[0]["steps"], "NFE": pick[0]["NFE"]}
        rows.append(row | {k: "-" if pick[0][k] is None else _spread([r[k] for r in pick])
                           for k in COLUMNS})  # fmt: skip
    true = {k: "-" if k == "ODE error" else _spread([r[k] for r in truth]) for k in COLUMNS}
    true_row = {"sampler": f"true samples ({len(truth)} sets)", "grid": "-", "steps": 0, "NFE": 0}
    return rows + [true_row | true]


def run(fast: bool = False, progress: bool = False) -> dict:
    n, budgets = (300, [4, 16]) if fast else (2000, [8, 16, 32, 64])
    mix, processes = toy2d.grid(dtype=torch.float64), {"VP": sdes.VP(), "flow": sdes.Flow()}
    refs = references(mix, n)
    seeds = tqdm(SEEDS, desc="sampling seeds", disable=not progress)
    runs = [r for s in seeds for r in _seed_runs(mix, processes, refs, budgets, s, n)]
    figures = {"n": n, "seeds": len(SEEDS), "entropy": refs["entropy"], "sw_floor": refs["floor"]}
    figures |= {f"NLL - H/{p}/{s}/{g}": _mean(select(runs, "NLL - H", s, g, budgets[-1], p))
                for p, s, g in CONFIGS}  # fmt: skip  # the means over seeds at the top budget
    figures |= {f"ODE error/VP/{s}/{g}": _mean(select(runs, "ODE error", s, g, budgets[-1]))
                for s in ODE for g in GRIDS}  # fmt: skip
    return {"rows": table(runs, refs["truth"], "VP"), "budgets": budgets, "runs": runs,
            "flow_rows": table(runs, refs["truth"], "flow"), "truth": refs["truth"],
            "figures": figures}  # fmt: skip


def _below(a, b) -> bool:
    """a's mean is smaller than b's, distinguishably (Welch 5 %)."""
    return stats.difference(b, a).verdict == "distinguishable" and sum(a) < sum(b)


def _recovers(out, sampler: str, grid: str, process="VP", longer=False) -> dict:
    """A sampler at the top budget: all modes, |NLL - H| + 2 sd <= 0.1, SW as true samples'."""
    top, runs = out["budgets"][-1] * (1 + longer), out["runs"]
    sw_true = [t["SW"] for t in out["truth"]]
    nll, sw, cov, nfe = (select(runs, k, sampler, grid, top, process)
                         for k in ("NLL - H", "SW", "coverage", "NFE"))  # fmt: skip
    s, d = stats.spread(nll), stats.difference(sw_true, sw)
    ok = min(cov) == 1 and abs(s.mean) + 2 * s.sd <= 0.1 and d.verdict == SAME
    return report.claim(
        f"With exact scores, {sampler} on {process} ({grid} grid, {nfe[0]} NFE) recovers the "
        "mixture", bool(ok),
        "all 25 modes, NLL - H within ±0.1 nats (mean ± 2 sd), SW to true samples not "
        "distinguishable from true samples' own (Welch 5 %)", coverage=min(cov),
        nll_minus_H=_spread(nll), SW=_spread(sw), SW_true=_spread(sw_true), SW_difference=str(d),
    )  # fmt: skip


def _agree(out) -> dict:
    """ODE (Heun) and SDE (DDPM) samples from the same noise: SW between them vs true sets'."""
    top, runs, sw_true = out["budgets"][-1], out["runs"], [t["SW"] for t in out["truth"]]
    at = dict(zip(PAIR, (top, 2 * top)))  # DDPM needs the longer budget (see the table)
    (ode, sde), (nll_ode, nll_sde), nfe = ([select(runs, k, s, "Karras", at[s]) for s in PAIR]
                                           for k in ("x", "NLL - H", "NFE"))  # fmt: skip
    sw = [metrics.sliced_wasserstein(a, b, generator=_gen(0)) for a, b in zip(ode, sde)]
    d, gap = stats.difference(sw_true, sw), abs(_mean(nll_ode) - _mean(nll_sde))
    return report.claim(
        f"The probability-flow ODE (Heun, {nfe[0][0]} NFE) and the reverse SDE (DDPM, "
        f"{nfe[1][0]} NFE) give the same mixture from the same noise (Karras grid)",
        bool(d.verdict == SAME and gap <= 0.1),
        "SW between ODE and SDE samples not distinguishable from SW between independent true "
        "sets (Welch 5 %), NLLs within 0.1 nats", SW_ode_sde=_spread(sw), SW_true=_spread(sw_true),
        difference=str(d), nll_ode=_spread(nll_ode), nll_sde=_spread(nll_sde),
    )  # fmt: skip


def _sde_claims(out) -> list[dict]:
    """Euler-Maruyama converges slowest; the Langevin corrector does not pay for itself."""
    top, runs, true = out["budgets"][-1], out["runs"], [t["NLL - H"] for t in out["truth"]]
    em = select(runs, "NLL - H", EM, "Karras", 2 * top)
    em_u, pc = (select(runs, "NLL - H", s, "uniform", top) for s in (EM, PC))
    return [
        report.claim(f"Euler-Maruyama on the reverse SDE converges slowest: at {2 * top} NFE "
                     "(Karras grid) its modes are still too wide", _below(true, em),
                     "NLL - H distinguishably above true samples' (Welch 5 %)",
                     euler_maruyama=_spread(em), true_samples=_spread(true),
                     ddpm=_spread(select(runs, "NLL - H", "DDPM", "Karras", 2 * top))),
        report.claim("A Langevin corrector step does not pay for itself: predictor-corrector is "
                     f"not more accurate than Euler-Maruyama at about {top} NFE (uniform grid)",
                     not _below(pc, em_u),
                     "NLL - H of predictor-corrector not distinguishably below EM's (Welch 5 %)",
                     predictor_corrector=_spread(pc), euler_maruyama=_spread(em_u),
                     difference=str(stats.difference(em_u, pc))),
    ]  # fmt: skip


def _grid_solver_claims(out) -> list[dict]:
    """Solver x grid at the two largest budgets, by the ODE error (mean ± sd over seeds)."""
    runs, budgets = out["runs"], out["budgets"][-2:]
    e = {(s, g, b): select(runs, "ODE error", s, g, b) for s in ODE for g in GRIDS for b in budgets}
    heun, euler, ddim = ODE[1], ODE[0], ODE[2]
    others = [k for k in e if k[:2] != (heun, "Karras")]
    at = f"at {budgets[0]} and {budgets[-1]} nominal NFE (Heun one fewer)"
    top = {f"{s.split(' ')[0]}_{g}": _spread(e[s, g, budgets[-1]]) for s in ODE for g in GRIDS}
    return [
        report.claim(f"On the uniform grid Heun is not more accurate than Euler {at}",
                     not any(_below(e[heun, "uniform", b], e[euler, "uniform", b])
                             for b in budgets),
                     "Heun's ODE error not distinguishably below Euler's (Welch 5 %) at both",
                     heun=top["Heun_uniform"], euler=top["Euler_uniform"]),
        report.claim(f"Heun on the Karras grid is the most accurate of six solver-grid pairs {at}",
                     all(_below(e[heun, "Karras", k[2]], e[k]) for k in others),
                     "its ODE error distinguishably below each other pair's (Welch 5 %) at both",
                     **top),
        report.claim(f"The Karras grid helps Heun but not Euler or DDIM {at}",
                     all(_below(e[heun, "Karras", b], e[heun, "uniform", b])
                         and _below(e[euler, "uniform", b], e[euler, "Karras", b])
                         and _below(e[ddim, "uniform", b], e[ddim, "Karras", b]) for b in budgets),
                     "Heun: Karras below uniform; Euler and DDIM: uniform below Karras "
                     "(Welch 5 %) at both", **top),
    ]  # fmt: skip


def claims(out: dict) -> list[dict]:
    """The lesson's claim lines (printed, and returned as dicts)."""
    return [_recovers(out, PAIR[0], "Karras"), _recovers(out, PAIR[1], "Karras", longer=True),
            _agree(out), *_sde_claims(out), *_grid_solver_claims(out),
            _recovers(out, "Heun (PF-ODE)", "uniform", process="flow", longer=True)]  # fmt: skip


def main(argv: list[str] | None = None) -> dict:
    """The command line: [--fast]; prints the tables, the claims, then one JSON line of figures."""
    return report.benchmark_main(NAME, run, ("rows", "flow_rows"), 1, argv, claims=claims)


if __name__ == "__main__":
    main()
