"""The zoo recipes: they build, CFG condition dropout is honest, conditions reach the UNet, the
caption language's tokenizer covers every caption, a fast load trains and freezes."""

import math

import pytest
import torch

from minidiff import losses, recipes, sde, targets, text, zoo
from minidiff.data import shapes
from minidiff.nets.classifier import Classifier
from minidiff.recipes import digits as digit_recipes
from minidiff.recipes import shapes as shape_recipes


def perturbed(denoiser):
    """The UNet's output layer starts at zero: give every weight a nudge so outputs differ."""
    with torch.no_grad():
        for p in denoiser.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return denoiser


def test_digits_recipes_build():
    denoiser = digit_recipes.build_digits_unet()
    assert isinstance(denoiser, targets.Denoiser) and isinstance(denoiser.sde, sde.VP)
    assert denoiser.net.config["num_classes"] == 10
    net = digit_recipes.build_digits_classifier()
    assert isinstance(net, Classifier) and net.config["heads"] == {"digit": 10}
    assert recipes.digits_unet in recipes.ALL and recipes.digits_classifier in recipes.ALL


def test_drop_conditions_rate_and_untouched_examples():
    n, p, null = 20_000, 0.1, torch.tensor(10)
    y = torch.randint(0, 10, (n,), generator=torch.Generator().manual_seed(0))
    ids = torch.randint(4, 30, (n, 5), generator=torch.Generator().manual_seed(1))
    null_ids = torch.zeros(1, 5, dtype=torch.long)
    gen = torch.Generator().manual_seed(2)
    y2, ids2 = losses.drop_conditions((y, ids), (null, null_ids), p, generator=gen)
    changed = (ids2 != ids).any(dim=1)
    assert torch.equal(changed, y2 != y)  # one draw per example, shared by its conditions
    assert bool((y2[changed] == 10).all()) and bool((ids2[changed] == 0).all())
    assert torch.equal(y2[~changed], y[~changed]) and torch.equal(ids2[~changed], ids[~changed])
    bound = 5 * math.sqrt(p * (1 - p) / n)  # 5 binomial standard deviations
    assert abs(changed.double().mean().item() - p) < bound
    assert torch.equal(losses.drop_conditions((y,), (null,), 0.0)[0], y)
    assert bool((losses.drop_conditions((y,), (null,), 1.0)[0] == 10).all())


def test_drop_conditions_rejects_bad_input():
    y = torch.zeros(3, dtype=torch.long)
    with pytest.raises(ValueError, match="p: expected"):
        losses.drop_conditions((y,), (torch.tensor(10),), 1.5)
    with pytest.raises(ValueError, match="null: expected 1 entries"):
        losses.drop_conditions((y,), (torch.tensor(10), torch.tensor(1)))


def test_class_conditional_passes_y():
    torch.manual_seed(0)
    denoiser = perturbed(digit_recipes.build_digits_unet())
    x, t = torch.randn(4, 1, 16, 16), torch.full((4,), 0.5)
    a = denoiser(x, t, torch.tensor([0, 1, 2, 3]))
    b = denoiser(x, t, torch.tensor([4, 5, 6, 10]))
    assert a.shape == x.shape and not torch.allclose(a, b)
    torch.testing.assert_close(denoiser(x, t, torch.tensor([0, 1, 2, 3])), a)


def test_cfg_dsm_is_finite_and_trains():
    denoiser = digit_recipes.build_digits_unet()
    x0, y = torch.randn(8, 1, 16, 16).clamp(-1, 1), torch.randint(0, 10, (8,))
    null = (digit_recipes.null_label(denoiser),)
    gen = torch.Generator().manual_seed(0)
    loss = losses.cfg_dsm(denoiser, x0, y, sde=denoiser.sde, null=null, generator=gen)
    loss.backward()
    assert torch.isfinite(loss) and denoiser.net.net.final_layer[-1].weight.grad.abs().sum() > 0


def test_cfg_dsm_with_p_uncond_one_is_the_unconditional_loss():
    denoiser = perturbed(digit_recipes.build_digits_unet())
    x0, y = torch.randn(8, 1, 16, 16).clamp(-1, 1), torch.randint(0, 10, (8,))
    t, eps = torch.rand(8), torch.randn_like(x0)
    null = digit_recipes.null_label(denoiser)
    expected = losses.dsm(denoiser, x0, null.expand(8), sde=denoiser.sde, t=t, eps=eps)
    # cfg_dsm draws its own t and eps: compare its dropout with p=1 on fixed t, eps via dsm
    (dropped,) = losses.drop_conditions((y,), (null,), 1.0)
    got = losses.dsm(denoiser, x0, dropped, sde=denoiser.sde, t=t, eps=eps)
    torch.testing.assert_close(got, expected)


def test_fast_zoo_load_of_the_classifier(tmp_path):
    model = zoo.load(recipes.digits_classifier, fast=True, progress=False, root=tmp_path)
    assert isinstance(model, Classifier) and not model.training
    assert not any(p.requires_grad for p in model.parameters())
    assert zoo.path_of(recipes.digits_classifier, True, tmp_path).exists()


def test_the_tokenizer_covers_every_caption_and_max_len():
    captions = shapes.generate(3000, 16, seed=123).captions + [""]
    ids, mask = shape_recipes.encode(captions)  # strict: an unknown word would raise
    assert ids.shape == (len(captions), shape_recipes.MAX_LEN) and bool(mask[:, 0].all())
    assert shape_recipes.tokenizer().decode(ids[:50].tolist()) == captions[:50]
    null_ids, null_mask = shape_recipes.null_condition(3)
    assert null_ids.shape == (3, shape_recipes.MAX_LEN) and null_mask.sum().item() == 3


def test_t2i_recipes_build_a_grid_with_frozen_encoders():
    assert set(recipes.t2i) == {(e, u) for e in ("tiny", "base") for u in shape_recipes.UNETS}
    denoiser = perturbed(recipes.t2i["tiny", "small"].build())
    assert isinstance(denoiser.net, text.TextConditional)
    assert not any(p.requires_grad for p in denoiser.net.encoder.parameters())
    assert not denoiser.train().net.encoder.training  # stays in eval mode
    ids, mask = shape_recipes.encode(["a small red circle", "a large blue square"])
    x, t = torch.randn(2, 3, 16, 16), torch.full((2,), 0.5)
    a = denoiser(x, t, ids, mask)
    b = denoiser(x, t, *shape_recipes.null_condition(2))
    assert a.shape == x.shape and not torch.allclose(a, b)


def test_text_conditional_rejects_a_mismatched_unet():
    encoder = text.text_encoder_tiny(40)
    unet = recipes.digits_unet.build().net.net  # no context_dim
    with pytest.raises(ValueError, match="unet: expected context_dim equal to the encoder's"):
        text.TextConditional(encoder, unet)
    with pytest.raises(TypeError, match="encoder: expected a TextEncoder"):
        text.TextConditional(unet, unet)
