"""The digits recipes: they build, CFG label dropout is honest, y reaches the UNet, fast load."""

import math

import pytest
import torch

from minidiff import recipes, sde, targets, zoo
from minidiff.nets.classifier import Classifier


def test_recipes_build():
    denoiser = recipes.build_digits_unet()
    assert isinstance(denoiser, targets.Denoiser) and isinstance(denoiser.sde, sde.VP)
    assert denoiser.net.config["num_classes"] == 10
    net = recipes.build_digits_classifier()
    assert isinstance(net, Classifier) and net.config["heads"] == {"digit": 10}
    assert recipes.digits_unet in recipes.ALL and recipes.digits_classifier in recipes.ALL


def test_drop_labels_rate_and_untouched_labels():
    n, p, null = 20_000, 0.1, 10
    y = torch.randint(0, 10, (n,), generator=torch.Generator().manual_seed(0))
    dropped = recipes.drop_labels(y, null, p, generator=torch.Generator().manual_seed(1))
    changed = dropped != y
    assert bool((dropped[changed] == null).all())  # only ever replaced by the null label
    assert torch.equal(dropped[~changed], y[~changed])
    bound = 5 * math.sqrt(p * (1 - p) / n)  # 5 binomial standard deviations
    assert abs(changed.double().mean().item() - p) < bound
    assert torch.equal(recipes.drop_labels(y, null, 0.0), y)
    assert bool((recipes.drop_labels(y, null, 1.0) == null).all())


def test_class_conditional_passes_y():
    torch.manual_seed(0)
    denoiser = recipes.build_digits_unet()
    with torch.no_grad():  # the UNet's output layer starts at zero: give it weights
        for p in denoiser.parameters():
            p.add_(0.05 * torch.randn_like(p))
    x, t = torch.randn(4, 1, 16, 16), torch.full((4,), 0.5)
    a = denoiser(x, t, torch.tensor([0, 1, 2, 3]))
    b = denoiser(x, t, torch.tensor([4, 5, 6, 10]))
    assert a.shape == x.shape and not torch.allclose(a, b)
    torch.testing.assert_close(denoiser(x, t, torch.tensor([0, 1, 2, 3])), a)


def test_cfg_dsm_is_finite_and_trains():
    denoiser = recipes.build_digits_unet()
    x0, y = torch.randn(8, 1, 16, 16).clamp(-1, 1), torch.randint(0, 10, (8,))
    loss = recipes.cfg_dsm(
        denoiser, x0, y, sde=denoiser.sde, null_label=10, generator=torch.Generator().manual_seed(0)
    )
    loss.backward()
    assert torch.isfinite(loss) and denoiser.net.net.final_layer[-1].weight.grad.abs().sum() > 0


def test_fast_zoo_load_of_the_classifier(tmp_path):
    model = zoo.load(recipes.digits_classifier, fast=True, progress=False, root=tmp_path)
    assert isinstance(model, Classifier) and not model.training
    assert not any(p.requires_grad for p in model.parameters())
    assert zoo.path_of(recipes.digits_classifier, True, tmp_path).exists()


def test_drop_labels_rejects_a_bad_probability():
    with pytest.raises(ValueError, match="p: expected"):
        recipes.drop_labels(torch.zeros(3, dtype=torch.long), 10, 1.5)
