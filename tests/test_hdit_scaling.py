"""Lesson 09's cost study: one block's FLOPs against the formula the lesson derives (global
attention n^2, neighbourhood attention n k^2), HDiT gains one local level per doubling of the
side, the log-log slope recovers known exponents, and the claims follow their figures."""

import pytest
import torch

from minidiff import profile
from minidiff.experiments import hdit_scaling as bench
from minidiff.nets import hdit_blocks


class OneBlock(torch.nn.Module):
    def __init__(self, block):
        super().__init__()
        self.block = block

    def forward(self, x, cond):
        return self.block(x, cond)


@pytest.mark.parametrize("kernel", [None, 3])
def test_a_block_costs_its_projections_plus_its_attention(kernel):
    side, dim, cond_dim, head_dim = 8, 32, 64, 16
    n = side * side
    block = hdit_blocks.Block(dim, head_dim, cond_dim, kernel, backend="windows")
    x, cond = torch.randn(1, side, side, dim), torch.randn(1, cond_dim)
    norms = 2 * (2 * cond_dim * dim)  # two AdaRMSNorms: Linear(cond) -> scale
    projections = 2 * n * dim * 3 * dim + 2 * n * dim * dim  # qkv, out
    ffn = 2 * n * dim * 2 * 3 * dim + 2 * n * 3 * dim * dim  # GEGLU up (value and gate), down
    keys = n if kernel is None else kernel**2  # per query
    attention = 2 * (2 * n * keys * dim)  # q k^T and weights v, all heads together
    assert profile.flops(OneBlock(block), x, cond) == norms + projections + ffn + attention


def test_hdit_gains_one_local_level_per_doubling():
    for side, local in [(16, 0), (32, 1), (64, 2), (256, 4)]:
        kernels = [lv.kernel for lv in bench.hdit_at(side).levels]
        assert kernels == [bench.KERNEL] * local + [None]


def test_slope_fits_only_the_sides_asked_for():
    costs = {16: 100.0, 32: 1.0, 64: 4.0, 128: 16.0}  # ~ pixels from 32 on; 16 is off the line
    rows = [dict(side=s, pixels=s * s, cost=c) for s, c in costs.items()]
    assert bench.slope(rows, "cost", (32, 128)) == pytest.approx(1.0)
    assert bench.slope(rows, "cost") < 0.5


def test_claims_follow_the_figures():
    def verdicts(hdit, dit, ratio):
        f = dict(flops_slope=dict(HDiT=hdit, DiT=dit), ms_slope=dict(HDiT=1.0, DiT=1.5),
                 flops_ratio_128=ratio)  # fmt: skip
        return [c["holds"] for c in bench.claims(dict(figures=f))]

    assert verdicts(1.0, 1.9, 30) == [True, True, True]
    assert verdicts(1.3, 1.5, 5) == [False, False, False]


def test_the_counted_table_is_consistent():
    rows = bench.counted(sides=(32, 64))
    assert [r["side"] for r in rows] == [32, 64]
    assert (
        rows[1]["DiT_GFLOPs"] / rows[0]["DiT_GFLOPs"]
        > rows[1]["HDiT_GFLOPs"] / rows[0]["HDiT_GFLOPs"]
    )
    assert rows[0]["DiT_params_k"] == pytest.approx(rows[0]["HDiT_params_k"], rel=0.1)  # matched


def test_the_fast_run_fits_every_slope():
    figures = bench.run(fast=True)["figures"]
    slopes = [*figures["flops_slope"].values(), *figures["ms_slope"].values(),
              *figures["peak_slope"].values()]  # fmt: skip
    assert all(0 < s < 3 for s in slopes)
