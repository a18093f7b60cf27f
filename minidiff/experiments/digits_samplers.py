"""Lesson 04's samplers on digits: solver x grid at an honest NFE, and the solver error.

A solver (DDPM, DDIM, Heun on the PF-ODE in t, or "Heun-s": EDM's Heun in x/alpha and s =
sigma/alpha) runs on a grid (uniform in t, or Karras's rho = 7 grid in s mapped to t), with
classifier-free guidance; NFE counts the guided denoiser's calls (Heun: 2 a step, 1 on the step
into t = 0).
The solver error of a deterministic solver is the RMS pixel distance to a reference solution of
the same ODE from the same noise, as in lesson 03: Heun with many Karras steps, far more accurate
than anything it measures. (A DDIM reference would not do: its own error is a third of Heun's at
39 NFE, and it points the same way as DDIM's errors, so it makes DDIM look better than it is.)
"""

import torch

from minidiff import recipes, report, samplers, schedules, stats, targets
from minidiff.checks import check_choice, check_int
from minidiff.nets import classifier

GRIDS = {  # name -> (sde, steps) -> times from 1 down to 0
    "uniform": lambda sde, steps: schedules.uniform(steps),
    "Karras": lambda sde, steps: schedules.karras(sde, steps),
}


@torch.no_grad()
def heun_sigma(denoiser, sde, x, ts):
    """EDM's Heun (Karras et al. 2022, Alg. 1) on the PF-ODE written in y = x/alpha and
    s = sigma/alpha, dy/ds = (y - x0_hat)/s, on the grid ts; the step into s = 0 is Euler."""
    ts = torch.as_tensor(ts, dtype=torch.float64)
    alpha, s = sde.alpha(ts).tolist(), (sde.sigma(ts) / sde.alpha(ts)).tolist()
    y = x / alpha[0]
    for i in range(len(ts) - 1):
        d = (y - targets.denoise(denoiser, alpha[i] * y, ts[i].item())) / s[i]
        y_next = y + (s[i + 1] - s[i]) * d
        if s[i + 1] > 0:
            x0_next = targets.denoise(denoiser, alpha[i + 1] * y_next, ts[i + 1].item())
            y_next = y + (s[i + 1] - s[i]) * (d + (y_next - x0_next) / s[i + 1]) / 2
        y = y_next
    return alpha[-1] * y


SOLVERS = {  # name -> (guided denoiser, sde, x, ts, generator) -> x0
    "DDPM": lambda d, sde, x, ts, g: samplers.ddpm(d, sde, x, ts, g),
    "DDIM": lambda d, sde, x, ts, g: samplers.ddim(d, sde, x, ts),
    "Heun": lambda d, sde, x, ts, g: samplers.pf_ode(d, sde, x, ts, solver=samplers.heun),
    "Heun-s": lambda d, sde, x, ts, g: heun_sigma(d, sde, x, ts),
}


def steps_for(solver: str, nfe: int) -> int:
    """Steps of `solver` that make `nfe` denoiser calls on a grid ending at t = 0."""
    solver, nfe = check_choice("solver", solver, SOLVERS), check_int("nfe", nfe, 1)
    if not solver.startswith("Heun"):
        return nfe
    if nfe < 3 or nfe % 2 == 0:
        raise ValueError(f"nfe: {solver} makes 2 calls a step and 1 on the last, so an odd "
                         f"NFE >= 3 (3, 5, 9, 19, ...), got {nfe}")  # fmt: skip
    return (nfe + 1) // 2


def sample(denoiser, labels, scale: float, nfe: int, solver="DDIM", grid="uniform", seed=0):
    """One image per label by `solver` on `grid` with CFG at `scale`, `nfe` calls of the
    guided denoiser (each one batched call of both branches); clipped to [-1, 1]."""
    steps, grid = steps_for(solver, nfe), check_choice("grid", grid, GRIDS)
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(len(labels), 1, 16, 16, generator=generator)
    null = recipes.digits.null_label(denoiser).expand(len(labels))
    guided = samplers.cfg(denoiser, scale, labels, null)
    ts = GRIDS[grid](denoiser.sde, steps)
    return SOLVERS[solver](guided, denoiser.sde, x, ts, generator).clamp(-1, 1)


def rms(a: torch.Tensor, b: torch.Tensor) -> float:
    """Root-mean-square pixel distance, over all images and pixels."""
    return (a - b).square().mean().sqrt().item()


def accuracy_pct(judge_net, images, labels) -> float:
    """% of images the judge classifies as their label."""
    predicted = classifier.predict(judge_net, images)["digit"]
    return 100 * (predicted == labels).double().mean().item()


COMBINATIONS = [("DDIM", "uniform"), ("DDIM", "Karras"), ("Heun", "uniform"), ("Heun", "Karras")]


def solver_table(denoiser, judge_net, cfg: dict, scale: float) -> tuple[list, dict]:
    """Solver error (RMS to the reference: Heun on the Karras grid, cfg["reference_nfe"] NFE) and
    accuracy of each (solver, grid) of COMBINATIONS at each NFE of cfg["solver_nfes"], over
    cfg["seeds"]; -> (rows, raw values). raw["reference_check"]: the RMS from the first seed's
    reference to Heun at half its steps (about the half-step run's error, so a bound on the
    reference's) and to DDIM at that same NFE (DDIM's error there)."""
    labels = torch.arange(10).repeat_interleave(cfg["solver_per_class"])
    ref_nfe, runs, first = cfg["reference_nfe"], {}, cfg["seeds"][0]
    references = {
        s: sample(denoiser, labels, scale, ref_nfe, "Heun", "Karras", s) for s in cfg["seeds"]
    }
    check = dict(nfe=ref_nfe // 2)
    for solver in ("Heun", "DDIM"):
        half = sample(denoiser, labels, scale, ref_nfe // 2, solver, "Karras", first)
        check[solver] = rms(half, references[first])
    rows = []
    for solver, grid in COMBINATIONS:
        for nfe in cfg["solver_nfes"]:
            err, acc = [], []
            for seed in cfg["seeds"]:
                images = sample(denoiser, labels, scale, nfe, solver, grid, seed)
                err.append(rms(images, references[seed]))
                acc.append(accuracy_pct(judge_net, images, labels))
            runs[solver, grid, nfe] = dict(err=err, accuracy_pct=acc)
            rows.append(dict(solver=solver, grid=grid, nfe=nfe, steps=steps_for(solver, nfe),
                             err=stats.cell(err), accuracy_pct=stats.cell(acc)))  # fmt: skip
    return rows, dict(runs=runs, reference_nfe=ref_nfe, reference_check=check)


@torch.no_grad()
def wiggles(denoiser, image, label: int, t0: float, half: float = 0.05, n: int = 401) -> dict:
    """The class-conditional x0_hat along t at one fixed x (image (C, H, W) noised to t0), at n
    times in [t0 - half, t0 + half]: {"ts", "x0_hat" (n, pixels), "trend" (the cubic fit in t),
    "wiggle": the RMS residual from it, "change": the fit's RMS change over the window,
    "frequency": the residual's strongest angular frequency, in rad per unit t}."""
    sde, t = denoiser.sde, torch.tensor(t0)
    eps = torch.randn(image.shape, generator=torch.Generator().manual_seed(0))
    x = (sde.alpha(t) * image + sde.sigma(t) * eps).expand(n, *image.shape)
    ts = torch.linspace(t0 - half, t0 + half, n)
    x0_hat = denoiser(x, ts, torch.full((n,), label)).flatten(1).double()
    powers = torch.stack([((ts.double() - t0) / half) ** k for k in range(4)], dim=1)
    trend = powers @ torch.linalg.lstsq(powers, x0_hat).solution
    residual = x0_hat - trend
    power = torch.fft.rfft(residual, dim=0).abs().square().mean(1)
    omega = 2 * torch.pi * torch.fft.rfftfreq(n, d=2 * half / (n - 1))
    return dict(ts=ts, x0_hat=x0_hat, trend=trend, wiggle=residual.square().mean().sqrt().item(),
                change=(trend - trend.mean(0)).square().mean().sqrt().item(),
                frequency=omega[1 + power[1:].argmax()].item())  # fmt: skip


def solver_claims(raw: dict) -> list[dict]:
    """Heun vs DDIM on the same grid, paired over the sampling seeds (raw: solver_table's)."""
    runs, nfes = raw["runs"], sorted({n for _, _, n in raw["runs"]})

    def gap(grid, nfe):  # Heun - DDIM, paired by seed
        return stats.paired(runs["DDIM", grid, nfe]["err"], runs["Heun", grid, nfe]["err"])

    def ratios(solver, grid):  # per seed: how much the error falls over the last NFE doubling
        a, b = (runs[solver, grid, n]["err"] for n in nfes[-2:])
        return [x / y for x, y in zip(a, b)]

    def faster(grid):  # Heun's ratio above DDIM's, paired by seed
        d = stats.paired(ratios("DDIM", grid), ratios("Heun", grid))
        return d.diff > 0 and d.verdict == "distinguishable"

    few, last = [n for n in nfes if n <= 9], f"{nfes[-2]} -> {nfes[-1]} NFE"
    worse = all(gap(g, n).diff > 0 and gap(g, n).verdict == "distinguishable"
                for g in GRIDS for n in few)  # fmt: skip
    return [
        report.claim("Heun at <= 9 NFE is worse than DDIM on both grids (its grainy digits)", worse,
                     "Heun's error above DDIM's, paired, distinguishable",
                     **{f"{g}@{n}": str(gap(g, n)) for g in GRIDS for n in few}),
        report.claim(f"On the Karras grid Heun's error falls faster than DDIM's ({last})",
                     faster("Karras"), "Heun's error ratio above DDIM's, paired, distinguishable",
                     heun=stats.cell(ratios("Heun", "Karras")),
                     ddim=stats.cell(ratios("DDIM", "Karras")),
                     gap_at_most=str(gap("Karras", nfes[-1]))),
        report.claim(f"On the uniform grid Heun's error falls no faster than DDIM's ({last})",
                     not faster("uniform"), "Heun's error ratio not distinguishably above DDIM's",
                     heun=stats.cell(ratios("Heun", "uniform")),
                     ddim=stats.cell(ratios("DDIM", "uniform")),
                     gap_at_most=str(gap("uniform", nfes[-1]))),
    ]  # fmt: skip
