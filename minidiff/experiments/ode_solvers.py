"""Lesson 03's second claim: at equal NFE, Heun solves the PF-ODE far more accurately than Euler.

Both solvers integrate the probability-flow ODE of one model from the same prior draws x1, on a
grid uniform in log-SNR; the error is the RMS distance to a fine Heun reference. nfe_ratio turns
the two error curves into "Euler needs k times Heun's NFE" (Karras et al. 2022). Used by
experiments.likelihood, which trains the models and runs the whole benchmark.
"""

import math

import numpy as np
import torch

from minidiff import metrics, samplers, schedules

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


def solver_runs(model, contrast, sde, mixture, cfg) -> dict:
    """solver_errors rows of the trained eps model, its time_scale-1000 contrast and the exact
    denoiser (keys "trained", "scale1000", "exact"); the trained rows get SW to fresh data."""
    solver_rows = {
        "trained": solver_errors(model, sde, cfg)[0],
        "scale1000": solver_errors(contrast, sde, cfg)[0],
        "exact": solver_errors(mixture.denoiser(sde), sde, cfg)[0],
    }
    true_x = mixture.sample(cfg["n_ode"], generator=torch.Generator().manual_seed(7))
    g = torch.Generator().manual_seed(3)
    for r in solver_rows["trained"]:
        r["sw"] = metrics.sliced_wasserstein(r["x"], true_x, generator=g)
    for rows_ in solver_rows.values():
        for r in rows_:
            r.pop("x")
    return solver_rows


def solver_table(solver_rows: dict, nfes) -> list:
    """One row per NFE: Euler's and Heun's error for each model of solver_runs, and SW."""
    solver_table = []
    for nfe in nfes:
        e, h, e1k, h1k, ee, he = (
            next(r for r in rows_ if r["nfe"] == nfe and r["solver"] == s)
            for rows_ in solver_rows.values()
            for s in ("euler", "heun")
        )
        solver_table.append(
            {
                "NFE": nfe,
                "Euler err": e["ode_error"],
                "Heun err": h["ode_error"],
                "Euler err (ts 1000)": e1k["ode_error"],
                "Heun err (ts 1000)": h1k["ode_error"],
                "Euler err (exact D)": ee["ode_error"],
                "Heun err (exact D)": he["ode_error"],
                "Euler SW": e["sw"],
                "Heun SW": h["sw"],
            }
        )
    return solver_table


def solver_figures(solver_rows: dict) -> dict:
    """The JSON figures of the solver claim: Euler-over-Heun NFE ratios and the errors."""
    ratios = {k: nfe_ratio(v) for k, v in solver_rows.items()}

    def median(pairs):
        return float(np.median([k for _, k in pairs])) if pairs else None

    def errors(rows_):
        return {s: [r["ode_error"] for r in rows_ if r["solver"] == s] for s in ("euler", "heun")}

    return dict(
        euler_over_heun_nfe={str(n): k for n, k in ratios["trained"]},
        euler_over_heun_nfe_median=median(ratios["trained"]),
        euler_over_heun_nfe_scale1000={str(n): k for n, k in ratios["scale1000"]},
        euler_over_heun_nfe_scale1000_median=median(ratios["scale1000"]),
        euler_over_heun_nfe_exact_denoiser={str(n): k for n, k in ratios["exact"]},
        ode_error=errors(solver_rows["trained"]),
        ode_error_scale1000=errors(solver_rows["scale1000"]),
        ode_error_exact_denoiser=errors(solver_rows["exact"]),
    )
