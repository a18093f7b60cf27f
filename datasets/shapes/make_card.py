"""Draw samples.png and print the statistics tables of the shapes data card.

python datasets/shapes/make_card.py   (a few seconds; writes samples.png beside this file)
"""

import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from minidiff import report  # noqa: E402
from minidiff.data import shapes  # noqa: E402

N = 4000


def main():
    d = shapes.generate(N, size=32, seed=0)
    rows = []
    for name, vocab in shapes.VOCAB.items():
        v = d.labels[name]
        counts = torch.bincount(v[v >= 0], minlength=len(vocab)).tolist()
        rows.append(
            dict(
                label=name,
                values=" / ".join(map(str, vocab)),
                counts=" / ".join(map(str, counts)),
                not_applicable=int((v < 0).sum()),
            )
        )
    print(report.markdown_table(rows))
    pixels = []
    for size in (16, 32):
        x = shapes.generate(N, size=size, seed=0).images
        rounded = lambda v: "[" + ", ".join(f"{u:.2f}" for u in v.tolist()) + "]"  # noqa: E731
        pixels.append(
            dict(
                size=f"{size}x{size}",
                channel_mean_rgb=rounded(x.mean((0, 2, 3))),
                channel_std_rgb=rounded(x.std((0, 2, 3))),
            )
        )
    print()
    print(report.markdown_table(pixels))
    fig, axes = plt.subplots(3, 6, figsize=(9, 6.6), dpi=80)
    for ax, image, caption in zip(axes.flat, d.images, d.captions):
        ax.imshow(((image + 1) / 2).permute(1, 2, 0))
        ax.set_title("\n".join(textwrap.wrap(caption, 22)), fontsize=7)
        ax.set_axis_off()
    fig.tight_layout()
    fig.savefig(Path(__file__).with_name("samples.png"))


if __name__ == "__main__":
    main()
