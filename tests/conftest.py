"""Shared test set-up: a seeded, deterministic run per test and the `slow` / `gpu` tiers."""

import os
import random

import numpy as np
import pytest
import torch


@pytest.fixture(autouse=True)
def _seed_everything():
    """Seed every global RNG and restore global torch state afterwards.

    The library itself never touches global RNGs (it takes generators); this keeps tests that use
    `torch.randn` for their inputs reproducible and independent of test order. One torch thread:
    the tests' tensors are tiny, and on a busy 2-core machine a second OpenMP thread made small
    training steps 10-30x slower.
    """
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    dtype = torch.get_default_dtype()
    deterministic = torch.are_deterministic_algorithms_enabled()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True, warn_only=True)
    yield
    torch.use_deterministic_algorithms(deterministic)
    torch.set_default_dtype(dtype)
    torch.set_num_threads(threads)


def pytest_collection_modifyitems(config, items):
    run_slow = os.environ.get("MINIDIFF_SLOW") == "1"
    has_cuda = torch.cuda.is_available()
    skip_slow = pytest.mark.skip(reason="slow test: set MINIDIFF_SLOW=1 to run")
    skip_gpu = pytest.mark.skip(reason="needs CUDA")
    for item in items:
        if "slow" in item.keywords and not run_slow:
            item.add_marker(skip_slow)
        if "gpu" in item.keywords and not has_cuda:
            item.add_marker(skip_gpu)
