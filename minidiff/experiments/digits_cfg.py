"""Lesson 04's measured claim on digits: classifier-free guidance makes samples show their class.

A class-conditional UNet (zoo recipe digits_unet, trained with 10 % label dropout) is sampled
with DDIM at a few CFG scales (Ho & Salimans 2022), then at the chosen scale with DDPM, DDIM and
Heun (EDM's sampler on the Karras grid) at a few NFE: the FD-vs-NFE table of lesson 04. The
zoo's digits classifier judges each sample (% classified as the requested digit) and gives the
features of FD, measured against the 300-image test split and reported next to the FD between 300
random train images and the test split (real vs real, equal n, since FD is biased by n).

python -m minidiff.experiments.digits_cfg [--fast]
"""

import json

import torch

from minidiff import fd, recipes, report, samplers, schedules, zoo
from minidiff.data import digits
from minidiff.nets import classifier

NAME = "digits_cfg"
CONFIG = {  # per_class 30 x 10 = 300 samples: the size of the test split
    False: dict(per_class=30, nfes=[5, 10, 25, 50], scales=[0.0, 1.0, 2.0, 3.0, 5.0], grid_nfe=25),
    True: dict(per_class=3, nfes=[5, 9], scales=[1.0, 3.0], grid_nfe=5),
}
SAMPLERS = {  # name -> (guided denoiser, sde, x, nfe, generator) -> x0; NFE = denoiser calls
    "DDPM": lambda d, sde, x, nfe, g: samplers.ddpm(d, sde, x, schedules.uniform(nfe), g),
    "DDIM": lambda d, sde, x, nfe, g: samplers.ddim(d, sde, x, schedules.uniform(nfe)),
    "Heun": lambda d, sde, x, nfe, g: samplers.pf_ode(  # 2 calls a step, 1 on the last
        d, sde, x, schedules.karras(sde, (nfe + 1) // 2), solver=samplers.heun
    ),
}


def sample(denoiser, labels, scale: float, nfe: int, sampler="DDIM", seed=0) -> torch.Tensor:
    """One image per label by SAMPLERS[sampler] with CFG at `scale`; clipped to [-1, 1]."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(len(labels), 1, 16, 16, generator=generator)
    null = recipes.digits.null_label(denoiser).expand(len(labels))
    guided = samplers.cfg(denoiser, scale, labels, null)
    return SAMPLERS[sampler](guided, denoiser.sde, x, nfe, generator).clamp(-1, 1)


def judge(judge_net, images, labels, test_features) -> dict:
    """% classified as the requested digit, and FD to the test split's features."""
    predicted = classifier.predict(judge_net, images)["digit"]
    accuracy = 100 * (predicted == labels).double().mean().item()
    return dict(
        accuracy_pct=accuracy, fd=fd.fd(classifier.features(judge_net, images), test_features)
    )


def training_seconds(recipe, fast: bool) -> float | None:
    """The seconds the zoo spent training `recipe` (from its cache metadata)."""
    meta = zoo.path_of(recipe, fast).with_suffix(".json")
    return json.loads(meta.read_text()).get("seconds") if meta.exists() else None


def real_vs_real(judge_net, test_images, test_features) -> float:
    """FD between len(test) random train images and the test split."""
    train_images, _ = digits.load("train")
    index = torch.randperm(len(train_images), generator=torch.Generator().manual_seed(0))
    subset = train_images[index[: len(test_images)]]
    return fd.fd(classifier.features(judge_net, subset), test_features)


def nfe_table(denoiser, judge_net, labels, test_features, scale: float, nfes) -> list:
    """At CFG `scale`: judge's scores for every sampler of SAMPLERS at each NFE."""
    nfe_rows = []
    for name in SAMPLERS:
        for nfe in nfes:
            images = sample(denoiser, labels, scale, nfe, name)
            scores = judge(judge_net, images, labels, test_features)
            nfe_rows.append(dict(sampler=name, nfe=nfe, scale=scale, **scores))
    return nfe_rows


def run(fast: bool = False) -> dict:
    cfg = CONFIG[fast]
    judge_net = zoo.load(recipes.digits_classifier, fast=fast)
    denoiser = zoo.load(recipes.digits_unet, fast=fast)
    test_images, test_labels = digits.load("test")
    test_features = classifier.features(judge_net, test_images)
    labels = torch.arange(10).repeat_interleave(cfg["per_class"])
    rows = []
    for scale in cfg["scales"]:
        images = sample(denoiser, labels, scale, cfg["grid_nfe"])
        rows.append(
            dict(
                scale=scale, nfe=cfg["grid_nfe"], **judge(judge_net, images, labels, test_features)
            )
        )
    best = max(rows, key=lambda r: (r["accuracy_pct"], -r["scale"]))
    nfe_rows = nfe_table(denoiser, judge_net, labels, test_features, best["scale"], cfg["nfes"])
    fd_real = real_vs_real(judge_net, test_images, test_features)
    rows.append(dict(scale="real: train vs test", nfe="-", accuracy_pct="-", fd=fd_real))
    test_accuracy = classifier.accuracy(judge_net, test_images, {"digit": test_labels})["digit"]
    figures = dict(
        chosen_scale=best["scale"],
        chosen_nfe=best["nfe"],
        accuracy_pct=best["accuracy_pct"],
        fd=best["fd"],
        fd_real_train_vs_test=fd_real,
        fd_vs_nfe={f"{r['sampler']}@{r['nfe']}": r["fd"] for r in nfe_rows},
        accuracy_pct_vs_nfe={f"{r['sampler']}@{r['nfe']}": r["accuracy_pct"] for r in nfe_rows},
        accuracy_pct_vs_scale={str(r["scale"]): r["accuracy_pct"] for r in rows[:-1]},
        classifier_test_accuracy_pct=100 * test_accuracy,
        samples=len(labels),
        zoo_seconds={
            r.name: training_seconds(r, fast)
            for r in (recipes.digits_classifier, recipes.digits_unet)
        },
    )
    return dict(rows=rows, nfe_rows=nfe_rows, figures=figures)


def main(argv: list[str] | None = None) -> dict:
    """The command line: [--fast]; prints the tables, then one JSON line of figures."""
    return report.benchmark_main(NAME, run, tables=("rows", "nfe_rows"), argv=argv)


if __name__ == "__main__":
    main()
