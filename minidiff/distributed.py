"""Data-parallel training under torchrun: the ranks split each minibatch and average gradients.

`torchrun --nproc_per_node=N script.py` sets RANK, WORLD_SIZE and LOCAL_RANK; train.fit then joins
the process group (gloo on the CPU, nccl on CUDA). Every rank draws the same minibatch indices from
the shared generator, so the generators stay in step, and takes its contiguous 1/N of them; the
loss's noise comes from a per-rank generator seeded anew at each step. Gradients
and the loss are averaged in one all-reduce, so with a noise-free loss N ranks take exactly the
step of one process at the full batch (to float rounding). Rank 0 saves checkpoints.
"""

import os

import torch
import torch.distributed as dist
from torch import nn


def world() -> tuple[int, int]:
    """(rank, number of ranks): (0, 1) outside torchrun."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def setup(model: nn.Module, batch_size: int) -> int:
    """Join torchrun's process group if launched by it, give every rank rank 0's weights, check
    that batch_size splits evenly; returns this process's rank."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        device = next(model.parameters()).device
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    rank, size = world()
    if batch_size % size:
        raise ValueError(
            f"batch_size: {batch_size} does not split over {size} torchrun ranks; "
            f"use a multiple of {size}"
        )
    if size > 1:
        for tensor in [*model.parameters(), *model.buffers()]:
            dist.broadcast(tensor.data, src=0)
    return rank


def shard(idx: torch.Tensor, generator: torch.Generator, step: int):
    """This rank's share of the minibatch indices, and the generator for its loss's noise: seeded
    by (the shared generator's seed, step, rank), so the shared one is drawn from as by one
    process, and a resumed run draws the same noise."""
    rank, size = world()
    if size == 1:
        return idx, generator
    seed = (generator.initial_seed() * 1_000_003 + step * size + rank) % 2**63
    return idx.chunk(size)[rank], torch.Generator().manual_seed(seed)


def average_gradients(model: nn.Module, loss: torch.Tensor) -> torch.Tensor:
    """Mean of the gradients and of the loss over the ranks, in one flat all-reduce; the loss."""
    size = world()[1]
    if size == 1:
        return loss
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    flat = torch.cat([loss.reshape(1).to(grads[0].dtype), *(g.reshape(-1) for g in grads)])
    dist.all_reduce(flat)
    flat /= size
    parts = flat[1:].split([g.numel() for g in grads])
    torch._foreach_copy_(grads, [part.view_as(g) for part, g in zip(parts, grads)])
    return flat[0]


def barrier() -> None:
    """Wait for every rank (a no-op outside torchrun): e.g. until rank 0 has saved."""
    if world()[1] > 1:
        dist.barrier()
