"""Denoising score matching, written once as a weighted x0 regression (Kingma & Gao 2023).

L = E_{t, eps} w(t) ||x0_hat(x_t, t) - x0||^2 / d  with x_t = alpha x0 + sigma eps.
Regressing eps, v, the velocity or the score is the same loss with a different w (lesson 03):
    eps (Ho et al. 2020, L_simple):  w = snr = alpha^2 / sigma^2
    v (Salimans & Ho 2022):          w = (alpha^2 + sigma^2)^2 / sigma^2   (= snr + 1 for VP)
    velocity (flow matching):        w = (sigma' alpha - sigma alpha')^2 / sigma^2  (= 1/t^2 on the
                                     linear path; = g^2/4 times the likelihood weight)
    x0:                              w = 1
    min-SNR-gamma (Hang et al. 2023), EDM (Karras et al. 2022), likelihood (Song et al. 2021a).
"""

from functools import partial

import torch

from . import schedules, targets
from .checks import (
    check_callable,
    check_float,
    check_generator,
    check_instance,
    check_signature,
    check_tensor,
    describe,
)
from .sde import SDE, append_dims, as_time, noise_like


def snr_weight(sde: SDE, t):
    """w = alpha^2 / sigma^2: the same loss as ||eps_hat - eps||^2."""
    return (sde.alpha(t) / sde.sigma(t)) ** 2


def v_weight(sde: SDE, t):
    """w = (alpha^2 + sigma^2)^2 / sigma^2: the same loss as ||v_hat - v||^2."""
    alpha, sigma = sde.alpha(t), sde.sigma(t)
    return (alpha**2 + sigma**2) ** 2 / sigma**2


def velocity_weight(sde: SDE, t):
    """w = (sigma' alpha - sigma alpha')^2 / sigma^2: the same loss as ||u_hat - u||^2, u the
    conditional velocity alpha' x0 + sigma' eps (conditional flow matching, Lipman et al. 2023)."""
    alpha, sigma = sde.alpha(t), sde.sigma(t)
    return (sde.d_sigma(t) * alpha - sigma * sde.d_alpha(t)) ** 2 / sigma**2


def x0_weight(sde: SDE, t):
    """w = 1: plain regression of x0."""
    return torch.ones_like(t)


def min_snr_weight(sde: SDE, t, gamma: float = 5.0):
    """w = min(snr, gamma) (Hang et al. 2023, Eq. 11 in x0 units): caps the weight of small t."""
    return snr_weight(sde, t).clamp(max=gamma)


def edm_weight(sde: SDE, t, sigma_data: float = 0.5):
    """w = 1 / c_out^2 at s = sigma / alpha, in x/alpha units (Karras et al. 2022, Table 1)."""
    s = sde.sigma(t) / sde.alpha(t)
    return targets.edm_loss_weight(s, sigma_data) / sde.alpha(t) ** 2


def soft_min_snr_weight(sde: SDE, t, sigma_data: float = 0.5):
    """w = 1 / (s^2 + sigma_data^2) at s = sigma / alpha, in x/alpha units (as edm_weight): a
    smooth min(snr, gamma) with gamma = 1 / sigma_data^2 (HDiT's soft-min-SNR, Crowson et al.
    2024, Sec. 3.4: gamma = 4 for sigma_data = 0.5). It is edm_weight times
    (s sigma_data)^2 / (s^2 + sigma_data^2)^2, the factor k-diffusion applies to EDM's target."""
    s = sde.sigma(t) / sde.alpha(t)
    return 1 / ((s**2 + sigma_data**2) * sde.alpha(t) ** 2)


def likelihood_weight(sde: SDE, t):
    """w = g(t)^2 alpha^2 / sigma^4: score matching weighted by g^2, which bounds the NLL
    (Song et al. 2021a, Thm. 1)."""
    return sde.g2(t) * sde.alpha(t) ** 2 / sde.sigma(t) ** 4


NATIVE = {"eps": snr_weight, "x0": x0_weight, "v": v_weight, "velocity": velocity_weight}


def native_weight(prediction: str):
    """The weighting under which dsm is the network's own MSE, ||net - target||^2: snr_weight for
    'eps', x0_weight for 'x0', v_weight for 'v', velocity_weight for 'velocity'."""
    return NATIVE[targets.check_prediction(prediction)]


WEIGHTING = "a weighting(sde, t) such as losses.snr_weight or losses.min_snr(5.0)"


def dsm(denoiser, x0, *cond, sde: SDE, weighting=snr_weight, t=None, eps=None, generator=None,
        times=None):  # fmt: skip
    """Weighted denoising score matching loss, averaged over batch and dimensions.

    t ~ U(1e-3, 1) (or times(sde, n, generator=generator): another training distribution, such
    as schedules.sample_lognormal) and eps ~ N(0, I) are drawn with `generator` unless given
    (tests pass them). `weighting(sde, t) -> (B,)`; use functools.partial for its options, e.g.
    min_snr(gamma=5).
    """
    check_callable("denoiser", denoiser, "a denoiser(x, t) such as a targets.Denoiser")
    check_tensor("x0", x0, finite=False)
    check_instance("sde", sde, SDE, "VP()")
    check_signature("weighting", weighting, sde, None, expected=WEIGHTING)
    check_generator("generator", generator)
    if times is not None:
        check_callable("times", times, "a times(sde, n, generator=None) such as "
                       "schedules.sample_lognormal")  # fmt: skip
    if t is None and times is not None:
        t = times(sde, len(x0), generator=generator).to(x0.device, x0.dtype)
    if t is None:
        t = schedules.sample_uniform(len(x0), generator=generator, device=x0.device, dtype=x0.dtype)
    t = as_time(t, x0)
    if eps is None:
        eps = noise_like(x0, generator)
    xt = sde.add_noise(x0, t, eps)
    return weighted_mse(denoiser(xt, t, *cond), x0, weighting(sde, t))


def weighted_mse(x0_hat, x0, w):
    """mean_b w_b ||x0_hat_b - x0_b||^2 / d: the x0 regression every diffusion loss is."""
    return (w * ((x0_hat - x0) ** 2).flatten(1).mean(1)).mean()


def drop_conditions(cond: tuple, null: tuple, p: float = 0.1, generator=None) -> tuple:
    """Each example's conditions replaced by the null ones with probability p (Ho & Salimans
    2022, Alg. 1), so that one network learns the conditional and the unconditional denoiser.
    cond: tensors batched along dim 0 (labels; text ids and mask); null: one entry per cond,
    broadcastable to it (the null label; the ids and mask of the empty caption)."""
    _check_conditions(cond, null)
    check_float("p", p, 0, 1)
    check_generator("generator", generator, "cpu")
    drop = torch.rand(len(cond[0]), generator=generator) < p  # on the CPU, like train.fit's
    drop = drop.to(cond[0].device)
    return tuple(
        torch.where(append_dims(drop, c.ndim), n.to(c.device), c) for c, n in zip(cond, null)
    )


def _broadcasts(a: torch.Tensor, b: torch.Tensor) -> bool:
    try:
        return torch.broadcast_shapes(a.shape, b.shape) == b.shape
    except RuntimeError:
        return False


def _check_conditions(cond: tuple, null: tuple) -> None:
    """cond: a non-empty tuple of tensors batched along dim 0; null: a tuple, one entry each."""
    if not isinstance(cond, tuple | list) or not cond or not all(map(torch.is_tensor, cond)):
        raise TypeError(
            f"cond: expected a tuple of tensors such as (labels,), got {describe(cond)}"
        )
    check_tensor("cond[0]", cond[0], floating=False, finite=False)
    if not isinstance(null, tuple | list):
        raise TypeError(
            f"null: expected a tuple like cond, such as (null_label,), got {describe(null)}"
        )
    if len(cond) != len(null):
        raise ValueError(f"null: expected {len(cond)} entries like cond, got {len(null)}")
    for i, (c, n) in enumerate(zip(cond, null)):
        if not torch.is_tensor(n) or not _broadcasts(n, c):
            raise ValueError(f"null[{i}]: expected a tensor broadcastable to cond[{i}] "
                             f"({describe(c)}), got {describe(n)}")  # fmt: skip


def cfg_dsm(denoiser, x0, *cond, sde: SDE, null: tuple, p_uncond=0.1, weighting=v_weight,
            generator=None, times=None):  # fmt: skip
    """dsm with classifier-free guidance's condition dropout: p_uncond of examples get `null`."""
    check_float("p_uncond", p_uncond, 0, 1)
    cond = drop_conditions(cond, null, p_uncond, generator)
    return dsm(denoiser, x0, *cond, sde=sde, weighting=weighting, generator=generator,
               times=times)  # fmt: skip


def min_snr(gamma: float = 5.0):
    """min-SNR-gamma weighting as a weighting(sde, t) callable."""
    check_float("gamma", gamma, 0, open_low=True)
    return partial(min_snr_weight, gamma=gamma)


def native_mse(net, sde: SDE, x0, t, eps, prediction: str):
    """||net(x_t, t) - target||^2 in the network's own units (eps, x0, v or velocity): the
    textbook form.

    Equal to dsm(Denoiser(net, sde, prediction), ...) with the matching weighting (tested).
    """
    check_callable("net", net, "a network net(x, t)")
    check_instance("sde", sde, SDE, "VP()")
    xt = sde.add_noise(x0, t, eps)
    coefs = targets.coefficients(sde, t, x0, rates=prediction == "velocity")
    goal = targets.target(prediction, x0, eps, *coefs)
    return ((net(xt, t) - goal) ** 2).flatten(1).mean(1).mean()
