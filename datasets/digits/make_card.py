"""Draw samples.png and print the statistics table of the digits data card.

python datasets/digits/make_card.py   (a few seconds; writes samples.png beside this file)
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from minidiff import report  # noqa: E402
from minidiff.data import digits  # noqa: E402


def main():
    rows = []
    for split in digits.SPLITS:
        x, y = digits.load(split)
        counts = torch.bincount(y, minlength=digits.NUM_CLASSES).tolist()
        rows.append(
            dict(
                split=split,
                images=len(y),
                per_digit_0_to_9=" ".join(map(str, counts)),
                pixel_mean=round(x.mean().item(), 3),
                pixel_std=round(x.std().item(), 3),
            )
        )
    print(report.markdown_table(rows))
    x, y = digits.load("train")
    fig, axes = plt.subplots(3, 10, figsize=(8, 2.6), dpi=80)
    for k in range(digits.NUM_CLASSES):
        for j, i in enumerate(torch.nonzero(y == k).flatten()[:3].tolist()):
            axes[j, k].imshow(x[i, 0], cmap="gray", vmin=-1, vmax=1)
            axes[j, k].set_axis_off()
        axes[0, k].set_title(str(k))
    fig.tight_layout()
    fig.savefig(Path(__file__).with_name("samples.png"))


if __name__ == "__main__":
    main()
