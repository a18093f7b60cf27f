"""recipes.mobile (lesson 06's ablation): each chain row is the row above plus exactly its change,
the contrasts differ from their chain row only where they say, the architectures are what the
paper's changes describe, ReLU fine-tuning can load the softmax weights, the efficient UNet is
the cheaper one, and fingerprints do not depend on memory addresses."""

import pytest
import torch

from minidiff import profile, zoo
from minidiff.experiments import mobile_unet
from minidiff.recipes import mobile


def test_each_chain_row_adds_exactly_its_change():
    previous = mobile.BASELINE
    for name, _, change in mobile.CHAIN:
        current = mobile.options(name)
        assert {k for k in current if current[k] != previous[k]} == set(change), name
        previous = current


def test_contrasts_differ_from_their_row_only_by_their_change():
    for name, _, base, change in mobile.CONTRASTS:
        a, b = mobile.options(name), mobile.options(base)
        assert {k for k in a if a[k] != b[k]} == set(change), name


def test_stages_follow_the_options():
    base = mobile.unet_stages(mobile.options("sd_like"))
    assert [s.attention.kind for s in base] == ["self+cross"] * 3
    assert [s.num_res_blocks for s in base] == [2, 2, 2] and not any(s.separable for s in base)
    assert mobile.unet_stages(mobile.options("cross_only_high"))[0].attention.kind == "cross"
    assert mobile.unet_stages(mobile.options("no_attention_high"))[0].attention is None
    final = mobile.unet_stages(mobile.options("relu_finetune"))
    assert [s.attention.kind for s in final] == ["cross", "cross", "self+cross"]
    assert [s.num_res_blocks for s in final] == [1, 1, 2]
    assert [s.separable for s in final] == [False, True, True]
    assert {(s.attention.kernel, s.attention.shared_kv, s.attention.ffn_expansion,
             s.attention.activation) for s in final} == {("relu", True, 3, "swish")}  # fmt: skip
    with pytest.raises(ValueError, match="name: expected one of"):
        mobile.options("mobile")


def test_relu_finetune_loads_the_softmax_weights_and_changes_the_output():
    softmax, relu = (
        mobile.ablation["one_resblock"].build(),
        mobile.ablation["relu_finetune"].build(),
    )
    with torch.no_grad():
        for p in softmax.parameters():
            p.add_(0.1 * torch.randn_like(p))
    relu.load_state_dict(softmax.state_dict())  # strict: the same parameters
    ids, mask = mobile.encode(["a small red circle on the left", "a large blue square"])
    x, t = torch.randn(2, 3, 16, 16), torch.full((2,), 0.5)
    with torch.no_grad():
        assert not torch.allclose(softmax(x, t, ids, mask), relu(x, t, ids, mask))


def test_the_efficient_unet_halves_the_flops_of_the_baseline():
    unets = {n: mobile.ablation[n].build().net.unet for n in ("sd_like", "relu_finetune")}
    x, t, context = torch.randn(1, 3, 16, 16), torch.full((1,), 0.5), torch.randn(1, 12, 32)
    mask = torch.ones(1, 12, dtype=torch.bool)
    counts = {n: profile.flops(u, x, t, context, mask) for n, u in unets.items()}
    assert counts["sd_like"] >= 2 * counts["relu_finetune"]


def test_fingerprints_hold_no_memory_addresses():
    for recipe in [*mobile.ablation.values(), *mobile.long_runs.values()]:
        source = zoo._source(recipe.train) + zoo._source(recipe.build)
        assert " at 0x" not in source, recipe.name


def test_with_deltas_is_relative_for_costs_and_absolute_for_quality():
    reference = dict(params_k=100.0, MFLOPs=10.0, ms=4.0, fd=2.0, accuracy_pct=90.0)
    row = dict(params_k=50.0, MFLOPs=2.5, ms=5.0, fd=2.5, accuracy_pct=87.0)
    out = mobile_unet.with_deltas(row, reference)
    assert (out["Δparams %"], out["ΔMFLOPs %"], out["Δms %"]) == (-50.0, -75.0, 25.0)
    assert (out["ΔFD"], out["Δaccuracy (points)"]) == (0.5, -3.0)
