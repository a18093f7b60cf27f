"""Noise in measured results: mean ± sd over seeds, and whether a difference is distinguishable.

A lesson comparing trained models repeats each over >= 3 training seeds (and sampling seeds) and
says "distinguishable" only when the spreads allow it: a two-sided t-test at 5 % (Welch's for
independent results, the paired one for results that share their seeds, where the seed-to-seed
spread cancels), with Student's t quantiles from a table (no scipy). For groups of 3 from one
distribution, at most about 5 % of comparisons come out "distinguishable" (tests/test_stats.py).
"""

import math
from dataclasses import dataclass

from .checks import check_float, check_int, describe


def _values(name: str, values) -> list[float]:
    """values as a list of >= 2 finite floats (a spread needs two)."""
    if not hasattr(values, "__len__") or len(values) < 2:
        raise ValueError(f"{name}: expected >= 2 values (one per seed), got {describe(values)}")
    return [check_float(f"{name}[{i}]", float(v)) for i, v in enumerate(values)]


@dataclass(frozen=True)
class Spread:
    """mean, sample sd (n - 1) and standard error of the mean of n values."""

    mean: float
    sd: float
    n: int

    @property
    def se(self) -> float:
        return self.sd / math.sqrt(self.n)

    def __str__(self) -> str:
        return f"{self.mean:.4g} ± {self.sd:.2g} (n={self.n})"


def spread(values, name: str = "values") -> Spread:
    """mean ± sd over seeds: Spread(mean, sd, n) of >= 2 values."""
    xs = _values(name, values)
    mean = sum(xs) / len(xs)
    sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / (len(xs) - 1))
    return Spread(mean, sd, len(xs))


def cell(values, digits: int = 3) -> str:
    """mean ± sd over seeds for a table cell: the mean to `digits` significant digits, the sd
    to 2."""
    s = spread(values)
    return f"{s.mean:.{digits}g} ± {s.sd:.2g}"


@dataclass(frozen=True)
class Difference:
    """b - a, its standard error and the verdict ("distinguishable" or "not distinguishable")."""

    diff: float
    se: float
    verdict: str

    def __str__(self) -> str:
        return f"{self.diff:+.3g} ± {self.se:.2g}: {self.verdict}"

    def beyond(self, sign: int) -> bool:
        """b - a is distinguishable from 0 with the sign `sign` (+1: b above a, -1: below)."""
        return self.verdict == "distinguishable" and sign * self.diff > 0


# Student's t, 97.5 % quantile, by degrees of freedom (a fractional df takes the row below it)
T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306,
        9: 2.262, 10: 2.228, 12: 2.179, 15: 2.131, 20: 2.086, 30: 2.042, 60: 2.000}  # fmt: skip


def t975(df: float) -> float:
    """The two-sided 5 % critical value of Student's t with df degrees of freedom (>= 1)."""
    rows = [k for k in T975 if k <= df]
    return 1.96 if df > 120 else T975[max(rows)] if rows else T975[1]


def _verdict(diff: float, se: float, df: float) -> Difference:
    distinguishable = se == 0 and diff != 0 or se > 0 and abs(diff) > t975(df) * se
    return Difference(diff, se, "distinguishable" if distinguishable else "not distinguishable")


def difference(a, b) -> Difference:
    """b - a for independent results (lists over seeds), by Welch's t-test at 5 %."""
    sa, sb = spread(a, "a"), spread(b, "b")
    va, vb = sa.se**2, sb.se**2
    se = math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (sa.n - 1) + vb**2 / (sb.n - 1)) if se > 0 else 1.0
    return _verdict(sb.mean - sa.mean, se, df)


def paired(a, b) -> Difference:
    """b - a for results that share their seeds (a[i] and b[i] used seed i), by the paired
    t-test at 5 % on the differences b[i] - a[i]."""
    if not hasattr(a, "__len__") or not hasattr(b, "__len__") or len(a) != len(b):
        raise ValueError(f"b: expected one value per seed of a ({describe(a)}), got {describe(b)}")
    d = spread([y - x for x, y in zip(_values("a", a), _values("b", b))], "b - a")
    return _verdict(d.mean, d.se, d.n - 1)


def plateaued(values, window: int = 3) -> bool:
    """Whether a learning curve (a metric at increasing training steps; noisy, e.g. one value
    per evaluation) has reached its plateau: its last `window` values are not distinguishable
    (Welch, 5 %) from the `window` before them. A claim about a trained model is made on the
    plateau, or the lesson says the model has not converged."""
    window = check_int("window", window, 2)
    xs = _values("values", values)
    if len(xs) < 2 * window:
        raise ValueError(f"values: expected >= 2 windows ({2 * window} values) of the curve, "
                         f"got {len(xs)}")  # fmt: skip
    before, last = xs[-2 * window : -window], xs[-window:]
    return difference(before, last).verdict == "not distinguishable"


def log_log_slope(xs, ys) -> float:
    """Least-squares slope of log(ys) on log(xs): the exponent a of ys ~ xs^a (a convergence
    order, a cost's growth with size)."""
    pairs = list(zip(_values("xs", xs), _values("ys", ys)))
    if len(pairs) != len(xs) or len(pairs) != len(ys) or min(min(p) for p in pairs) <= 0:
        raise ValueError(f"xs, ys: expected as many positive values each, got {describe(xs)} "
                         f"and {describe(ys)}")  # fmt: skip
    lx, ly = [math.log(x) for x, _ in pairs], [math.log(y) for _, y in pairs]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    return sum((x - mx) * (y - my) for x, y in zip(lx, ly)) / sum((x - mx) ** 2 for x in lx)
