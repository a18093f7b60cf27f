"""Lesson 03's measured claims: PF-ODE likelihood of trained denoisers, and Euler vs Heun.

1. A small MLP trained by denoising score matching on the VP process (eps, x0 and v
   parameterisations, equal budget) has a PF-ODE NLL on held-out data within a few % of the true
   NLL of the mixture (Song et al. 2021, Sec. 4.3). The gap in nats estimates KL(p || p_model).
2. At equal NFE, Heun's method solves the PF-ODE of the same trained model far more accurately
   than Euler's (Karras et al. 2022): Euler needs k times the NFE of Heun for the same error.
   This needs a velocity that is smooth in t: the MLPs use time_scale=50 in their sinusoidal
   time embedding. A contrast eps model, trained identically but with DDPM's time_scale=1000,
   shows how a wiggly-in-t network takes away Heun's advantage.

python benchmarks/likelihood.py [--fast]
"""

import functools
import math

import numpy as np
import torch

from minidiff import likelihood, losses, metrics, report, samplers, schedules, targets, train
from minidiff import sde as sde_mod
from minidiff.data import toy2d
from minidiff.nets import mlp

NAME = "likelihood"
T0 = 1e-3  # likelihood is evaluated at t0 (the data time of the ODE), as in Song et al. 2021
WEIGHTINGS = {"eps": losses.snr_weight, "x0": losses.x0_weight, "v": losses.v_weight}
CONTRAST = "eps, time_scale 1000"  # key of the contrast model in `models`
SOLVERS = (("euler", samplers.euler, 1), ("heun", samplers.heun, 2))  # (name, solver, NFE/step)
CONFIG = {  # the lesson's Settings cell uses the same numbers
    False: dict(
        steps=3000,
        hidden=128,
        depth=3,
        batch=512,
        lr=2e-3,
        ema=0.995,
        time_scale=50.0,
        contrast_time_scale=1000.0,
        n_test=1000,
        nll_steps=100,
        nfes=[4, 8, 16, 32, 64, 128, 256],
        n_ode=1000,
        ref_steps=1024,
    ),
    True: dict(
        steps=200,
        hidden=64,
        depth=2,
        batch=256,
        lr=2e-3,
        ema=0.99,
        time_scale=50.0,
        contrast_time_scale=1000.0,
        n_test=200,
        nll_steps=20,
        nfes=[4, 8, 16, 32],
        n_ode=200,
        ref_steps=128,
    ),
}


def problem():
    """The VP process and the mixture: a ring of 8 Gaussians, std 0.2 (true NLL about 1.7 nats)."""
    return sde_mod.VP(), toy2d.ring(std=0.2)


def datasets(mixture, n_test: int, seed: int = 0):
    """(train 50k, validation 2k, held-out test n_test) samples, from one seeded generator."""
    g = torch.Generator().manual_seed(seed)
    return (
        mixture.sample(50_000, generator=g),
        mixture.sample(2000, generator=g),
        mixture.sample(n_test, generator=g),
    )


def train_denoiser(
    prediction: str, sde, data, val, cfg, progress=False, time_scale: float | None = None
) -> train.History:
    """One MLP trained by DSM with the weighting that makes it the native loss of `prediction`.

    time_scale (default cfg["time_scale"]) multiplies t before the MLP's sinusoidal embedding."""
    torch.manual_seed(0)
    time_scale = cfg["time_scale"] if time_scale is None else time_scale
    net = mlp.MLP(hidden=cfg["hidden"], depth=cfg["depth"], time_scale=time_scale)
    model = targets.Denoiser(net, sde, prediction)
    loss_fn = functools.partial(losses.dsm, sde=sde, weighting=WEIGHTINGS[prediction])
    return train.fit(
        model,
        loss_fn,
        data,
        steps=cfg["steps"],
        batch_size=cfg["batch"],
        lr=cfg["lr"],
        ema_decay=cfg["ema"],
        val_data=val,
        log_every=250,
        generator=torch.Generator().manual_seed(1),
        progress=progress,
    )


def likelihood_grid(sde, n: int) -> torch.Tensor:
    """n steps uniform in log-SNR from t0 up to 1 (increasing, as log_likelihood wants)."""
    return schedules.log_snr(sde, n + 1, t_min=T0)[:-1].flip(0)


def sampling_grid(sde, n: int) -> torch.Tensor:
    """n steps uniform in log-SNR from 1 down to t0 (no final jump to 0: NFE is exact)."""
    return schedules.log_snr(sde, n + 1, t_min=T0)[:-1]


def nll_rows(models: dict, sde, mixture, x, cfg, seed: int = 0):
    """Exact-divergence PF-ODE NLL per model, the exact denoiser's, and the truth at t0."""
    ts = likelihood_grid(sde, cfg["nll_steps"])
    true = -mixture.log_prob_t(x, T0, sde)
    exact = -likelihood.log_likelihood(mixture.denoiser(sde), sde, x.double(), ts)
    rows = [
        dict(
            model="true density p_t0",
            nll_nats=true.mean().item(),
            se=_se(true),
            gap_nats=0.0,
            gap_pct=0.0,
        ),
        dict(
            model="exact denoiser + ODE",
            nll_nats=exact.mean().item(),
            se=_se(exact),
            gap_nats=(exact - true).mean().item(),
            gap_pct=100 * (exact - true).mean().item() / true.mean().item(),
        ),
    ]
    for name, model in models.items():
        nll = -likelihood.log_likelihood(model, sde, x, ts).detach()
        gap = (nll - true).mean().item()  # paired: same points, so its error bar is small
        rows.append(
            dict(
                model=f"trained, {name}",
                nll_nats=nll.mean().item(),
                se=_se(nll),
                gap_nats=gap,
                gap_pct=100 * gap / true.mean().item(),
                gap_se=_se(nll - true),
            )
        )
    for r in rows:
        r["bits_per_dim"] = r["nll_nats"] / (2 * math.log(2))
    return rows


def _se(v: torch.Tensor) -> float:
    return (v.std() / math.sqrt(len(v))).item()


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


def run(fast: bool, models: dict | None = None, progress: bool = False) -> dict:
    """Train what `models` lacks ('eps', 'x0', 'v' and CONTRAST -> trained denoiser), then measure.

    NLL: every model. Solvers: the exact denoiser, the eps model and the CONTRAST eps model."""
    cfg, (sde, mixture) = CONFIG[fast], problem()
    data, val, test = datasets(mixture, cfg["n_test"])
    models = dict(models or {})
    for p in WEIGHTINGS:
        if p not in models:
            models[p] = train_denoiser(p, sde, data, val, cfg, progress).ema.model
    if CONTRAST not in models:
        models[CONTRAST] = train_denoiser(
            "eps", sde, data, val, cfg, progress, time_scale=cfg["contrast_time_scale"]
        ).ema.model
    rows = nll_rows(models, sde, mixture, test, cfg)
    solver_rows = {
        "trained": solver_errors(models["eps"], sde, cfg)[0],
        "scale1000": solver_errors(models[CONTRAST], sde, cfg)[0],
        "exact": solver_errors(mixture.denoiser(sde), sde, cfg)[0],
    }
    true_x = mixture.sample(cfg["n_ode"], generator=torch.Generator().manual_seed(7))
    g = torch.Generator().manual_seed(3)
    for r in solver_rows["trained"]:
        r["sw"] = metrics.sliced_wasserstein(r["x"], true_x, generator=g)
    for rows_ in solver_rows.values():
        for r in rows_:
            r.pop("x")
    ratios = {k: nfe_ratio(v) for k, v in solver_rows.items()}
    table = [
        {
            "": r["model"],
            "NLL (nats)": r["nll_nats"],
            "± s.e.": r["se"],
            "bits/dim": r["bits_per_dim"],
            "gap (nats)": r["gap_nats"],
            "gap (%)": r["gap_pct"],
        }
        for r in rows
    ]
    solver_table = []
    for nfe in cfg["nfes"]:
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
    trained = {r["model"].split(", ", 1)[1]: r for r in rows if r["model"].startswith("trained")}

    def median(pairs):
        return float(np.median([k for _, k in pairs])) if pairs else None

    def errors(rows_):
        return {s: [r["ode_error"] for r in rows_ if r["solver"] == s] for s in ("euler", "heun")}

    figures = dict(
        nll_true=rows[0]["nll_nats"],
        nll_exact_denoiser_ode=rows[1]["nll_nats"],
        nll_model={k: r["nll_nats"] for k, r in trained.items()},
        nll_gap_nats={k: r["gap_nats"] for k, r in trained.items()},
        nll_gap_pct={k: r["gap_pct"] for k, r in trained.items()},
        time_scale=cfg["time_scale"],
        euler_over_heun_nfe={str(n): k for n, k in ratios["trained"]},
        euler_over_heun_nfe_median=median(ratios["trained"]),
        euler_over_heun_nfe_scale1000={str(n): k for n, k in ratios["scale1000"]},
        euler_over_heun_nfe_scale1000_median=median(ratios["scale1000"]),
        euler_over_heun_nfe_exact_denoiser={str(n): k for n, k in ratios["exact"]},
        ode_error=errors(solver_rows["trained"]),
        ode_error_scale1000=errors(solver_rows["scale1000"]),
        ode_error_exact_denoiser=errors(solver_rows["exact"]),
        nfes=cfg["nfes"],
    )
    return dict(
        rows=table,
        solver_rows=solver_table,
        figures=figures,
        ode_rows=solver_rows["trained"],
        scale1000_rows=solver_rows["scale1000"],
        exact_rows=solver_rows["exact"],
    )


if __name__ == "__main__":
    report.benchmark_main(NAME, run, tables=("solver_rows", "rows"), threads=None)
