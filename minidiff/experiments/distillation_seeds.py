"""Lesson 08's quality measurements over training seeds, and its claims.

recipes.distill's PD chain (pd_runs[seed]) and the two UFOGen runs, D from the denoiser
(ufogen_runs[seed]) and D random (ufogen_random_d_runs[seed]), are measured for each of its
distill.SEEDS training seeds. Seed s's models, and the teacher (latent_t2i, one trained model:
DDIM with CFG), are all sampled from noise seed s on the same held-out captions, so values at one
seed are paired. UFOGen's checkpoint (one of its EMA snapshots) is chosen per run by FD on a
separate validation split of captions, then scored on the test captions. Diversity: the judge's
feature spread between samples of one caption (fd.within_class_spread, the caption as the
class), for the one-step models and the teacher.
"""

import torch

from minidiff import fd, report, samplers, schedules, stats, zoo
from minidiff.data import shapes
from minidiff.distill import diffusion_gan
from minidiff.experiments import latent_diffusion as ld_bench
from minidiff.experiments import text_to_image as t2i_bench
from minidiff.nets import classifier
from minidiff.recipes import distill, latent
from minidiff.recipes import shapes as shape_recipes

TEACHER_AT = (64, 8, 4, 2, 1)  # the teacher's step counts (DDIM with CFG)
VARIANTS = {"pretrained_d": distill.ufogen_runs, "random_d": distill.ufogen_random_d_runs}
SPREAD_CAPTIONS, SPREAD_DRAWS = 20, 5  # diversity: draws per caption
VAL_SEED = 3  # shapes.generate's seed of the validation captions


def noise(n: int, seed: int = 0) -> torch.Tensor:
    side = latent.SIZE // 4
    shape = (n, latent.Z_CHANNELS, side, side)
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed))


def teacher_latents(teacher, captions, steps: int, seed: int = 0) -> torch.Tensor:
    """DDIM with CFG at distill.SCALE (two network calls per step) from noise(seed)."""
    return ld_bench.sample_latents(teacher, captions, distill.SCALE, steps, seed=seed)


def student_latents(student, captions, steps: int, seed: int = 0) -> torch.Tensor:
    """DDIM on the student's own grid, conditional only (CFG is distilled into it)."""
    ids, mask = shape_recipes.encode(captions)
    denoiser = lambda x, t: student(x, t, ids, mask)  # noqa: E731
    grid = schedules.uniform(steps)
    return samplers.ddim(denoiser, student.sde, noise(len(ids), seed), grid)


def ufogen_latents(generator_model, captions, steps: int = 1, seed: int = 0) -> torch.Tensor:
    ids, mask = shape_recipes.encode(captions)
    ts, gen = schedules.uniform(steps), torch.Generator().manual_seed(1000 + seed)
    return diffusion_gan.sample(generator_model, noise(len(ids), seed), ts, ids, mask,
                                generator=gen)  # fmt: skip


def splits(n: int) -> tuple:
    """(test, validation): lesson 07's n held-out one-object test captions, and n one-object
    images drawn with their own seed VAL_SEED (the zoo trains on seed 0, tests on seed 1)."""
    val = shapes.generate(n, shape_recipes.SIZE, seed=VAL_SEED, max_objects=1)
    return t2i_bench.prompts(n, 1), val


def spread(latents, light, judge_net) -> float:
    """Mean feature distance between two samples of the same caption (SPREAD_DRAWS a caption)."""
    images = torch.nn.functional.avg_pool2d(light.decode(latents).clamp(-1, 1), 2)
    labels = torch.arange(len(latents)) // SPREAD_DRAWS
    return fd.within_class_spread(classifier.features(judge_net, images), labels)


def seed_scores(seed, models, light, judge_net, data, fast) -> dict:
    """{(who, steps or snapshot, split): scores} for one seed: the teacher, the PD chain, the
    UFOGen snapshots (test and validation), and the diversity of the one-step models."""
    test, val = data
    judge = lambda z, d=test: ld_bench.judge_latents(z, light, judge_net, d)  # noqa: E731
    out = {("teacher", n): judge(teacher_latents(models["teacher"], test.captions, n, seed))
           for n in TEACHER_AT}  # fmt: skip
    for n in distill.ROUNDS:
        student = zoo.load(distill.pd_runs[seed][n], fast=fast)
        out["pd", n] = judge(student_latents(student, test.captions, n, seed))
    models["pd_1"] = zoo.load(distill.pd_runs[seed][1], fast=fast)
    for name, runs in VARIANTS.items():
        snapshots = zoo.load(runs[seed], fast=fast)
        for i, g in enumerate(snapshots.models):
            out[name, i] = judge(ufogen_latents(g, test.captions, seed=seed))
            out[name, i, "val"] = judge(ufogen_latents(g, val.captions, seed=seed), val)
        models[name] = snapshots.models[chosen(out, name, len(snapshots.models))]
    captions = [c for c in test.captions[:SPREAD_CAPTIONS] for _ in range(SPREAD_DRAWS)]
    out["spread", "teacher_8"] = spread(
        teacher_latents(models["teacher"], captions, 8, seed), light, judge_net
    )
    out["spread", "pd_1"] = spread(student_latents(models["pd_1"], captions, 1, seed), light,
                                   judge_net)  # fmt: skip
    for name in VARIANTS:
        z = ufogen_latents(models[name], captions, seed=seed)
        out["spread", name] = spread(z, light, judge_net)
    return out


def chosen(scores: dict, name: str, count: int) -> int:
    """The snapshot of a UFOGen run with the lowest validation FD."""
    return min(range(count), key=lambda i: scores[name, i, "val"]["fd"])


def measure(models, light, judge_net, n: int, fast: bool) -> list[dict]:
    """seed_scores for every training seed; models: {"teacher": latent_t2i}."""
    data = splits(n)
    return [seed_scores(s, dict(models), light, judge_net, data, fast)
            for s in range(distill.SEEDS)]  # fmt: skip


def values(raw: list[dict], key, metric: str = "fd") -> list[float]:
    """One value per seed."""
    return [r[key][metric] if isinstance(r[key], dict) else r[key] for r in raw]


def picked(raw: list[dict], name: str, metric: str = "fd") -> list[float]:
    """Per seed: the test score of the UFOGen snapshot chosen on validation captions."""
    count = sum(1 for k in raw[0] if len(k) == 2 and k[0] == name)
    return [r[name, chosen(r, name, count)][metric] for r in raw]


def pd_table(raw: list[dict]) -> list[dict]:
    """Steps, the teacher's and the PD students' accuracy and FD, mean ± sd over seeds."""
    rows = []
    for n in sorted({*TEACHER_AT, *distill.ROUNDS}, reverse=True):
        row = dict(steps=n)
        for who in ("teacher", "pd"):
            have = (who, n) in raw[0]
            for m in ("accuracy_pct", "fd"):
                row[f"{who}_{m}"] = stats.cell(values(raw, (who, n), m)) if have else "-"
        rows.append(row)
    return rows


def ufogen_table(raw: list[dict], steps) -> list[dict]:
    """Test FD and accuracy of each UFOGen snapshot, mean ± sd over seeds, per variant."""
    rows = []
    for i, step in enumerate(steps):
        row = dict(iterations=step)
        for name in VARIANTS:
            for m in ("accuracy_pct", "fd"):
                row[f"{name}_{m}"] = stats.cell(values(raw, (name, i), m))
        rows.append(row)
    return rows


def verdict_values(raw: list[dict]) -> dict:
    """{model: (steps, network calls a step, per-seed accuracy, per-seed FD)}: the verdict."""
    out = {}
    for n in (64, 8, 1):
        k = ("teacher", n)
        out[f"teacher, {n} step{'s' if n > 1 else ''} + CFG"] = (
            n,
            2,
            values(raw, k, "accuracy_pct"),
            values(raw, k),
        )
    for n in (8, 1):
        k = ("pd", n)
        out[f"PD, {n} step{'s' if n > 1 else ''}"] = (
            n,
            1,
            values(raw, k, "accuracy_pct"),
            values(raw, k),
        )
    for name, label in (
        ("pretrained_d", "UFOGen, 1 step"),
        ("random_d", "UFOGen (D random), 1 step"),
    ):
        out[label] = (1, 1, picked(raw, name, "accuracy_pct"), picked(raw, name))
    return out  # fmt: skip


def spread_table(raw: list[dict]) -> list[dict]:
    names = {
        "teacher_8": "teacher, 8 steps + CFG",
        "pd_1": "PD, 1 step",
        "pretrained_d": "UFOGen, 1 step",
        "random_d": "UFOGen (D random), 1 step",
    }
    return [dict(model=label, within_caption_spread=stats.cell(values(raw, ("spread", key))))
            for key, label in names.items()]  # fmt: skip


def comparisons(raw: list[dict]) -> dict:
    """What the claims compare, paired over the seeds (seed s's models and the teacher sampled
    from the same noise)."""
    fd_at = lambda who, n: values(raw, (who, n))  # noqa: E731
    ufo = {name: picked(raw, name) for name in VARIANTS}
    last = len([k for k in raw[0] if len(k) == 2 and k[0] == "pretrained_d"]) - 1
    return dict(
        within=[100 * (p / t - 1) for p, t in zip(fd_at("pd", 8), fd_at("teacher", 64))],
        at_8=stats.paired(fd_at("teacher", 8), fd_at("pd", 8)),
        at_1=stats.paired(fd_at("teacher", 1), fd_at("pd", 1)),
        ufo=ufo,
        versus={name: stats.paired(fd_at("pd", 1), ufo[name]) for name in VARIANTS},
        drift=stats.paired(ufo["pretrained_d"], values(raw, ("pretrained_d", last))),
        div=stats.paired(values(raw, ("spread", "teacher_8")), values(raw, ("spread", "pd_1"))),
        gap=[u - t for u, t in zip(picked(raw, "pretrained_d", "accuracy_pct"),
                                   values(raw, ("teacher", 64), "accuracy_pct"))],
    )  # fmt: skip


def claims(raw: list[dict]) -> list[dict]:
    """PD at 8 and 1 steps against the teacher at 64, 8 and 1; UFOGen against PD at one step,
    its accuracy and its drift; the one-step student's diversity."""
    c = comparisons(raw)
    within, at_8, at_1, ufo, versus = (c[k] for k in ("within", "at_8", "at_1", "ufo", "versus"))
    drift, div, gap = c["drift"], c["div"], c["gap"]
    return [
        report.claim("PD keeps the 64-step teacher's FD to within 15 % down to 8 steps",
                     all(w < 15 for w in within), "PD-8's FD within 15 % of the teacher's "
                     "(64 steps + CFG) at every seed", change_pct=stats.cell(within)),
        report.claim("At 8 steps distillation buys the CFG call, not quality: PD-8 is not better "
                     "than the teacher's own 8 steps + CFG", not at_8.beyond(-1),
                     "PD-8's FD not distinguishably below the 8-step teacher's (paired)",
                     pd_minus_teacher=str(at_8)),
        report.claim("At 1 step PD is better than the teacher's own 1 step + CFG", at_1.beyond(-1),
                     "PD-1's FD distinguishably below the 1-step teacher's (paired)",
                     pd_minus_teacher=str(at_1)),
        *(report.claim(f"UFOGen with {d} (snapshot chosen on validation captions) beats PD at "
                       "one step", versus[name].beyond(-1), "its FD distinguishably below PD-1's "
                       "(paired)", ufogen=stats.cell(ufo[name]), ufogen_minus_pd=str(versus[name]))
          for name, d in (("pretrained_d", "D from the denoiser"), ("random_d", "a random D"))),
        report.claim("UFOGen (D from the denoiser, chosen snapshot) keeps condition accuracy "
                     "within 5 points of the 64-step teacher", all(g > -5 for g in gap),
                     "accuracy gap above -5 points at every seed", gap_points=stats.cell(gap)),
        report.claim("With D from the denoiser UFOGen drifts: its last snapshot is worse than the "
                     "one the validation captions pick", drift.beyond(+1),
                     "last snapshot's FD distinguishably above the chosen one's (paired)",
                     last_minus_chosen=str(drift)),
        report.claim("PD's one-step student keeps the teacher's diversity per caption",
                     not div.beyond(-1), "within-caption spread of PD-1 not distinguishably below "
                     "the 8-step teacher's (paired)", pd_1_minus_teacher=str(div)),
    ]  # fmt: skip
