"""Exact-score samplers recover a Gaussian mixture, and the probability-flow ODE and SDE agree.

With the exact denoiser of toy2d.grid() (25 modes) under the VP process, every sampler of lesson
02 (reverse-SDE Euler-Maruyama, predictor-corrector, PF-ODE Euler and Heun, DDPM, DDIM) is run on
the uniform time grid (Heun also on the Karras grid) at several numbers of function evaluations
(NFE, counted honestly: Heun and the Langevin corrector cost 2 evaluations per step except the
last). Each sample is scored against true samples: sliced Wasserstein (and its floor, the SW of
independent true samples of the same size), MMD, mode coverage/precision, and the mean true NLL
-log p(x) (the mixture's entropy is the reference).

    python -m minidiff.experiments.reverse_samplers [--fast]
"""

import torch

from minidiff import metrics, report, samplers, schedules
from minidiff import sde as sdes
from minidiff.data import toy2d

NAME = "reverse_samplers"


def _samplers(den, vp):
    """name -> (run(x, ts, generator), steps for a target NFE); ts is the uniform grid."""

    def karras(x, ts):  # same number of steps on the Karras et al. (2022) grid
        return schedules.karras(vp, len(ts) - 1)

    one = lambda nfe: nfe  # noqa: E731  one evaluation per step
    two = lambda nfe: max(nfe // 2, 1)  # noqa: E731  two per step (minus one at the end)
    return {
        "reverse SDE (EM)": (lambda x, ts, g: samplers.reverse_sde(den, vp, x, ts, g), one),
        "predictor-corrector": (
            lambda x, ts, g: samplers.predictor_corrector(den, vp, x, ts, generator=g),
            two,
        ),
        "PF-ODE Euler": (
            lambda x, ts, g: samplers.pf_ode(den, vp, x, ts, solver=samplers.euler),
            one,
        ),
        "PF-ODE Heun": (
            lambda x, ts, g: samplers.pf_ode(den, vp, x, ts, solver=samplers.heun),
            two,
        ),
        "PF-ODE Heun, Karras grid": (
            lambda x, ts, g: samplers.pf_ode(den, vp, x, karras(x, ts), solver=samplers.heun),
            two,
        ),
        "DDPM": (lambda x, ts, g: samplers.ddpm(den, vp, x, ts, generator=g), one),
        "DDIM": (lambda x, ts, g: samplers.ddim(den, vp, x, ts), one),
    }


def nfe_of(name: str, steps: int) -> int:
    return 2 * steps - 1 if name.startswith(("predictor-corrector", "PF-ODE Heun")) else steps


def proj() -> torch.Generator:
    """The seed of the SW projections: the same projections everywhere."""
    return torch.Generator().manual_seed(0)


def references(mix, n: int) -> tuple:
    """(n true samples `ref`, SW of 5 independent true samples to ref: the floor, entropy)."""
    ref = mix.sample(n, generator=torch.Generator().manual_seed(1))
    floors = torch.tensor(
        [  # SW between independent true samples: the noise floor, 5 draws
            metrics.sliced_wasserstein(
                mix.sample(n, generator=torch.Generator().manual_seed(10 + i)),
                ref,
                generator=proj(),
            )
            for i in range(5)
        ]
    )
    entropy = -mix.log_prob(mix.sample(20 * n, generator=torch.Generator().manual_seed(3))).mean()
    return ref, floors, entropy


def sampler_rows(runs: dict, budgets, x1, mix, ref, floor: float) -> tuple[list, dict]:
    """One row per sampler of `runs` (see _samplers) and NFE budget; the samples by (name, NFE)."""
    stds = mix.lam.sqrt()[:, 0]
    rows, out = [], {}
    for name, (sample, steps_for) in runs.items():
        for budget in budgets:
            steps = steps_for(budget)
            x = sample(x1, schedules.uniform(steps), torch.Generator().manual_seed(5))
            sw = metrics.sliced_wasserstein(x, ref, generator=proj())
            cov, prec = metrics.mode_coverage(x, mix.means, stds)
            out[name, budget] = x
            rows.append(
                {
                    "sampler": name,
                    "steps": steps,
                    "NFE": nfe_of(name, steps),
                    "SW": sw,
                    "SW / floor": sw / floor,
                    "MMD": metrics.mmd_rbf(x[:2000], ref[:2000]),
                    "coverage": cov,
                    "precision": prec,
                    "NLL": -mix.log_prob(x).mean().item(),
                }
            )
    return rows, out


def true_row(mix, n: int, ref, floor: float, entropy) -> dict:
    """Fresh true samples scored like a sampler's: the row every sampler is compared with."""
    stds = mix.lam.sqrt()[:, 0]
    true = mix.sample(n, generator=torch.Generator().manual_seed(2))
    true_cov, true_prec = metrics.mode_coverage(true, mix.means, stds)
    return {
        "sampler": "true samples (floor, mean of 5)",
        "steps": 0,
        "NFE": 0,
        "SW": floor,
        "SW / floor": 1.0,
        "MMD": metrics.mmd_rbf(true[:2000], ref[:2000]),
        "coverage": true_cov,
        "precision": true_prec,
        "NLL": entropy.item(),
    }


def run(fast: bool = False) -> dict:
    n = 600 if fast else 4000
    budgets = [4, 16] if fast else [4, 8, 16, 32, 64, 128]
    mix, vp = toy2d.grid(dtype=torch.float64), sdes.VP()
    den = mix.denoiser(vp)
    ref, floors, entropy = references(mix, n)
    floor = floors.mean().item()
    x1 = vp.prior_sample((n, 2), generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    figures = {
        "n": n,
        "sw_floor": floor,
        "sw_floor_min": floors.min().item(),
        "sw_floor_max": floors.max().item(),
        "entropy": entropy.item(),
    }
    rows, out = sampler_rows(_samplers(den, vp), budgets, x1, mix, ref, floor)
    for name in _samplers(den, vp):
        ok = [r["NFE"] for r in rows if r["sampler"] == name and r["SW / floor"] <= 1.5]
        figures[f"nfe_within_1.5x_floor/{name}"] = min(ok) if ok else None
        ok = [r["NFE"] for r in rows if r["sampler"] == name and abs(r["NLL"] - entropy) <= 0.1]
        figures[f"nfe_nll_within_0.1_of_entropy/{name}"] = min(ok) if ok else None
    top = budgets[-1]
    figures["sw_ode_vs_sde_at_max_nfe"] = metrics.sliced_wasserstein(
        out["PF-ODE Heun", top], out["reverse SDE (EM)", top], generator=proj()
    )
    figures["max_nfe"] = top
    rows.append(true_row(mix, n, ref, floor, entropy))
    return {"rows": rows, "figures": figures}


def main(argv: list[str] | None = None) -> dict:
    """The command line: [--fast]; prints the tables, then one JSON line of figures."""
    return report.benchmark_main(NAME, run, tables=("rows",), threads=1, argv=argv)


if __name__ == "__main__":
    main()
