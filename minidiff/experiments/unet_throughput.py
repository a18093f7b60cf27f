"""UNet training throughput: our UNet against diffusers' UNet2DModel of the same parameter count.

Both nets are unconditional 32x32 RGB denoisers with the same layout (ADM/DDPM: ResBlocks per
level, attention at the lower resolutions and in the middle, concatenated skips). Ours puts a
transformer block (self-attention + gated FFN) where diffusers puts a bare attention layer, so
diffusers' widths are chosen by a small grid search to match our parameter count within 5 %.
Measured side by side in one process, same batch, same random data, AdamW step included:
* training throughput (images/s, median over timed steps after warm-up);
* forward FLOPs per image (torch's FlopCounterMode: matmuls, convs and attention only), training
  FLOPs taken as 3x forward (backward ~ 2x forward, Kaplan et al. 2020), and model FLOP
  utilisation MFU = 3 fwd FLOPs x images/s / the machine's measured fp32 matmul peak.

Usage: python -m minidiff.experiments.unet_throughput [--fast] [--threads N]
"""

import argparse
import itertools
import math
import os
import statistics
import time

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from minidiff import report
from minidiff.nets.attention import Block
from minidiff.nets.unet import Stage, UNet

NAME = "unet_throughput"
TOLERANCE = 0.05  # relative parameter-count mismatch allowed between the two nets


def settings(fast: bool) -> dict:
    """Widths per level (32x32, 16x16, 8x8), which levels attend, and the timing budget."""
    if fast:
        return dict(
            widths=(16, 32),
            attention=(False, True),
            num_res_blocks=1,
            num_heads=2,
            norm_groups=4,  # a fine width grid for the search at tiny widths
            batch_size=4,
            warmup=1,
            steps=2,
            peak_size=512,
        )
    return dict(
        widths=(64, 128, 128),
        attention=(False, True, True),
        num_res_blocks=1,
        num_heads=4,
        norm_groups=32,  # diffusers' default GroupNorm, as ours at these widths
        batch_size=16,
        warmup=1,
        steps=5,
        peak_size=2048,
    )


def count_parameters(net: torch.nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def our_unet(widths, attention, num_res_blocks=1, num_heads=4) -> UNet:
    """Our UNet: self-attention transformer blocks (GEGLU FFN, expansion 2) where `attention`."""
    block = Block(num_heads=num_heads, ffn_expansion=2)
    stages = [
        Stage(c, num_res_blocks, attention=block if a else None) for c, a in zip(widths, attention)
    ]
    return UNet(in_channels=3, stages=stages)


def diffusers_unet(widths, attention, num_res_blocks=1, num_heads=4, norm_groups=32):
    """diffusers' UNet2DModel with the same levels; AttnDown/AttnUp blocks where `attention`,
    attention in the middle block, `num_heads` heads at the lowest level."""
    try:
        from diffusers import UNet2DModel  # a benchmark-only reference, never used by minidiff
    except ImportError as error:
        raise ImportError(
            "unet_throughput compares with diffusers' UNet2DModel, which minidiff does not "
            "install: pip install diffusers"
        ) from error

    return UNet2DModel(
        sample_size=32,
        in_channels=3,
        out_channels=3,
        block_out_channels=tuple(widths),
        layers_per_block=num_res_blocks,
        down_block_types=tuple("AttnDownBlock2D" if a else "DownBlock2D" for a in attention),
        up_block_types=tuple("AttnUpBlock2D" if a else "UpBlock2D" for a in attention[::-1]),
        attention_head_dim=widths[-1] // num_heads,
        norm_num_groups=norm_groups,
    )


def matched_widths(widths, attention, num_res_blocks=1, num_heads=4, norm_groups=32) -> tuple:
    """diffusers widths whose parameter count is nearest ours: each distinct width of ours maps to a
    multiple of diffusers' GroupNorm group count in [w, 1.5w] (equal widths stay equal, order kept);
    the candidates are built on the meta device, so the search allocates no memory."""
    target = count_parameters(our_unet(widths, attention, num_res_blocks, num_heads))
    distinct = sorted(set(widths))
    options = [
        range(norm_groups * math.ceil(w / norm_groups), 3 * w // 2 + 1, norm_groups)
        for w in distinct
    ]
    best, best_error = None, math.inf
    for choice in itertools.product(*options):
        if list(choice) != sorted(choice) or choice[-1] % num_heads:
            continue
        candidate = tuple(choice[distinct.index(w)] for w in widths)
        with torch.device("meta"):
            net = diffusers_unet(candidate, attention, num_res_blocks, num_heads, norm_groups)
        n = count_parameters(net)
        if abs(n / target - 1) < best_error:
            best, best_error = candidate, abs(n / target - 1)
    assert best_error <= TOLERANCE, f"no diffusers widths within {TOLERANCE:.0%}: {best_error:.3f}"
    return best


def forward_flops(forward, x: torch.Tensor) -> int:
    """FLOPs of one forward pass (a multiply-add = 2 FLOPs), counted by torch's FlopCounterMode."""
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        forward(x)
    return counter.get_total_flops()


def matmul_peak(size: int = 2048, repeats: int = 5) -> float:
    """The machine's fp32 matmul peak in FLOP/s: median time of `repeats` square (size x size)
    products, after one untimed warm-up."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        torch.mm(a, b)
        times.append(time.perf_counter() - t0)
    return 2 * size**3 / statistics.median(times)


def train_step(forward, parameters, x):
    """A training step (forward, MSE to fixed noise, backward, AdamW) as a closure."""
    optimizer = torch.optim.AdamW(parameters, lr=1e-4)
    eps = torch.randn_like(x)

    def step():
        F.mse_loss(forward(x), eps).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return step


def train_throughputs(steps: dict, batch_size: int, warmup: int, repeats: int) -> dict:
    """name -> images/s from the median step time. The nets take turns step by step, so a
    machine shared with other jobs slows both alike."""
    times = {name: [] for name in steps}
    for i in range(warmup + repeats):
        for name, step in steps.items():
            t0 = time.perf_counter()
            step()
            if i >= warmup:
                times[name].append(time.perf_counter() - t0)
    return {name: batch_size / statistics.median(t) for name, t in times.items()}


def forwards(s: dict, diffusers_widths) -> dict:
    """name -> (module, forward(x)); ours takes t in [0, 1], diffusers int steps in [0, 1000)."""
    shape = (s["widths"], s["attention"], s["num_res_blocks"], s["num_heads"])
    ours = our_unet(*shape)
    theirs = diffusers_unet(diffusers_widths, *shape[1:], norm_groups=s["norm_groups"])

    def ours_forward(x):
        return ours(x, torch.rand(len(x), generator=torch.Generator().manual_seed(0)))

    def theirs_forward(x):
        k = torch.randint(0, 1000, (len(x),), generator=torch.Generator().manual_seed(0))
        return theirs(x, k).sample

    return {
        "minidiff UNet": (ours, ours_forward),
        "diffusers UNet2DModel": (theirs, theirs_forward),
    }


def row(name, net, widths, flops: int, images_per_s: float, peak: float) -> dict:
    """One table row; training FLOPs = 3 x forward FLOPs, MFU = training FLOP/s / peak."""
    return dict(
        model=name,
        widths="-".join(map(str, widths)),
        params_M=count_parameters(net) / 1e6,
        fwd_GFLOP_per_image=flops / 1e9,
        train_images_per_s=images_per_s,
        train_GFLOP_per_s=3 * flops * images_per_s / 1e9,
        MFU=3 * flops * images_per_s / peak,
    )


def run(fast: bool = False) -> dict:
    s = settings(fast)
    torch.manual_seed(0)
    shape = (s["widths"], s["attention"], s["num_res_blocks"], s["num_heads"])
    widths = matched_widths(*shape, s["norm_groups"])
    models = forwards(s, widths)
    x = torch.randn(s["batch_size"], 3, 32, 32, generator=torch.Generator().manual_seed(1))
    peak = matmul_peak(s["peak_size"])
    steps = {name: train_step(f, net.parameters(), x) for name, (net, f) in models.items()}
    speeds = train_throughputs(steps, len(x), s["warmup"], s["steps"])
    rows = [
        row(name, net, w, forward_flops(forward, x[:1]), speeds[name], peak)
        for (name, (net, forward)), w in zip(models.items(), (s["widths"], widths))
    ]
    ours, theirs = rows
    figures = dict(
        fast=fast,
        threads=torch.get_num_threads(),
        batch_size=s["batch_size"],
        timed_steps=s["steps"],
        matmul_peak_GFLOP_per_s=peak / 1e9,
        params_ours=count_parameters(models["minidiff UNet"][0]),
        params_diffusers=count_parameters(models["diffusers UNet2DModel"][0]),
        diffusers_widths=list(widths),
        images_per_s_ours=ours["train_images_per_s"],
        images_per_s_diffusers=theirs["train_images_per_s"],
        speed_ratio_ours_over_diffusers=ours["train_images_per_s"] / theirs["train_images_per_s"],
        fwd_GFLOP_ours=ours["fwd_GFLOP_per_image"],
        fwd_GFLOP_diffusers=theirs["fwd_GFLOP_per_image"],
        mfu_ours=ours["MFU"],
        mfu_diffusers=theirs["MFU"],
    )
    return dict(rows=rows, figures=figures)


def main(argv: list[str] | None = None) -> dict:
    """The command line: [--fast] [--threads N] (default: all cores); tables, then a JSON line."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="torch threads")
    args, rest = parser.parse_known_args(argv)
    return report.benchmark_main(NAME, run, tables=("rows",), threads=args.threads, argv=rest)


if __name__ == "__main__":
    main()
