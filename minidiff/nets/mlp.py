"""A time-conditioned residual MLP for the 2-D toy lessons.

Conditioning as in DDPM/ADM (Ho et al. 2020; Dhariwal & Nichol 2021): a sinusoidal time embedding,
plus an optional class embedding, is added to the hidden state before every block. Notable choice:
class index `cond_classes` is the "null" label used for classifier-free guidance (Ho & Salimans
2022); y=None means that label.
"""

import torch
import torch.nn.functional as F
from torch import nn

from minidiff.checks import check_float, check_int
from minidiff.nets.layers import SinusoidalEmbedding, check_input, check_labels, check_times


class MLP(nn.Module):
    """net(x, t, y=None) -> (B, dim), for x (B, dim), t (B,) in [0, 1] and y int (B,) or None.

    h = W_in x; then `depth` times h = h + W_i silu(h + emb); out = W_out silu(h), where emb is the
    time embedding plus, if cond_classes > 0, the class embedding. time_scale multiplies t before
    the sinusoids: 1000 mimics DDPM's integer steps; a smaller one (e.g. 50) makes the network,
    and so the learned probability-flow ODE, smoother in t (lesson 03).
    """

    def __init__(self, dim=2, hidden=128, depth=3, embed_dim=64, cond_classes=0, time_scale=1000.0):
        super().__init__()
        self.config = dict(  # the constructor's kwargs, stored in checkpoints (ints as ints)
            dim=check_int("dim", dim, 1), hidden=check_int("hidden", hidden, 1),
            depth=check_int("depth", depth, 0), embed_dim=check_int("embed_dim", embed_dim, 2),
            cond_classes=check_int("cond_classes", cond_classes, 0),
            time_scale=check_float("time_scale", time_scale, 0, open_low=True),
        )  # fmt: skip
        dim, hidden, depth, embed_dim, cond_classes, time_scale = self.config.values()
        if embed_dim % 2:
            raise ValueError(f"embed_dim: expected an even int >= 2, got {embed_dim}")
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
        check_input("x", x, self.x_embedder.weight.dtype, ("B", self.config["dim"]))
        check_times(t, len(x))
        check_labels(y, len(x), self.config["cond_classes"], "cond_classes", "MLP")

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
