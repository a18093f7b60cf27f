"""Argument checks shared by the samplers and likelihood.py, run once at a sampler's start.

Built on minidiff/checks.py: each raises a TypeError or ValueError naming the argument, showing
the value received and saying what would work.
"""

import inspect

import numpy as np
import torch

from .. import schedules
from ..checks import (
    check_callable,
    check_generator,
    check_instance,
    check_signature,
    check_tensor,
    describe,
)
from ..sde import SDE

DENOISER = "a denoiser(x, t) -> x0_hat, e.g. targets.Denoiser(net, sde)"


def check_grid(ts, decreasing: bool | None = True) -> torch.Tensor:
    """ts as a checked 1-D tensor of times; decreasing=None: either direction (generic solvers)."""
    if not isinstance(ts, torch.Tensor | np.ndarray | list | tuple):
        raise TypeError(f"ts: expected a 1-D grid of times, e.g. schedules.uniform(50), "
                        f"got {describe(ts)}")  # fmt: skip
    ts = torch.as_tensor(ts)
    if decreasing is None:  # the direction of the grid, if it has one
        decreasing = not (ts.ndim == 1 and len(ts) > 1 and bool(ts[0] < ts[-1]))
    return schedules.check_times(ts, decreasing=decreasing)


def check_solver_args(velocity, x, ts, generator=None, name="velocity", finite=True):
    """A generic solver's arguments (velocity or drift callable, start x, a grid in either
    direction, generator); returns ts as a tensor. finite=False skips x's NaN/inf check."""
    check_callable(name, velocity, f"a function {name}(x, t)")
    check_tensor("x", x, finite=finite)
    check_generator("generator", generator)
    return check_grid(ts, decreasing=None)


def check_sampler_args(denoiser, sde, x, ts, generator=None, *, decreasing=True, min_ndim=1,
                       finite=True) -> torch.Tensor:  # fmt: skip
    """The arguments every sampler shares, checked once at its start; returns ts as a tensor.
    finite=False skips x's NaN/inf check (one pass over x, and a host sync on a GPU)."""
    check_callable("denoiser", denoiser, DENOISER)
    check_instance("sde", sde, SDE, "sde.VP()")
    check_tensor("x", x, min_ndim=min_ndim, finite=finite)
    check_generator("generator", generator)
    return check_grid(ts, decreasing)


def check_solver(solver) -> None:
    """solver must be an ODE solver solver(velocity, x, ts, progress), not a sampler."""
    expected = "an ODE solver solver(velocity, x, ts, progress), e.g. samplers.heun"
    check_signature("solver", solver, None, None, None, False, expected=expected)
    try:
        first = list(inspect.signature(solver).parameters)[:1]
    except (TypeError, ValueError):  # a builtin: nothing to check
        return
    if first == ["denoiser"]:
        name = getattr(solver, "__name__", "a sampler")
        raise TypeError(f"solver: expected {expected}, got {name}, a sampler of a denoiser; "
                        "call it directly instead")  # fmt: skip


def check_output(name: str, out, like: torch.Tensor) -> torch.Tensor:
    """What the user's function `name` returned, if it is a tensor shaped like `like` (a check of
    metadata only: it runs at every step)."""
    if not torch.is_tensor(out) or out.shape != like.shape:
        raise ValueError(f"{name}: returned {describe(out)}, expected a tensor of shape "
                         f"{tuple(like.shape)}")  # fmt: skip
    return out
