"""Procedural landscapes (lesson 10): deterministic, any size, in range; every scene has one
whole sun, which the segment map and the detector agree on; the detector counts two suns side by
side and a sun cut by a crop; ground objects grow with the width and are never cut; bad input."""

import pytest
import torch

from minidiff.data import scenes


def test_deterministic_any_size_and_in_range():
    a, b = scenes.generate(3, 24, 80, seed=4), scenes.generate(3, 24, 80, seed=4)
    assert torch.equal(a.images, b.images) and torch.equal(a.segments, b.segments)
    assert a.images.shape == (3, 3, 24, 80) and a.segments.shape == (3, 24, 80)
    assert a.images.min() >= -1 and a.images.max() <= 1
    assert not torch.equal(a.images, scenes.generate(3, 24, 80, seed=5).images)


@pytest.mark.parametrize("size", [(32, 32), (32, 128), (64, 32), (16, 48)])
def test_every_scene_has_one_whole_sun(size):
    s = scenes.generate(12, *size, seed=1)
    count, cut = scenes.sun_components(s.images)
    assert count.tolist() == [1] * 12 and not cut.any()
    sun = scenes.SEGMENTS.index("sun")
    x, y, r = s.suns.unbind(1)
    assert (x - r >= 1).all() and (x + r <= size[1] - 1).all() and (y - r >= 1).all()
    for seg, (cx, cy, _) in zip(s.segments, s.suns.tolist()):
        assert seg[int(cy), int(cx)] == sun  # the centre pixel is sun in the segment map


def test_the_detector_sees_duplicated_and_cut_suns():
    s = scenes.generate(4, 32, 32, seed=2)
    side_by_side = torch.cat([s.images[:2], s.images[2:]], -1)
    assert scenes.sun_components(side_by_side)[0].tolist() == [2, 2]
    x = s.suns[0, 0].round().int().item()
    count, cut = scenes.sun_components(s.images[:1, :, :, x:])  # crop through the sun's centre
    assert count.item() == 1 and cut.item()
    speckled = s.images[:1].clone()
    speckled[0, :, 2, 2] = torch.tensor(scenes.RGB["sun"]) * 2 - 1  # one sun-coloured pixel
    assert scenes.sun_components(speckled)[0].item() == 1  # speckle is not a second sun
    speckled[0, :, 2:5, 2:5] = speckled[0, :, 2, 2][:, None, None]  # a 3 x 3 blob is
    assert scenes.sun_components(speckled)[0].item() == 2


def test_objects_grow_with_the_width_and_no_border_cuts_one():
    ground = [scenes.SEGMENTS.index(k) for k in ("tree", "house")]
    mean_count = {}
    for width in (32, 128):
        seg = scenes.generate(20, 32, width, seed=3).segments
        on_object = (seg[..., None] == torch.tensor(ground)).any(-1)
        assert not on_object[..., 0].any() and not on_object[..., -1].any()
        columns = on_object.any(1).float()  # (N, W): columns with an object
        runs = (columns[:, 1:] > columns[:, :-1]).sum(1) + columns[:, 0]  # objects never touch
        mean_count[width] = runs.double().mean().item()
    assert mean_count[128] > 3 * mean_count[32] > 0


def test_crops_are_windows_of_the_canvases():
    canvases = scenes.generate(2, 32, 64, seed=0).images
    c = scenes.crops(canvases, 32, 5, seed=1)
    assert c.shape == (5, 3, 32, 32)
    windows = canvases.unfold(-1, 32, 1).permute(0, 3, 1, 2, 4)  # (N, W - 31, C, H, 32)
    for crop in c:
        assert any(torch.equal(crop, w) for w in windows.flatten(0, 1))


def test_bad_input():
    with pytest.raises(ValueError, match="height"):
        scenes.generate(1, 4, 32)
    with pytest.raises(
        ValueError, match=r"size: expected at most the canvas's shorter side \(32\)"
    ):
        scenes.crops(scenes.generate(1, 32, 64).images, 48, 1)
