"""Lesson 01's experiment: Euler-Maruyama's exact law for a linear SDE, the Fokker-Planck equation
the closed-form marginals solve, and the claims the lesson prints."""

import math

import numpy as np
import pytest
import torch

from minidiff import sde as processes
from minidiff.data import toy2d
from minidiff.experiments import forward_sdes as fs

PROCESSES = [processes.VP(), processes.VE(), processes.SubVP(), processes.Flow()]


def fokker_planck_residual(mixture, marginal_sde, f_g2_sde, t):
    """max |dp/dt - (-div(f x p) + g^2/2 lap p)| / max |dp/dt| on a grid, p = the closed-form
    marginal of `mixture` under marginal_sde, f and g^2 from f_g2_sde (autograd, float64)."""
    u = torch.linspace(-2.5, 2.5, 21, dtype=torch.float64)
    x = torch.stack(torch.meshgrid(u, u, indexing="xy"), -1).reshape(-1, 2).requires_grad_(True)
    tt = torch.full((len(x),), t, dtype=torch.float64, requires_grad=True)
    p = mixture.log_prob_t(x, tt, marginal_sde).exp()
    dp_dt, grad = torch.autograd.grad(p.sum(), (tt, x), create_graph=True)
    lap = sum(torch.autograd.grad(grad[:, i].sum(), x, retain_graph=True)[0][:, i] for i in (0, 1))
    f, g2 = f_g2_sde.f(tt), f_g2_sde.g2(tt)
    rhs = -f * (2 * p + (x * grad).sum(1)) + 0.5 * g2 * lap
    return ((dp_dt - rhs).abs().max() / dp_dt.abs().max()).item()


@pytest.mark.parametrize("sde", PROCESSES, ids=repr)
@pytest.mark.parametrize("t", [0.1, 0.5, 0.9])
def test_closed_form_marginals_solve_fokker_planck(sde, t):
    ring = toy2d.ring(dtype=torch.float64)
    assert fokker_planck_residual(ring, sde, sde, t) < 1e-8


def test_fokker_planck_rejects_the_wrong_diffusion():
    """sub-VP's marginals with VP's g^2 (same drift, more noise) do not solve the equation."""
    ring = toy2d.ring(dtype=torch.float64)
    assert fokker_planck_residual(ring, processes.SubVP(), processes.VP(), 0.3) > 1e-2


def test_em_moments_are_a_riemann_sum_of_first_order():
    """VE (f = 0): A = 1 and V is the left Riemann sum of g^2, converging to sigma^2 - sigma0^2
    with error halving as dt halves."""
    ve = processes.VE()
    exact = (ve.sigma(torch.tensor(1.0)) ** 2 - ve.sigma(torch.tensor(0.0)) ** 2).item()
    errors = []
    for dt in (0.02, 0.01, 0.005):
        A, V = fs.em_moments(ve, (0.5, 1.0), dt)[1.0]
        assert A == 1.0
        errors.append(exact - V)  # g^2 increases: the left sum is below the integral
    assert all(e > 0 for e in errors)
    assert errors[0] / errors[1] == pytest.approx(2, rel=0.05)
    assert errors[1] / errors[2] == pytest.approx(2, rel=0.05)


def test_em_moments_predict_the_simulated_bias():
    """sub-VP at t = 0.1 with 10 steps: EM's std is ~9 % below sigma(t); the recursion predicts
    the simulated std within 4 standard errors, the closed form misses it by far more."""
    sub, n, t, dt = processes.SubVP(), 50_000, 0.1, 0.01
    g = torch.Generator().manual_seed(0)
    xt = fs.simulate(sub, torch.zeros(n, 2, dtype=torch.float64), (t,), dt, g)[t]
    A, V = fs.em_moments(sub, (t,), dt)[t]
    std, se = xt.std().item(), xt.std().item() / math.sqrt(4 * n)
    assert abs(std - math.sqrt(V)) < 4 * se
    assert abs(std - sub.sigma(torch.tensor(t, dtype=torch.float64)).item()) > 20 * se


def test_distance_of_shifted_normals():
    """sup |Phi(x - d) - Phi(x)| = Phi(d/2) - Phi(-d/2) ~ d / sqrt(2 pi) for a small shift d."""
    one = (np.ones(1), np.zeros(1), np.ones(1))
    assert fs.distance(one, one) == 0
    shifted = (np.ones(1), np.full(1, 1e-3), np.ones(1))
    assert fs.distance(one, shifted) == pytest.approx(1e-3 / math.sqrt(2 * math.pi), rel=1e-3)


def _row(t, std_err, std_bias, p=0.5):
    return dict(process="sub-VP", start="fixed x0", t=t, KS_D=0.01, p_value=p, D_bias_EM=0.0,
                mean_err=0.0, mean_bias_EM=0.0, std_err=std_err, std_bias_EM=std_bias,
                se_mean=0.005, se_std=0.005)  # fmt: skip


def test_claims_hold_and_fail_as_they_should(capsys):
    weak = [dict(h=h, var_simulated=0.25 + h, se_var=1e-3, var_em_exact=0.25 + h,
                 err_simulated=h, err_em_exact=h) for h in (0.1, 0.05, 0.025)]  # fmt: skip
    # a row whose std is off by EM's own predicted bias (4 s.e.), and a clean row
    out = dict(rows=[_row(0.1, -0.02, -0.02), _row(0.5, 0.001, 0.0)], weak_rows=weak)
    by_text = {c["claim"]: c for c in fs.claims(out)}
    assert all(c["holds"] for c in by_text.values()), by_text
    assert "sub-VP fixed x0 t=0.1" in capsys.readouterr().out  # listed as a biased row
    # a clean row 10 s.e. from both the closed form and EM's law; a KS test at p = 1e-4
    out["rows"] = [_row(0.1, -0.02, -0.02), _row(0.5, 0.05, 0.0, p=1e-4)]
    holds = [c["holds"] for c in fs.claims(out)]
    assert holds == [False, False, False, True]
