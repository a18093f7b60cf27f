"""Time grids: endpoints, monotonicity, agreement with the formulas, clear errors."""

import math

import pytest
import torch

from minidiff import schedules
from minidiff import sde as processes


def test_uniform_grid():
    ts = schedules.uniform(4)
    torch.testing.assert_close(ts, torch.tensor([1.0, 0.75, 0.5, 0.25, 0.0], dtype=torch.float64))


@pytest.mark.parametrize("sde", [processes.VP(), processes.SubVP(), processes.Flow()], ids=repr)
def test_karras_matches_formula(sde):
    n, rho, s_min, s_max = 10, 7.0, 0.002, 5.0
    ts = schedules.karras(sde, n, s_min, s_max, rho)
    assert len(ts) == n + 1 and ts[-1] == 0
    s = sde.sigma(ts[:-1]) / sde.alpha(ts[:-1])
    i = torch.arange(n, dtype=torch.float64)
    ref = (s_max ** (1 / rho) + i / (n - 1) * (s_min ** (1 / rho) - s_max ** (1 / rho))) ** rho
    torch.testing.assert_close(s, ref)


def test_karras_stays_in_ve_range():
    ve = processes.VE(0.01, 10.0)
    ts = schedules.karras(ve, 8)  # default sigma_min 0.002 < VE's sigma(0) = 0.01
    assert len(ts) == 9 and ts[0] == 1 and ts[-1] == 0 and (ts[1:] < ts[:-1]).all()


def test_log_snr_grid_is_uniform_in_lambda():
    sde = processes.VP()
    ts = schedules.log_snr(sde, 6)
    lam = sde.log_snr(ts[:-1])
    torch.testing.assert_close(
        lam[1:] - lam[:-1], torch.full((5,), (lam[-1] - lam[0]).item() / 5, dtype=torch.float64)
    )


def test_training_densities():
    g = torch.Generator().manual_seed(0)
    t = schedules.sample_uniform(10_000, 0.01, generator=g)
    assert t.min() >= 0.01 and t.max() <= 1 and abs(t.mean() - 0.505) < 0.01
    sde = processes.VP()
    t = schedules.sample_lognormal(sde, 20_000, generator=g, dtype=torch.float64)
    log_s = (sde.sigma(t) / sde.alpha(t)).log()
    assert abs(log_s.mean() + 1.2) < 0.05 and abs(log_s.std() - 1.2) < 0.05


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: schedules.uniform(0), "n:"),
        (lambda: schedules.uniform(2.5), "n:"),
        (lambda: schedules.check_times(torch.tensor([0.2, 0.5])), "decreasing"),
        (lambda: schedules.check_times(torch.tensor([1.2, 0.5])), r"\[0, 1\]"),
        (lambda: schedules.check_times(torch.tensor([0.5])), "at least 2"),
        (lambda: schedules.karras(processes.VP(), 5, sigma_min=1.0, sigma_max=0.5), "sigma_min"),
        (
            lambda: schedules.times_from_sigmas(processes.VP(), torch.tensor([1.0, 2.0, 0.0])),
            "sigmas: expected strictly decreasing",
        ),
        (
            lambda: schedules.times_from_sigmas(processes.VP(), torch.tensor([1.0, -1.0])),
            "positive",
        ),
        (lambda: schedules.log_snr(processes.Flow(), 5), "t_max"),
    ],
)
def test_invalid_schedules_raise(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_cosine_interpolated_times_put_one_angle_in_each_stratum():
    """At image_d = noise_d the log SNR is -2 log tan(theta), theta uniform: atan(s / sigma_data)
    of the n times falls one in each of n equal strata of [atan(s_min / sd), atan(s_max / sd)]."""
    ve, n, sd, s_min, s_max = processes.VE(sigma_min=0.01, sigma_max=100.0), 64, 0.5, 0.02, 50.0
    g = torch.Generator().manual_seed(0)
    t = schedules.sample_cosine_interpolated(ve, n, 32, 32, 32, sd, s_min, s_max, generator=g)
    theta = torch.atan(ve.sigma(t).double() / sd)
    lo, hi = torch.atan(torch.tensor(s_min / sd)), torch.atan(torch.tensor(s_max / sd))
    stratum = ((theta - lo) / (hi - lo) * n).floor().long()
    assert stratum.tolist() == list(range(n))


def test_cosine_interpolated_times_are_noisier_for_a_smaller_noise_d():
    """Shifted for image_d = 2 noise_d (simple diffusion: a larger image than the schedule's
    base), log SNR is lower by 2 log 2, up to the truncation at s_min and s_max."""
    vp, g = processes.VP(), lambda: torch.Generator().manual_seed(1)  # noqa: E731
    same = schedules.sample_cosine_interpolated(vp, 256, 32, 32, 32, generator=g())
    shifted = schedules.sample_cosine_interpolated(vp, 256, 32, 16, 16, generator=g())
    inside = (same > 1e-3) & (shifted < 1)  # not clamped at either end
    assert (shifted[inside] > same[inside]).all()
    gap = vp.log_snr(shifted[inside]) - vp.log_snr(same[inside])
    assert abs(gap.median().item() + 2 * math.log(2)) < 0.01
