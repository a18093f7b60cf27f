"""Time grids for sampling and time densities for training.

A grid is a 1-D tensor of times ts[0] > ts[1] > ... > ts[-1] in [0, 1]; a sampler moves x from
ts[0] to ts[-1], so n steps use n + 1 times. Grids: uniform in t (DDPM/DDIM), Karras rho
(Karras et al. 2022, Eq. 5) and uniform in log-SNR (Kingma et al. 2021), the last two mapped to
t through the process's closed-form inverse of lambda(t) = log(alpha^2 / sigma^2).
"""

import torch
from tqdm.auto import tqdm

from .sde import SDE


def check_times(ts: torch.Tensor, name: str = "ts", decreasing: bool = True) -> torch.Tensor:
    """Validate a grid: 1-D, at least 2 entries, finite, within [0, 1], strictly monotone."""
    ts = torch.as_tensor(ts)
    if ts.ndim != 1 or len(ts) < 2:
        raise ValueError(
            f"{name}: expected a 1-D grid of at least 2 times, got shape {tuple(ts.shape)}"
        )
    if not torch.isfinite(ts).all() or ts.min() < 0 or ts.max() > 1:
        raise ValueError(f"{name}: expected finite times in [0, 1], got {ts.tolist()}")
    steps = ts[1:] - ts[:-1]
    if decreasing and not (steps < 0).all():
        raise ValueError(
            f"{name}: expected strictly decreasing times (t=1 is noise), got {ts.tolist()}"
        )
    if not decreasing and not (steps > 0).all():
        raise ValueError(f"{name}: expected strictly increasing times, got {ts.tolist()}")
    return ts


def check_steps(n: int) -> int:
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n: expected a positive int number of steps, got {n!r}")
    return n


def pairs(ts: torch.Tensor, progress: bool | None = False, desc: str | None = None):
    """(t, t_next) pairs of a grid, with a tqdm.auto progress bar when progress is true."""
    ts = ts.tolist()
    return tqdm(list(zip(ts[:-1], ts[1:])), desc=desc, disable=not progress, leave=False)


def uniform(n: int, t_max: float = 1.0, t_min: float = 0.0) -> torch.Tensor:
    """n steps equally spaced in t from t_max down to t_min (DDPM, DDIM 'linspace')."""
    ts = torch.linspace(t_max, t_min, check_steps(n) + 1, dtype=torch.float64)
    return check_times(ts)


def times_from_sigmas(sde: SDE, sigmas: torch.Tensor) -> torch.Tensor:
    """Map EDM noise levels s = sigma/alpha (strictly decreasing, > 0, a final 0 allowed) to t."""
    sigmas = torch.as_tensor(sigmas, dtype=torch.float64)
    positive = sigmas[:-1] if sigmas[-1] == 0 else sigmas
    if sigmas.ndim != 1 or len(sigmas) < 2 or not (positive > 0).all():
        raise ValueError(
            f"sigmas: expected a 1-D grid of positive noise levels, got {sigmas.tolist()}"
        )
    if not (sigmas[1:] < sigmas[:-1]).all():
        raise ValueError(
            f"sigmas: expected strictly decreasing noise levels, got {sigmas.tolist()}"
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
    if not 0 < sigma_min < sigma_max or rho <= 0:
        raise ValueError(
            f"karras: expected 0 < sigma_min < sigma_max and rho > 0, got "
            f"sigma_min={sigma_min}, sigma_max={sigma_max}, rho={rho}"
        )
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
    bounds = torch.tensor([t_max, t_min], dtype=torch.float64)
    lam_max, lam_min = sde.log_snr(check_times(bounds)).tolist()
    if not abs(lam_max) < float("inf"):
        raise ValueError(f"t_max: log-SNR is infinite at t_max={t_max} for {sde}; pass t_max < 1")
    lams = torch.linspace(lam_max, lam_min, check_steps(n), dtype=torch.float64)
    ts = sde.t_from_log_snr(lams).clamp(0, 1)
    return check_times(torch.cat([ts, ts.new_zeros(1)]))


def sample_uniform(n: int, t_min: float = 1e-3, generator=None, device=None, dtype=None):
    """Training times t ~ U(t_min, 1) (Song et al. 2021 use t_min = 1e-5)."""
    gen_device = device if generator is None else generator.device
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
    gen_device = device if generator is None else generator.device
    z = torch.randn(n, generator=generator, device=gen_device, dtype=dtype).to(device)
    return sde.t_from_log_snr(-2 * (p_mean + p_std * z)).clamp(1e-5, 1)
