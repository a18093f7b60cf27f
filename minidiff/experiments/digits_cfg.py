"""Lesson 04's measured claims on digits: classifier-free guidance makes samples show their class,
at a cost in diversity, judged against real images the feature net never saw.

DDIM samples of the zoo's digits_unet at a few CFG scales (Ho & Salimans 2022), per sampling seed;
the zoo's digits classifier (recipes.digits.classifier_split: 300 train images held out) judges
them (% classified as asked) and gives the features of FD, k-NN precision/recall (Kynkäänniemi et
al. 2019) and the within-class spread, against test images; the reference is real vs real at the
same n. Then FD vs NFE, a memorisation check, and the solvers (digits_samplers.py).

python -m minidiff.experiments.digits_cfg [--fast]
"""

import json

import torch

from minidiff import fd, recipes, report, stats, zoo
from minidiff.data import digits
from minidiff.experiments.digits_samplers import (
    accuracy_pct,
    sample,
    solver_claims,
    solver_table,
)
from minidiff.nets import classifier

NAME = "digits_cfg"
CONFIG = {  # full: 150 samples a seed, 15 per digit; scale: of FD vs NFE, copies, solvers
    False: dict(per_class=15, seeds=(0, 1, 2), scales=[0.0, 1.0, 2.0, 5.0], nfe=10, scale=2.0,
                fd_nfes=[5], real_splits=20, solver_per_class=2, solver_nfes=[5, 9, 19, 39],
                reference_nfe=639),
    True: dict(per_class=3, seeds=(0, 1, 2), scales=[0.0, 1.0, 2.0, 5.0], nfe=3, scale=2.0,
               fd_nfes=[5], real_splits=3, solver_per_class=1, solver_nfes=[3, 5, 9],
               reference_nfe=15),
}  # fmt: skip
GRID = "uniform"  # the guidance table's grid (DDIM)


def stratified(labels: torch.Tensor, per_class: int, seed: int | None = None) -> torch.Tensor:
    """Indices of `per_class` items of each class: the first ones, or a random pick (seed)."""
    g = None if seed is None else torch.Generator().manual_seed(seed)
    picks = []
    for k in range(10):
        members = torch.nonzero(labels == k).flatten()
        order = torch.randperm(len(members), generator=g) if g else torch.arange(len(members))
        picks.append(members[order[:per_class]])
    return torch.cat(picks)


def scores(features, labels, real_features) -> dict:
    """FD, precision, recall to the real features, and the within-class spread."""
    precision, recall = fd.precision_recall(real_features, features, k=3)
    return dict(fd=fd.fd(features, real_features), precision=precision, recall=recall,
                spread=fd.within_class_spread(features, labels))  # fmt: skip


def references(judge_net, per_class: int, splits: int) -> dict:
    """Real vs real at the samples' n, per split: scores() of real images against a half of the
    600 images the judge never saw (held out + test, per_class of each digit): the other half
    ("unseen"), the judge's own training images ("seen"), and those drawn regardless of class
    ("seen, unbalanced": the old reference, 300 random train images)."""
    train_x, train_y = digits.load("train")
    test_x, test_y = digits.load("test")
    fit, held_out = recipes.digits.classifier_split()
    pool_x, pool_y = torch.cat([train_x[held_out], test_x]), torch.cat([train_y[held_out], test_y])
    pool = classifier.features(judge_net, pool_x)
    seen_x, seen_y = train_x[fit], train_y[fit]
    seen = classifier.features(judge_net, seen_x)
    out = {"unseen": [], "seen": [], "seen, unbalanced": []}
    for seed in range(splits):
        both = stratified(pool_y, 2 * per_class, seed).view(10, 2 * per_class)
        a, b = both[:, :per_class].flatten(), both[:, per_class:].flatten()
        out["unseen"].append(scores(pool[a], pool_y[a], pool[b]))
        i = stratified(seen_y, per_class, seed)
        out["seen"].append(scores(seen[i], seen_y[i], pool[b]))
        j = torch.randperm(len(seen_y), generator=torch.Generator().manual_seed(seed))[: len(b)]
        out["seen, unbalanced"].append(scores(seen[j], seen_y[j], pool[b]))
    return out


def judged(judge_net, images, labels, test_features) -> dict:
    """scores() of samples against the test features, with their accuracy."""
    feats = classifier.features(judge_net, images)
    return dict(accuracy_pct=accuracy_pct(judge_net, images, labels),
                **scores(feats, labels, test_features))  # fmt: skip


def summary(name: str, per_seed: list[dict], **extra) -> dict:
    """A table row: mean ± sd over seeds of every score."""
    return dict(samples=name, **extra, **{k: stats.cell(values(per_seed, k)) for k in per_seed[0]})


def guidance(denoiser, judge_net, cfg, test) -> tuple[dict, dict]:
    """{scale: per-seed judged()} at cfg["nfe"], and {scale: per-seed images}."""
    labels = torch.arange(10).repeat_interleave(cfg["per_class"])
    per_scale, images = {}, {}
    for scale in cfg["scales"]:
        images[scale] = [sample(denoiser, labels, scale, cfg["nfe"], "DDIM", GRID, seed)
                         for seed in cfg["seeds"]]  # fmt: skip
        per_scale[scale] = [judged(judge_net, x, labels, test) for x in images[scale]]
    return per_scale, images


def fd_vs_nfe(denoiser, judge_net, cfg, test, scale: float, at_nfe: list) -> dict:
    """{nfe: per-seed judged()} for DDIM at `scale`; at_nfe: the guidance table's values."""
    labels = torch.arange(10).repeat_interleave(cfg["per_class"])
    out = {cfg["nfe"]: at_nfe}
    for nfe in cfg["fd_nfes"]:
        out[nfe] = [judged(judge_net, sample(denoiser, labels, scale, nfe, "DDIM", GRID, seed),
                           labels, test) for seed in cfg["seeds"]]  # fmt: skip
    return dict(sorted(out.items()))


def nearest_train(images: torch.Tensor) -> torch.Tensor:
    """(N,) L2 pixel distance from each image to its nearest image of the train split."""
    train_x, _ = digits.load("train")
    return torch.cdist(images.flatten(1), train_x.flatten(1)).min(dim=1).values


def run(fast: bool = False) -> dict:
    cfg = CONFIG[fast]
    judge_net = zoo.load(recipes.digits_classifier, fast=fast)
    denoiser = zoo.load(recipes.digits_unet, fast=fast)
    test_x, test_y = digits.load("test")
    keep = stratified(test_y, cfg["per_class"])
    test = classifier.features(judge_net, test_x[keep])
    real = references(judge_net, cfg["per_class"], cfg["real_splits"])
    per_scale, images = guidance(denoiser, judge_net, cfg, test)
    scale = cfg["scale"]
    per_nfe = fd_vs_nfe(denoiser, judge_net, cfg, test, scale, per_scale[scale])
    solver_rows, solver_raw = solver_table(denoiser, judge_net, cfg, scale)
    near = dict(samples=[nearest_train(x) for x in images[scale]], test=nearest_train(test_x))
    raw = dict(scales=per_scale, real=real, nfe=per_nfe, solvers=solver_raw, scale=scale, near=near)
    rows = [summary(f"DDIM w={s:g}", v, nfe=cfg["nfe"]) for s, v in per_scale.items()]
    rows += [summary(f"real, {k}", v, nfe="-") for k, v in real.items()]
    nfe_rows = [summary(f"DDIM w={scale:g}", v, nfe=n) for n, v in per_nfe.items()]
    return dict(rows=rows, nfe_rows=nfe_rows, solver_rows=solver_rows, raw=raw,
                figures=figures(raw, cfg, fast))  # fmt: skip


def mean_of(per_seed: list[dict], key: str) -> float:
    return stats.spread(values(per_seed, key)).mean


def figures(raw: dict, cfg: dict, fast: bool) -> dict:
    """The JSON line: means over seeds (the tables hold the sds)."""
    means = {str(s): {k: mean_of(v, k) for k in v[0]} for s, v in raw["scales"].items()}
    return dict(
        samples_per_seed=10 * cfg["per_class"], seeds=len(cfg["seeds"]), scale=raw["scale"],
        by_scale=means,
        real={k: {m: mean_of(v, m) for m in v[0]} for k, v in raw["real"].items()},
        fd_vs_nfe={n: mean_of(v, "fd") for n, v in raw["nfe"].items()},
        solver_err={f"{s}/{g}@{n}": stats.spread(v["err"]).mean
                    for (s, g, n), v in raw["solvers"]["runs"].items()},
        zoo_seconds={r.name: json.loads(zoo.path_of(r, fast).with_suffix(".json").read_text())
                     .get("seconds") for r in (recipes.digits_classifier, recipes.digits_unet)},
    )  # fmt: skip


def main(argv: list[str] | None = None) -> dict:
    """The command line: [--fast]; prints the tables, the claims, then one JSON line."""
    return report.benchmark_main(
        NAME, run, tables=("rows", "nfe_rows", "solver_rows"), argv=argv, claims=claims
    )


def values(per_seed: list[dict], key: str) -> list[float]:
    return [s[key] for s in per_seed]


def moved(a: list, b: list, sign: int) -> tuple[bool, str]:
    """(b above a (sign 1) or below it (-1), distinguishable by Welch at 5 %), b - a as text."""
    d = stats.difference(a, b)
    return d.beyond(sign), str(d)


def guidance_claims(raw: dict) -> list[dict]:
    """Accuracy at w = 0 and w >= 2; FD's rise and diversity's fall at the largest scale."""
    scales, scale = raw["scales"], raw["scale"]
    top, n = max(scales), sum(len(d) for d in raw["near"]["samples"])
    chance, strong = values(scales[0.0], "accuracy_pct"), [s for s in scales if s >= 2]
    fd_rises, fd_text = moved(*(values(scales[w], "fd") for w in (scale, top)), 1)
    spread_falls, spread_text = moved(*(values(scales[w], "spread") for w in (1.0, top)), -1)
    recall_falls, recall_text = moved(*(values(scales[w], "recall") for w in (1.0, top)), -1)
    se = (10 * 90 / n) ** 0.5  # binomial SE of a 10 % rate over all seeds' samples, in %
    return [
        report.claim("Without guidance (w = 0) the requested digit comes out at chance",
                     abs(stats.spread(chance).mean - 10) < 3 * se, f"10 % within 3 SE ({se:.2g} %)",
                     accuracy_pct=stats.cell(chance)),
        report.claim("With guidance w >= 2 samples are classified as the requested digit",
                     min(min(values(scales[s], "accuracy_pct")) for s in strong) >= 95,
                     ">= 95 % at every seed and scale w >= 2",
                     **{f"w{s:g}": stats.cell(values(scales[s], "accuracy_pct")) for s in strong}),
        report.claim(f"FD rises again at strong guidance: w = {top:g} above w = {scale:g}",
                     fd_rises, "distinguishable (Welch 5 %) and higher",
                     fd=stats.cell(values(scales[scale], "fd")), diff=fd_text),
        report.claim(f"Diversity falls with guidance: within-class spread and recall, w = {top:g} "
                     "below w = 1", spread_falls and recall_falls, "both distinguishable and lower",
                     spread=spread_text, recall=recall_text),
    ]  # fmt: skip


def reference_claims(raw: dict) -> list[dict]:
    """Samples vs real images the judge never saw; what inflated the old reference; copies."""
    fd_real = {k: values(v, "fd") for k, v in raw["real"].items()}
    held = fd_real["unseen"]
    lowest = min(raw["scales"], key=lambda s: stats.spread(values(raw["scales"][s], "fd")).mean)
    better = {s: moved(held, values(v, "fd"), -1) for s, v in raw["scales"].items()}
    unbalanced, unbalanced_text = moved(fd_real["seen"], fd_real["seen, unbalanced"], 1)
    inflated, seen_text = moved(held, fd_real["seen"], 1)
    near = raw["near"]
    copies = sum(int((d < near["test"].min()).sum()) for d in near["samples"])
    medians = [d.median().item() for d in near["samples"]]
    return [
        report.claim("No guidance scale makes samples better than real: no FD below real vs real",
                     not any(b for b, _ in better.values()),
                     "no scale's FD distinguishably below unseen real vs real", lowest=lowest,
                     fd=stats.cell(values(raw["scales"][lowest], "fd")), fd_real=stats.cell(held),
                     diff=better[lowest][1]),
        report.claim("Real images drawn regardless of class inflate real-vs-real FD", unbalanced,
                     "above balanced classes, distinguishable", diff=unbalanced_text),
        report.claim("Images the judge trained on do not inflate real-vs-real FD", not inflated,
                     "seen not distinguishably above unseen", diff=seen_text),
        report.claim("Samples are not copies: none is nearer the train split than any test image",
                     copies == 0, "0 samples nearer than the nearest test image", copies=copies,
                     median_samples=stats.cell(medians), median_test=near["test"].median().item()),
    ]  # fmt: skip


def nfe_claim(raw: dict) -> dict:
    """DDIM's FD at the fewest vs the most NFE of FD vs NFE."""
    nfes = sorted(raw["nfe"])
    falls, text = moved(values(raw["nfe"][nfes[0]], "fd"), values(raw["nfe"][nfes[-1]], "fd"), -1)
    return report.claim(f"At w = {raw['scale']:g} DDIM's FD falls from {nfes[0]} to {nfes[-1]} NFE",
                        falls, "distinguishable (Welch 5 %) and lower", diff=text)  # fmt: skip


def claims(out: dict) -> list[dict]:
    """The lesson's claim lines (printed), from run()'s raw per-seed values."""
    raw = out["raw"]
    claimed = guidance_claims(raw) + reference_claims(raw) + [nfe_claim(raw)]
    return claimed + solver_claims(raw["solvers"])


if __name__ == "__main__":
    main()
