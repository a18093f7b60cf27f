"""Lesson 03's measured claims: PF-ODE likelihood of trained denoisers, and Euler vs Heun.

1. A small MLP trained by denoising score matching on the VP process (eps, x0 and v
   parameterisations, equal budget) has a PF-ODE NLL on held-out data within a few % of the true
   NLL of the mixture (Song et al. 2021, Sec. 4.3). The gap in nats estimates KL(p || p_model).
2. At equal NFE, Heun's method solves the PF-ODE of the same trained model far more accurately
   than Euler's (Karras et al. 2022): Euler needs k times the NFE of Heun for the same error.
   This needs a velocity that is smooth in t: the MLPs use time_scale=50 in their sinusoidal
   time embedding. A contrast eps model, trained identically but with DDPM's time_scale=1000,
   shows how a wiggly-in-t network takes away Heun's advantage.
Claim 2's solver code is in experiments.ode_solvers; this module trains the models and runs both.

python -m minidiff.experiments.likelihood [--fast]
"""

import functools
import math

import torch

from minidiff import likelihood, losses, report, schedules, targets, train
from minidiff import sde as sde_mod
from minidiff.data import toy2d
from minidiff.experiments import ode_solvers
from minidiff.experiments.ode_solvers import SOLVERS, T0, sampling_grid  # noqa: F401 (lesson 03)
from minidiff.nets import mlp

NAME = "likelihood"
WEIGHTINGS = {"eps": losses.snr_weight, "x0": losses.x0_weight, "v": losses.v_weight}
CONTRAST = "eps, time_scale 1000"  # key of the contrast model in `models`
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


def train_missing(models: dict | None, sde, data, val, cfg, progress=False) -> dict:
    """`models` plus a trained denoiser for each of 'eps', 'x0', 'v' and CONTRAST it lacks."""
    models = dict(models or {})
    for p in WEIGHTINGS:
        if p not in models:
            models[p] = train_denoiser(p, sde, data, val, cfg, progress).ema.model
    if CONTRAST not in models:
        models[CONTRAST] = train_denoiser(
            "eps", sde, data, val, cfg, progress, time_scale=cfg["contrast_time_scale"]
        ).ema.model
    return models


def nll_figures(rows: list, cfg) -> dict:
    """The JSON figures of the NLL claim, from nll_rows."""
    trained = {r["model"].split(", ", 1)[1]: r for r in rows if r["model"].startswith("trained")}
    return dict(
        nll_true=rows[0]["nll_nats"],
        nll_exact_denoiser_ode=rows[1]["nll_nats"],
        nll_model={k: r["nll_nats"] for k, r in trained.items()},
        nll_gap_nats={k: r["gap_nats"] for k, r in trained.items()},
        nll_gap_pct={k: r["gap_pct"] for k, r in trained.items()},
        time_scale=cfg["time_scale"],
    )


def run(fast: bool, models: dict | None = None, progress: bool = False) -> dict:
    """Train what `models` lacks ('eps', 'x0', 'v' and CONTRAST -> trained denoiser), then measure.

    NLL: every model. Solvers: the exact denoiser, the eps model and the CONTRAST eps model."""
    cfg, (sde, mixture) = CONFIG[fast], problem()
    data, val, test = datasets(mixture, cfg["n_test"])
    models = train_missing(models, sde, data, val, cfg, progress)
    rows = nll_rows(models, sde, mixture, test, cfg)
    solver_rows = ode_solvers.solver_runs(models["eps"], models[CONTRAST], sde, mixture, cfg)
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
    figures = dict(
        **nll_figures(rows, cfg), **ode_solvers.solver_figures(solver_rows), nfes=cfg["nfes"]
    )
    return dict(
        rows=table,
        solver_rows=ode_solvers.solver_table(solver_rows, cfg["nfes"]),
        figures=figures,
        ode_rows=solver_rows["trained"],
        scale1000_rows=solver_rows["scale1000"],
        exact_rows=solver_rows["exact"],
    )


def main(argv: list[str] | None = None) -> dict:
    """The command line: [--fast]; prints the tables, then one JSON line of figures."""
    return report.benchmark_main(NAME, run, tables=("solver_rows", "rows"), threads=None, argv=argv)


if __name__ == "__main__":
    main()
