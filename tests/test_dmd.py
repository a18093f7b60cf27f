"""Distribution matching distillation: on 1-D Gaussians with exact scores the DM gradient is the
gradient of KL(p_fake,t || p_real,t) (scaled by sigma^2 / alpha^2) and its descent moves the
generator's mean and spread to the data's; the MSE-to-detached-target loss gives exactly the DM
gradient; each player's step leaves the other (and the teacher) unchanged; the update counts
follow the ratio; backward simulation feeds the current student's own samples; bad input."""

import pytest
import torch

from minidiff import targets
from minidiff.distill import diffusion_gan, dmd
from minidiff.nets.mlp import MLP
from minidiff.sde import VP

SDE = VP()
MU, SD = 1.5, 0.5  # the data: N(MU, SD^2) in 1-D


def gaussian_denoiser(mean, sd):
    """E[x0 | x_t] for x0 ~ N(mean, sd^2): mean + alpha sd^2 / (alpha^2 sd^2 + sigma^2) (x_t -
    alpha mean); mean and sd may be tensors (a generator's parameters, taken as they are)."""

    def denoise(x_t, t):
        alpha, sigma = SDE.alpha(t)[:, None], SDE.sigma(t)[:, None]
        gain = alpha * sd**2 / (alpha**2 * sd**2 + sigma**2)
        return mean + gain * (x_t - alpha * mean)

    return denoise


def kl(m1, v1, m2, v2):
    return 0.5 * (torch.log(v2 / v1) + (v1 + (m1 - m2) ** 2) / v2 - 1)


def test_the_dm_gradient_is_the_kl_gradient_of_the_diffused_distributions():
    a = torch.tensor(0.8, dtype=torch.float64, requires_grad=True)
    b = torch.tensor(-0.3, dtype=torch.float64, requires_grad=True)
    n, t = 400_000, 0.3
    g = torch.Generator().manual_seed(0)
    z = torch.randn(n, 1, generator=g, dtype=torch.float64)
    x = a * z + b
    real = gaussian_denoiser(torch.tensor(MU, dtype=torch.float64), torch.tensor(SD))
    fake = gaussian_denoiser(b.detach(), a.detach())
    loss = dmd.dm_loss(x, real, fake, SDE, t_range=(t, t), normalise=False, generator=g)
    got = torch.autograd.grad(loss, (a, b))  # the mean over samples: E[grad dG/dtheta]
    alpha, sigma = SDE.alpha(torch.tensor(t, dtype=torch.float64)), SDE.sigma(torch.tensor(t))
    divergence = kl(alpha * b, alpha**2 * a**2 + sigma**2, alpha * MU, alpha**2 * SD**2 + sigma**2)
    want = torch.autograd.grad(divergence * sigma**2 / alpha**2, (a, b))
    for g_, w in zip(got, want):
        assert abs(g_.item() - w.item()) < 0.02 * abs(w.item()) + 1e-3


def test_dm_descent_moves_the_generator_to_the_data():
    params = torch.tensor([0.3, -1.0], requires_grad=True)  # spread, mean
    opt = torch.optim.Adam([params], lr=0.02)
    real = gaussian_denoiser(torch.tensor(MU), torch.tensor(SD))
    g = torch.Generator().manual_seed(1)
    for _ in range(600):
        z = torch.randn(2048, 1, generator=g)
        x = params[0] * z + params[1]
        fake = gaussian_denoiser(params[1].detach(), params[0].detach())  # exact fake scores
        opt.zero_grad()
        dmd.dm_loss(x, real, fake, SDE, generator=g).backward()
        opt.step()
    assert abs(params[0].abs().item() - SD) < 0.05 and abs(params[1].item() - MU) < 0.05


def test_the_loss_gives_exactly_the_normalised_dm_gradient():
    x = torch.randn(4, 3, requires_grad=True, generator=torch.Generator().manual_seed(2))
    c_real, c_fake = torch.tensor([0.5, -0.2, 0.1]), torch.tensor([0.1, 0.3, -0.4])
    real = lambda x_t, t: c_real.expand_as(x_t)  # noqa: E731  (constant predictions: the
    fake = lambda x_t, t: c_fake.expand_as(x_t)  # noqa: E731   noise then cannot matter)
    (got,) = torch.autograd.grad(dmd.dm_loss(x, real, fake, SDE), x)
    scale = (x - c_real).abs().mean(1, keepdim=True)
    torch.testing.assert_close(got, ((c_fake - c_real) / scale / x.numel()).detach())


def teacher():
    torch.manual_seed(0)
    return targets.Denoiser(MLP(hidden=32, depth=2), SDE, "v")


def state(module):
    return {k: v.clone() for k, v in module.state_dict().items()}


def same(a, b):
    return all(torch.equal(a[k], b[k]) for k in a)


def test_each_step_moves_its_own_player_only_and_the_teacher_stays_frozen():
    d = dmd.DMD(teacher(), lr=1e-2)
    x0 = torch.randn(16, 2)
    before = dict(G=state(d.G), D=state(d.D), T=state(d.teacher))
    d.d_step(x0)
    assert same(before["G"], state(d.G)) and not same(before["D"], state(d.D))
    mid = state(d.D)
    d.g_step(x0)
    assert same(mid, state(d.D)) and not same(before["G"], state(d.G))
    assert same(before["T"], state(d.teacher))
    assert not any(p.requires_grad for p in d.teacher.parameters())


def test_fit_counts_fake_and_generator_updates_by_the_ratio():
    d = dmd.DMD(teacher(), lr=1e-3)
    history = dmd.fit(d, torch.randn(256, 2), steps=10, batch_size=8, ratio=5)
    assert len(history.d_loss) == 10 and len(history.g_loss) == 2
    assert set(history.parts) == {"dm", "reg", "mean"} and len(history.parts["mean"]) == 2


def test_backward_simulation_feeds_the_students_own_samples():
    d = dmd.DMD(teacher(), times=(1.0, 0.5))
    x0 = torch.randn(8, 2)
    got = d.inputs(x0, 1, generator=torch.Generator().manual_seed(3))
    g = torch.Generator().manual_seed(3)
    z = torch.randn(8, 2, generator=g)
    torch.testing.assert_close(got, diffusion_gan.sample(d.G, z, (1.0, 0.5), generator=g))
    with torch.no_grad():
        d.G.net.final_layer.bias.add_(1.0)  # another student: other inputs
    assert not torch.equal(got, d.inputs(x0, 1, generator=torch.Generator().manual_seed(3)))
    real = dmd.DMD(teacher(), times=(1.0, 0.5), backward=False)
    noised = real.inputs(x0, 1, generator=torch.Generator().manual_seed(3))
    g = torch.Generator().manual_seed(3)
    want = SDE.add_noise(x0, torch.full((8,), 0.5), torch.randn(8, 2, generator=g))
    torch.testing.assert_close(noised, want)


def test_regression_pairs_come_from_the_teacher_and_pull_the_generator():
    t = teacher()
    z, y = dmd.teacher_pairs(t, torch.randn(64, 2, generator=torch.Generator().manual_seed(4)), 8)
    d = dmd.DMD(t, lr=1e-2, weights=(0.0, 1.0), pairs=(z, y))
    first = d._regression(64, torch.Generator().manual_seed(5)).item()
    for _ in range(30):
        d.g_step(torch.randn(16, 2))
    assert d._regression(64, torch.Generator().manual_seed(5)).item() < first


def test_bad_input_is_refused_with_what_would_work():
    with pytest.raises(ValueError, match="times: expected strictly decreasing times in"):
        dmd.DMD(teacher(), times=(1.0, 1.2))
    with pytest.raises(ValueError, match="times"):
        dmd.DMD(teacher(), times=(0.5, 0.0))
    with pytest.raises(ValueError, match="ratio: expected .* >= 1"):
        dmd.fit(dmd.DMD(teacher()), torch.randn(8, 2), steps=1, ratio=0)
    with pytest.raises(ValueError, match="t_range"):
        dmd.dm_loss(torch.randn(2, 2), lambda x, t: x, lambda x, t: x, SDE, t_range=(0.6, 0.2))
    with pytest.raises(ValueError, match="pairs: expected"):
        dmd.DMD(teacher(), weights=(1.0, 0.25))
    with pytest.raises(ValueError, match="weights: expected a positive weight for the generator"):
        dmd.DMD(teacher(), weights=(0.0, 0.0))
    with pytest.raises(ValueError, match="another teacher"):
        dmd.DMD(teacher(), weights=(1.0, 0.25), pairs=(torch.randn(4, 3), torch.randn(4, 3)))
    with pytest.raises(ValueError, match="z and y of one shape"):
        dmd.DMD(teacher(), weights=(1.0, 0.25), pairs=(torch.randn(4, 2), torch.randn(4, 1)))


class Conditional(torch.nn.Module):
    """A made-up conditional denoiser: x0_hat = w tanh(x) (1 + y)."""

    sde, prediction = SDE, "x0"

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.tensor(0.7))

    def forward(self, x, t, y):
        return self.w * torch.tanh(x) * (1 + y[:, None])


def test_cfg_guides_the_real_score_only():
    net, null = Conditional(), torch.tensor([0.0])
    d = dmd.DMD(net, cfg=(3.0, (null,)))
    x, t, y = torch.randn(5, 2), torch.rand(5), torch.rand(5)
    uncond = net(x, t, torch.zeros(5))
    torch.testing.assert_close(d.real(x, t, y), uncond + 3.0 * (net(x, t, y) - uncond))
    torch.testing.assert_close(d.D(x, t, y), net(x, t, y))  # the fake model is unguided


def test_the_gan_head_reads_the_bottleneck_and_each_step_keeps_to_its_player():
    from minidiff import gan
    from minidiff.nets.unet import Stage, UNet

    unet = UNet(3, (Stage(8), Stage(16)))
    layer, channels = gan.bottleneck(targets.Denoiser(unet, SDE))
    assert layer is unet.middle[-1] and channels == 16
    assert gan.bottleneck(teacher())[1] == 32  # the MLP's last hidden layer
    with pytest.raises(TypeError, match="net: expected a UNet or an MLP"):
        gan.bottleneck(torch.nn.Linear(2, 2))
    d = dmd.DMD(teacher(), lr=1e-2, weights=(1.0, 0.0, 1e-1, 1e-1))
    x0 = torch.randn(16, 2)
    assert d.D.gan_head.logits(d.D, x0, torch.rand(16)).shape == (16,)
    head = state(d.D.gan_head)
    d.d_step(x0)
    assert not same(head, state(d.D.gan_head))  # the critic's step trains the head
    before = state(d.D)
    d.g_step(x0)
    assert same(before, state(d.D))  # the generator's GAN term leaves the critic alone


def test_a_bad_t_range_is_refused_when_the_game_is_made():
    with pytest.raises(ValueError, match="t_range: expected"):
        dmd.DMD(teacher(), t_range=(0.9, 0.1))
