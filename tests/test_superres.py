"""The super-resolution denoiser: the upsampled low-resolution image rides beside x, a model on a
canvas of one tile is unchanged by tiling, and bad shapes are refused."""

import pytest
import torch

from minidiff import targets, tiling
from minidiff.nets.superres import SuperResolution, upsample
from minidiff.nets.unet import Stage, UNet
from minidiff.sde import VP


def model():
    torch.manual_seed(0)
    unet = UNet(6, (Stage(8), Stage(16)), out_channels=3)
    for p in unet.parameters():  # away from the zero-started output, so the test can fail
        p.data.normal_(0, 0.1)
    return targets.Denoiser(SuperResolution(unet), VP(), "v")


def test_upsample_keeps_the_mean_and_the_condition_matters():
    low = torch.randn(2, 3, 8, 12)
    up = upsample(low, 2)
    assert up.shape == (2, 3, 16, 24)
    torch.testing.assert_close(up.mean((2, 3)), low.mean((2, 3)))
    m, x, t = model(), torch.randn(2, 3, 16, 24), torch.full((2,), 0.5)
    assert not torch.allclose(m(x, t, up), m(x, t, torch.zeros_like(up)))


def test_one_tile_canvas_is_unchanged_by_tiling():
    m, x, t = model(), torch.randn(2, 3, 16, 16), torch.full((2,), 0.5)
    low = upsample(torch.randn(2, 3, 8, 8), 2)
    torch.testing.assert_close(tiling.naive(m, 16)(x, t, low), m(x, t, low))


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="in_channels twice out_channels"):
        SuperResolution(UNet(3, (Stage(8), Stage(16))))
    with pytest.raises(ValueError, match="use upsample"):
        model()(torch.randn(1, 3, 16, 16), torch.ones(1), torch.randn(1, 3, 8, 8))
