"""Welcome: a 2-D diffusion model trained and sampled in under a minute (lesson 00).

Trains a small MLP (eps-prediction, VP process, DSM loss) on the ring of 8 Gaussians, samples it
with DDIM and the probability-flow ODE (Heun), and measures on this machine:
* wall time of training and of sampling;
* sliced Wasserstein-2 distance between 2,000 samples and 2,000 fresh true samples, next to the
  same distance between two independent true samples of that size (the floor: finite-sample
  noise), and how many of the 8 modes are covered.

Usage: python -m minidiff.experiments.welcome [--fast]
"""

import functools
import time

import torch

from minidiff import losses, metrics, report, samplers, schedules, sde, targets, train
from minidiff.data import toy2d
from minidiff.nets import mlp

NAME = "welcome"


def settings(fast: bool) -> dict:
    """The lesson's settings (lesson 00 uses the same numbers)."""
    if fast:
        return dict(
            n_data=2000,
            steps=300,
            batch_size=256,
            lr=2e-3,
            ema=0.99,
            n_samples=500,
            sample_steps=10,
        )
    return dict(
        n_data=20000,
        steps=4000,
        batch_size=256,
        lr=2e-3,
        ema=0.995,
        n_samples=2000,
        sample_steps=25,
    )


def quality(x, ring, seed=0):
    """SW_2 to a fresh true sample of the same size, and (modes covered, precision)."""
    truth = ring.sample(len(x), generator=torch.Generator().manual_seed(10_000 + seed))
    sw = metrics.sliced_wasserstein(x, truth, generator=torch.Generator().manual_seed(seed))
    coverage, precision = metrics.mode_coverage(x, ring.means, 0.1)
    return sw, round(coverage * len(ring.means)), precision


def sw_floor(ring, n, pairs=5):
    """Mean SW_2 between two independent true samples of size n: what 'perfect' scores."""
    total = 0.0
    for i in range(pairs):
        a = ring.sample(n, generator=torch.Generator().manual_seed(20_000 + 2 * i))
        b = ring.sample(n, generator=torch.Generator().manual_seed(20_001 + 2 * i))
        total += metrics.sliced_wasserstein(a, b, generator=torch.Generator().manual_seed(i))
    return total / pairs


def train_model(s: dict, ring, vp) -> tuple:
    """(training history, seconds): the lesson's MLP trained on ring data with settings `s`."""
    data = ring.sample(s["n_data"], generator=torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    denoiser = targets.Denoiser(mlp.MLP(hidden=64, depth=3), vp, "eps")
    t0 = time.perf_counter()
    history = train.fit(
        denoiser,
        functools.partial(losses.dsm, sde=vp),
        data,
        steps=s["steps"],
        batch_size=s["batch_size"],
        lr=s["lr"],
        ema_decay=s["ema"],
        generator=torch.Generator().manual_seed(1),
    )
    train_s = time.perf_counter() - t0
    return history, train_s


def sample_rows(model, s: dict, ring, vp, train_s: float) -> list:
    """One row per sampler (DDIM, PF-ODE Heun): NFE, seconds, SW_2 and its floor, modes."""
    n = s["sample_steps"]
    x1 = vp.prior_sample((s["n_samples"], 2), generator=torch.Generator().manual_seed(2))
    runs = {
        f"DDIM, {n} steps": (n, lambda: samplers.ddim(model, vp, x1, schedules.uniform(n))),
        f"PF-ODE Heun, {n // 2} steps": (
            2 * (n // 2) - 1,
            lambda: samplers.pf_ode(model, vp, x1, schedules.uniform(n // 2), samplers.heun),
        ),
    }
    floor = sw_floor(ring, s["n_samples"])
    rows = []
    for name, (nfe, sample) in runs.items():
        t0 = time.perf_counter()
        x = sample()
        seconds = time.perf_counter() - t0
        sw, modes, precision = quality(x, ring)
        rows.append(
            dict(
                sampler=name,
                NFE=nfe,
                train_s=train_s,
                sample_s=seconds,
                SW2=sw,
                SW2_true_vs_true=floor,
                modes=f"{modes}/8",
                precision=precision,
            )
        )
    return rows


def run(fast: bool = False) -> dict:
    s = settings(fast)
    ring, vp = toy2d.ring(), sde.VP()
    history, train_s = train_model(s, ring, vp)
    rows = sample_rows(history.ema.model, s, ring, vp, train_s)
    first = rows[0]
    figures = dict(
        fast=fast,
        threads=torch.get_num_threads(),
        train_steps=s["steps"],
        train_s=train_s,
        ddim_sample_s=first["sample_s"],
        total_s=train_s + sum(r["sample_s"] for r in rows),
        sw2_ddim=first["SW2"],
        sw2_pf_ode=rows[1]["SW2"],
        sw2_true_vs_true=first["SW2_true_vs_true"],
        modes_ddim=int(first["modes"][0]),
        final_loss=sum(history.loss[-100:]) / 100,
    )
    return dict(rows=rows, figures=figures)


def main(argv: list[str] | None = None) -> dict:
    """The command line: [--fast]; prints the tables, then one JSON line of figures."""
    return report.benchmark_main(NAME, run, tables=("rows",), threads=1, argv=argv)


if __name__ == "__main__":
    main()
