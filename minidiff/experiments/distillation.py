"""Lesson 08's measured claims (MobileDiffusion, Zhao et al. 2023, Sec. 4): progressive
distillation (Salimans & Ho 2022, CFG-aware as SnapFusion) keeps quality down to about 8 steps
and degrades below; UFOGen fine-tuning (Xu et al. 2023) gives a one-step model far better than
PD's one-step model within a few thousand iterations, at >= 30x lower latency per image than the
50-step baseline pipeline.

Models: lesson 07's latent_t2i (the teacher: DDIM with CFG at distill.SCALE) and the zoo's
recipes.distill (pd[n] for n = 32 ... 1; ufogen and ufogen_random_d: EMA generator snapshots,
the discriminator made from the denoiser or freshly built; ring_ufogen, the 2-D toy view).
Quality: held-out one-object captions, latents decoded by the light decoder and pooled to the
judge's 16x16; condition accuracy = shape, colour, size and position all read as captioned; FD on
the judge's features to the real images. Students sample without CFG (it is distilled into them,
or absent: UFOGen): one network call per step. Latency: median ms at 1 thread for one image end
to end (text encoder; UNet x steps at batch 2 with CFG, 1 without; decoder), as lesson 07.

python -m minidiff.experiments.distillation [--fast]
"""

import torch
from tqdm.auto import tqdm

from minidiff import metrics, recipes, report, samplers, schedules, zoo
from minidiff.data import toy2d
from minidiff.distill import diffusion_gan
from minidiff.experiments import latent_diffusion as ld_bench
from minidiff.experiments import mobile_unet
from minidiff.experiments import text_to_image as t2i_bench
from minidiff.recipes import distill, latent
from minidiff.recipes import shapes as shape_recipes

NAME = "distillation"
CONFIG = {
    False: dict(n=200, repeats=30, ring_n=4000),
    True: dict(n=16, repeats=2, ring_n=500),
}
TEACHER_STEPS, PD_STEPS = 50, (distill.TEACHER_STEPS, *distill.ROUNDS)
COST_STEPS = (1, 2, 4, 8, 16, 32, 50)


def noise(n: int, seed: int = 0) -> torch.Tensor:
    side = latent.SIZE // 4
    shape = (n, latent.Z_CHANNELS, side, side)
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed))


def teacher_latents(teacher, captions, steps: int) -> torch.Tensor:
    """DDIM with CFG (two network calls per step)."""
    return ld_bench.sample_latents(teacher, captions, distill.SCALE, steps)


def student_latents(student, captions, steps: int) -> torch.Tensor:
    """DDIM on the student's own grid, conditional only (CFG is distilled into it)."""
    ids, mask = shape_recipes.encode(captions)
    denoiser = lambda x, t: student(x, t, ids, mask)  # noqa: E731
    return samplers.ddim(denoiser, student.sde, noise(len(ids)), schedules.uniform(steps))


def ufogen_latents(generator_model, captions, steps: int = 1) -> torch.Tensor:
    ids, mask = shape_recipes.encode(captions)
    ts = schedules.uniform(steps)
    gen = torch.Generator().manual_seed(1)
    return diffusion_gan.sample(generator_model, noise(len(ids)), ts, ids, mask, generator=gen)


def ring_rows(fast: bool, cfg) -> list[dict]:
    """The 2-D view: 1-step teacher (DDIM), 50-step teacher, UFOGen 1 step; a second true
    sample as the floor. Coverage = share of the 8 modes hit, precision = share near a mode."""
    ring, n = toy2d.ring(), cfg["ring_n"]
    teacher = zoo.load(recipes.ring_v_teacher, fast=fast)
    ufogen = zoo.load(distill.ring_ufogen, fast=fast).models[-1]
    x = torch.randn(n, 2, generator=torch.Generator().manual_seed(1))
    real = ring.sample(n, generator=torch.Generator().manual_seed(2))
    samples = {
        "teacher, DDIM 1 step": samplers.ddim(teacher, teacher.sde, x, schedules.uniform(1)),
        "teacher, DDIM 50 steps": samplers.ddim(teacher, teacher.sde, x, schedules.uniform(50)),
        "UFOGen, 1 step": diffusion_gan.sample(ufogen, x, schedules.uniform(1)),
        "a second true sample": ring.sample(n, generator=torch.Generator().manual_seed(3)),
    }
    rows = []
    for name, y in samples.items():
        coverage, precision = metrics.mode_coverage(y, ring.means, 0.1)
        sw = metrics.sliced_wasserstein(y, real, generator=torch.Generator().manual_seed(0))
        rows.append(dict(sampler=name, modes_covered=round(8 * coverage), precision=precision,
                         sliced_w2=sw))  # fmt: skip
    return rows


def cost_rows(teacher, light, cfg) -> list[dict]:
    """End-to-end ms per image vs steps: the teacher with CFG (batch 2), a student without."""
    ms, shape, rows = ld_bench.timer(cfg["repeats"]), noise(1).shape[1:], []
    for steps in tqdm(COST_STEPS, desc="latency vs steps"):
        guided = ld_bench.pipeline_row("CFG", teacher, light, shape, steps, ms, batch=2)
        plain = ld_bench.pipeline_row("no CFG", teacher, light, shape, steps, ms, batch=1)
        rows.append(dict(steps=steps, cfg_ms=guided["total_ms"], student_ms=plain["total_ms"]))
    return rows


def pd_rows(teacher, light, judge_net, data, fast: bool) -> list[dict]:
    """At each step count: the teacher's DDIM with CFG, and the PD student of that many steps."""
    rows = []
    for steps in tqdm(PD_STEPS, desc="PD rounds"):
        row = dict(steps=steps)
        z = teacher_latents(teacher, data.captions, steps)
        scores = ld_bench.judge_latents(z, light, judge_net, data)
        row |= prefixed("teacher", scores)
        if steps in distill.pd:  # else round 0: the student is the guided teacher itself
            student = zoo.load(distill.pd[steps], fast=fast)
            z = student_latents(student, data.captions, steps)
            scores = ld_bench.judge_latents(z, light, judge_net, data)
        rows.append(row | prefixed("pd", scores))
    return rows


def prefixed(prefix: str, scores: dict) -> dict:
    return {f"{prefix}_{k}": v for k, v in scores.items()}


def ufogen_rows(teacher, light, judge_net, data, fast: bool) -> list[dict]:
    """FD and accuracy of one-step samples vs UFOGen iterations, D from the denoiser or random;
    iteration 0 is the teacher itself (its x0_hat from pure noise, no CFG)."""
    runs = {
        "pretrained_d": zoo.load(distill.ufogen, fast=fast),
        "random_d": zoo.load(distill.ufogen_random_d, fast=fast),
    }
    z = ufogen_latents(teacher, data.captions)
    start = ld_bench.judge_latents(z, light, judge_net, data)
    rows = [dict(iterations=0, **prefixed("pretrained_d", start), **prefixed("random_d", start))]
    steps = runs["pretrained_d"].steps.tolist()
    for i, step in enumerate(tqdm(steps, desc="UFOGen snapshots")):
        row = dict(iterations=step)
        for name, run in runs.items():
            z = ufogen_latents(run.models[i], data.captions)
            row |= prefixed(name, ld_bench.judge_latents(z, light, judge_net, data))
        rows.append(row)
    return rows


def final_rows(models, light, full, judge_net, data, cfg) -> list[dict]:
    """Teacher at 50 steps with CFG, PD at 8, UFOGen at 1 (D from the denoiser, and random: the
    last snapshot of each run), with quality and ms per image; and the lesson-06 SD-like UNet's
    pipeline at 50 steps with CFG (timed untrained, as lesson 07)."""
    ms, shape = ld_bench.timer(cfg["repeats"]), noise(1).shape[1:]
    teacher, pd_8, ufogen, ufogen_random_d = models
    rows = []
    for name, model, steps, latents in [
        (f"teacher, {TEACHER_STEPS} steps + CFG", teacher, TEACHER_STEPS, teacher_latents),
        ("PD, 8 steps", pd_8, 8, student_latents),
        ("UFOGen, 1 step", ufogen, 1, ufogen_latents),
        ("UFOGen (D random), 1 step", ufogen_random_d, 1, ufogen_latents),
    ]:
        batch = 2 if model is teacher else 1
        z = latents(model, data.captions, steps)
        timing = ld_bench.pipeline_row(name, model, light, shape, steps, ms, batch=batch)
        scores = ld_bench.judge_latents(z, light, judge_net, data)
        rows.append(dict(model=name, **scores, ms=timing["total_ms"], GFLOPs=timing["GFLOPs"]))
    baselines = [
        ("baseline: SD-like UNet, latent, 50 steps + CFG", latent.build_latent_t2i("sd_like")),
        ("baseline: SD-like UNet, pixels, 50 steps + CFG", mobile_unet.mobile.build("sd_like")),
    ]
    for (name, sd_like), decoder, in_shape in zip(baselines, (full, None), (shape, (3, 32, 32))):
        timing = ld_bench.pipeline_row(name, sd_like.eval(), decoder, in_shape, 50, ms, batch=2)
        rows.append(dict(model=name, ms=timing["total_ms"], GFLOPs=timing["GFLOPs"]))
    return rows


def run(fast: bool = False) -> dict:
    cfg = CONFIG[fast]
    teacher = zoo.load(latent.latent_t2i, fast=fast)
    full = zoo.load(latent.shapes_autoencoder, fast=fast)
    light = zoo.load(latent.shapes_light_decoder, fast=fast)
    judge_net = zoo.load(recipes.shapes_classifier, fast=fast)
    data = t2i_bench.prompts(cfg["n"], 1)
    runs = [zoo.load(recipe, fast=fast) for recipe in (distill.ufogen, distill.ufogen_random_d)]
    models = (teacher, zoo.load(distill.pd[8], fast=fast), *(run.models[-1] for run in runs))
    result = dict(
        ring=ring_rows(fast, cfg),
        cost=cost_rows(teacher, light, cfg),
        pd=pd_rows(teacher, light, judge_net, data, fast),
        ufogen=ufogen_rows(teacher, light, judge_net, data, fast),
        final=final_rows(models, light, full, judge_net, data, cfg),
    )
    result["figures"] = figures(result, cfg)
    return result


def figures(result: dict, cfg) -> dict:
    pd = {r["steps"]: r for r in result["pd"]}
    teacher, pd_8, ufogen, ufogen_random_d, latent_sd, pixel_sd = result["final"]
    curve = result["ufogen"]
    return dict(
        teacher_fd=teacher["fd"],
        teacher_accuracy_pct=teacher["accuracy_pct"],
        pd8_fd_change_pct=100 * (pd_8["fd"] / teacher["fd"] - 1),
        pd1_fd=pd[1]["pd_fd"],
        ufogen_fd=ufogen["fd"],
        ufogen_accuracy_gap_points=ufogen["accuracy_pct"] - teacher["accuracy_pct"],
        ufogen_random_d_fd=ufogen_random_d["fd"],
        ufogen_random_d_accuracy_gap_points=ufogen_random_d["accuracy_pct"]
        - teacher["accuracy_pct"],
        ufogen_speedup_vs_baseline=latent_sd["ms"] / ufogen["ms"],
        ufogen_speedup_vs_pixel_baseline=pixel_sd["ms"] / ufogen["ms"],
        pd_fd={str(n): r["pd_fd"] for n, r in pd.items()},
        pd_accuracy_pct={str(n): r["pd_accuracy_pct"] for n, r in pd.items()},
        teacher_fd_by_steps={str(r["steps"]): r["teacher_fd"] for r in result["pd"]},
        ufogen_fd_curve={str(r["iterations"]): r["pretrained_d_fd"] for r in curve},
        ufogen_random_d_fd_curve={str(r["iterations"]): r["random_d_fd"] for r in curve},
        ms={r["model"]: r["ms"] for r in result["final"]},
        ring_modes_covered={r["sampler"]: r["modes_covered"] for r in result["ring"]},
        samples=cfg["n"],
    )


def main(argv: list[str] | None = None) -> dict:
    """The command line: [--fast]; prints the tables, then one JSON line of figures."""
    return report.benchmark_main(
        NAME, run, tables=("ring", "cost", "pd", "ufogen", "final"), argv=argv
    )


if __name__ == "__main__":
    main()
