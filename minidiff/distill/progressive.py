"""Progressive distillation (Salimans & Ho 2022, Alg. 2) and its CFG-aware form (SnapFusion,
Li et al. 2023, Sec. 4.2).

A student that samples in n DDIM steps learns from a teacher that takes 2n. From z_t at a
student time t = k/n (k = 1..n), the teacher's two DDIM steps t -> t' = t - 1/(2n) -> t'' =
t - 1/n give z_t''; the student's x0_hat is regressed onto the x~ whose one DDIM step t -> t''
lands exactly there (their Alg. 2, in x0 units):
    x~ = (z_t'' - (sigma_t'' / sigma_t) z_t) / (alpha_t'' - (sigma_t'' / sigma_t) alpha_t),
weighted by max(snr_t, 1) ("truncated SNR", their Sec. 4). A round starts with student =
teacher; then teacher <- student and n <- n / 2, e.g. 64 -> 32 -> ... -> 1.
CFG-aware: the first teacher is the guided denoiser (samplers.cfg_denoiser), so the student
learns guided steps and needs one network call per step instead of two.
"""

import torch

from .. import losses, targets
from ..checks import (
    check_callable,
    check_denoiser,
    check_generator,
    check_int,
    check_tensor,
    values_checked,
)
from ..sde import SDE, as_time, noise_like


def ddim_step(denoiser, sde: SDE, x, t, s, *cond):
    """One deterministic DDIM step from times t to s (each (B,) or a float): alpha_s x0_hat +
    sigma_s eps_hat, as samplers.ddim with eta = 0, with a time per sample."""
    alpha_t, sigma_t = targets.coefficients(sde, t, x)
    alpha_s, sigma_s = targets.coefficients(sde, s, x)
    x0_hat = denoiser(x, as_time(t, x), *cond)
    return alpha_s * x0_hat + sigma_s * targets.eps_from_x0(x, x0_hat, alpha_t, sigma_t)


@torch.no_grad()
def target(teacher, sde: SDE, z_t, t, n: int, *cond):
    """x~: the x0 whose single DDIM step t -> t - 1/n equals the teacher's two half steps."""
    t_mid, t_end = (t - 1 / (2 * n)).clamp(min=0), (t - 1 / n).clamp(min=0)
    z_mid = ddim_step(teacher, sde, z_t, t, t_mid, *cond)
    z_end = ddim_step(teacher, sde, z_mid, t_mid, t_end, *cond)
    alpha_t, sigma_t = targets.coefficients(sde, t, z_t)
    alpha_end, sigma_end = targets.coefficients(sde, t_end, z_t)
    ratio = sigma_end / sigma_t
    return (z_end - ratio * z_t) / (alpha_end - ratio * alpha_t)


def truncated_snr_weight(sde: SDE, t):
    """w = max(snr, 1): ||x0_hat - x~||^2 weighted as max(x0 loss, eps loss)."""
    return losses.snr_weight(sde, t).clamp(min=1)


def student_times(n: int, batch: int, generator=None, device=None, dtype=None):
    """(batch,) times k / n with k ~ U{1, ..., n}: where a student with n steps is evaluated."""
    k = torch.randint(1, check_int("n", n, 1) + 1, (batch,), generator=generator)
    return (k.to(dtype or torch.get_default_dtype()) / n).to(device)


def loss(student, x0, *cond, teacher, n: int, generator=None):
    """The progressive distillation loss of an n-step student on a 2n-step teacher (both
    denoisers of the same process, teacher(x, t, *cond) -> x0_hat, frozen)."""
    check_denoiser("student", student), check_tensor("x0", x0, finite=values_checked(x0))
    check_callable("teacher", teacher, "the 2n-step teacher denoiser(x, t, *cond) -> x0_hat")
    sde, generator = student.sde, check_generator("generator", generator, "cpu")
    t = student_times(n, len(x0), generator, x0.device, x0.dtype)
    z_t = sde.add_noise(x0, t, noise_like(x0, generator))
    x_tilde = target(teacher, sde, z_t, t, n, *cond)
    return losses.weighted_mse(student(z_t, t, *cond), x_tilde, truncated_snr_weight(sde, t))
