"""Plots for the lessons. Each function draws on a matplotlib Axes it is given and returns it;
the library never creates figures (lessons do, so they control size and layout).
"""

import torch


def scatter_2d(ax, x, title=None, lim=3.0, color="C0", size=2, alpha=0.5):
    """Scatter of 2-D samples with a fixed square window [-lim, lim]^2."""
    x = torch.as_tensor(x).detach().cpu().numpy()
    ax.scatter(x[:, 0], x[:, 1], s=size, alpha=alpha, color=color, linewidths=0)
    ax.set(xlim=(-lim, lim), ylim=(-lim, lim), aspect="equal", xticks=[], yticks=[])
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def density_2d(ax, log_prob, lim=3.0, n=150, title=None, cmap="viridis"):
    """Image of exp(log_prob) on an n x n grid; log_prob maps (m, 2) float64 points to (m,)."""
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
    path = torch.as_tensor(path).detach().cpu()[:, :n].numpy()
    for i in range(path.shape[1]):
        ax.plot(path[:, i, 0], path[:, i, 1], color=color, lw=0.6, alpha=0.7)
    ax.scatter(path[-1, :, 0], path[-1, :, 1], s=6, color="C3", zorder=3)
    ax.set(xlim=(-lim, lim), ylim=(-lim, lim), aspect="equal", xticks=[], yticks=[])
    return ax


def loss_curve(ax, history, log=True):
    """Training loss (and validation loss, if recorded) of a train.History."""
    ax.plot(history.steps, history.loss, lw=0.8, alpha=0.6, label="train")
    if history.val_loss:
        ax.plot(history.val_steps, history.val_loss, "o-", ms=3, label="validation (EMA)")
    ax.set(xlabel="step", ylabel="loss", yscale="log" if log else "linear")
    ax.legend(fontsize=8)
    return ax


def image_grid(ax, images, nrow: int = 8, title=None, pad: int = 1):
    """Images (N, C, H, W) in [-1, 1] (C = 1 or 3) tiled nrow per row, with `pad` white pixels
    between them; values outside [-1, 1] are clipped for display only."""
    images = torch.as_tensor(images).detach().float().cpu()
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"images: expected (N, 1 or 3, H, W), got shape {tuple(images.shape)}")
    n, c, h, w = images.shape
    cols, rows = min(nrow, n), -(-n // nrow)
    canvas = torch.ones(c, rows * (h + pad) + pad, cols * (w + pad) + pad)
    for i, image in enumerate((images.clamp(-1, 1) + 1) / 2):
        top, left = pad + (i // nrow) * (h + pad), pad + (i % nrow) * (w + pad)
        canvas[:, top : top + h, left : left + w] = image
    ax.imshow(canvas.permute(1, 2, 0).squeeze(-1).numpy(), cmap="gray", vmin=0, vmax=1)
    ax.set(xticks=[], yticks=[], title=title)
    return ax
