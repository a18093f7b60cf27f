"""Lesson 03's solver claims: at equal NFE, Heun solves the PF-ODE more accurately than Euler,
for a network smooth in t (time_scale 50), and much less so with DDPM's time_scale 1000.

Both solvers integrate the probability-flow ODE of one model from the same prior draws x1, on a
grid uniform in log-SNR; the error is the RMS distance to a fine Heun reference of the same model.
nfe_ratio turns the two error curves into "Euler needs k times Heun's NFE" (Karras et al. 2022).
Each claim is made over the training seeds of the zoo's models. Used by experiments.likelihood.
"""

import math

import numpy as np
import torch

from minidiff import report, samplers, schedules, stats

T0 = 1e-3  # likelihood is evaluated at t0 (the data time of the ODE), as in Song et al. 2021
SOLVERS = (("euler", samplers.euler, 1), ("heun", samplers.heun, 2))  # (name, solver, NFE/step)


def sampling_grid(sde, n: int) -> torch.Tensor:
    """n steps uniform in log-SNR from 1 down to t0 (no final jump to 0: NFE is exact)."""
    return schedules.log_snr(sde, n + 1, t_min=T0)[:-1]


def solver_errors(model, sde, cfg, seed: int = 0):
    """RMS distance of Euler/Heun PF-ODE samples from a fine Heun reference (same x1), per NFE."""
    x1 = sde.prior_sample((cfg["n_ode"], 2), generator=torch.Generator().manual_seed(seed))
    ref = samplers.pf_ode(model, sde, x1, sampling_grid(sde, cfg["ref_steps"]))
    rows = []
    for nfe in cfg["nfes"]:
        for name, solver, nfe_per_step in SOLVERS:
            x = samplers.pf_ode(
                model, sde, x1, sampling_grid(sde, nfe // nfe_per_step), solver=solver
            )
            rows.append(
                dict(
                    solver=name,
                    nfe=nfe,
                    ode_error=(x - ref).pow(2).sum(1).mean().sqrt().item(),
                    sw=None,
                    x=x,
                )
            )
    return rows, ref


def nfe_ratio(rows) -> list:
    """For each Heun NFE: the NFE Euler needs for the same ODE error, as (nfe, ratio) pairs.

    Log-log interpolation between Euler's measured points. A Heun error below Euler's smallest
    is extrapolated along the straight log-log line through Euler's last two points (Euler is
    cleanly first order there: its error halves per doubling of NFE). A Heun error above Euler's
    largest is skipped."""
    eu = sorted((r["nfe"], r["ode_error"]) for r in rows if r["solver"] == "euler")
    log_n, log_e = np.log([n for n, _ in eu]), np.log([e for _, e in eu])
    slope = (log_e[-1] - log_e[-2]) / (log_n[-1] - log_n[-2])  # about -1
    out = []
    for r in rows:
        if r["solver"] != "heun" or math.log(r["ode_error"]) > log_e.max():
            continue
        if math.log(r["ode_error"]) < log_e[-1]:
            log_n_euler = log_n[-1] + (math.log(r["ode_error"]) - log_e[-1]) / slope
        else:
            log_n_euler = np.interp(-math.log(r["ode_error"]), -log_e, log_n)
        out.append((r["nfe"], math.exp(log_n_euler) / r["nfe"]))
    return out


def solver_runs(models, contrasts, sde, mixture, cfg) -> dict:
    """solver_errors rows of each training seed's eps model (time_scale 50), of its time_scale-1000
    contrast, and of the exact denoiser: {"ts50": [rows per seed], "ts1000": [...], "exact": [rows]}
    """
    return {
        "ts50": [solver_errors(m, sde, cfg)[0] for m in models],
        "ts1000": [solver_errors(m, sde, cfg)[0] for m in contrasts],
        "exact": [solver_errors(mixture.denoiser(sde), sde, cfg)[0]],
    }


def _errors(rows, solver: str, nfe: int) -> float:
    return next(r["ode_error"] for r in rows if r["solver"] == solver and r["nfe"] == nfe)


def _geo(values) -> str:
    """Geometric mean and the spread factor (x/÷ geometric sd) of positive values over seeds."""
    logs = [math.log(v) for v in values]
    if len(logs) < 2:
        return f"{values[0]:.3g}"
    s = stats.spread(logs)
    return f"{math.exp(s.mean):.3g} ×/÷ {math.exp(s.sd):.2g}"


def solver_table(solver: dict, nfes) -> list:
    """One row per NFE: Euler's and Heun's error for each kind of solver_runs (over seeds)."""
    names = {"ts50": "", "ts1000": " (ts 1000)", "exact": " (exact D)"}
    return [
        {"NFE": nfe}
        | {
            f"{s.capitalize()} err{names[k]}": _geo([_errors(rows, s, nfe) for rows in solver[k]])
            for k in names
            for s in ("euler", "heun")
        }  # fmt: skip
        for nfe in nfes
    ]


def solver_figures(solver: dict) -> dict:
    """The JSON figures of the solver claims: per training seed, Euler-over-Heun NFE ratios and
    the errors, for each kind of solver_runs."""
    out = {}
    for kind, seeds in solver.items():
        ratios = [dict(nfe_ratio(rows)) for rows in seeds]
        out[f"euler_over_heun_nfe_{kind}"] = [{str(n): k for n, k in r.items()} for r in ratios]
        out[f"euler_over_heun_median_{kind}"] = [float(np.median(list(r.values()))) for r in ratios]
        out[f"ode_error_{kind}"] = [
            {s: [r["ode_error"] for r in rows if r["solver"] == s] for s in ("euler", "heun")}
            for rows in seeds
        ]
    return out


def _at(f: dict, key: str, nfe: int) -> list:
    """Per seed, the ratio at `nfe` (NaN where Heun's error was above all of Euler's)."""
    return [r.get(str(nfe), float("nan")) for r in f[key]]


def _heun_error(f: dict, kind: str, nfe: int) -> list:
    return [e["heun"][f["nfes"].index(nfe)] for e in f[f"ode_error_{kind}"]]


def claims(f: dict) -> list[dict]:
    """Heun@N ~ Euler@2-3N for the smooth eps model; time_scale 1000 takes it away at high NFE."""
    n_low, n_high = (32, 128) if 128 in f["nfes"] else (16, 32)  # fast mode's grid stops at 32
    r_low = _at(f, "euler_over_heun_nfe_ts50", n_low)
    ok = all(r >= 2 for r in r_low)  # NaN fails
    first = report.claim(
        "Heun@N matches Euler@2-3N on the eps model's PF-ODE (time_scale 50)", ok,
        f"Euler needs >= 2x the NFE for Heun's {n_low}-NFE error in each training seed",
        **{f"ratio_at_{n_low}": str(stats.spread(r_low)),
           f"exact_denoiser_ratio_at_{n_low}": _at(f, "euler_over_heun_nfe_exact", n_low)[0]},
    )  # fmt: skip
    h50, h1k = (_heun_error(f, k, n_high) for k in ("ts50", "ts1000"))
    d = stats.difference([math.log10(e) for e in h50], [math.log10(e) for e in h1k])
    r1k = _at(f, "euler_over_heun_nfe_ts1000", n_high)
    ok = d.verdict == "distinguishable" and d.diff > 0 and all(r < 2 for r in r1k)
    second = report.claim(
        "time_scale 1000 takes Heun's advantage away at high NFE (eps model)", ok,
        f"Heun's {n_high}-NFE error larger than with time_scale 50 (distinguishable over the "
        f"training seeds) and Euler needs < 2x Heun's NFE there",
        **{f"heun_err_{n_high}_ts50": _geo(h50), f"heun_err_{n_high}_ts1000": _geo(h1k),
           "log10_ratio": str(d), f"ratio_at_{n_high}_ts50": str(stats.spread(
               _at(f, "euler_over_heun_nfe_ts50", n_high))),
           f"ratio_at_{n_high}_ts1000": str(stats.spread(r1k))},
    )  # fmt: skip
    return [first, second]
