"""Tiled denoising (lesson 10): canvases of any size from a denoiser trained on small tiles.

Each wrapper is a denoiser(x, t, *cond) -> x0_hat like the one it wraps, so every sampler drives
it unchanged (put samplers.cfg around it). A condition shaped like x (a super-resolution model's
upsampled low-resolution image) is cut into the same windows; any other is repeated for every
window. A call cuts
x into tile x tile windows, denoises them in one batch, and fuses the predictions per pixel:
* naive: a grid of non-overlapping windows (the last row and column shifted inward to end at the
  border); each pixel takes its window's prediction, so neighbouring windows that disagree leave
  seams.
* MultiDiffusion (Bar-Tal et al. 2023): overlapping windows `stride` apart; each pixel the mean of
  the windows that cover it, the closed form of argmin_J sum_i ||W_i (F_i(J) - Phi(F_i(J_t)))||^2.
* FSTD (Zheng et al. 2024, Any-Size-Diffusion): naive's grid, shifted by the next of `offsets` at
  every call, so that a border at one step is inside a window at the next; Gaussian window
  weights where the windows clamped to the border overlap; the pixels no window covers (above and
  left of the shifted grid) reuse the previous call's noise prediction ("noise reference").
Fusing x0_hat is fusing the noise prediction: at a fixed x_t they are affine in each other.
`evaluations` counts tile evaluations (windows times images), the cost a tiled sampler pays;
`seam_score` measures how much the windows' borders show in the result.
"""

import torch
from torch import nn

from .checks import check_callable, check_int
from .targets import coefficients, eps_from_x0, x0_from_eps

GAUSSIAN_SIGMA = 0.1  # FSTD's tile weights: a Gaussian of sd 0.1 tile around the tile's centre


def window_starts(size: int, tile: int, stride: int, offset: int = 0) -> list[int]:
    """Starts of the windows along one axis: offset, offset + stride, ... while a window fits,
    then one that ends at the border if the last did not reach it. offset > 0 leaves [0, offset)
    uncovered."""
    starts = list(range(offset, size - tile + 1, stride))
    if not starts or starts[-1] + tile < size:
        starts.append(size - tile)
    return starts


def gaussian_weights(tile: int) -> torch.Tensor:
    """(tile, tile) weights exp(-r^2 / (2 (GAUSSIAN_SIGMA tile)^2)), r from the tile's centre."""
    u = (torch.arange(tile) - (tile - 1) / 2) / tile
    g = torch.exp(-(u**2) / (2 * GAUSSIAN_SIGMA**2))
    return g[:, None] * g[None, :]


def fstd_offsets(tile: int) -> list[tuple[int, int]]:
    """FSTD's default offsets, cycled: the grid, then shifted by half a tile (both axes, then
    one), so that every border line of one call lies inside a window at the next."""
    h = tile // 2
    return [(0, 0), (h, h), (0, h), (h, 0)]


def _cut(images: torch.Tensor, boxes, tile: int) -> torch.Tensor:
    """(B, C, H, W) -> (B * len(boxes), C, tile, tile): every window of every image."""
    return torch.stack([images[..., i : i + tile, j : j + tile] for i, j in boxes], 1).flatten(0, 1)


class Tiled(nn.Module):
    """denoiser(x, t, *cond) on tile x tile windows `stride` apart, shifted by `offsets`
    (cycled, one per call; the first must be (0, 0)) and fused with `weights` (None: equal);
    `reuse`: uncovered pixels take the last call's noise prediction. Use naive(),
    multidiffusion() or fstd()."""

    def __init__(self, denoiser, tile, stride, offsets=((0, 0),), weights=None, reuse=False):
        super().__init__()
        check_callable("denoiser", denoiser, "a denoiser(x, t, *cond) such as a targets.Denoiser")
        self.tile = check_int("tile", tile, 1)
        self.stride = check_int("stride", stride, 1)
        if self.stride > self.tile:
            raise ValueError(f"stride: expected at most the tile ({tile}), got {stride}: windows "
                             "further apart than their size would leave gaps")  # fmt: skip
        if tuple(offsets[0]) != (0, 0):
            raise ValueError(f"offsets: expected (0, 0) first (the first call must cover every "
                             f"pixel), got {offsets[0]}")  # fmt: skip
        self.denoiser, self.offsets, self.reuse = denoiser, [tuple(o) for o in offsets], reuse
        self.register_buffer("weights", torch.ones(tile, tile) if weights is None else weights)
        self.sde = getattr(denoiser, "sde", None)
        self.evaluations, self._call, self._last_t, self._eps = 0, 0, None, None

    def windows(self, height: int, width: int, call: int = 0) -> list[tuple[int, int]]:
        """(top, left) of every window at call number `call` on a height x width canvas."""
        for name, size in (("height", height), ("width", width)):
            if size < self.tile:
                raise ValueError(f"tile: expected at most the canvas {name} ({size}), got "
                                 f"{self.tile}; use a smaller tile or a larger canvas")  # fmt: skip
        dy, dx = self.offsets[call % len(self.offsets)]
        rows = window_starts(height, self.tile, self.stride, dy)
        cols = window_starts(width, self.tile, self.stride, dx)
        return [(top, left) for top in rows for left in cols]

    def boundaries(self, height: int, width: int, calls: int = 1) -> tuple[set, set]:
        """(rows, columns) where a window edge lies inside the canvas at any of the first `calls`
        calls: r means between pixel rows r - 1 and r (and likewise for columns)."""
        rows, cols = set(), set()
        for call in range(calls):
            for top, left in self.windows(height, width, call):
                rows |= {top, top + self.tile} - {0, height}
                cols |= {left, left + self.tile} - {0, width}
        return rows, cols

    def forward(self, x, t, *cond):
        t = torch.as_tensor(t, dtype=x.dtype, device=x.device).expand(len(x))
        new = self._last_t is None or bool(t.max() > self._last_t) or self._eps is None
        if new or self._eps.shape != x.shape:  # a new trajectory: start the offsets again
            self._call, self._eps = 0, None
        boxes, T = self.windows(x.shape[-2], x.shape[-1], self._call), self.tile

        def per_tile(c):  # an image-shaped condition is cut like x; any other is repeated
            if torch.is_tensor(c) and c.ndim == 4 and c.shape[-2:] == x.shape[-2:]:
                return _cut(c, boxes, T)
            return c if c is None else c.repeat_interleave(len(boxes), 0)

        pred = self.denoiser(per_tile(x), per_tile(t), *map(per_tile, cond))
        pred = pred.unflatten(0, (len(x), -1))
        fused, total = torch.zeros_like(x), x.new_zeros(x.shape[-2:])
        w = self.weights.to(x.dtype)
        for k, (i, j) in enumerate(boxes):
            fused[..., i : i + T, j : j + T] += w * pred[:, k]
            total[i : i + T, j : j + T] += w
        x0_hat = fused / total.clamp(min=torch.finfo(x.dtype).tiny)
        x0_hat = self._reuse(x, t, x0_hat, total == 0) if self.reuse else x0_hat
        self.evaluations += len(boxes) * len(x)
        self._call, self._last_t = self._call + 1, t.max()
        return x0_hat

    def _reuse(self, x, t, x0_hat, uncovered):
        """Uncovered pixels: x0 from the last call's noise prediction; keep this call's."""
        alpha, sigma = coefficients(self.sde, t, x)
        if uncovered.any():
            x0_hat = torch.where(uncovered, x0_from_eps(x, self._eps, alpha, sigma), x0_hat)
        self._eps = eps_from_x0(x, x0_hat, alpha, sigma)
        return x0_hat


def naive(denoiser, tile: int) -> Tiled:
    return Tiled(denoiser, tile, tile)


def multidiffusion(denoiser, tile: int, stride: int) -> Tiled:
    return Tiled(denoiser, tile, stride)


def fstd(denoiser, tile: int, offsets=None) -> Tiled:
    if getattr(denoiser, "sde", None) is None:
        raise ValueError("denoiser: expected one with an .sde (such as a targets.Denoiser): "
                         "FSTD's noise reference converts between x0 and the noise")  # fmt: skip
    offsets = fstd_offsets(tile) if offsets is None else offsets
    return Tiled(denoiser, tile, tile, offsets, gaussian_weights(tile), reuse=True)


def seam_score(images: torch.Tensor, rows, cols) -> float:
    """How much the given boundaries show: the |difference| between neighbouring pixels summed
    across them (rows r: between rows r - 1 and r; columns likewise), over what the pairs of the
    same direction elsewhere in the images would give (their mean |difference| times as many
    pairs). 1 for an image whose boundaries look like anywhere else; above 1 where they show."""
    seam = expected = 0.0
    for axis, lines in ((-2, rows), (-1, cols)):
        diff = images.diff(dim=axis).abs().movedim(axis, 0)  # diff[r - 1]: across boundary r
        on = torch.zeros(len(diff), dtype=torch.bool)
        on[[r - 1 for r in lines]] = True
        if on.all():
            raise ValueError(f"rows, cols: expected pairs of neighbours off the boundaries too, "
                             f"got a boundary between every pair along axis {axis}")  # fmt: skip
        if on.any():
            seam += diff[on].sum().item()
            expected += diff[~on].mean().item() * diff[on].numel()
    if not expected:
        raise ValueError("rows, cols: expected at least one boundary inside the image")
    return seam / expected
