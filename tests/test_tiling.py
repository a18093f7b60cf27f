"""Tiled denoisers (lesson 10): with a denoiser that works pixel by pixel every wrapper equals
the untiled denoiser; MultiDiffusion's fusion is the least-squares solution; naive and
MultiDiffusion cover every pixel at every call, FSTD every pixel but the band its offset leaves,
where the noise reference applies; FSTD evaluates as many tiles as naive tiling; bad sizes are
refused with what would work."""

import pytest
import torch

from minidiff import samplers, schedules, tiling
from minidiff.sde import VP


class Pixelwise(torch.nn.Module):
    """x0_hat = a(t) tanh(x) + b * label: every pixel on its own (so tiling cannot change it)."""

    sde = VP()

    def forward(self, x, t, label=None):
        out = (1 - 0.5 * t)[:, None, None, None] * torch.tanh(x)
        return out if label is None else out + 0.1 * label[:, None, None, None]


def wrappers(tile=8):
    net = Pixelwise()
    return {"naive": tiling.naive(net, tile), "multidiffusion": tiling.multidiffusion(net, tile, 4),
            "fstd": tiling.fstd(net, tile)}  # fmt: skip


@pytest.mark.parametrize("name", ["naive", "multidiffusion", "fstd"])
def test_a_pixelwise_denoiser_is_unchanged_by_tiling(name):
    x, t = torch.randn(2, 3, 16, 40), torch.full((2,), 0.7)
    label = torch.tensor([1.0, 2.0])
    wrapped = wrappers()[name]
    torch.testing.assert_close(wrapped(x, t, label), Pixelwise()(x, t, label))


def test_a_whole_sampler_drives_the_wrappers_and_cfg_goes_around_them():
    x = torch.randn(2, 3, 16, 24, generator=torch.Generator().manual_seed(0))
    label, null = torch.tensor([1.0, 2.0]), torch.zeros(2)
    reference = samplers.ddim(samplers.cfg(Pixelwise(), 2.0, label, null), VP(), x,
                              schedules.uniform(6))  # fmt: skip
    for name, wrapped in wrappers().items():
        guided = samplers.cfg(wrapped, 2.0, label, null)
        out = samplers.ddim(guided, VP(), x, schedules.uniform(6))
        if name != "fstd":  # FSTD's uncovered band reuses the last noise prediction: not exact
            torch.testing.assert_close(out, reference)
        assert wrapped.evaluations == 6 * 4 * len(wrapped.windows(16, 24))


def test_multidiffusion_fuses_by_least_squares():
    """The fused x0 minimises sum_i ||F_i(J) - pred_i||^2: its gradient there is zero."""
    torch.manual_seed(0)

    class Noisy(torch.nn.Module):  # a different answer in every window
        def forward(self, x, t):
            return torch.randn_like(x)

    wrapped = tiling.multidiffusion(Noisy(), 8, 4)
    x, t = torch.zeros(1, 1, 12, 20), torch.ones(1)
    torch.manual_seed(1)
    fused = wrapped(x, t).requires_grad_(True)
    torch.manual_seed(1)
    preds = Noisy()(torch.zeros(len(wrapped.windows(12, 20)), 1, 8, 8), t)
    loss = sum(((fused[0, :, i : i + 8, j : j + 8] - p) ** 2).sum()
               for (i, j), p in zip(wrapped.windows(12, 20), preds))  # fmt: skip
    (grad,) = torch.autograd.grad(loss, fused)
    assert grad.abs().max() < 1e-5


def coverage(wrapped, height, width, call):
    covered = torch.zeros(height, width, dtype=torch.long)
    for i, j in wrapped.windows(height, width, call):
        covered[i : i + wrapped.tile, j : j + wrapped.tile] += 1
    return covered


@pytest.mark.parametrize("size", [(16, 16), (16, 40), (20, 36)])
def test_coverage_at_every_call(size):
    w = wrappers()
    for call in range(6):
        assert (coverage(w["naive"], *size, call) >= 1).all()
        assert (coverage(w["multidiffusion"], *size, call) >= 1).all()
        dy, dx = w["fstd"].offsets[call % 4]
        covered = coverage(w["fstd"], *size, call) >= 1
        assert not covered[:dy].any() and not covered[:, :dx].any()
        assert covered[dy:, dx:].all()  # all but the band above and left of the shifted grid


def test_fstd_reuses_the_last_noise_prediction_where_no_tile_covers():
    wrapped, net = tiling.fstd(Pixelwise(), 8), Pixelwise()
    x1, x2 = torch.randn(1, 3, 16, 16), torch.randn(1, 3, 16, 16)
    t1, t2 = torch.full((1,), 0.8), torch.full((1,), 0.6)
    wrapped(x1, t1)  # offset (0, 0): every pixel covered
    alpha1, sigma1 = VP().alpha(t1), VP().sigma(t1)
    eps1 = (x1 - alpha1 * net(x1, t1)) / sigma1
    out = wrapped(x2, t2)  # offset (4, 4): rows and columns 0-3 uncovered
    alpha2, sigma2 = VP().alpha(t2), VP().sigma(t2)
    reused = (x2 - sigma2 * eps1) / alpha2
    torch.testing.assert_close(out[..., :4, :], reused[..., :4, :])
    torch.testing.assert_close(out[..., 4:, 4:], net(x2, t2)[..., 4:, 4:])
    wrapped(x1, t1)  # t went up: a new trajectory starts at offset (0, 0) again
    torch.testing.assert_close(wrapped._eps, eps1)


@pytest.mark.parametrize("size", [(16, 32), (32, 64), (24, 24)])
def test_fstd_evaluates_as_many_tiles_as_naive(size):
    w = wrappers()
    naive = len(w["naive"].windows(*size))
    assert all(len(w["fstd"].windows(*size, call)) == naive for call in range(4))
    assert len(w["multidiffusion"].windows(*size)) > naive


def test_window_starts():
    assert tiling.window_starts(16, 8, 8) == [0, 8]
    assert tiling.window_starts(20, 8, 8) == [0, 8, 12]  # the last shifted inward
    assert tiling.window_starts(16, 8, 4) == [0, 4, 8]
    assert tiling.window_starts(16, 8, 8, 4) == [4, 8]  # [0, 4) left to the noise reference


def test_bad_sizes_are_refused_with_what_would_work():
    with pytest.raises(ValueError, match=r"tile: expected at most the canvas height \(8\)"):
        tiling.naive(Pixelwise(), 16)(torch.zeros(1, 3, 8, 32), torch.ones(1))
    with pytest.raises(ValueError, match="stride: expected at most the tile"):
        tiling.multidiffusion(Pixelwise(), 8, 12)
    with pytest.raises(ValueError, match="stride"):
        tiling.multidiffusion(Pixelwise(), 8, 0)
    with pytest.raises(ValueError, match=r"offsets: expected \(0, 0\) first"):
        tiling.fstd(Pixelwise(), 8, offsets=[(4, 4), (0, 0)])
    with pytest.raises(ValueError, match="sde"):
        tiling.fstd(lambda x, t: x, 8)


def test_boundaries_are_the_window_edges_inside_the_canvas():
    w = wrappers()
    assert w["naive"].boundaries(16, 40) == ({8}, {8, 16, 24, 32})  # the last column starts at 32
    rows, cols = w["fstd"].boundaries(16, 16, calls=2)  # offsets (0, 0) then (4, 4)
    assert rows == cols == {4, 8, 12}


def test_seam_score_is_one_without_seams_and_grows_with_them():
    g = torch.Generator().manual_seed(0)
    smooth = torch.randn(4, 3, 32, 64, generator=g)
    assert tiling.seam_score(smooth, {16}, {16, 32, 48}) == pytest.approx(1.0, abs=0.05)
    seamed = smooth.clone()
    seamed[..., :, 32:] += 3.0  # a step across column 32
    assert tiling.seam_score(seamed, set(), {32}) > 2
    assert tiling.seam_score(seamed, set(), {16}) == pytest.approx(1.0, abs=0.05)
    with pytest.raises(ValueError, match="at least one boundary"):
        tiling.seam_score(smooth, set(), set())
    with pytest.raises(ValueError, match="off the boundaries too"):
        tiling.seam_score(smooth[..., :2], set(), {1})
    # a sky: steep from top to bottom, flat from left to right; column boundaries are compared
    # with the other columns only, so the vertical gradient does not count against them
    sky = torch.linspace(-1, 1, 32)[:, None].expand(32, 64) + 0.01 * smooth[0, 0]
    assert tiling.seam_score(sky[None, None], set(), {16, 32, 48}) == pytest.approx(1.0, abs=0.1)


def test_an_image_shaped_condition_is_cut_with_the_windows():
    """A super-resolution model's condition (the upsampled low-resolution image) is cut like x,
    so a pixelwise model conditioned on it is still unchanged by tiling; under CFG too."""

    class Upsampler(torch.nn.Module):
        sde = VP()

        def forward(self, x, t, low):
            return 0.5 * torch.tanh(x) + low * (1 - t)[:, None, None, None]

    x, t, low = torch.randn(2, 3, 16, 40), torch.full((2,), 0.4), torch.randn(2, 3, 16, 40)
    for wrapped in (tiling.naive(Upsampler(), 8), tiling.multidiffusion(Upsampler(), 8, 4),
                    tiling.fstd(Upsampler(), 8)):  # fmt: skip
        torch.testing.assert_close(wrapped(x, t, low), Upsampler()(x, t, low))
        guided = samplers.cfg(wrapped, 2.0, low, torch.zeros_like(low))
        expected = samplers.cfg(Upsampler(), 2.0, low, torch.zeros_like(low))
        torch.testing.assert_close(
            guided(x, torch.full((2,), 0.3)), expected(x, torch.full((2,), 0.3))
        )
