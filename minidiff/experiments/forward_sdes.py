"""Forward SDEs: simulated marginals match the closed forms (lesson 01).

For each process (VP, VE, sub-VP, and the flow path up to t = 0.9, where its SDE is still
regular), Euler-Maruyama simulates dx = f(t) x dt + g(t) dW from t = 0, started from the t = 0
marginal of a fixed point x0 and of ring data. Reported at several t:
* fixed x0: z = (x_t - alpha(t) x0) / sigma(t) should be N(0, 1) (KS test). The start
  add_noise(x0, 0, eps) carries the t = 0 noise sigma(0), non-zero only for VE (sigma_min);
* ring data: the first coordinate should follow the exact mixture marginal p_t (KS test against
  its CDF).
Errors of the mean are in units of the exact std; std errors are relative.
Second claim: Euler-Maruyama's weak error is first order; for the OU process
dx = -theta x dt + s dW from x = 0 the variance error at T = 1 halves when the steps double.

Usage: python -m minidiff.experiments.forward_sdes [--fast]
"""

import math

import numpy as np
import torch
from scipy import stats

from minidiff import report, samplers, sde
from minidiff.data import toy2d

NAME = "forward_sdes"
PROCESSES = {"VP": sde.VP(), "VE": sde.VE(), "sub-VP": sde.SubVP(), "flow": sde.Flow()}
TIMES = {
    "VP": (0.1, 0.5, 1.0),
    "VE": (0.1, 0.5, 1.0),
    "sub-VP": (0.1, 0.5, 1.0),
    "flow": (0.1, 0.5, 0.9),
}
X0 = (1.0, -0.5)
S_OU = math.sqrt(2.0)  # OU diffusion: stationary variance s^2 / (2 theta) = 1/4 at theta = 4


def simulate(process, x, times, dt, generator):
    """Euler-Maruyama from t = 0 through `times`; returns {t: x_t}. Steps of about dt."""
    out, t_prev = {}, 0.0
    for t in times:
        n = max(1, round((t - t_prev) / dt))
        ts = torch.linspace(t_prev, t, n + 1, dtype=torch.float64)
        x = samplers.euler_maruyama(process.drift, process.diffusion, x, ts, generator)
        out[t], t_prev = x, t
    return out


def mixture_cdf(mixture, coord=0):
    """CDF of one coordinate of a GaussianMixture (a mixture of 1-D normals)."""
    w = mixture.weights.double().numpy()
    mu = mixture.means[:, coord].double().numpy()
    sd = mixture.covs[:, coord, coord].double().sqrt().numpy()
    return lambda x: (w * stats.norm.cdf((np.asarray(x)[:, None] - mu) / sd)).sum(1)


def mixture_moments(mixture, coord=0):
    w, mu = mixture.weights.double(), mixture.means[:, coord].double()
    mean = (w * mu).sum()
    var = (w * (mixture.covs[:, coord, coord].double() + mu**2)).sum() - mean**2
    return mean.item(), var.sqrt().item()


def fixed_start_rows(name, process, n, dt, seed):
    g = torch.Generator().manual_seed(seed)
    x0 = torch.tensor(X0, dtype=torch.float64).expand(n, 2)
    x = process.add_noise(x0, 0.0, torch.randn(n, 2, generator=g, dtype=torch.float64))
    rows = []
    for t, xt in simulate(process, x, TIMES[name], dt, g).items():
        tt = torch.tensor(t, dtype=torch.float64)
        alpha, sigma = process.alpha(tt).item(), process.sigma(tt).item()
        z = ((xt - alpha * x0) / sigma).flatten().numpy()
        ks = stats.kstest(z, "norm")
        mean_err = ((xt.mean(0) - alpha * x0[0]) / sigma).abs().max().item()
        std_err = (xt.std(0) / sigma - 1).abs().max().item()
        rows.append(
            dict(
                process=name,
                start="fixed x0",
                t=t,
                KS_D=float(ks.statistic),
                p_value=float(ks.pvalue),
                mean_err_sd=mean_err,
                rel_std_err=std_err,
            )
        )
    return rows


def ring_rows(name, process, n, dt, seed):
    g = torch.Generator().manual_seed(seed)
    ring = toy2d.ring(dtype=torch.float64)
    x0 = ring.sample(n, generator=g)
    x = process.add_noise(x0, 0.0, torch.randn(n, 2, generator=g, dtype=torch.float64))
    rows = []
    for t, xt in simulate(process, x, TIMES[name], dt, g).items():
        exact = ring.marginal(process, t)
        ks = stats.kstest(xt[:, 0].numpy(), mixture_cdf(exact))
        mean, std = mixture_moments(exact)
        rows.append(
            dict(
                process=name,
                start="ring data",
                t=t,
                KS_D=float(ks.statistic),
                p_value=float(ks.pvalue),
                mean_err_sd=abs(xt[:, 0].mean().item() - mean) / std,
                rel_std_err=abs(xt[:, 0].std().item() / std - 1),
            )
        )
    return rows


def ou_weak_error(steps_list, n, theta=4.0, s=S_OU, T=1.0, seed=0):
    """Variance of Euler-Maruyama OU at T from x = 0: simulated, the EM recursion, and exact."""
    exact = s**2 * (1 - math.exp(-2 * theta * T)) / (2 * theta)
    rows = []
    for steps in steps_list:
        g = torch.Generator().manual_seed(seed)
        ts = torch.linspace(0, T, steps + 1, dtype=torch.float64)
        x = torch.zeros(n, 1, dtype=torch.float64)
        x = samplers.euler_maruyama(
            lambda x, t: -theta * x, lambda t: torch.full_like(t, s), x, ts, g
        )
        h, v = T / steps, 0.0
        for _ in range(steps):  # the variance EM produces, exactly: v <- (1 - theta h)^2 v + s^2 h
            v = (1 - theta * h) ** 2 * v + s**2 * h
        rows.append(
            dict(
                steps=steps,
                h=h,
                var_simulated=x.var().item(),
                var_em_exact=v,
                var_exact=exact,
                err_simulated=abs(x.var().item() - exact),
                err_em_exact=abs(v - exact),
            )
        )
    return rows


def order(rows, key):
    """Least-squares slope of log(error) against log(h): the convergence order."""
    h = np.log([r["h"] for r in rows])
    e = np.log([r[key] for r in rows])
    return float(np.polyfit(h, e, 1)[0])


def run(fast: bool = False) -> dict:
    n, dt = (4000, 1e-2) if fast else (20000, 1e-3)
    rows = []
    for i, (name, process) in enumerate(PROCESSES.items()):
        rows += fixed_start_rows(name, process, n, dt, seed=i)
        rows += ring_rows(name, process, n, dt, seed=100 + i)
    weak = ou_weak_error(
        [8, 16, 32, 64] if fast else [8, 16, 32, 64, 128], n=100_000 if fast else 1_000_000
    )
    figures = dict(
        n_paths=n,
        dt=dt,
        max_KS_D=max(r["KS_D"] for r in rows),
        min_p_value=min(r["p_value"] for r in rows),
        tests_with_p_below_0_01=sum(r["p_value"] < 0.01 for r in rows),
        tests=len(rows),
        max_rel_std_err=max(r["rel_std_err"] for r in rows),
        ou_order_simulated=order(weak, "err_simulated"),
        ou_order_em_exact=order(weak, "err_em_exact"),
    )
    return dict(rows=rows, weak_rows=weak, figures=figures)


def main(argv: list[str] | None = None) -> dict:
    """The command line: [--fast]; prints the tables, then one JSON line of figures."""
    return report.benchmark_main(NAME, run, tables=("rows", "weak_rows"), threads=1, argv=argv)


if __name__ == "__main__":
    main()
