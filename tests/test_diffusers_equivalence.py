"""DDPM and DDIM step for step against diffusers' schedulers (a test-only reference).

diffusers works with a discrete table alpha_bar[k], k = 0..T-1. We build that table from our
continuous VP process at t_k = (k + 1) / T, so diffusers' timestep k is our time (k + 1) / T and
its final "alpha_bar = 1" step is our t = 0.
"""

import pytest
import torch
from gaussian_oracle import denoiser, sample_t

from minidiff import samplers, targets
from minidiff import sde as processes

diffusers = pytest.importorskip("diffusers")
T_TRAIN, STEPS = 1000, 50


def discrete_vp():
    sde = processes.VP()
    t = torch.arange(1, T_TRAIN + 1, dtype=torch.float64) / T_TRAIN
    alpha_bar = sde.alpha(t) ** 2
    betas = 1 - alpha_bar / torch.cat([torch.ones(1, dtype=torch.float64), alpha_bar[:-1]])
    return sde, betas


def eps_model(sde):
    D = denoiser(sde)

    def eps(x, k):
        t = torch.full((len(x),), (k + 1) / T_TRAIN, dtype=torch.float64)
        alpha, sigma = targets.coefficients(sde, t, x)
        return targets.eps_from_x0(x, D(x, t), alpha, sigma)

    return eps


def our_grid(timesteps):
    return [(k + 1) / T_TRAIN for k in timesteps.tolist()] + [0.0]


@pytest.mark.parametrize("eta", [0.0, 0.5])
def test_ddim_matches_diffusers_step_for_step(eta):
    sde, betas = discrete_vp()
    ref = diffusers.DDIMScheduler(
        num_train_timesteps=T_TRAIN,
        trained_betas=betas.numpy(),
        clip_sample=False,
        set_alpha_to_one=True,
        steps_offset=0,
    )
    ref.set_timesteps(STEPS)
    eps, ts = eps_model(sde), our_grid(ref.timesteps)
    x_ref = x = sample_t(sde, ts[0], 256, torch.Generator().manual_seed(0))
    g_ref, g = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    for i, k in enumerate(ref.timesteps.tolist()):
        x_ref = ref.step(eps(x_ref, k), k, x_ref, eta=eta, generator=g_ref).prev_sample
        x = samplers.ddim(denoiser(sde), sde, x, torch.tensor(ts[i : i + 2]), eta=eta, generator=g)
        # diffusers keeps its table in float32, hence the tolerance
        torch.testing.assert_close(x, x_ref.double(), rtol=1e-4, atol=1e-4)


def test_ddpm_matches_diffusers_step_for_step():
    sde, betas = discrete_vp()
    ref = diffusers.DDPMScheduler(
        num_train_timesteps=T_TRAIN,
        trained_betas=betas.numpy(),
        clip_sample=False,
        variance_type="fixed_small",
    )
    ref.set_timesteps(STEPS)
    eps, ts = eps_model(sde), our_grid(ref.timesteps)
    x_ref = x = sample_t(sde, ts[0], 256, torch.Generator().manual_seed(0))
    g_ref, g = torch.Generator().manual_seed(2), torch.Generator().manual_seed(2)
    for i, k in enumerate(ref.timesteps.tolist()):
        x_ref = ref.step(eps(x_ref, k), k, x_ref, generator=g_ref).prev_sample
        x = samplers.ddpm(denoiser(sde), sde, x, torch.tensor(ts[i : i + 2]), generator=g)
        torch.testing.assert_close(x, x_ref.double(), rtol=1e-4, atol=1e-4)
