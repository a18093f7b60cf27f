"""2-D sample metrics against closed forms, and the report format benchmarks rely on."""

import json
import math

import pytest
import torch

from minidiff import metrics, report


def gaussian(n, mean, std, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.tensor(mean, dtype=torch.float64) + std * torch.randn(n, 2, generator=g).double()


def test_sliced_wasserstein_of_a_shift():
    """A shift by m gives W_2^2(theta) = (theta . m)^2, so SW_2^2 = |m|^2 / d for random theta."""
    x = gaussian(1000, [0.0, 0.0], 1.0, 0)  # a pure shift: exact for any sample
    y = x + torch.tensor([3.0, 0.0], dtype=torch.float64)
    sw = metrics.sliced_wasserstein(
        x, y, projections=2000, generator=torch.Generator().manual_seed(1)
    )
    assert abs(sw - (9 / 2) ** 0.5) < 0.05


def test_sliced_wasserstein_same_distribution_is_small_and_handles_unequal_sizes():
    x, y = gaussian(5000, [0, 0], 1.0, 0), gaussian(3000, [0, 0], 1.0, 1)
    assert metrics.sliced_wasserstein(x, y) < 0.05
    assert metrics.sliced_wasserstein(x, y + 1) > 0.9


def test_mmd_unbiased_near_zero_and_grows_with_shift():
    x, y = gaussian(1500, [0, 0], 1.0, 0), gaussian(1500, [0, 0], 1.0, 1)
    same = metrics.mmd_rbf(x, y)
    assert abs(same) < 3e-3
    assert metrics.mmd_rbf(x, y + 0.5) > metrics.mmd_rbf(x, y + 0.2) > 10 * abs(same)


def test_mode_coverage():
    means = torch.tensor([[0.0, 0.0], [5.0, 0.0], [0.0, 5.0]], dtype=torch.float64)
    x = torch.cat(
        [
            gaussian(500, [0, 0], 0.1, 0),
            gaussian(500, [5, 0], 0.1, 1),
            torch.full((100, 2), 20.0, dtype=torch.float64),
        ]
    )
    coverage, precision = metrics.mode_coverage(x, means, 0.1)
    inside = 1 - math.exp(-(3.0**2) / 2)  # P(|z| <= 3) for a 2-D standard normal (chi, 2 dof)
    assert coverage == pytest.approx(2 / 3) and precision == pytest.approx(
        1000 * inside / 1100, abs=0.01
    )


def test_metric_inputs_validated():
    with pytest.raises(ValueError, match=r"y: expected the dtype and dim of x \(torch.float32"):
        metrics.sliced_wasserstein(torch.zeros(5, 2), torch.zeros(5, 3))
    with pytest.raises(ValueError, match="y: expected the dtype and dim of x"):
        metrics.mmd_rbf(torch.zeros(5, 2), torch.zeros(5, 2, dtype=torch.float64))
    with pytest.raises(ValueError, match="bandwidth"):
        metrics.mmd_rbf(torch.zeros(5, 2), torch.zeros(5, 2), bandwidth=0)


def test_report_table_and_json_line():
    rows = [
        {"sampler": "heun", "NFE": 8, "SW": 0.123456},
        {"sampler": "euler", "NFE": 16, "SW": 1.5},
    ]
    table = report.markdown_table(rows, digits=3).splitlines()
    assert table[0] == "| sampler | NFE | SW |" and table[2] == "| heun | 8 | 0.123 |"
    line = report.json_line("demo", {"sw": 0.1234567891, "per": {"a": 1.0}})
    assert json.loads(line) == {"benchmark": "demo", "sw": 0.123457, "per": {"a": 1.0}}
    assert "\n" not in line
    with pytest.raises(ValueError, match="rows"):
        report.markdown_table([])


def test_benchmark_main_prints_tables_then_one_json_line(capsys):
    def run(fast):
        return dict(rows=[{"n": 1 if fast else 2}], more=[{"k": "v"}], figures={"fast": fast})

    out = report.benchmark_main("demo", run, tables=("rows", "more"), argv=["--fast"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert out["figures"] == {"fast": True}
    assert lines[0] == "| n |" and lines[2] == "| 1 |" and "| k |" in lines
    assert json.loads(lines[-1]) == {"benchmark": "demo", "fast": True}


def test_benchmark_main_prints_claim_lines_before_the_json_line(capsys):
    def run(fast):
        return dict(rows=[{"n": 1}], figures={"gap": 0.5})

    def claims(out):
        report.claim("gap small", out["figures"]["gap"] < 1, "gap < 1", gap=out["figures"]["gap"])

    report.benchmark_main("demo", run, argv=[], claims=claims)
    lines = capsys.readouterr().out.strip().splitlines()
    assert report.CLAIM.match(lines[-2])["mark"] == "✓"
    assert json.loads(lines[-1]) == {"benchmark": "demo", "gap": 0.5}
