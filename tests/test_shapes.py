"""minidiff.data.shapes: every label is decoded back from the pixels by an independent reader
(connected components, palette colours, coverage areas against closed forms, centroids), and every
caption is parsed back into labels."""

import math
import re
import time

import numpy as np
import pytest
import torch
from scipy import ndimage, stats

from minidiff.data import shapes

N = 600


@pytest.fixture(scope="module", params=[16, 32])
def data(request):
    return shapes.generate(N, size=request.param, seed=1)


def row(d, i):
    return {k: v[i].item() for k, v in d.labels.items()}


def read_objects(image: torch.Tensor, background: int):
    """Objects found in an image: [(colour, area in px^2, centroid (x, y) in px)], one per
    8-connected component of non-background pixels, with the coverage c of a pixel from
    pixel = background + c (colour - background)."""
    x = (image.permute(1, 2, 0).numpy().astype(np.float64) + 1) / 2  # (H, W, 3) in [0, 1]
    bg = shapes.BACKGROUND_RGB[background].numpy()
    components, m = ndimage.label(np.abs(x - bg).max(-1) > 1e-5, structure=np.ones((3, 3)))
    objects = []
    for k in range(1, m + 1):
        pixels = x[components == k]
        core = pixels[np.abs(pixels - bg).sum(-1).argmax()]  # the most covered pixel: fully
        palette = shapes.COLOUR_RGB.numpy()
        colour = int(np.abs(palette - core).sum(-1).argmin())
        assert np.abs(palette[colour] - core).max() < 1e-5, core  # exactly a palette colour
        direction = palette[colour] - bg
        c = np.where(components == k, (x - bg) @ direction / (direction @ direction), 0.0)
        rows, cols = np.indices(c.shape) + 0.5
        centroid = ((c * cols).sum() / c.sum(), (c * rows).sum() / c.sum())
        objects.append((colour, c.sum(), centroid))
    return objects


def areas(width: int) -> np.ndarray:
    """(shape, size) -> area in px^2: circle pi r^2, square (2r)^2, triangle half its box."""
    r = shapes.RADIUS.numpy() * width
    return np.stack([math.pi * r**2, 4 * r**2, 2 * r**2])


def test_shapes_dtypes_range_and_schema(data):
    H = data.images.shape[-1]
    assert data.images.shape == (N, 3, H, H) and data.images.dtype == torch.float32
    assert data.images.min() >= -1 and data.images.max() <= 1
    assert set(data.labels) == set(shapes.VOCAB) and len(data.captions) == N
    for name, vocab in shapes.VOCAB.items():
        v = data.labels[name]
        assert v.shape == (N,) and v.dtype == torch.int64
        assert v.min() >= -1 and v.max() < len(vocab)
    one = data.labels["count"] == 0
    for name in ("relation", "shape2", "colour2", "size2"):
        assert torch.all((data.labels[name] == -1) == one), name
    assert torch.all((data.labels["position"] == -1) == ~one)


def test_each_label_is_rendered(data):
    """Count, colours, position and relation read back from the pixels; at 32x32 shape and size
    too, from the area (at 16x16 areas of a small square and a large triangle overlap)."""
    W = data.images.shape[-1]
    expected_area = areas(W)
    for i in range(N):
        l = row(data, i)
        objects = read_objects(data.images[i], l["background"])
        assert len(objects) == shapes.COUNTS[l["count"]], data.captions[i]  # disjoint objects
        decoded = []
        for colour, area, centroid in objects:
            shape, size = np.unravel_index(np.abs(expected_area - area).argmin(), (3, 2))
            decoded.append(((int(shape), int(size), colour) if W == 32 else (colour,), centroid))
        want = [(l["shape"], l["size"], l["colour"]), (l["shape2"], l["size2"], l["colour2"])]
        want = [w if W == 32 else w[2:] for w in want[: len(objects)]]
        assert sorted(o[0] for o in decoded) == sorted(want), data.captions[i]
        if len(objects) == 1:  # the nearest of the five anchor points is the labelled one
            gaps = np.linalg.norm(shapes.CENTRES.numpy() * W - decoded[0][1], axis=1)
            assert gaps.argmin() == l["position"], (data.captions[i], decoded[0][1])
        elif want[0] != want[1]:  # identical (as far as read) objects have no order to check
            check_relation(l, want[0], decoded)


def check_relation(l, first, decoded):
    """The centroid of the first object is on the relation's side of the second one's."""
    (a,), (b,) = [o[1] for o in decoded if o[0] == first], [o[1] for o in decoded if o[0] != first]
    axis = 0 if l["relation"] < 2 else 1
    before = a[axis] < b[axis]  # x grows to the right, y downwards
    assert before == (l["relation"] % 2 == 0), (l, a, b)


def test_identical_pairs_store_a_canonical_relation():
    d = shapes.generate(2000, seed=6)
    l = d.labels
    same = (l["count"] == 1) & (l["shape"] == l["shape2"]) & (l["colour"] == l["colour2"])
    same &= l["size"] == l["size2"]
    assert 10 < same.sum() < 60  # about 1000 / 36
    assert set(l["relation"][same].tolist()) == {0, 2}
    assert all(d.captions[i].startswith("two ") for i in torch.nonzero(same).flatten().tolist())


def test_areas_match_closed_forms_at_32():
    """Coverage by 2x2 point samples: each object within h * perimeter of pi r^2, (2r)^2, 2 r^2
    (h = half a pixel, the sample spacing), and unbiased: mean error within 0.5 px^2."""
    d = shapes.generate(1500, size=32, seed=2, max_objects=1)
    want, r = areas(32), shapes.RADIUS.numpy() * 32
    perimeter = np.stack([2 * math.pi * r, 8 * r, (2 + 2 * math.sqrt(5)) * r])
    errors = {}
    for i in range(len(d.captions)):
        l = row(d, i)
        ((_, area, _),) = read_objects(d.images[i], l["background"])
        error = area - want[l["shape"], l["size"]]
        assert abs(error) <= 0.5 * perimeter[l["shape"], l["size"]], (d.captions[i], error)
        errors.setdefault((l["shape"], l["size"]), []).append(error)
    for key, e in errors.items():
        assert len(e) > 100 and abs(np.mean(e)) < 0.5, (key, np.mean(e))


def parse(caption: str) -> dict:
    """The caption grammar read back into labels (a reference reader for `captions`)."""
    noun = r"a (\w+) (\w+) (\w+)"
    places = {"": 0, " on the left": 1, " on the right": 2, " at the top": 3, " at the bottom": 4}
    one = re.fullmatch(noun + r"( on the left| on the right| at the top| at the bottom)?", caption)
    if one:
        return dict(
            count=0, size=one[1], colour=one[2], shape=one[3], position=places[one[4] or ""]
        )
    two = re.fullmatch(r"two (\w+) (\w+) (\w+)s (side by side|one above the other)", caption)
    if two:
        rel = 0 if two[4] == "side by side" else 2
        return dict(count=1, size=two[1], colour=two[2], shape=two[3], relation=rel,
                    size2=two[1], colour2=two[2], shape2=two[3])  # fmt: skip
    m = re.fullmatch(noun + " (left of|right of|above|below) " + noun, caption)
    assert m, caption
    return dict(count=1, size=m[1], colour=m[2], shape=m[3], relation=m[4], size2=m[5],
                colour2=m[6], shape2=m[7])  # fmt: skip


def test_captions_parse_back_to_the_labels(data):
    assert shapes.captions(data.labels) == data.captions
    for i, caption in enumerate(data.captions):
        l = row(data, i)
        for name, value in parse(caption).items():
            if isinstance(value, str):
                value = shapes.VOCAB[name].index(value)
            assert l[name] == value, (caption, name)


def test_label_distribution_is_roughly_uniform():
    d = shapes.generate(4000, size=16, seed=3)
    for name, vocab in shapes.VOCAB.items():
        v = d.labels[name]
        counts = torch.bincount(v[v >= 0], minlength=len(vocab)).numpy()
        assert counts.sum() > 1500, name
        if name != "relation":  # identical pairs (1/36) store "left of" / "above" only
            assert stats.chisquare(counts).pvalue > 1e-3, (name, counts)
        assert counts.min() > 0.8 * counts.sum() / len(vocab), (name, counts)


def test_max_objects_one_gives_single_objects():
    d = shapes.generate(200, seed=4, max_objects=1)
    assert torch.all(d.labels["count"] == 0) and torch.all(d.labels["relation"] == -1)


def test_deterministic_from_the_seed():
    a, b, c = (shapes.generate(64, size=16, seed=s) for s in (7, 7, 8))
    assert torch.equal(a.images, b.images) and a.captions == b.captions
    assert all(torch.equal(a.labels[k], b.labels[k]) for k in a.labels)
    assert not torch.equal(a.images, c.images) and a.captions != c.captions


def test_4000_images_at_32_in_under_5_seconds():
    start = time.perf_counter()
    d = shapes.generate(4000, size=32, seed=5)
    assert time.perf_counter() - start < 5.0
    assert d.images.shape == (4000, 3, 32, 32)


@pytest.mark.parametrize(
    "kwargs, error, name",
    [(dict(n=0), ValueError, "n"), (dict(n=2.5), TypeError, "n"),
     (dict(size=24), ValueError, "size"), (dict(size=16.0), TypeError, "size"),
     (dict(max_objects=3), ValueError, "max_objects"),
     (dict(seed="0"), TypeError, "seed")],
)  # fmt: skip
def test_bad_arguments_raise_naming_the_argument(kwargs, error, name):
    with pytest.raises(error, match=f"^{name}: expected"):
        shapes.generate(**({"n": 4} | kwargs))


def test_canonical_labels_read_left_to_right_and_top_to_bottom(data):
    """canonical() keeps one-object labels and the objects of two, only "left of"/"above" remain,
    it is idempotent, and the first canonical object is left of / above the second in pixels."""
    labels = shapes.canonical(data.labels)
    assert set(labels["relation"].tolist()) <= {-1, 0, 2} and 0 in labels["relation"].tolist()
    for k, v in shapes.canonical(labels).items():
        assert torch.equal(v, labels[k])
    one = data.labels["count"] == 0
    for k in data.labels:
        assert torch.equal(labels[k][one], data.labels[k][one])
    W, expected_area = data.images.shape[-1], areas(data.images.shape[-1])
    for i in torch.nonzero(~one).squeeze(1).tolist()[:40]:
        l = {k: int(v[i]) for k, v in labels.items()}
        objects = read_objects(data.images[i], l["background"])
        decoded = []
        for colour, area, centroid in objects:
            shape, size = np.unravel_index(np.abs(expected_area - area).argmin(), (3, 2))
            decoded.append(((int(shape), int(size), colour) if W == 32 else (colour,), centroid))
        first = (l["shape"], l["size"], l["colour"])[0 if W == 32 else 2 :]
        second = (l["shape2"], l["size2"], l["colour2"])[0 if W == 32 else 2 :]
        if first != second:
            check_relation(l, first, decoded)
