"""Lesson 06's quality half: the UNets of recipes.mobile.runs (the baseline, the efficient UNet
with softmax and with fine-tuned ReLU attention, and the two contrasts), RUN_SEEDS training seeds
each, sampled by DDIM with CFG on one-object held-out captions. Condition accuracy: % of samples
whose shape, colour, size and position the shapes judge all reads as captioned; FD on the judge's
features to the real images. Each claim compares seeds' results (Welch's test; paired where one
model is the other's fine-tune, so seed i of both is one run), and every run's learning curve
(accuracy on validation captions during training, kept by the zoo) says whether it converged.
"""

from tqdm.auto import tqdm

from minidiff import fd, recipes, report, stats, zoo
from minidiff.experiments import text_to_image as t2i_bench
from minidiff.nets import classifier
from minidiff.recipes import mobile

LABELS = {
    "sd_like": "baseline (SD-like)",
    "one_resblock": "efficient, softmax attention",
    "no_attention_high": "efficient, no transformer at 16x16",
    "relu_finetune": "efficient (ReLU attention, fine-tuned)",
    "relu_scratch": "efficient, ReLU attention from scratch",
}
WINDOW = 3  # learning-curve points compared by stats.plateaued
RECOVERED = 5  # points: a fine-tune has recovered once its curve is this close to the softmax's end


def quality(denoiser, judge_net, data, cfg) -> dict:
    """Condition accuracy (%) and FD of CFG samples for data's captions."""
    images = t2i_bench.sample(denoiser, data.captions, cfg["scale"], cfg["nfe"]).clamp(-1, 1)
    right = t2i_bench.all_right(judge_net, images, data, 1, mobile.ATTRIBUTES)
    real = classifier.features(judge_net, data.images)
    return dict(
        accuracy_pct=100 * right.double().mean().item(),
        fd=fd.fd(classifier.features(judge_net, images), real),
    )


def measure(fast: bool, cfg) -> dict[str, list[dict]]:
    """{model: [per seed: accuracy_pct, fd, and the learning curve (steps, curve)]}."""
    judge_net = zoo.load(recipes.shapes_classifier, fast=fast)
    data = t2i_bench.prompts(cfg["n"], 1)
    out = {name: [] for name in mobile.QUALITY}
    jobs = [(name, seed) for name in mobile.QUALITY for seed in range(mobile.RUN_SEEDS)]
    for name, seed in tqdm(jobs, desc="trained UNets"):
        run = zoo.load(mobile.runs[name][seed], fast=fast)
        scores = quality(run.model, judge_net, data, cfg)
        out[name].append(dict(scores, steps=run.steps.tolist(), curve=run.accuracy.tolist()))
    return out


def values(raw: dict, name: str, key: str) -> list[float]:
    return [r[key] for r in raw[name]]


def converged(raw: dict, name: str) -> list[bool]:
    """Per seed: has the run's learning curve plateaued (stats.plateaued)?"""
    return [stats.plateaued(r["curve"], WINDOW) for r in raw[name]]


def table(raw: dict) -> list[dict]:
    """Per model: accuracy and FD as mean ± sd over seeds, and how many curves plateaued."""
    rows = []
    for name in mobile.QUALITY:
        flat = (
            "fine-tune"
            if name == "relu_finetune"
            else f"{sum(converged(raw, name))}/{len(raw[name])}"
        )
        rows.append(dict(model=name, what=LABELS[name],
                         accuracy_pct=stats.cell(values(raw, name, "accuracy_pct")),
                         fd=stats.cell(values(raw, name, "fd")), curve_flat=flat))  # fmt: skip
    return rows


def comparisons(raw: dict) -> dict:
    """The differences the claims decide on (b - a)."""
    acc, fds = (lambda n: values(raw, n, "accuracy_pct")), (lambda n: values(raw, n, "fd"))
    base, eff = "sd_like", "relu_finetune"
    return dict(
        fd_change_pct=100 * (stats.spread(fds(eff)).mean / stats.spread(fds(base)).mean - 1),
        fd=stats.difference(fds(base), fds(eff)),
        accuracy=stats.difference(acc(base), acc(eff)),
        no_transformer=stats.difference(acc("one_resblock"), acc("no_attention_high")),
        relu_finetune=stats.paired(fds("one_resblock"), fds(eff)),
        relu_scratch=stats.difference(fds(eff), fds("relu_scratch")),
    )


def figures(raw: dict) -> dict:
    """Mean accuracy and FD per model, and how many runs from scratch converged."""
    runs = [name for name in mobile.QUALITY if name != "relu_finetune"]
    return dict(
        accuracy_pct={n: stats.spread(values(raw, n, "accuracy_pct")).mean for n in raw},
        fd={n: stats.spread(values(raw, n, "fd")).mean for n in raw},
        converged=sum(sum(converged(raw, n)) for n in runs),
        runs_from_scratch=sum(len(raw[n]) for n in runs),
    )


def recovery(raw: dict) -> str:
    """Per seed, the first fine-tune step whose validation accuracy is within RECOVERED points of
    the same seed's softmax model at the end of its run ("-": none)."""
    out = []
    for softmax, relu in zip(raw["one_resblock"], raw["relu_finetune"]):
        target = softmax["curve"][-1] - RECOVERED
        out.append(next((str(s) for s, a in zip(relu["steps"], relu["curve"]) if a >= target), "-"))
    return "/".join(out)


def claims(raw: dict) -> list[dict]:
    """Efficient vs baseline; the whole transformer vs self-attention only at 16x16; ReLU
    attention fine-tuned vs kept softmax and vs from scratch; convergence."""
    c, f = comparisons(raw), figures(raw)
    seeds, change = len(raw["sd_like"]), round(c["fd_change_pct"], 1)
    converged = f"{f['converged']}/{f['runs_from_scratch']}"
    return [
        report.claim(f"The efficient UNet's FD is at most 10 % above the baseline's ({seeds} "
                     "seeds each)", c["fd_change_pct"] <= 10, "mean FD change <= +10 %",
                     change_pct=change, efficient_minus_baseline=str(c["fd"])),
        report.claim("The efficient UNet's condition accuracy is at most 3 points below the "
                     "baseline's", c["accuracy"].diff >= -3, "mean accuracy change >= -3 points",
                     efficient_minus_baseline=str(c["accuracy"])),
        report.claim("At 16x16, removing cross-attention too (no transformer at all) costs "
                     "condition accuracy", c["no_transformer"].beyond(-1),
                     "accuracy distinguishably lower than with cross-attention kept (Welch)",
                     without_minus_with=str(c["no_transformer"])),
        report.claim(f"Softmax -> ReLU attention with {mobile.FINETUNE_STEPS} fine-tune steps "
                     "keeps the softmax model's FD", not c["relu_finetune"].beyond(+1),
                     "FD not distinguishably higher (paired by seed)",
                     relu_minus_softmax=str(c["relu_finetune"]), recovered_at_step=recovery(raw)),
        report.claim("ReLU attention trained from scratch is worse than fine-tuned from softmax",
                     c["relu_scratch"].beyond(+1),
                     "FD distinguishably higher (Welch)",
                     scratch_minus_finetuned=str(c["relu_scratch"])),
        report.claim("Every run from scratch has converged",
                     f["converged"] == f["runs_from_scratch"],
                     f"the last {WINDOW} points of each learning curve not distinguishable from "
                     f"the {WINDOW} before", converged=converged),
    ]  # fmt: skip


def curves(raw: dict, name: str):
    """(steps, mean, sd) of a model's learning curve over its seeds."""
    runs = raw[name]
    points = list(zip(*(r["curve"] for r in runs)))
    spreads = [stats.spread(p) for p in points]
    return runs[0]["steps"], [s.mean for s in spreads], [s.sd for s in spreads]
