"""Welcome: a 2-D diffusion model trained and sampled in under a minute (lesson 00).

Trains a small MLP (eps-prediction, VP process, DSM loss) on the ring of 8 Gaussians, samples it
with DDIM and the probability-flow ODE (Heun) from several sampling seeds, and measures:
* wall time of training and of sampling on this machine;
* per sampling seed, the sliced Wasserstein-2 distance between the samples and a fresh true
  sample of the same size, next to the same distance for a second true sample (the floor:
  finite-sample noise), scored with the same true sample and projections (a paired comparison);
  modes covered and precision (the fraction of samples within 3 std of a mode), also for data.
Also the course's expected time per lesson (lesson_times), from recorded seconds.

Usage: python -m minidiff.experiments.welcome [--fast]
"""

import functools
import os
import time

import torch

from minidiff import losses, metrics, report, samplers, schedules, sde, stats, targets, train
from minidiff.data import toy2d
from minidiff.nets import mlp

NAME = "welcome"
DATA = "data (a second true sample)"


def settings(fast: bool) -> dict:
    """The lesson's settings (lesson 00 uses the same numbers)."""
    if fast:
        return dict(n_data=2000, steps=300, batch_size=256, lr=2e-3, ema=0.99, n_samples=500,
                    sample_steps=10, sampling_seeds=3)  # fmt: skip
    return dict(n_data=20000, steps=4000, batch_size=256, lr=2e-3, ema=0.995, n_samples=2000,
                sample_steps=25, sampling_seeds=5)  # fmt: skip


def quality(x, ring, seed=0):
    """SW_2 to a fresh true sample of the same size, and (modes covered, precision)."""
    truth = ring.sample(len(x), generator=torch.Generator().manual_seed(10_000 + seed))
    sw = metrics.sliced_wasserstein(x, truth, generator=torch.Generator().manual_seed(seed))
    coverage, precision = metrics.mode_coverage(x, ring.means, 0.1)
    return sw, round(coverage * len(ring.means)), precision


def second_sample(ring, n, seed=0):
    """Another true sample of size n: scored by quality(..., seed), it gives the floor."""
    return ring.sample(n, generator=torch.Generator().manual_seed(20_000 + seed))


def prior(s: dict, vp, seed=0):
    """The starting noise x_1 of sampling seed `seed` (seed 0 is the lesson's x1)."""
    return vp.prior_sample((s["n_samples"], 2), generator=torch.Generator().manual_seed(2 + seed))


def train_model(s: dict, ring, vp, progress=False) -> tuple:
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
        progress=progress,
    )
    return history, time.perf_counter() - t0


def sampler_runs(s: dict) -> dict:
    """{name: (network calls, sample(model, vp, x1))}: DDIM and the PF-ODE with Heun."""
    n = s["sample_steps"]
    return {
        f"DDIM ({n} steps)": (n, lambda m, vp, x1: samplers.ddim(m, vp, x1, schedules.uniform(n))),
        f"PF-ODE Heun ({n // 2} steps)": (
            2 * (n // 2) - 1,
            lambda m, vp, x1: samplers.pf_ode(m, vp, x1, schedules.uniform(n // 2), samplers.heun),
        ),
    }


def seed_rows(model, s: dict, ring, vp) -> list:
    """One row per sampling seed and sampler (and for a second true sample): NFE, seconds,
    SW_2 to the seed's true sample, modes covered and precision."""
    rows = []
    for seed in range(s["sampling_seeds"]):
        sw, modes, precision = quality(second_sample(ring, s["n_samples"], seed), ring, seed)
        rows.append(dict(sampler=DATA, seed=seed, NFE=0, sample_s=0.0, SW2=sw, modes=modes,
                         precision=precision))  # fmt: skip
        x1 = prior(s, vp, seed)
        for name, (nfe, sample) in sampler_runs(s).items():
            t0 = time.perf_counter()
            x = sample(model, vp, x1)
            seconds = time.perf_counter() - t0
            sw, modes, precision = quality(x, ring, seed)
            rows.append(dict(sampler=name, seed=seed, NFE=nfe, sample_s=seconds, SW2=sw,
                             modes=modes, precision=precision))  # fmt: skip
    return rows


def summary(rows: list) -> list:
    """Per sampler: mean ± sd over the sampling seeds."""
    out = []
    for name in dict.fromkeys(r["sampler"] for r in rows):
        mine = [r for r in rows if r["sampler"] == name]
        low, high = min(r["modes"] for r in mine), max(r["modes"] for r in mine)
        out.append(dict(sampler=name, NFE=mine[0]["NFE"], seeds=len(mine),
                        sample_s=sum(r["sample_s"] for r in mine) / len(mine),
                        SW2=str(stats.spread([r["SW2"] for r in mine])),
                        modes=f"{low}/8" if low == high else f"{low}-{high}/8",
                        precision=str(stats.spread([r["precision"] for r in mine]))))  # fmt: skip
    return out


def evaluate(history, s: dict, ring, vp, train_s: float) -> dict:
    """The measurements of a trained model (history from train_model): rows (summary),
    seed_rows, and figures."""
    rows = seed_rows(history.ema.model, s, ring, vp)
    by = {n: [r for r in rows if r["sampler"] == n] for n in [DATA, *sampler_runs(s)]}
    ddim, ode = list(by.values())[1:]
    figures = dict(
        threads=torch.get_num_threads(),
        cores=os.cpu_count(),
        load=round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,  # other jobs
        train_steps=s["steps"],
        train_s=train_s,
        ddim_sample_s=ddim[0]["sample_s"],
        sw2_ddim=stats.spread([r["SW2"] for r in ddim]).mean,
        sw2_pf_ode=stats.spread([r["SW2"] for r in ode]).mean,
        sw2_true_vs_true=stats.spread([r["SW2"] for r in by[DATA]]).mean,
        modes_ddim=min(r["modes"] for r in ddim),
        final_loss=sum(history.loss[-100:]) / 100,
    )
    return dict(rows=summary(rows), seed_rows=rows, figures=figures)


def run(fast: bool = False) -> dict:
    s = settings(fast)
    ring, vp = toy2d.ring(), sde.VP()
    history, train_s = train_model(s, ring, vp)
    out = evaluate(history, s, ring, vp, train_s)
    out["figures"] = dict(fast=fast, **out["figures"])
    return out


def claims(out) -> list[dict]:
    """The lesson's claim lines: time, mode coverage, SW_2 and precision against data's."""
    rows, f = out["seed_rows"], out["figures"]
    ddim_name = next(r["sampler"] for r in rows if r["sampler"] != DATA)
    ddim = [r for r in rows if r["sampler"] == ddim_name]
    data = [r for r in rows if r["sampler"] == DATA]
    k, seconds = len(ddim), f["train_s"] + ddim[0]["sample_s"]
    same = f"not distinguishable from data's (paired t at 5 %, {k} sampling seeds)"
    sw = stats.paired([r["SW2"] for r in data], [r["SW2"] for r in ddim])
    pr = stats.paired([r["precision"] for r in data], [r["precision"] for r in ddim])
    return [
        report.claim("The pipeline trains and samples in under a minute on this machine",
                     seconds < 60, "training + one DDIM run < 60 s", train_s=f["train_s"],
                     sample_s=ddim[0]["sample_s"], threads=f["threads"], cores=f.get("cores"),
                     load=f.get("load")),
        report.claim(f"{ddim_name} covers all 8 modes at every sampling seed",
                     min(r["modes"] for r in ddim) == 8, f"8/8 modes at each of {k} seeds",
                     modes=",".join(str(r["modes"]) for r in ddim)),
        report.claim(f"{ddim_name} samples are as close to the data as a second data sample "
                     "(sliced W2)", sw.verdict == "not distinguishable", f"SW2 {same}",
                     sw2=str(stats.spread([r["SW2"] for r in ddim])),
                     floor=str(stats.spread([r["SW2"] for r in data])), difference=str(sw)),
        report.claim(f"{ddim_name} samples fall within 3 std of a mode as often as data do",
                     pr.verdict == "not distinguishable", f"precision {same}",
                     precision=str(stats.spread([r["precision"] for r in ddim])),
                     data=str(stats.spread([r["precision"] for r in data])), difference=str(pr)),
    ]  # fmt: skip


# Seconds each lesson took top to bottom at full budget, zoo models cached, on a quiet 2-core CPU
# (the course's own runs, as in the README's lesson table); re-time and update them together.
LESSON_SECONDS = {
    "00 welcome": 22, "01 forward SDEs": 34, "02 scores and time reversal": 54,
    "03 score matching and likelihood": 56, "04 images": 152, "05 text to image": 164,
    "06 MobileDiffusion I: efficient UNet": 146, "07 MobileDiffusion II: latent diffusion": 22,
    "08 MobileDiffusion III: 8 steps and 1 step": 105, "09 HDiT: hourglass transformer": 99,
    "10 any size: tiles and buckets": 69,
}  # fmt: skip


def zoo_loads() -> dict:
    """{lesson: the zoo recipes it loads} (their needs= come on top); lessons 00-02 load none."""
    from minidiff import recipes  # lazy: the zoo's recipes import the image-model code

    d = recipes.distill
    return {
        "03": list(recipes.ring_seeds.values()),
        "04": [recipes.digits_classifier, recipes.digits_unet, recipes.shapes_classifier],
        "05": [recipes.shapes_classifier, recipes.shapes_t2i, *recipes.text_encoders.values()],
        "06": [recipes.shapes_classifier,
               *(r for seeds in recipes.mobile.runs.values() for r in seeds)],
        "07": [recipes.shapes_autoencoder, recipes.shapes_light_decoder, recipes.latent_t2i,
               recipes.shapes_classifier, *recipes.mobile.runs["one_resblock"],
               *(r for seeds in recipes.latent.space_runs.values() for r in seeds.values())],
        "08": [*(r for runs in d.pd_runs.values() for r in runs.values()),
               *d.ufogen_runs.values(), *d.ufogen_random_d_runs.values(), d.ring_ufogen,
               recipes.ring_v_teacher,
               recipes.latent_t2i, recipes.shapes_light_decoder, recipes.shapes_classifier],
        "09": [recipes.shapes_classifier,
               *(r for seeds in recipes.hdit.runs.values() for r in seeds)],
        "10": [recipes.anysize.scenes_tile, recipes.anysize.scenes_judge, recipes.anysize.scenes_sr,
               *(r for seeds in recipes.anysize.composition_runs.values() for r in seeds)],
    }  # fmt: skip


def _with_needs(recipes, seen=None) -> list:
    seen = [] if seen is None else seen
    for r in recipes:
        _with_needs(r.needs, seen)
        seen += [r.name] if r.name not in seen else []
    return seen


def lesson_times() -> list[dict]:
    """Per lesson: recorded full-budget seconds (zoo cached), and the zoo models it loads with
    the recorded seconds to train them on a CPU (recipes.build.RECORDED): opened first on a cold
    cache, and when the lessons are taken in order (each pays only for what is not built yet)."""
    from minidiff.recipes.build import RECORDED

    recorded, loads, built, rows = RECORDED["cpu"], zoo_loads(), set(), []
    for lesson, seconds in LESSON_SECONDS.items():
        names = _with_needs(loads.get(lesson[:2], []))
        new = [n for n in names if n not in built]
        built |= set(names)
        rows.append(dict(lesson=lesson, full_budget_s=seconds, zoo_models=len(names),
                         zoo_cold_s=round(sum(recorded[n] for n in names)),
                         zoo_in_order_s=round(sum(recorded[n] for n in new))))  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> dict:
    """The command line: [--fast]; prints the tables, the claims, then one JSON line."""
    return report.benchmark_main(NAME, run, tables=("rows", "seed_rows"), threads=1, argv=argv,
                                 claims=claims)  # fmt: skip


if __name__ == "__main__":
    main()
