"""Time grids for sampling and time densities for training.

A grid is a 1-D tensor of times ts[0] > ts[1] > ... > ts[-1] in [0, 1]; a sampler moves x from
ts[0] to ts[-1], so n steps use n + 1 times. Grids: uniform in t (DDPM/DDIM), Karras rho
(Karras et al. 2022, Eq. 5) and uniform in log-SNR (Kingma et al. 2021), the last two mapped to
t through the process's closed-form inverse of lambda(t) = log(alpha^2 / sigma^2).
"""

import math

import torch
from tqdm.auto import tqdm

from .checks import check_float, check_generator, check_instance, check_int, describe
from .sde import SDE


def _as_tensor(name: str, value, dtype: torch.dtype | None = None) -> torch.Tensor:
    """torch.as_tensor(value, dtype), or a TypeError that names the argument."""
    try:
        return torch.as_tensor(value, dtype=dtype)
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(
            f"{name}: expected a 1-D tensor of numbers, got {describe(value)}"
        ) from None


def _listed(grid: torch.Tensor) -> str:
    """A 1-D grid for an error message: its values, or its length and ends if it is long."""
    v = grid.tolist()
    return str(v) if len(v) <= 12 else f"{len(v)} values {v[0]}, {v[1]}, ..., {v[-1]}"


def check_times(ts: torch.Tensor, name: str = "ts", decreasing: bool = True) -> torch.Tensor:
    """Validate a grid: 1-D, at least 2 entries, finite, within [0, 1], strictly monotone."""
    ts = _as_tensor(name, ts)
    if ts.ndim != 1 or len(ts) < 2:
        raise ValueError(
            f"{name}: expected a 1-D grid of at least 2 times, got shape {tuple(ts.shape)}"
        )
    if not torch.isfinite(ts).all() or ts.min() < 0 or ts.max() > 1:
        raise ValueError(f"{name}: expected finite times in [0, 1] (step i of N is t = i/N), "
                         f"got {_listed(ts)}")  # fmt: skip
    steps = ts[1:] - ts[:-1]
    if decreasing and not (steps < 0).all():
        raise ValueError(
            f"{name}: expected strictly decreasing times (t=1 is noise), got {_listed(ts)}"
        )
    if not decreasing and not (steps > 0).all():
        raise ValueError(f"{name}: expected strictly increasing times, got {_listed(ts)}")
    return ts


def check_steps(n: int) -> int:
    """n, a number of steps: an int >= 1 (numpy's too)."""
    return check_int("n", n, 1)


def pairs(ts: torch.Tensor, progress: bool | None = False, desc: str | None = None):
    """(t, t_next) pairs of a grid, with a tqdm.auto progress bar when progress is true."""
    ts = ts.tolist()
    return tqdm(list(zip(ts[:-1], ts[1:])), desc=desc, disable=not progress, leave=False)


def uniform(n: int, t_max: float = 1.0, t_min: float = 0.0) -> torch.Tensor:
    """n steps equally spaced in t from t_max down to t_min (DDPM, DDIM 'linspace')."""
    t_max = check_float("t_max", t_max, 0, 1)
    t_min = check_float("t_min", t_min, 0, t_max, open_high=True)
    ts = torch.linspace(t_max, t_min, check_steps(n) + 1, dtype=torch.float64)
    return check_times(ts)


def times_from_sigmas(sde: SDE, sigmas: torch.Tensor) -> torch.Tensor:
    """Map EDM noise levels s = sigma/alpha (strictly decreasing, > 0, a final 0 allowed) to t."""
    check_instance("sde", sde, SDE, "VP()")
    sigmas = _as_tensor("sigmas", sigmas, torch.float64)
    if sigmas.ndim != 1 or len(sigmas) < 2:
        raise ValueError(f"sigmas: expected a 1-D grid of at least 2 noise levels, "
                         f"got {describe(sigmas)}")  # fmt: skip
    positive = sigmas[:-1] if sigmas[-1] == 0 else sigmas
    if not ((positive > 0) & (positive < float("inf"))).all():  # NaN fails too
        raise ValueError(f"sigmas: expected positive finite noise levels (a final 0 allowed), "
                         f"got {_listed(sigmas)}")  # fmt: skip
    if not (sigmas[1:] < sigmas[:-1]).all():
        raise ValueError(
            f"sigmas: expected strictly decreasing noise levels, got {_listed(sigmas)}"
        )
    ts = sde.t_from_log_snr(-2 * positive.log()).clamp(0, 1)
    if len(positive) < len(sigmas):
        ts = torch.cat([ts, ts.new_zeros(1)])
    return check_times(ts)


def karras(sde: SDE, n: int, sigma_min: float = 0.002, sigma_max: float = 80.0, rho: float = 7.0):
    """Karras et al. 2022, Eq. 5: s_i = (s_max^(1/r) + i/(n-1) (s_min^(1/r) - s_max^(1/r)))^r.

    Levels are kept within the process's range [s(0), s(1)] (s = sigma/alpha; VE has s(0) > 0);
    the grid always has n steps and ends at t = 0.
    """
    check_instance("sde", sde, SDE, "VP()")
    sigma_max = check_float("sigma_max", sigma_max, 0, open_low=True)
    sigma_min = check_float("sigma_min", sigma_min, 0, sigma_max, open_low=True, open_high=True)
    rho = check_float("rho", rho, 0, open_low=True)
    ends = torch.tensor([0.0, 1.0], dtype=torch.float64)
    s_lo, s_hi = (sde.sigma(ends) / sde.alpha(ends)).tolist()
    sigma_max, floor = min(sigma_max, s_hi), sigma_min <= s_lo  # floor: VE's s(0) > 0 is t = 0
    ramp = torch.linspace(0, 1, check_steps(n) + floor, dtype=torch.float64)
    inv_rho_max, inv_rho_min = sigma_max ** (1 / rho), max(sigma_min, s_lo) ** (1 / rho)
    sigmas = (inv_rho_max + ramp * (inv_rho_min - inv_rho_max)) ** rho
    if floor:
        return check_times(torch.cat([times_from_sigmas(sde, sigmas[:-1]), ends[:1]]))
    return times_from_sigmas(sde, torch.cat([sigmas, sigmas.new_zeros(1)]))


def log_snr(sde: SDE, n: int, t_max: float = 1.0, t_min: float = 1e-3) -> torch.Tensor:
    """n steps equally spaced in lambda = log SNR between t_max and t_min, then a final t = 0."""
    check_instance("sde", sde, SDE, "VP()")
    t_max = check_float("t_max", t_max, 0, 1)
    t_min = check_float("t_min", t_min, 0, t_max, open_high=True)
    lam_max, lam_min = sde.log_snr(torch.tensor([t_max, t_min], dtype=torch.float64)).tolist()
    for name, value, lam in (("t_max", t_max, lam_max), ("t_min", t_min, lam_min)):
        if not abs(lam) < float("inf"):  # NaN fails too
            raise ValueError(f"{name}: log-SNR is infinite at {name}={value} for {sde}; "
                             f"pass 0 < {name} < 1")  # fmt: skip
    lams = torch.linspace(lam_max, lam_min, check_steps(n), dtype=torch.float64)
    ts = sde.t_from_log_snr(lams).clamp(0, 1)
    return check_times(torch.cat([ts, ts.new_zeros(1)]))


def sample_uniform(n: int, t_min: float = 1e-3, generator=None, device=None, dtype=None):
    """Training times t ~ U(t_min, 1) (Song et al. 2021 use t_min = 1e-5)."""
    n, t_min = check_int("n", n, 1), check_float("t_min", t_min, 0, 1, open_high=True)
    gen_device = device if check_generator("generator", generator) is None else generator.device
    u = torch.rand(n, generator=generator, device=gen_device, dtype=dtype).to(device)
    return t_min + (1 - t_min) * u


def sample_lognormal(
    sde: SDE,
    n: int,
    p_mean: float = -1.2,
    p_std: float = 1.2,
    generator=None,
    device=None,
    dtype=None,
):
    """Training times with ln(sigma/alpha) ~ N(p_mean, p_std^2) (Karras et al. 2022, Table 1)."""
    check_instance("sde", sde, SDE, "VP()")
    n, p_mean = check_int("n", n, 1), check_float("p_mean", p_mean)
    p_std = check_float("p_std", p_std, 0)
    gen_device = device if check_generator("generator", generator) is None else generator.device
    z = torch.randn(n, generator=generator, device=gen_device, dtype=dtype).to(device)
    return sde.t_from_log_snr(-2 * (p_mean + p_std * z)).clamp(1e-5, 1)


def sample_cosine_interpolated(
    sde: SDE, n: int, image_d=32, noise_d_low=32, noise_d_high=None, sigma_data=0.5,
    s_min=1e-3, s_max=1e3, generator=None,
):  # fmt: skip
    """Training times, stratified, whose log SNR follows simple diffusion's cosine schedule
    shifted by 2 log(noise_d / image_d) (a larger image than noise_d gets noisier times), the
    shift interpolated from noise_d_low at high SNR to noise_d_high (default image_d) at low SNR
    (Hoogeboom et al. 2023; HDiT trains with it). At image_d = noise_d_low = noise_d_high it is
    the plain cosine schedule, log SNR = -2 log tan(theta) with theta uniform over the s = sigma /
    alpha range [s_min, s_max], in sigma_data units (k-diffusion's rand_cosine_interpolated)."""
    check_instance("sde", sde, SDE, "VP()")
    n, image_d = check_int("n", n, 1), check_float("image_d", image_d, 0, open_low=True)
    noise_d_high = image_d if noise_d_high is None else noise_d_high
    gen_device = None if check_generator("generator", generator) is None else generator.device
    u = (torch.arange(n) + torch.rand(n, generator=generator, device=gen_device).cpu()) / n
    u, lsnr_min = u.double(), -2 * math.log(s_max / sigma_data)

    def shifted(noise_d):  # the cosine schedule from s_max to s_min, shifted by the resolution
        shift = 2 * math.log(noise_d / image_d)
        t_min = math.atan(math.exp(-0.5 * (-2 * math.log(s_min / sigma_data) - shift)))
        t_max = math.atan(math.exp(-0.5 * (lsnr_min - shift)))
        return -2 * torch.log(torch.tan(t_min + u * (t_max - t_min))) + shift

    log_snr = torch.lerp(shifted(noise_d_low), shifted(noise_d_high), u)
    return sde.t_from_log_snr((log_snr - 2 * math.log(sigma_data)).float()).clamp(1e-5, 1)
