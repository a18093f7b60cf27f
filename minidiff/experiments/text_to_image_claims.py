"""Lesson 05's claims, from text_to_image.run()'s per-seed values. One trained model sampled with
several seeds: every difference is the sampler's, decided by the paired t-test over the seeds."""

from minidiff import report, stats

CHANCE = 100 / 18  # % of shape + colour right by luck: 3 shapes x 6 colours


def values(per_seed: list[dict], key: str) -> list[float]:
    return [s[key] for s in per_seed]


def moved(a: list, b: list, sign: int) -> tuple[bool, str]:
    """(b above a (sign 1) or below it (-1), distinguishable by the paired test), b - a."""
    d = stats.paired(a, b)
    return d.beyond(sign), str(d)


def guidance_claims(raw: dict) -> list[dict]:
    """Chance at w = 0; shape and colour at w >= 2; size and position too; FD's rise."""
    g, n = raw["guidance"], raw["n"] * len(raw["guidance"][0])
    top, chosen = max(g), 3
    best = min(g, key=lambda s: stats.spread(values(g[s], "fd")).mean)
    chance = values(g[0], "shape_colour_pct")
    se = 100 * (CHANCE / 100 * (1 - CHANCE / 100) / n) ** 0.5
    strong = [s for s in g if s >= 2]
    lags, lag_text = moved(
        values(g[chosen], "shape_colour_pct"), values(g[chosen], "accuracy_pct"), -1
    )
    fd_rises, fd_text = moved(values(g[best], "fd"), values(g[top], "fd"), 1)
    return [
        report.claim("Without guidance (w = 0) shape and colour come out at chance (1 in 18)",
                     abs(stats.spread(chance).mean - CHANCE) < 3 * se,
                     f"{CHANCE:.3g} % within 3 SE ({se:.2g} %)",
                     shape_colour_pct=stats.cell(chance)),
        report.claim("With guidance w >= 2 the caption's shape and colour are drawn",
                     min(min(values(g[s], "shape_colour_pct")) for s in strong) >= 95,
                     ">= 95 % at every seed and scale w >= 2",
                     **{f"w{s:g}": stats.cell(values(g[s], "shape_colour_pct")) for s in strong}),
        report.claim(f"At w = {chosen} the caption's size and position are followed as well as its "
                     "shape and colour", not lags,
                     "condition accuracy (every attribute) not distinguishably below shape + "
                     "colour accuracy (paired)", every_minus_shape_colour=lag_text),
        report.claim(f"FD rises again at strong guidance: w = {top:g} above w = {best:g} (the "
                     "lowest FD)", fd_rises, "distinguishable (paired) and higher", diff=fd_text),
    ]  # fmt: skip


def diversity_claim(raw: dict) -> dict:
    """Within-caption spread at the largest scale below the smallest."""
    d = {s: v for s, v in raw["diversity"].items() if s != "real"}
    low, high = min(d), max(d)
    falls, text = moved(d[low], d[high], -1)
    return report.claim(f"Guidance trades diversity for alignment: within-caption spread at "
                        f"w = {high:g} below w = {low:g}", falls,
                        "distinguishable (paired) and lower", diff=text,
                        real=round(raw["diversity"]["real"], 3))  # fmt: skip


def threshold_claims(raw: dict) -> list[dict]:
    """At the highest scale: backgrounds without thresholding; dynamic vs none."""
    t, g = raw["thresholding"], raw["guidance"]
    top = max(s for s, _ in t)
    darker, dark_text = moved(values(g[3], "grey_pct"), values(t[top, "none"], "grey_pct"), -1)
    wins, win_text = moved(*(values(t[top, m], "accuracy_pct") for m in ("none", "dynamic")), 1)
    greyer, grey_text = moved(*(values(t[top, m], "grey_pct") for m in ("none", "dynamic")), 1)
    return [
        report.claim(f"Without thresholding, w = {top:g} saturates backgrounds: fewer are grey "
                     "than at w = 3", darker, "grey share distinguishably lower (paired)",
                     diff=dark_text),
        report.claim(f"Dynamic thresholding beats none at w = {top:g} (Imagen)", wins,
                     "condition accuracy distinguishably higher (paired)", diff=win_text),
        report.claim(f"Dynamic thresholding washes backgrounds grey at w = {top:g}", greyer,
                     "grey share distinguishably above no thresholding's (paired)",
                     diff=grey_text),
    ]  # fmt: skip


def claims(out: dict) -> list[dict]:
    """The lesson's claim lines (printed), from run()'s raw per-seed values."""
    raw = out["raw"]
    return guidance_claims(raw) + [diversity_claim(raw)] + threshold_claims(raw)
