"""fit's per-step pieces: clipping equals torch's, the EMA keeps frozen weights exact, and the
EMA, clipping and AdamW issue as many aten ops for a 4x deeper model (O(1), not O(parameters))."""

import copy

import pytest
import torch
from torch import nn

from minidiff import runtime, train
from minidiff.experiments import fit_overhead
from minidiff.recipes import build


def with_grads(model):
    for p in model.parameters():
        p.grad = torch.randn_like(p)
    return model


@pytest.mark.parametrize("max_norm", [0.1, 1e6])
def test_clip_gradients_equals_torch(max_norm):
    ours = with_grads(fit_overhead.mlp_setup(3)[0])
    theirs = copy.deepcopy(ours)
    for a, b in zip(ours.parameters(), theirs.parameters()):
        b.grad = a.grad.clone()  # deepcopy leaves gradients behind
    norm = train.clip_gradients(list(ours.parameters()), max_norm)
    expected = nn.utils.clip_grad_norm_(theirs.parameters(), max_norm)
    torch.testing.assert_close(norm, expected)
    for a, b in zip(ours.parameters(), theirs.parameters()):
        torch.testing.assert_close(a.grad, b.grad)


def test_the_ema_keeps_frozen_parameters_bit_exact():
    model = fit_overhead.mlp_setup(2)[0]
    frozen = model.net.blocks[0].weight.requires_grad_(False)
    frozen.data.copy_(torch.randn(frozen.shape) * 1e-3 + 0.1)  # values that decay * x drifts on
    ema = train.EMA(model, decay=0.999)
    ema.update(model)  # a first update makes the copy
    for _ in range(50):
        with torch.no_grad():
            for p in model.parameters():
                if p.requires_grad:
                    p.add_(0.01)
        ema.update(model)
    assert torch.equal(ema.model.net.blocks[0].weight, frozen)
    assert not torch.equal(ema.model.net.blocks[1].weight, model.net.blocks[1].weight)


def test_per_step_pieces_issue_a_fixed_number_of_ops():
    counts = {}
    for depth in (2, 8):
        model = with_grads(fit_overhead.mlp_setup(depth)[0])
        pieces = fit_overhead.pieces(model)
        counts[depth] = {k: fit_overhead.aten_ops(f) for k, f in pieces.items()}
    for piece in ("EMA (train.EMA)", "clipping (train.clip_gradients)", "AdamW (fit's)"):
        assert counts[2][piece] == counts[8][piece] <= 8, (piece, counts)
    assert counts[8]["EMA (per-parameter loop)"] > counts[2]["EMA (per-parameter loop)"]


def test_device_names_are_checked(monkeypatch):
    assert runtime.device("cpu") == torch.device("cpu")
    monkeypatch.setenv("MINIDIFF_DEVICE", "gpu")
    with pytest.raises(ValueError, match=r"MINIDIFF_DEVICE: got 'gpu'; expected 'cpu', 'cuda'"):
        runtime.device()
    monkeypatch.setenv("MINIDIFF_DEVICE", "tpu:0")
    with pytest.raises(ValueError, match="MINIDIFF_DEVICE: got 'tpu:0'"):
        runtime.device()
    if not torch.cuda.is_available():
        monkeypatch.setenv("MINIDIFF_DEVICE", "cuda")
        with pytest.raises(ValueError, match="'cuda' is not available on this machine"):
            runtime.device()
    monkeypatch.delenv("MINIDIFF_DEVICE")
    assert runtime.device().type in ("cpu", "cuda", "mps")


def test_the_build_plan_sums_what_is_recorded():
    steps = [("ring_teacher", 19), ("digits_unet", 312), ("new_recipe", None)]
    text = build.describe(steps, fast=False)
    assert "ring_teacher" in text and "unknown" in text
    assert "total 0.1 h recorded, plus 1 with no record" in text
    assert build.describe([], fast=False).endswith("nothing to train")


@pytest.mark.slow
def test_fit_with_torch_compile_takes_the_same_steps():
    denoiser, loss_fn, data = fit_overhead.mlp_setup(2)
    models = [copy.deepcopy(denoiser) for _ in range(2)]
    for model, compiled in zip(models, (False, True)):
        train.fit(model, loss_fn, data, steps=5, batch_size=64, compile=compiled,
                  generator=torch.Generator().manual_seed(0))  # fmt: skip
    for a, b in zip(*(m.parameters() for m in models)):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
