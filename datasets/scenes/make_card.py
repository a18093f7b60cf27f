"""Draw samples.png and print the statistics tables of the scenes data card.

python datasets/scenes/make_card.py   (a few seconds; writes samples.png beside this file)
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from minidiff import report, viz  # noqa: E402
from minidiff.data import scenes  # noqa: E402

SIZES = [(32, 32), (32, 64), (64, 32), (32, 128)]
N = 500


def main():
    rows = []
    for height, width in SIZES:
        s = scenes.generate(N, height, width, seed=0)
        share = torch.bincount(s.segments.flatten(), minlength=len(scenes.SEGMENTS)).double()
        count, cut = scenes.sun_components(s.images)
        shares = dict(zip(scenes.SEGMENTS, (100 * share / share.sum()).tolist()))
        mean_rgb = [round(v, 2) for v in s.images.mean((0, 2, 3)).tolist()]
        rows.append(dict(size=f"{height}x{width}", **{f"{k}_pct": v for k, v in shares.items()},
                         sun_radius_px=s.suns[:, 2].mean().item(),
                         one_whole_sun_pct=100 * ((count == 1) & ~cut).double().mean().item(),
                         channel_mean_rgb=str(mean_rgb)))  # fmt: skip
    print(report.markdown_table(rows))
    fig, axes = plt.subplots(2, 1, figsize=(9, 3.2), dpi=80)
    viz.image_grid(axes[0], scenes.generate(3, 32, 128, seed=1).images, nrow=3, title="32 x 128")
    viz.image_grid(axes[1], scenes.generate(8, 32, 32, seed=2).images, nrow=8, title="32 x 32")
    fig.tight_layout()
    fig.savefig(Path(__file__).with_name("samples.png"))


if __name__ == "__main__":
    main()
