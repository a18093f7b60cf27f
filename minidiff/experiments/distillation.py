"""Lesson 08's tests of MobileDiffusion's claims (Zhao et al. 2023, Sec. 4): that progressive
distillation (Salimans & Ho 2022, CFG-aware as SnapFusion) keeps quality down to about 8 steps
and degrades below, and that UFOGen fine-tuning (Xu et al. 2023) gives a one-step model better
than PD's one-step model, at >= 30x lower latency per image than the 50-step baseline pipeline.
Whether each holds here is a claim line (claims()); the lesson reads them.

Models: lesson 07's latent_t2i (the teacher: DDIM with CFG at distill.SCALE) and the zoo's
recipes.distill (pd_runs[seed][n] for n = 32 ... 1; ufogen_runs and ufogen_random_d_runs: EMA
generator snapshots, the discriminator made from the denoiser or freshly built; each over
distill.SEEDS training seeds, measured in distillation_seeds.py; ring_ufogen, the 2-D toy view).
Quality: held-out one-object captions, latents decoded by the light decoder and pooled to the
judge's 16x16; condition accuracy = shape, colour, size and position all read as captioned; FD on
the judge's features to the real images. Students sample without CFG (it is distilled into them,
or absent: UFOGen): one network call per step. Latency: median ms at 1 thread for one image end
to end (text encoder; UNet x steps at batch 2 with CFG, 1 without; decoder), as lesson 07.

python -m minidiff.experiments.distillation [--fast]
"""

import torch
from tqdm.auto import tqdm

from minidiff import metrics, recipes, report, samplers, schedules, stats, zoo
from minidiff.data import toy2d
from minidiff.distill import diffusion_gan
from minidiff.experiments import distillation_seeds as seeds
from minidiff.experiments import latent_diffusion as ld_bench
from minidiff.experiments import mobile_unet
from minidiff.experiments.distillation_seeds import (  # noqa: F401 (the lesson's samplers)
    noise,
    student_latents,
    teacher_latents,
    ufogen_latents,
)
from minidiff.recipes import distill, latent

NAME = "distillation"
CONFIG = {
    False: dict(n=200, repeats=30, ring_n=4000, ring_seeds=5),
    True: dict(n=16, repeats=2, ring_n=500, ring_seeds=2),
}
TEACHER_STEPS, PD_STEPS = 50, (distill.TEACHER_STEPS, *distill.ROUNDS)
RING = ("teacher, DDIM 1 step", "teacher, DDIM 50 steps", "UFOGen, 1 step", "a second true sample")
COST_STEPS = (1, 2, 4, 8, 16, 32, 50)


def ring_rows(fast: bool, cfg) -> tuple[list[dict], dict]:
    """The 2-D view over cfg["ring_seeds"] sampling seeds: 1-step teacher (DDIM), 50-step
    teacher, UFOGen 1 step; a second true sample as the floor. Coverage = modes hit (of 8),
    precision = share near a mode. -> (rows of mean ± sd, {sampler: {metric: per-seed}})."""
    ring, n = toy2d.ring(), cfg["ring_n"]
    teacher = zoo.load(recipes.ring_v_teacher, fast=fast)
    ufogen = zoo.load(distill.ring_ufogen, fast=fast).models[-1]
    raw = {name: dict(modes_covered=[], precision=[], sliced_w2=[]) for name in RING}
    for seed in range(cfg["ring_seeds"]):
        x = torch.randn(n, 2, generator=torch.Generator().manual_seed(1 + 10 * seed))
        real = ring.sample(n, generator=torch.Generator().manual_seed(2 + 10 * seed))
        samples = dict(
            zip(
                RING,
                (
                    samplers.ddim(teacher, teacher.sde, x, schedules.uniform(1)),
                    samplers.ddim(teacher, teacher.sde, x, schedules.uniform(50)),
                    diffusion_gan.sample(ufogen, x, schedules.uniform(1)),
                    ring.sample(n, generator=torch.Generator().manual_seed(3 + 10 * seed)),
                ),
            )
        )
        for name, y in samples.items():
            coverage, precision = metrics.mode_coverage(y, ring.means, 0.1)
            sw = metrics.sliced_wasserstein(y, real, generator=torch.Generator().manual_seed(0))
            for key, v in zip(raw[name], (round(8 * coverage), precision, sw)):
                raw[name][key].append(v)
    rows = [
        dict(sampler=name, **{k: stats.cell(v) for k, v in m.items()}) for name, m in raw.items()
    ]
    return rows, raw  # fmt: skip


def cost_rows(teacher, light, cfg) -> list[dict]:
    """End-to-end ms per image vs steps: the teacher with CFG (batch 2), a student without."""
    ms, shape, rows = ld_bench.timer(cfg["repeats"]), noise(1).shape[1:], []
    for steps in tqdm(COST_STEPS, desc="latency vs steps"):
        guided = ld_bench.pipeline_row("CFG", teacher, light, shape, steps, ms, batch=2)
        plain = ld_bench.pipeline_row("no CFG", teacher, light, shape, steps, ms, batch=1)
        rows.append(dict(steps=steps, cfg_ms=guided["total_ms"], student_ms=plain["total_ms"]))
    return rows


def final_rows(raw: list[dict], teacher, full, light, cfg) -> list[dict]:
    """The verdict: the teacher at 64, 8 and 1 steps with CFG, PD at 8 and 1, UFOGen at 1 (the
    snapshot chosen on validation captions), accuracy and FD mean ± sd over the seeds; ms per
    image end to end (seed 0's models; every seed has the same cost); and the SD-like UNet's
    pipelines at 50 steps with CFG (timed untrained, as lesson 07), latent and pixel space."""
    ms, shape, rows = ld_bench.timer(cfg["repeats"]), noise(1).shape[1:], []
    for name, (steps, batch, accuracy, fds) in seeds.verdict_values(raw).items():
        timing = ld_bench.pipeline_row(name, teacher, light, shape, steps, ms, batch=batch)
        rows.append(dict(model=name, accuracy_pct=stats.cell(accuracy), fd=stats.cell(fds),
                         calls=steps * batch, ms=timing["total_ms"],
                         GFLOPs=timing["GFLOPs"]))  # fmt: skip
    baselines = [
        ("baseline: SD-like UNet, latent, 50 steps + CFG", latent.build_latent_t2i("sd_like")),
        ("baseline: SD-like UNet, pixels, 50 steps + CFG", mobile_unet.mobile.build("sd_like")),
    ]
    for (name, sd_like), decoder, in_shape in zip(baselines, (full, None), (shape, (3, 32, 32))):
        timing = ld_bench.pipeline_row(name, sd_like.eval(), decoder, in_shape, 50, ms, batch=2)
        rows.append(dict(model=name, accuracy_pct="-", fd="-", calls=100, ms=timing["total_ms"],
                         GFLOPs=timing["GFLOPs"]))  # fmt: skip
    return rows


def run(fast: bool = False) -> dict:
    cfg = CONFIG[fast]
    teacher = zoo.load(latent.latent_t2i, fast=fast)
    full = zoo.load(latent.shapes_autoencoder, fast=fast)
    light = zoo.load(latent.shapes_light_decoder, fast=fast)
    judge_net = zoo.load(recipes.shapes_classifier, fast=fast)
    ring, ring_raw = ring_rows(fast, cfg)
    raw = seeds.measure(dict(teacher=teacher), light, judge_net, cfg["n"], fast)
    snapshots = zoo.load(distill.ufogen, fast=fast).steps.tolist()
    result = dict(
        ring=ring,
        cost=cost_rows(teacher, light, cfg),
        pd=seeds.pd_table(raw),
        ufogen=seeds.ufogen_table(raw, snapshots),
        spread=seeds.spread_table(raw),
        final=final_rows(raw, teacher, full, light, cfg),
        raw=dict(seeds=raw, ring=ring_raw, snapshots=snapshots),
    )
    result["figures"] = figures(result, cfg)
    return result


def figures(result: dict, cfg) -> dict:
    """The JSON line: means over the seeds (the tables hold the sds)."""
    raw, final = result["raw"], {r["model"]: r for r in result["final"]}
    mean = lambda xs: sum(xs) / len(xs)  # noqa: E731 (one value for a single run)
    verdict = seeds.verdict_values(raw["seeds"])
    return dict(
        seeds=len(raw["seeds"]),
        samples=cfg["n"],
        fd={name: mean(v[3]) for name, v in verdict.items()},
        accuracy_pct={name: mean(v[2]) for name, v in verdict.items()},
        ms={name: r["ms"] for name, r in final.items()},
        ufogen_speedup_vs_baseline=speedup(final, "latent"),
        ufogen_speedup_vs_pixel_baseline=speedup(final, "pixels"),
        ring_modes_covered={k: v["modes_covered"] for k, v in raw["ring"].items()},
    )


def speedup(final: dict, space: str) -> float:
    """ms of the SD-like baseline pipeline (latent or pixel space) over UFOGen's one step."""
    baseline = final[f"baseline: SD-like UNet, {space}, 50 steps + CFG"]
    return baseline["ms"] / final["UFOGen, 1 step"]["ms"]


def claims(out: dict) -> list[dict]:
    """The lesson's claim lines (seeds.claims on the seed runs, plus latency and the ring)."""
    ring = out["raw"]["ring"]
    one = ring["teacher, DDIM 1 step"]["modes_covered"]
    ufo = ring["UFOGen, 1 step"]["modes_covered"]
    speed = out["figures"]["ufogen_speedup_vs_baseline"]
    return seeds.claims(out["raw"]["seeds"]) + [
        report.claim("UFOGen's one step is >= 30x faster than the SD-like latent pipeline at 50 "
                     "steps + CFG", speed >= 30, "ms ratio >= 30 (median ms, 1 thread)",
                     speedup=speed),
        report.claim("On the ring one UFOGen step covers every mode; the teacher's one DDIM step "
                     "none", all(m == 8 for m in ufo) and not any(one),
                     "8/8 and 0/8 modes at every sampling seed",
                     ufogen=",".join(map(str, ufo)), teacher_1_step=",".join(map(str, one))),
    ]  # fmt: skip


def main(argv: list[str] | None = None) -> dict:
    """The command line: [--fast]; prints the tables, the claims, then one JSON line."""
    return report.benchmark_main(
        NAME,
        run,
        tables=("ring", "cost", "pd", "ufogen", "spread", "final"),
        argv=argv,
        claims=claims,
    )


if __name__ == "__main__":
    main()
