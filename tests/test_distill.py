"""distill: the progressive distillation target, the frozen teacher, UFOGen's player steps and
sampler, and short runs whose losses fall."""

import copy

import pytest
import torch

from minidiff import gan, losses, samplers, targets, train
from minidiff.checkpoint import CheckpointError
from minidiff.distill import diffusion_gan, progressive
from minidiff.nets.mlp import MLP
from minidiff.sde import VP

SDE = VP()


def linear_teacher(x, t, *cond):
    """A linear denoiser with a time-dependent gain: x0_hat = (0.3 + 0.5 t) x + 0.1."""
    return (0.3 + 0.5 * t[:, None]) * x + 0.1


def mlp_denoiser(seed: int = 0) -> targets.Denoiser:
    torch.manual_seed(seed)
    return targets.Denoiser(MLP(hidden=32, depth=2, time_scale=50.0), SDE, "v")


def test_ddim_step_equals_one_step_of_the_ddim_sampler():
    x = torch.randn(6, 2, dtype=torch.float64)
    grid = torch.tensor([0.8, 0.3], dtype=torch.float64)
    expected = samplers.ddim(linear_teacher, SDE, x, grid)
    torch.testing.assert_close(progressive.ddim_step(linear_teacher, SDE, x, 0.8, 0.3), expected)


@pytest.mark.parametrize("n, k", [(4, 4), (4, 2), (8, 1), (1, 1)])
def test_target_makes_one_student_step_equal_two_teacher_steps(n, k):
    """The student's DDIM step t -> t - 1/n, with x0_hat = x~, lands where two teacher steps
    t -> t - 1/(2n) -> t - 1/n land (Salimans & Ho 2022, Alg. 2), exactly."""
    t = k / n
    z_t = torch.randn(5, 2, dtype=torch.float64)
    times = torch.full((5,), t, dtype=torch.float64)
    x_tilde = progressive.target(linear_teacher, SDE, z_t, times, n)
    student_lands = progressive.ddim_step(lambda x, s: x_tilde, SDE, z_t, t, t - 1 / n)
    grid = torch.tensor([t, t - 1 / (2 * n), t - 1 / n], dtype=torch.float64).clamp(min=0)
    teacher_lands = samplers.ddim(linear_teacher, SDE, z_t, grid)
    torch.testing.assert_close(student_lands, teacher_lands, rtol=1e-10, atol=1e-10)


def test_truncated_snr_weight_is_max_of_snr_and_one():
    t = torch.linspace(0.01, 1, 50)
    snr = losses.snr_weight(SDE, t)
    w = progressive.truncated_snr_weight(SDE, t)
    torch.testing.assert_close(w, torch.maximum(snr, torch.ones_like(snr)))
    assert (snr < 1).any() and (snr > 1).any()


def test_student_times_lie_on_the_student_grid():
    t = progressive.student_times(4, 1000, torch.Generator().manual_seed(0))
    assert set(t.tolist()) == {0.25, 0.5, 0.75, 1.0}
    with pytest.raises(ValueError, match="n: expected an int >= 1"):
        progressive.student_times(0, 3)


def test_the_teacher_stays_frozen_and_unchanged():
    teacher, student = mlp_denoiser(0), mlp_denoiser(1)
    before = copy.deepcopy(teacher.state_dict())
    optimizer = torch.optim.AdamW(student.parameters(), lr=1e-2)
    x0 = torch.randn(32, 2)
    for _ in range(3):
        loss = progressive.loss(student, x0, teacher=teacher, n=2)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert all(p.grad is None for p in teacher.parameters())  # no gradient reaches it
    assert all(torch.equal(v, before[k]) for k, v in teacher.state_dict().items())
    assert any(p.grad is not None for p in student.parameters())


def test_progressive_distillation_loss_falls_on_a_tiny_run():
    teacher = mlp_denoiser(0)
    student = copy.deepcopy(teacher)
    data = torch.randn(2000, 2) * 0.5 + 1.0
    loss_fn = lambda model, x0, generator: progressive.loss(  # noqa: E731
        model, x0, teacher=teacher, n=1, generator=generator
    )
    before = train.evaluate(student, loss_fn, data)
    train.fit(student, loss_fn, data, steps=150, batch_size=128, lr=3e-3, ema_decay=0.0)
    assert train.evaluate(student, loss_fn, data) < 0.5 * before


def ufogen(seed: int = 0, **kw) -> diffusion_gan.UFOGen:
    G = mlp_denoiser(seed)
    return diffusion_gan.UFOGen(G, gan.Discriminator(G.net), lr=1e-2, lr_d=1e-2, **kw)


def snapshot(module):
    return {k: v.clone() for k, v in module.state_dict().items()}


def changed(module, before) -> bool:
    return any(not torch.equal(v, before[k]) for k, v in module.state_dict().items())


def test_each_players_step_leaves_the_other_unchanged():
    u, x0 = ufogen(), torch.randn(16, 2)
    g_before, d_before = snapshot(u.G), snapshot(u.D)
    u.d_step(x0)
    assert changed(u.D, d_before) and not changed(u.G, g_before)
    d_before = snapshot(u.D)
    u.g_step(x0)
    assert changed(u.G, g_before) and not changed(u.D, d_before)


def test_r1_and_hinge_steps_run_and_keep_to_their_player():
    u, x0 = ufogen(loss="hinge", r1=1.0), torch.randn(16, 2)
    g_before = snapshot(u.G)
    assert torch.isfinite(torch.tensor(u.d_step(x0)))
    assert not changed(u.G, g_before)


def test_ufogen_denoising_error_falls_and_snapshots_are_kept():
    u = ufogen(seed=3)
    data = torch.randn(2000, 2) * 0.5 + 1.0
    t, eps = torch.rand(2000) * 0.8 + 0.1, torch.randn(2000, 2)  # fixed: before and after compare

    def error():
        with torch.no_grad():
            return losses.dsm(u.G, data, sde=SDE, weighting=losses.x0_weight, t=t, eps=eps)

    before = error()
    history = diffusion_gan.fit(u, data, steps=200, batch_size=64, snapshots=(50, 200))
    assert error() < 0.5 * before
    assert len(history.d_loss) == 100 and len(history.g_loss) == 200
    assert set(history.snapshots) == {50, 200}
    torch.testing.assert_close(history.snapshots[200], history.ema.model.state_dict())


def test_one_step_sampling_is_the_generators_x0_hat():
    G = mlp_denoiser(0).eval()
    x = torch.randn(8, 2)
    one = diffusion_gan.sample(G, x, torch.tensor([1.0, 0.0]))
    torch.testing.assert_close(one, G(x, torch.ones(8)))


def test_k_step_sampling_of_a_constant_generator_returns_the_constant():
    G = targets.Denoiser(lambda x, t: torch.zeros_like(x), SDE, "x0")
    out = diffusion_gan.sample(G, torch.randn(4, 2), torch.tensor([1.0, 0.5, 0.25, 0.0]))
    assert torch.equal(out, torch.zeros(4, 2))


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(jump=0.0), "jump: expected a finite number > 0 and <= 1, got float 0.0"),
        (dict(lr=-1.0), "lr: expected a finite number > 0, got float -1.0"),
        (dict(r1=-1.0), "r1: expected a finite number >= 0, got float -1.0"),
        (dict(loss="wgan"), "loss: expected one of"),
    ],
)
def test_ufogen_bad_arguments_name_themselves(kw, match):
    G = mlp_denoiser(0)
    with pytest.raises(ValueError, match=match):
        diffusion_gan.UFOGen(G, gan.Discriminator(G.net), **kw)


def test_a_nan_loss_stops_with_a_message():
    u = ufogen()
    with torch.no_grad():
        next(u.D.parameters()).fill_(float("nan"))  # a diverged discriminator
    with pytest.raises(FloatingPointError, match="UFOGen: the discriminator loss is nan"):
        u.d_step(torch.randn(4, 2))


def test_nan_data_is_bad_input_not_a_nan_loss():
    with pytest.raises(ValueError, match="x0: contains NaN"):
        ufogen().d_step(torch.full((4, 2), float("nan")))


def test_cfg_denoiser_equals_cfg_with_bound_conditions():
    def denoiser(x, t, y):
        return x * (1 + y[:, None].to(x.dtype)) + t[:, None]

    x, t, y = torch.randn(3, 2), torch.rand(3), torch.tensor([1, 2, 3])
    null = torch.tensor([0])
    guided = samplers.cfg_denoiser(denoiser, 2.5, null)(x, t, y)
    torch.testing.assert_close(guided, samplers.cfg(denoiser, 2.5, y, null.expand(3))(x, t))


def gen(seed):
    return torch.Generator().manual_seed(seed)


def test_a_resumed_ufogen_fit_ends_where_an_uninterrupted_one_does(tmp_path):
    data, path = torch.randn(500, 2) * 0.5 + 1.0, tmp_path / "ufogen.pt"
    kw = dict(batch_size=32, snapshots=(50, 250))
    straight = ufogen(seed=5)
    history = diffusion_gan.fit(straight, data, steps=250, generator=gen(4), **kw)
    first = ufogen(seed=5)
    diffusion_gan.fit(first, data, steps=150, checkpoint=path, generator=gen(4), **kw)
    resumed = ufogen(seed=6)  # other weights and generator: all come from the checkpoint
    resumed_history = diffusion_gan.fit(resumed, data, steps=250, checkpoint=path, generator=gen(9),
                                        **kw)  # fmt: skip
    for module, other in [(straight.G, resumed.G), (straight.D, resumed.D)]:
        assert not changed(module, snapshot(other))
    assert not changed(history.ema.model, snapshot(resumed_history.ema.model))
    assert set(resumed_history.snapshots) == {50, 250}
    for step in (50, 250):
        for k, v in history.snapshots[step].items():
            assert torch.equal(resumed_history.snapshots[step][k], v)


def test_a_ufogen_checkpoint_is_not_resumed_with_other_arguments(tmp_path):
    data, path = torch.randn(200, 2) * 0.5 + 1.0, tmp_path / "ufogen.pt"
    diffusion_gan.fit(ufogen(seed=5), data, steps=100, batch_size=32, checkpoint=path)
    saved = path.read_bytes()
    with pytest.raises(CheckpointError, match=f"^batch_size: the checkpoint {path}"):
        diffusion_gan.fit(ufogen(seed=5), data, steps=150, batch_size=16, checkpoint=path)
    with pytest.raises(CheckpointError, match="^d_every: "):
        diffusion_gan.fit(ufogen(seed=5), data, steps=150, batch_size=32, d_every=3,
                          checkpoint=path)  # fmt: skip
    assert path.read_bytes() == saved
    path.write_bytes(saved[: len(saved) // 2])
    with pytest.raises(CheckpointError, match="corrupt or not a UFOGen checkpoint"):
        diffusion_gan.fit(ufogen(seed=5), data, steps=150, batch_size=32, checkpoint=path)
