"""Procedural landscapes of any size (lesson 10): sky, ground, one sun, and trees and houses
standing on the horizon, with a segment map of every pixel.

The any-size toy of the course: tiled samplers and aspect-ratio buckets are judged on it, and its
composition can be checked on any image: a scene has exactly one sun, whole (no border cuts it).
`sun_components` finds the suns of a generated image without the segment map. Notable choices:
* Lengths are fractions of the height (the sun's radius, the objects' sizes), so a wider canvas
  shows more of a scene, not a stretched one; the number of ground objects grows with the width
  (one per OBJECT_SPACING heights on average, at random gaps, so that no grid of tiles lines up
  with them), and no border cuts an object either.
* Rendered at SUPERSAMPLE x the resolution and average-pooled (anti-aliasing), as data.shapes;
  the segment map is read at the pixel centres.
"""

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..checks import check_int

SEGMENTS = ("sky", "ground", "sun", "tree", "house")
RGB = {  # in [0, 1]
    "sky_top": (0.20, 0.40, 0.85), "sky_horizon": (0.65, 0.80, 0.95),
    "ground_far": (0.35, 0.60, 0.25), "ground_near": (0.20, 0.40, 0.15),
    "sun": (1.00, 0.85, 0.20), "crown": (0.05, 0.35, 0.10), "trunk": (0.45, 0.30, 0.15),
    "wall": (0.85, 0.35, 0.30), "roof": (0.35, 0.15, 0.15),
}  # fmt: skip
HORIZON = (0.60, 0.70)  # the horizon's row, as a fraction of the height
BASE = 0.05  # objects stand this far (of the height) below the horizon
SUN_RADIUS = (0.07, 0.10)  # of the height; with the sizes below a sun fits above every object
OBJECT_HEIGHT = {"tree": (0.20, 0.30), "house": (0.15, 0.22)}  # of the height
OBJECT_SPACING = 1.0  # heights of canvas per ground object, on average
MARGIN = 0.15  # of the height: objects' centres stay this far from the border
SUPERSAMPLE = 2
SUN_TOLERANCE = 0.25  # RGB distance (in [0, 1]) under which sun_components counts a pixel as sun
MIN_SUN_AREA = 0.25  # of the smallest sun's area: sun_components ignores smaller regions


@dataclass
class Scenes:
    """images (N, 3, H, W) float32 in [-1, 1]; segments (N, H, W) int64 indices into SEGMENTS;
    suns (N, 3) float32: the sun's centre x, y and radius, in pixels."""

    images: torch.Tensor
    segments: torch.Tensor
    suns: torch.Tensor


def _uniform(low_high, generator) -> float:
    low, high = low_high
    return low + (high - low) * torch.rand((), generator=generator).item()


def _layout(height: int, width: int, generator) -> dict:
    """One scene's random layout, in pixels: horizon row, objects (kind, x, height) standing on
    it, and the sun (x, y, r) above the tallest of them, so that nothing hides any of it."""
    horizon, spacing = height * _uniform(HORIZON, generator), OBJECT_SPACING * height
    margin = MARGIN * height  # more than any object's half-width: no border cuts an object
    x, objects = margin + spacing * _uniform((0, 1), generator), []
    while x <= width - margin:  # gaps of 0.7 to 1.3 spacings: objects never touch
        kind = ("tree", "house")[int(torch.randint(2, (), generator=generator))]
        objects.append((kind, x, height * _uniform(OBJECT_HEIGHT[kind], generator)))
        x += spacing * _uniform((0.7, 1.3), generator)
    tallest = max((h for _, _, h in objects), default=0.0)
    top = horizon + BASE * height - tallest  # the tallest object's top row
    r = height * _uniform(SUN_RADIUS, generator)
    sun = (_uniform((r + 1, width - r - 1), generator), _uniform((r + 1, top - r - 1), generator))
    return dict(horizon=horizon, sun=(*sun, r), objects=objects)


def _triangle(x, y, cx, base, apex, half):
    """Apex-up triangle: between rows apex and base, |x - cx| within half * (y - apex) / height."""
    inside = (y >= apex) & (y <= base)
    return inside & ((x - cx).abs() <= half * (y - apex) / (base - apex))


def _render(height: int, width: int, layout: dict, scale: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(3, scale H, scale W) image in [0, 1] and the segment map, at `scale` samples per pixel."""
    y = (torch.arange(height * scale) + 0.5)[:, None] / scale
    x = (torch.arange(width * scale) + 0.5)[None, :] / scale
    col = {k: torch.tensor(v)[:, None, None] for k, v in RGB.items()}
    h = layout["horizon"]
    sky = col["sky_top"] + (col["sky_horizon"] - col["sky_top"]) * (y / h).clamp(0, 1)
    near = ((y - h) / (height - h)).clamp(0, 1)
    ground = col["ground_far"] + (col["ground_near"] - col["ground_far"]) * near
    image = torch.where(y < h, sky, ground).expand(3, -1, -1).clone()
    segments = torch.where(y < h, 0, 1).expand_as(image[0]).clone()
    cx, cy, r = layout["sun"]
    paint = [("sun", (x - cx) ** 2 + (y - cy) ** 2 <= r**2, 2)]
    for kind, ox, oh in layout["objects"]:
        base = h + BASE * height
        if kind == "tree":
            trunk = ((x - ox).abs() <= 0.06 * oh) & (y >= base - 0.3 * oh) & (y <= base)
            crown = _triangle(x, y, ox, base - 0.25 * oh, base - oh, 0.35 * oh)
            paint += [("trunk", trunk, 3), ("crown", crown, 3)]
        else:
            wall = ((x - ox).abs() <= 0.5 * oh) & (y >= base - 0.6 * oh) & (y <= base)
            roof = _triangle(x, y, ox, base - 0.6 * oh, base - oh, 0.6 * oh)
            paint += [("wall", wall, 4), ("roof", roof, 4)]
    for colour, mask, segment in paint:
        image = torch.where(mask, col[colour], image)
        segments = torch.where(mask, segment, segments)
    return image, segments


def generate(n: int, height: int = 32, width: int = 32, seed: int = 0) -> Scenes:
    """n scenes of height x width pixels, a deterministic function of the arguments (a private
    torch.Generator seeded with `seed`); CPU tensors."""
    n, height, width = (
        check_int("n", n, 1),
        check_int("height", height, 16),
        check_int("width", width, 16),
    )
    generator = torch.Generator().manual_seed(check_int("seed", seed, 0))
    images, segments, suns = [], [], []
    for _ in range(n):
        layout = _layout(height, width, generator)
        fine, _ = _render(height, width, layout, SUPERSAMPLE)
        images.append(F.avg_pool2d(fine[None], SUPERSAMPLE)[0] * 2 - 1)
        segments.append(_render(height, width, layout, 1)[1])
        suns.append(layout["sun"])
    return Scenes(torch.stack(images), torch.stack(segments), torch.tensor(suns))


def crops(images: torch.Tensor, size: int, n: int, seed: int = 0) -> torch.Tensor:
    """n random size x size crops of images (N, C, H, W): canvas and place uniform per crop."""
    size = check_int("size", size, 1)
    if size > min(images.shape[-2:]):
        raise ValueError(f"size: expected at most the canvas's shorter side "
                         f"({min(images.shape[-2:])}), got {size}")  # fmt: skip
    generator = torch.Generator().manual_seed(check_int("seed", seed, 0))
    which = torch.randint(len(images), (n,), generator=generator)
    top = torch.randint(images.shape[-2] - size + 1, (n,), generator=generator)
    left = torch.randint(images.shape[-1] - size + 1, (n,), generator=generator)
    places = zip(which.tolist(), top.tolist(), left.tolist())
    return torch.stack([images[k, :, i : i + size, j : j + size] for k, i, j in places])


def sun_components(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(count, cut): per image (N,), the number of 8-connected regions of sun-coloured pixels
    (within SUN_TOLERANCE of the sun's RGB) of at least MIN_SUN_AREA of the smallest sun's area
    (smaller ones are speckle), and whether one of them touches the border. A well composed
    scene has count 1 and cut False."""
    rgb = (images.clamp(-1, 1) + 1) / 2
    sun = torch.tensor(RGB["sun"], dtype=rgb.dtype)[:, None, None]
    mask = ((rgb - sun).norm(dim=1) < SUN_TOLERANCE).float()[:, None]
    labels = torch.arange(1, mask[0].numel() + 1, dtype=rgb.dtype).view_as(mask[0]) * mask
    for _ in range(math.prod(mask.shape[-2:])):  # spread each region's largest label over it
        spread = F.max_pool2d(labels, 3, 1, 1) * mask
        if torch.equal(spread, labels):
            break
        labels = spread
    min_area = MIN_SUN_AREA * math.pi * (SUN_RADIUS[0] * images.shape[-2]) ** 2
    border = torch.ones(images.shape[-2:], dtype=torch.bool)
    border[1:-1, 1:-1] = False
    count, cut = [], []
    for lab in labels[:, 0]:
        ids, areas = torch.unique(lab[lab > 0], return_counts=True)
        kept = ids[areas >= min_area]
        count.append(len(kept))
        cut.append(bool(torch.isin(lab[border], kept).any()))
    return torch.tensor(count), torch.tensor(cut)
