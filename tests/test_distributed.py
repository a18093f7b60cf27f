"""train.fit under torchrun: 2 CPU ranks (gloo) take the step of one process at the full batch."""

import os
import subprocess
import sys

import pytest
import torch

from minidiff import train
from minidiff.nets.mlp import MLP

SCRIPT = """
import os, sys, torch
from minidiff import distributed, train
from minidiff.nets.mlp import MLP

def regression(model, x, y, generator):  # no noise: one rank's half-batch mean is exact
    return (model(x, torch.full((len(x),), 0.3)) - y).square().mean()

torch.manual_seed(7 + int(os.environ["RANK"]))  # the ranks start apart: fit syncs them
model, (x, y) = MLP(hidden=16, depth=2), torch.load(sys.argv[1])
kind, batch = sys.argv[3], int(sys.argv[4])
def noisy(model, x, y, generator):  # each rank draws its own noise
    return regression(model, x + 0.1 * torch.randn(x.shape, generator=generator), y, generator)

loss_fn = regression if kind == "regression" else noisy
history = train.fit(model, loss_fn, (x, y), steps=30, batch_size=batch, lr=1e-2, log_every=10,
                    generator=torch.Generator().manual_seed(5))
rank = distributed.world()[0]
torch.save((model.state_dict(), history.ema.model.state_dict(), history.loss),
           f"{sys.argv[2]}-{rank}.pt")
"""


def data():
    x = torch.randn(512, 2, generator=torch.Generator().manual_seed(0))
    return x, torch.sin(3 * x)


def torchrun(tmp_path, kind, batch):
    (tmp_path / "run.py").write_text(SCRIPT)
    torch.save(data(), tmp_path / "data.pt")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    args = ["--standalone", "--nproc_per_node=2", str(tmp_path / "run.py")]
    args += [str(tmp_path / "data.pt"), str(tmp_path / "out"), kind, str(batch)]
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", *args], env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip


def regression(model, x, y, generator):
    return (model(x, torch.full((len(x),), 0.3)) - y).square().mean()


def test_two_ranks_equal_one_process_at_the_full_batch(tmp_path):
    run = torchrun(tmp_path, "regression", 64)
    assert run.returncode == 0, run.stderr[-3000:]
    torch.manual_seed(7)
    model = MLP(hidden=16, depth=2)
    history = train.fit(model, regression, data(), steps=30, batch_size=64, lr=1e-2, log_every=10,
                        generator=torch.Generator().manual_seed(5))  # fmt: skip
    for rank in (0, 1):
        weights, ema_weights, losses = torch.load(tmp_path / f"out-{rank}.pt")
        for name, value in model.state_dict().items():
            torch.testing.assert_close(weights[name], value, rtol=1e-4, atol=1e-6)
            torch.testing.assert_close(ema_weights[name], history.ema.model.state_dict()[name],
                                       rtol=1e-4, atol=1e-6)  # fmt: skip
        torch.testing.assert_close(torch.tensor(losses), torch.tensor(history.loss), rtol=1e-4,
                                   atol=1e-6)  # fmt: skip


def test_ranks_stay_identical_with_a_noisy_loss(tmp_path):
    run = torchrun(tmp_path, "dsm", 64)
    assert run.returncode == 0, run.stderr[-3000:]
    first, second = (torch.load(tmp_path / f"out-{rank}.pt") for rank in (0, 1))
    for name, value in first[0].items():
        assert torch.equal(second[0][name], value), name


@pytest.mark.parametrize("batch", [7])
def test_a_batch_the_ranks_cannot_split_is_refused(tmp_path, batch):
    run = torchrun(tmp_path, "regression", batch)
    assert run.returncode != 0
    assert "batch_size: 7 does not split over 2 torchrun ranks; use a multiple of 2" in run.stderr
