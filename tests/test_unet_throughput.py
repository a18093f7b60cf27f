"""The UNet throughput benchmark: matched parameter counts, FLOP counting, and its result keys."""

import pytest
import torch

pytest.importorskip("diffusers")

from minidiff.experiments import unet_throughput as bench  # noqa: E402

TINY = dict(widths=(16, 32), attention=(False, True), num_res_blocks=1, num_heads=2)


def test_matched_widths_give_parameter_counts_within_tolerance():
    widths = bench.matched_widths(**TINY, norm_groups=4)
    ours = bench.count_parameters(bench.our_unet(**TINY))
    theirs = bench.count_parameters(
        bench.diffusers_unet(widths, TINY["attention"], 1, TINY["num_heads"], norm_groups=4)
    )
    assert abs(theirs / ours - 1) <= bench.TOLERANCE
    assert all(w % 4 == 0 for w in widths) and len(widths) == len(TINY["widths"])


def test_same_widths_do_not_match_so_the_search_is_needed():
    """Our transformer blocks carry an FFN that diffusers' attention lacks: equal widths differ."""
    ours = bench.count_parameters(bench.our_unet(**TINY))
    with torch.device("meta"):
        theirs = bench.count_parameters(bench.diffusers_unet(norm_groups=4, **TINY))
    assert abs(theirs / ours - 1) > bench.TOLERANCE


def test_flop_count_is_positive_and_linear_in_batch():
    net = bench.our_unet(**TINY)
    x = torch.randn(4, 3, 32, 32)

    def forward(x):
        return net(x, torch.full((len(x),), 0.5))

    one, two = bench.forward_flops(forward, x[:2]), bench.forward_flops(forward, x)
    assert one > 0 and two == 2 * one
    # closed form for a single conv: 2 * C_out * C_in * k^2 * H * W per image
    conv = torch.nn.Conv2d(3, 5, 3, padding=1)
    assert bench.forward_flops(conv, x) == 4 * 2 * 5 * 3 * 9 * 32 * 32


def test_fast_run_returns_rows_and_figures():
    out = bench.run(fast=True)
    assert [r["model"] for r in out["rows"]] == ["minidiff UNet", "diffusers UNet2DModel"]
    for row in out["rows"]:
        assert set(row) == {
            "model",
            "widths",
            "params_M",
            "fwd_GFLOP_per_image",
            "train_images_per_s",
            "train_GFLOP_per_s",
            "MFU",
        }
        assert row["train_images_per_s"] > 0 and row["MFU"] > 0
    figures = out["figures"]
    for key in ("matmul_peak_GFLOP_per_s", "images_per_s_ours", "images_per_s_diffusers"):
        assert figures[key] > 0
    for key in ("mfu_ours", "mfu_diffusers", "fwd_GFLOP_ours", "fwd_GFLOP_diffusers"):
        assert figures[key] > 0
    ratio = figures["params_diffusers"] / figures["params_ours"]
    assert abs(ratio - 1) <= bench.TOLERANCE
