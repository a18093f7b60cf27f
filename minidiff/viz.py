"""Plots for the lessons. Each function draws on a matplotlib Axes it is given and returns it;
the library never creates figures (lessons do, so they control size and layout).
"""

import numpy as np
import torch
from matplotlib.axes import Axes

from .checks import check_callable, check_float, check_int, check_tensor, describe


def _check_axes(ax):
    """ax must be one matplotlib Axes: not a figure, nor the array that plt.subplots returns."""
    if not isinstance(ax, Axes):
        raise TypeError(f"ax: expected one matplotlib Axes, e.g. axes[0] from fig, axes = "
                        f"plt.subplots(1, 2), got {describe(ax)}")  # fmt: skip


def _data(name: str, value, shape: tuple, expected: str) -> torch.Tensor:
    """value (a tensor or array) as a finite CPU tensor whose dims match shape (None: any size;
    a tuple: one of those sizes); `expected` spells the shape out for the message."""
    if not isinstance(value, torch.Tensor | np.ndarray | list | tuple):
        raise TypeError(f"{name}: expected a tensor {expected}, got {describe(value)}")
    value = torch.as_tensor(value).detach().cpu()
    sizes_ok = all(s is None or n in s for n, s in zip(value.shape, shape))
    if value.ndim != len(shape) or not sizes_ok:
        raise ValueError(f"{name}: expected a tensor {expected}, got {describe(value)}")
    return check_tensor(name, value, min_ndim=len(shape), floating=False)


def scatter_2d(ax, x, title=None, lim=3.0, color="C0", size=2, alpha=0.5):
    """Scatter of 2-D samples with a fixed square window [-lim, lim]^2."""
    _check_axes(ax)
    x = _data("x", x, (None, (2,)), "of 2-D points (N, 2)").numpy()
    lim = check_float("lim", lim, 0, open_low=True)
    ax.scatter(x[:, 0], x[:, 1], s=size, alpha=alpha, color=color, linewidths=0)
    ax.set(xlim=(-lim, lim), ylim=(-lim, lim), aspect="equal", xticks=[], yticks=[])
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def density_2d(ax, log_prob, lim=3.0, n=150, title=None, cmap="viridis"):
    """Image of exp(log_prob) on an n x n grid; log_prob maps (m, 2) float64 points to (m,)."""
    _check_axes(ax)
    check_callable("log_prob", log_prob, "a function log_prob(points) -> (m,) log-densities")
    lim, n = check_float("lim", lim, 0, open_low=True), check_int("n", n, 2)
    u = torch.linspace(-lim, lim, n, dtype=torch.float64)
    grid = torch.stack(torch.meshgrid(u, u, indexing="xy"), -1).reshape(-1, 2)
    p = log_prob(grid).exp().reshape(n, n).detach().cpu().numpy()
    ax.imshow(p, origin="lower", extent=(-lim, lim, -lim, lim), cmap=cmap)
    ax.set(xticks=[], yticks=[], aspect="equal")
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def trajectories(ax, path, lim=3.0, n=30, color="k"):
    """Lines through a path of states (steps, B, 2): the first n samples' trajectories."""
    _check_axes(ax)
    lim, n = check_float("lim", lim, 0, open_low=True), check_int("n", n, 1)
    path = _data("path", path, (None, None, (2,)), "of states (steps, B, 2)")[:, :n].numpy()
    for i in range(path.shape[1]):
        ax.plot(path[:, i, 0], path[:, i, 1], color=color, lw=0.6, alpha=0.7)
    ax.scatter(path[-1, :, 0], path[-1, :, 1], s=6, color="C3", zorder=3)
    ax.set(xlim=(-lim, lim), ylim=(-lim, lim), aspect="equal", xticks=[], yticks=[])
    return ax


def loss_curve(ax, history, log=True):
    """Training loss (and validation loss, if recorded) of a train.History."""
    _check_axes(ax)
    if not all(hasattr(history, a) for a in ("steps", "loss", "val_steps", "val_loss")):
        raise TypeError(f"history: expected a train.History (what train.fit returns), "
                        f"got {describe(history)}")  # fmt: skip
    ax.plot(history.steps, history.loss, lw=0.8, alpha=0.6, label="train")
    if history.val_loss:
        ax.plot(history.val_steps, history.val_loss, "o-", ms=3, label="validation (EMA)")
    ax.set(xlabel="step", ylabel="loss", yscale="log" if log else "linear")
    ax.legend(fontsize=8)
    return ax


def image_grid(ax, images, nrow: int = 8, title=None, pad: int = 1):
    """Images (N, C, H, W) in [-1, 1] (C = 1 or 3) tiled nrow per row, with `pad` white pixels
    between them; values outside [-1, 1] are clipped for display only."""
    _check_axes(ax)
    images = _data("images", images, (None, (1, 3), None, None), "(N, 1 or 3, H, W)").float()
    nrow, pad = check_int("nrow", nrow, 1), check_int("pad", pad, 0)
    n, c, h, w = images.shape
    cols, rows = min(nrow, n), -(-n // nrow)
    canvas = torch.ones(c, rows * (h + pad) + pad, cols * (w + pad) + pad)
    for i, image in enumerate((images.clamp(-1, 1) + 1) / 2):
        top, left = pad + (i // nrow) * (h + pad), pad + (i % nrow) * (w + pad)
        canvas[:, top : top + h, left : left + w] = image
    ax.imshow(canvas.permute(1, 2, 0).squeeze(-1).numpy(), cmap="gray", vmin=0, vmax=1)
    ax.set(xticks=[], yticks=[], title=title)
    return ax


def canvas(ax, image, rows=(), cols=(), title=None, color="w"):
    """One image (C, H, W) in [-1, 1], with lines at tile boundaries: r in rows between pixel
    rows r - 1 and r, c in cols between columns c - 1 and c (tiling.Tiled.boundaries)."""
    _check_axes(ax)
    image = _data("image", image, ((1, 3), None, None), "(1 or 3, H, W)").float()
    shown = ((image.clamp(-1, 1) + 1) / 2).permute(1, 2, 0).squeeze(-1).numpy()
    ax.imshow(shown, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    for r in rows:
        ax.axhline(r - 0.5, color=color, lw=0.8, alpha=0.8)
    for c in cols:
        ax.axvline(c - 0.5, color=color, lw=0.8, alpha=0.8)
    ax.set(xticks=[], yticks=[], title=title)
    return ax
