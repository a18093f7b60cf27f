"""Draw samples.png and print the statistics table of the toy2d data card.

python datasets/toy2d/make_card.py   (about 5 s; writes samples.png beside this file)
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from minidiff import report, viz  # noqa: E402
from minidiff.data import toy2d  # noqa: E402

N = 20_000


def datasets(generator):
    mixtures = {"ring": toy2d.ring(), "grid": toy2d.grid(), "correlated": toy2d.correlated()}
    samples = {name: gm.sample(N, generator=generator) for name, gm in mixtures.items()}
    samples |= {
        f.__name__: f(N, generator=generator)
        for f in (toy2d.moons, toy2d.swiss_roll, toy2d.checkerboard)
    }
    return mixtures, samples


def main():
    mixtures, samples = datasets(torch.Generator().manual_seed(0))
    rows = []
    for name, x in samples.items():
        gm = mixtures.get(name)
        entropy = -gm.log_prob(x.double()).mean().item() if gm else None
        rows.append(
            dict(
                dataset=name,
                components=len(gm.weights) if gm else "-",
                mean=str([round(v, 2) for v in x.mean(0).tolist()]),
                std=str([round(v, 2) for v in x.std(0).tolist()]),
                entropy_nats=round(entropy, 3) if gm else "no closed form",
            )
        )
    print(report.markdown_table(rows))
    fig, axes = plt.subplots(1, len(samples), figsize=(12, 2.1), dpi=80)
    for ax, (name, x) in zip(axes, samples.items()):
        viz.scatter_2d(ax, x[:3000], title=name, lim=3.0, size=1)
    fig.tight_layout()
    fig.savefig(Path(__file__).with_name("samples.png"))


if __name__ == "__main__":
    main()
