"""Procedural captioned images: one or two coloured shapes on a plain background, 16x16 or 32x32.

The text-to-image toy of the course (a stand-in for captioned photos in Imagen and
MobileDiffusion): every image carries its attribute labels, so condition accuracy is exact.
Notable choices:
* Labels are class indices into the vocabularies below (-1 where not applicable); the caption is
  a function of the labels (`captions`); the background is a nuisance left out of the caption.
* Rendered with coordinate-grid masks at SUPERSAMPLE x the resolution and average-pooled
  (anti-aliasing); two objects are kept a GAP apart: a clear pixel row or column between them.
"""

import numbers
from dataclasses import dataclass

import torch
import torch.nn.functional as F

SHAPES = ("circle", "square", "triangle")
COLOURS = ("red", "green", "blue", "yellow", "purple", "white")
SIZES = ("small", "large")
POSITIONS = ("centre", "left", "right", "top", "bottom")  # one object only
COUNTS = (1, 2)  # labels["count"] is an index: COUNTS[labels["count"]] objects
RELATIONS = ("left of", "right of", "above", "below")  # two objects: first RELATION second
BACKGROUNDS = ("black", "grey")
VOCAB = {  # label name -> vocabulary: the schema of `Shapes.labels`, and the classifier heads
    "shape": SHAPES, "colour": COLOURS, "size": SIZES, "position": POSITIONS, "count": COUNTS,
    "relation": RELATIONS, "background": BACKGROUNDS,
    "shape2": SHAPES, "colour2": COLOURS, "size2": SIZES,
}  # fmt: skip

COLOUR_RGB = torch.tensor([  # in [0, 1], one row per COLOURS entry
    [0.90, 0.10, 0.10], [0.10, 0.75, 0.20], [0.15, 0.35, 1.00],
    [0.95, 0.85, 0.10], [0.60, 0.15, 0.80], [1.00, 1.00, 1.00],
])  # fmt: skip
BACKGROUND_RGB = torch.tensor([[0.0, 0.0, 0.0], [0.45, 0.45, 0.45]])
RADIUS = torch.tensor([0.125, 0.2])  # half the box side, per SIZES entry, in image widths
CENTRES = torch.tensor([[0.5, 0.5], [0.27, 0.5], [0.73, 0.5], [0.5, 0.27], [0.5, 0.73]])  # (x, y)
JITTER = 0.04  # one object: uniform offset of the centre in each coordinate
GAP, MARGIN, CROSS = 0.125, 0.02, 0.12  # two objects: box gap (2 px at 16x16), border, off-axis
SUPERSAMPLE = 2
PHRASES = ("", " on the left", " on the right", " at the top", " at the bottom")  # POSITIONS


@dataclass
class Shapes:
    """images (N, 3, H, W) float32 in [-1, 1]; labels: VOCAB's names -> (N,) int64; captions."""

    images: torch.Tensor
    labels: dict[str, torch.Tensor]
    captions: list[str]


def _sample_labels(n: int, max_objects: int, generator) -> dict[str, torch.Tensor]:
    """Each attribute uniform and independent; -1 where it does not apply.

    Two identical objects make "A right of B" the same picture as "A left of B", so their
    relation is stored as "left of" (or "above") and captioned "side by side" (one above the other).
    """
    labels = {k: torch.randint(len(v), (n,), generator=generator) for k, v in VOCAB.items()}
    two = labels["count"] == 1 if max_objects == 2 else torch.zeros(n, dtype=torch.bool)
    labels["count"] = two.long()
    for k in ("relation", "shape2", "colour2", "size2"):
        labels[k] = torch.where(two, labels[k], -1)
    labels["position"] = torch.where(two, -1, labels["position"])
    same = two & (labels["shape"] == labels["shape2"]) & (labels["colour"] == labels["colour2"])
    same &= labels["size"] == labels["size2"]
    labels["relation"] = torch.where(same, labels["relation"] // 2 * 2, labels["relation"])
    return labels


def _layout(labels: dict[str, torch.Tensor], generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Centres (N, 2, 2) as (object, (x, y)) in image widths, y down; radii (N, 2).

    Two objects sit on either side of the image's middle line along the relation's axis, their
    boxes at least GAP apart; the second object of a one-object image has radius 0.
    """
    n = len(labels["count"])
    two = labels["count"] == 1
    r = torch.stack([RADIUS[labels["size"]], RADIUS[labels["size2"].clamp(min=0)]], 1)  # (N, 2)
    r[:, 1] *= two
    jitter = (torch.rand(n, 2, generator=generator) * 2 - 1) * JITTER
    single = CENTRES[labels["position"].clamp(min=0)] + jitter  # (N, 2)
    relation = labels["relation"].clamp(min=0)
    side = torch.where(relation % 2 == 0, -1.0, 1.0)[:, None] * torch.tensor([1.0, -1.0])  # (N, 2)
    slack = 0.5 - GAP / 2 - 2 * r - MARGIN
    u = torch.rand(n, 2, generator=generator)
    along = 0.5 + side * (GAP / 2 + r + u * slack)  # (N, 2) per object
    cross = 0.5 + (torch.rand(n, 2, generator=generator) * 2 - 1) * CROSS
    horizontal = (relation < 2)[:, None]
    pair = torch.stack([torch.where(horizontal, along, cross),
                        torch.where(horizontal, cross, along)], -1)  # (N, 2, 2)  # fmt: skip
    first = torch.stack([single, torch.zeros_like(single)], 1)  # (N, 2, 2)
    return torch.where(two[:, None, None], pair, first), r


def coverage(shape: torch.Tensor, centre: torch.Tensor, r: torch.Tensor, size: int):
    """Fraction of each pixel covered by an object, (N, 1, size, size), by point sampling.

    shape (N,) indices into SHAPES; centre (N, 2) as (x, y) and r (N,) in image widths. Circle:
    |p - c| <= r; square: max-norm <= r; triangle: apex up at (x, y - r), base 2r at y + r, so
    its area 2 r^2 is half its box.
    """
    S = size * SUPERSAMPLE
    grid = (torch.arange(S, dtype=centre.dtype, device=centre.device) + 0.5) / S
    dx = grid.view(1, 1, S) - centre[:, 0].view(-1, 1, 1)  # (N, 1, S)
    dy = grid.view(1, S, 1) - centre[:, 1].view(-1, 1, 1)  # (N, S, 1)
    inside = torch.zeros(len(shape), S, S, dtype=torch.bool, device=centre.device)
    for k in range(len(SHAPES)):
        i = (shape == k) & (r > 0)  # one shape at a time: only its own mask is computed
        x, y, rk = dx[i], dy[i], r[i].view(-1, 1, 1)
        if SHAPES[k] == "circle":
            inside[i] = x**2 + y**2 <= rk**2
        elif SHAPES[k] == "square":
            inside[i] = (x.abs() <= rk) & (y.abs() <= rk)
        else:  # triangle: on the apex side of the base and inside both slanted sides
            inside[i] = (y <= rk) & (2 * x.abs() <= y + rk)
    return F.avg_pool2d(inside[:, None].to(centre.dtype), SUPERSAMPLE)


def render(labels: dict[str, torch.Tensor], centres, radii, size: int) -> torch.Tensor:
    """Images (N, 3, size, size) in [-1, 1]: background + sum_k c_k (colour_k - background),
    which is alpha blending because objects never share a pixel (c_1 c_2 = 0)."""
    background = BACKGROUND_RGB[labels["background"]][:, :, None, None]  # (N, 3, 1, 1)
    image = background * 2 - 1
    for k, suffix in enumerate(("", "2")):
        shape = labels["shape" + suffix].clamp(min=0)
        c = coverage(shape, centres[:, k], radii[:, k], size)  # (N, 1, H, W)
        colour = COLOUR_RGB[labels["colour" + suffix].clamp(min=0)][:, :, None, None]
        image = image + c * (2 * (colour - background))  # (N, 3, H, W)
    return image.clamp(-1, 1)  # float rounding only: the blend is convex


def _noun(size: int, colour: int, shape: int) -> str:
    return f"a {SIZES[size]} {COLOURS[colour]} {SHAPES[shape]}"


def captions(labels: dict[str, torch.Tensor]) -> list[str]:
    """Templated English, a function of the labels (background not mentioned):

    one object: "a {size} {colour} {shape}{position}" with position "" (centre), " on the left",
    " on the right", " at the top", " at the bottom"; two different objects: "{first} {relation}
    {second}", e.g. "a small red circle left of a large blue square"; two identical objects:
    "two {size} {colour} {shape}s side by side" or "... one above the other".
    """
    names = ("count", "size", "colour", "shape", "position", "relation", "size2", "colour2")
    rows = zip(*(labels[k].tolist() for k in names + ("shape2",)))
    out = []
    for count, size, colour, shape, position, relation, size2, colour2, shape2 in rows:
        first, second = (size, colour, shape), (size2, colour2, shape2)
        if COUNTS[count] == 1:
            out.append(_noun(*first) + PHRASES[position])
        elif first == second:
            layout = "side by side" if relation < 2 else "one above the other"
            out.append(f"two {SIZES[size]} {COLOURS[colour]} {SHAPES[shape]}s {layout}")
        else:
            out.append(f"{_noun(*first)} {RELATIONS[relation]} {_noun(*second)}")
    return out


def canonical(labels: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The labels with every relation stated left to right or top to bottom: "B right of A"
    becomes "A left of B" and "B below A" "A above B" (objects swapped). Both captions describe
    one picture; its canonical labels are unique, so a classifier can learn them from pixels."""
    relation = labels["relation"]
    swap = (relation >= 0) & (relation % 2 == 1)  # "right of" and "below"
    out = dict(labels, relation=torch.where(swap, relation - 1, relation))
    for first, second in (("shape", "shape2"), ("colour", "colour2"), ("size", "size2")):
        out[first] = torch.where(swap, labels[second], labels[first])
        out[second] = torch.where(swap, labels[first], labels[second])
    return out


def generate(n: int, size: int = 16, seed: int = 0, max_objects: int = 2) -> Shapes:
    """n captioned images, a deterministic function of (n, size, seed, max_objects).

    size: 16 or 32 pixels; max_objects: 1 (one object per image) or 2 (one or two, equally
    likely). Draws from a private torch.Generator seeded with `seed`; returns CPU tensors.
    """
    for name, value in (("n", n), ("size", size), ("seed", seed), ("max_objects", max_objects)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise TypeError(f"{name}: expected an int, got {type(value).__name__} {value!r}")
    n, size, seed, max_objects = int(n), int(size), int(seed), int(max_objects)  # numpy ints too
    if n < 1:
        raise ValueError(f"n: expected a positive number of images, got {n}")
    if size not in (16, 32):
        raise ValueError(f"size: expected 16 or 32 pixels, got {size!r}")
    if max_objects not in (1, 2):
        raise ValueError(f"max_objects: expected 1 or 2, got {max_objects!r}")
    generator = torch.Generator().manual_seed(seed)
    labels = _sample_labels(n, max_objects, generator)
    centres, radii = _layout(labels, generator)
    return Shapes(render(labels, centres, radii, size), labels, captions(labels))
