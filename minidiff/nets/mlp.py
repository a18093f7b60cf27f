"""A time-conditioned residual MLP for the 2-D toy lessons.

Conditioning as in DDPM/ADM (Ho et al. 2020; Dhariwal & Nichol 2021): a sinusoidal time embedding,
plus an optional class embedding, is added to the hidden state before every block. Notable choice:
class index `cond_classes` is the "null" label used for classifier-free guidance (Ho & Salimans
2022); y=None means that label.
"""

import torch
import torch.nn.functional as F
from torch import nn

from minidiff.checks import check_int
from minidiff.nets.layers import SinusoidalEmbedding


class MLP(nn.Module):
    """net(x, t, y=None) -> (B, dim), for x (B, dim), t (B,) in [0, 1] and y int (B,) or None.

    h = W_in x; then `depth` times h = h + W_i silu(h + emb); out = W_out silu(h), where emb is the
    time embedding plus, if cond_classes > 0, the class embedding. time_scale multiplies t before
    the sinusoids: 1000 mimics DDPM's integer steps; a smaller one (e.g. 50) makes the network,
    and so the learned probability-flow ODE, smoother in t (lesson 03).
    """

    def __init__(self, dim=2, hidden=128, depth=3, embed_dim=64, cond_classes=0, time_scale=1000.0):
        super().__init__()
        self.config = dict(  # the constructor's kwargs, stored in checkpoints
            dim=dim, hidden=hidden, depth=depth, embed_dim=embed_dim, cond_classes=cond_classes
        )
        lows = dict(dim=1, hidden=1, depth=0, embed_dim=2, cond_classes=0)
        for name, value in self.config.items():
            check_int(name, value, lows[name])
        if (
            isinstance(time_scale, bool)
            or not isinstance(time_scale, (int, float))
            or time_scale <= 0
        ):
            raise ValueError(f"time_scale: expected a positive float, got {time_scale!r}")
        self.config["time_scale"] = float(time_scale)
        self.x_embedder = nn.Linear(dim, hidden)
        self.time_embedder = nn.Sequential(
            SinusoidalEmbedding(embed_dim, scale=time_scale),
            nn.Linear(embed_dim, hidden),
            nn.SiLU(),
            nn.Linear(hidden, hidden),
        )
        # one extra row: index cond_classes is the null label for classifier-free guidance
        self.class_embedder = nn.Embedding(cond_classes + 1, hidden) if cond_classes else None
        self.blocks = nn.ModuleList(nn.Linear(hidden, hidden) for _ in range(depth))
        self.final_layer = nn.Linear(hidden, dim)

    def _check_inputs(self, x, t, y):
        dim, classes = self.config["dim"], self.config["cond_classes"]
        if not isinstance(x, torch.Tensor) or x.ndim != 2 or x.shape[1] != dim:
            got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"x: expected a tensor of shape (B, {dim}), got {got}")
        if not isinstance(t, torch.Tensor) or t.shape != x.shape[:1]:
            got = tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
            raise ValueError(f"t: expected a tensor of shape ({len(x)},) like x's batch, got {got}")
        if y is None:
            return
        if not classes:
            raise ValueError("y: this MLP has cond_classes=0, so y must be None")
        if not isinstance(y, torch.Tensor) or y.shape != x.shape[:1] or y.is_floating_point():
            got = f"{y.dtype} {tuple(y.shape)}" if isinstance(y, torch.Tensor) else type(y).__name__
            raise ValueError(f"y: expected integer labels of shape ({len(x)},), got {got}")
        if bool(torch.any((y < 0) | (y > classes))):
            raise ValueError(f"y: expected labels in [0, {classes}] ({classes}: null), got {y}")

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None = None):
        self._check_inputs(x, t, y)
        emb = self.time_embedder(t.to(x.dtype))  # (B, hidden)
        if self.class_embedder is not None:
            if y is None:
                y = torch.full_like(t, self.config["cond_classes"], dtype=torch.long)
            emb = emb + self.class_embedder(y)
        h = self.x_embedder(x)  # (B, hidden)
        for block in self.blocks:
            h = h + block(F.silu(h + emb))
        return self.final_layer(F.silu(h))
