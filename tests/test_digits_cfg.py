"""Lesson 04's experiment pieces: the classifier's held-out split, honest NFE counts, EDM's Heun
against a closed form, and the logic of the claims on synthetic inputs."""

import pytest
import torch

from minidiff import recipes, sde
from minidiff.data import digits
from minidiff.experiments import digits_cfg as bench
from minidiff.experiments import digits_samplers as ds


def test_classifier_split_is_disjoint_stratified_and_fixed():
    fit, held_out = recipes.digits.classifier_split()
    _, labels = digits.load("train")
    assert len(fit) == 1197 and len(held_out) == 300
    assert sorted(fit.tolist() + held_out.tolist()) == list(range(len(labels)))
    assert torch.equal(torch.bincount(labels[held_out]), torch.full((10,), 30))
    again = recipes.digits.classifier_split()
    assert torch.equal(again[0], fit) and torch.equal(again[1], held_out)


def test_stratified_picks_per_class_items_of_each_class():
    labels = torch.arange(100) % 10
    first, seeded = bench.stratified(labels, 4), bench.stratified(labels, 4, seed=1)
    for pick in (first, seeded):
        assert torch.equal(torch.bincount(labels[pick]), torch.full((10,), 4))
    assert first[:4].tolist() == [0, 10, 20, 30]  # the first items of class 0
    assert not torch.equal(first, seeded) and torch.equal(seeded, bench.stratified(labels, 4, 1))


def test_steps_for_counts_heun_honestly():
    assert ds.steps_for("DDIM", 10) == 10 and ds.steps_for("DDPM", 1) == 1
    assert ds.steps_for("Heun", 9) == 5 and ds.steps_for("Heun-s", 3) == 2
    with pytest.raises(ValueError, match=r"nfe: Heun makes 2 calls a step .* got 10"):
        ds.steps_for("Heun", 10)
    with pytest.raises(ValueError, match="solver"):
        ds.steps_for("Euler", 9)


CASES = [
    ("DDIM", "uniform", 4),
    ("Heun", "Karras", 5),
    ("Heun-s", "uniform", 3),
    ("DDPM", "Karras", 2),
]


@pytest.mark.parametrize(("solver", "grid", "nfe"), CASES)
def test_sample_makes_exactly_nfe_guided_calls(solver, grid, nfe):
    denoiser = recipes.digits.build_digits_unet()  # untrained: only the calls are counted
    sizes = []
    handle = denoiser.register_forward_pre_hook(lambda module, args: sizes.append(len(args[0])))
    try:
        images = ds.sample(denoiser, torch.arange(3), 2.0, nfe, solver, grid, seed=0)
    finally:
        handle.remove()
    assert sizes == [6] * nfe  # one batched call of both CFG branches per NFE
    assert images.shape == (3, 1, 16, 16) and images.abs().max() <= 1


def gaussian_denoiser(vp, c: float):
    """The exact x0_hat for data N(0, c^2 I): alpha c^2 / (alpha^2 c^2 + sigma^2) x."""

    def denoiser(x, t):
        a, s = vp.alpha(t).view(-1, 1), vp.sigma(t).view(-1, 1)
        return a * c**2 / (a**2 * c**2 + s**2) * x

    return denoiser


def test_heun_sigma_is_second_order_on_gaussian_data():
    """For N(0, c^2) data the ODE in y = x/alpha, s = sigma/alpha is dy/ds = s y / (c^2 + s^2):
    y(0) = y(s_max) c / sqrt(c^2 + s_max^2)."""
    vp, c = sde.VP(), 0.5
    x = torch.randn(64, 1, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    errors = []
    for steps in (8, 16, 32):
        ts = ds.GRIDS["Karras"](vp, steps)
        a, s = vp.alpha(ts[:1]), vp.sigma(ts[:1])
        exact = x / a * c / torch.sqrt(c**2 + (s / a) ** 2)
        errors.append((ds.heun_sigma(gaussian_denoiser(vp, c), vp, x, ts) - exact).abs().max())
    assert errors[0] / errors[1] > 3 and errors[1] / errors[2] > 3.5  # 2nd order: 4x a doubling


def test_one_heun_sigma_step_is_ddim_plus_the_amplified_change_of_x0_hat():
    """Exercise 5's answer: y_heun = y_ddim + (s_a / s_b - 1) / 2 (x0_hat_b - x0_hat_a)."""
    vp, c = sde.VP(), 0.5
    denoiser = gaussian_denoiser(vp, c)
    x = torch.randn(16, 1, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    ts = torch.tensor([0.6, 0.1], dtype=torch.float64)
    (a_a, a_b), (s_a, s_b) = vp.alpha(ts).tolist(), (vp.sigma(ts) / vp.alpha(ts)).tolist()
    x0_a = denoiser(x, ts[:1].expand(len(x)))
    y_ddim = x0_a + s_b * (x / a_a - x0_a) / s_a
    x0_b = denoiser(a_b * y_ddim, ts[1:].expand(len(x)))
    expected = a_b * (y_ddim + (s_a / s_b - 1) / 2 * (x0_b - x0_a))
    torch.testing.assert_close(ds.heun_sigma(denoiser, vp, x, ts), expected)


def per_seed(**means):
    """Three seeds of scores around the given means (+- 1 %)."""
    return [{k: v * (1 + 0.01 * d) for k, v in means.items()} for d in (-1, 0, 1)]


def synthetic_raw(heun_second_order=True) -> dict:
    scales = {w: per_seed(accuracy_pct=acc, fd=f, precision=p, recall=r, spread=sp)
              for w, acc, f, p, r, sp in [(0.0, 10, 9, 0.4, 0.99, 11), (1.0, 94, 0.6, 0.8, 0.9, 3),
                                          (2.0, 100, 0.65, 0.98, 0.4, 0.9),
                                          (5.0, 100, 1.1, 0.99, 0.05, 0.5)]}  # fmt: skip
    real = {k: per_seed(fd=f, precision=0.9, recall=0.9, spread=2)
            for k, f in [("unseen", 0.28), ("seen", 0.28), ("seen, unbalanced", 0.6)]}  # fmt: skip
    runs = {}
    for grid in ds.GRIDS:
        for n in (5, 9, 19, 39):
            heun = 10 / n**2 if heun_second_order and grid == "Karras" else 1 / n**0.9
            runs["DDIM", grid, n] = dict(err=[x / n for x in (0.99, 1.0, 1.01)])
            runs["Heun", grid, n] = dict(
                err=[(x * (heun if n > 9 else 2)) for x in (0.98, 1, 1.03)]
            )
    near = dict(samples=[torch.full((300,), 3.4)] * 3, test=torch.linspace(2, 4, 300))
    nfe = {5: per_seed(fd=0.75), 10: per_seed(fd=0.65), 20: per_seed(fd=0.6)}
    return dict(scales=scales, real=real, nfe=nfe, solvers=dict(runs=runs), scale=2.0, near=near)


def test_claims_hold_on_data_built_to_satisfy_them_and_fail_otherwise(capsys):
    claims = bench.claims(dict(raw=synthetic_raw()))
    assert len(claims) == 12 and all(c["holds"] for c in claims), [
        c["claim"] for c in claims if not c["holds"]
    ]
    assert capsys.readouterr().out.count("[claim ✓]") == 12
    flat = {c["claim"]: c["holds"] for c in bench.claims(dict(raw=synthetic_raw(False)))}
    karras = [k for k in flat if k.startswith("On the Karras grid")]
    assert karras and not flat[karras[0]]
    assert sum(flat.values()) == 11
