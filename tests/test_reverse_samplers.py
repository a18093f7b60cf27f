"""Lesson 02's experiment: its NFE accounting counts real denoiser calls, and its grids match."""

import pytest
import torch

from minidiff import sde as processes
from minidiff.data import toy2d
from minidiff.experiments import reverse_samplers as bench


@pytest.mark.parametrize("name", list(bench.SAMPLERS))
@pytest.mark.parametrize("grid", bench.GRIDS)
def test_nfe_of_counts_the_denoiser_calls(name, grid):
    mix, vp = toy2d.grid(dtype=torch.float64), processes.VP()
    calls = []

    def counted(x, t):
        calls.append(1)
        return mix.denoiser(vp)(x, t)

    sample, _ = bench.SAMPLERS[name]
    x1 = vp.prior_sample((8, 2), generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    for steps in (1, 3, 8):
        calls.clear()
        sample(counted, vp, x1, bench.time_grid(vp, grid, steps), torch.Generator())
        assert len(calls) == bench.nfe_of(name, steps), (name, grid, steps)


@pytest.mark.parametrize("sde", [processes.VP(), processes.Flow()], ids=repr)
def test_grids_span_the_same_times(sde):
    """Both grids run from t = 1 to t = 0 in `steps` decreasing steps; only the spacing differs."""
    for grid in bench.GRIDS:
        if grid == "Karras" and isinstance(sde, processes.Flow):
            continue  # sigma/alpha is infinite at the flow's t = 1: the lesson uses uniform
        ts = bench.time_grid(sde, grid, 16)
        assert len(ts) == 17 and (ts[1:] < ts[:-1]).all()
        torch.testing.assert_close(ts[[0, -1]], torch.tensor([1.0, 0.0], dtype=ts.dtype))


def test_nfe_of_rejects_an_unknown_sampler():
    with pytest.raises(ValueError, match="name: expected one of"):
        bench.nfe_of("PF-ODE Heun", 4)
