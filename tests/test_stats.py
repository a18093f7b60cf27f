"""minidiff.stats: spreads over seeds against closed forms, and the verdict's error rates measured
on synthetic draws (about 5 % false "distinguishable", none for a large shift)."""

import math
import random
import re

import pytest

from minidiff import stats


def test_spread_is_mean_and_sample_sd():
    s = stats.spread([1.0, 2.0, 3.0, 6.0])
    assert s.mean == 3.0 and s.n == 4
    assert s.sd == pytest.approx(math.sqrt((4 + 1 + 0 + 9) / 3))
    assert s.se == pytest.approx(s.sd / 2)
    assert str(s) == "3 ± 2.2 (n=4)"


def test_cell_is_mean_and_sample_sd_rounded():
    assert stats.cell([1.0, 2.0, 3.0]) == "2 ± 1"
    assert stats.cell([0.12345, 0.12355], digits=4) == "0.1235 ± 7.1e-05"


def test_t_quantiles_match_known_values():
    assert stats.t975(2) == 4.303 and stats.t975(4.7) == 2.776 and stats.t975(1000) == 1.96


def false_positive_rate(compare, n=3, trials=2000, shift=0.0) -> float:
    rng = random.Random(0)
    hits = 0
    for _ in range(trials):
        a = [rng.gauss(0, 1) for _ in range(n)]
        b = [rng.gauss(shift, 1) for _ in range(n)]
        hits += compare(a, b).verdict == "distinguishable"
    return hits / trials


@pytest.mark.parametrize("compare", [stats.difference, stats.paired])
def test_one_distribution_is_rarely_called_distinguishable(compare):
    assert 0.01 <= false_positive_rate(compare) <= 0.08  # nominal 5 %


@pytest.mark.parametrize("compare", [stats.difference, stats.paired])
def test_a_large_shift_is_always_distinguishable(compare):
    assert false_positive_rate(compare, shift=20.0, trials=200) == 1.0


def test_beyond_needs_both_the_verdict_and_the_direction():
    up = stats.difference([1.0, 1.1, 0.9], [5.0, 5.1, 4.9])  # b far above a
    flat = stats.difference([1.0, 2.0, 3.0], [1.5, 2.5, 3.5])  # within the spread
    assert up.beyond(+1) and not up.beyond(-1)
    assert not flat.beyond(+1) and not flat.beyond(-1)


def test_paired_cancels_the_spread_the_seeds_share():
    seeds = [10.0, -4.0, 3.0, 25.0]  # a large seed effect, the same in a and b
    a, b = seeds, [x + 0.5 + e for x, e in zip(seeds, [0.01, -0.02, 0.015, -0.005])]
    assert stats.paired(a, b).verdict == "distinguishable"
    assert stats.difference(a, b).verdict == "not distinguishable"


BAD = [
    (lambda: stats.spread([1.0]), "values"),
    (lambda: stats.spread([1.0, float("nan")]), "values[1]"),
    (lambda: stats.difference([1.0, 2.0], 3.0), "b"),
    (lambda: stats.paired([1, 2], [1, 2, 3]), "b"),
]


@pytest.mark.parametrize("call, argument", BAD)
def test_bad_input_is_named(call, argument):
    with pytest.raises(ValueError, match=f"^{re.escape(argument)}:"):
        call()


def test_a_plateau_is_recognised_and_a_descent_is_not():
    rng = random.Random(1)
    steps = range(0, 2000, 100)
    decayed = [1 + math.exp(-s / 100) + rng.gauss(0, 0.01) for s in steps]  # flat by step 1000
    descending = [2 - s / 1000 + rng.gauss(0, 0.01) for s in steps]  # still falling linearly
    assert stats.plateaued(decayed) and not stats.plateaued(descending)
    with pytest.raises(ValueError, match="^values:"):
        stats.plateaued(decayed[:5])


def test_log_log_slope_recovers_a_power_law_and_refuses_non_positive_values():
    xs = [1.0, 2.0, 4.0, 8.0]
    assert stats.log_log_slope(xs, [3.0 * x**1.5 for x in xs]) == pytest.approx(1.5)
    assert stats.log_log_slope(xs, [2.0 / x for x in xs]) == pytest.approx(-1.0)
    with pytest.raises(ValueError, match="xs, ys: expected as many positive values"):
        stats.log_log_slope(xs, [1.0, 0.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="xs, ys: expected as many positive values"):
        stats.log_log_slope(xs, [1.0, 2.0])
