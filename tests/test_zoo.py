"""The zoo trains once, loads after, and retrains when the recipe or budget changes."""

import dataclasses
import json

import pytest
import torch

from minidiff import checkpoint, zoo
from minidiff.nets.mlp import MLP

CALLS = []


def build():
    torch.manual_seed(0)
    return MLP(hidden=8, depth=1)


def train(model, fast, progress):
    CALLS.append(fast)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0 if fast else 2.0)
    return model


RECIPE = zoo.Recipe("tiny", build, train)


@pytest.fixture(autouse=True)
def clear_calls():
    CALLS.clear()


def weights(model):
    return torch.cat([p.flatten() for p in model.parameters()])


def test_trains_once_then_loads(tmp_path):
    first = zoo.load(RECIPE, fast=True, root=tmp_path)
    second = zoo.load(RECIPE, fast=True, root=tmp_path)
    assert CALLS == [True]
    torch.testing.assert_close(weights(first), weights(second), rtol=0, atol=0)
    torch.testing.assert_close(weights(second), weights(build()) + 1.0)
    assert not second.training and not any(p.requires_grad for p in second.parameters())


def test_fast_and_full_are_cached_separately(tmp_path):
    zoo.load(RECIPE, fast=True, root=tmp_path)
    zoo.load(RECIPE, fast=False, root=tmp_path)
    zoo.load(RECIPE, fast=False, root=tmp_path)
    assert CALLS == [True, False]
    assert (
        zoo.path_of(RECIPE, True, tmp_path).exists()
        and zoo.path_of(RECIPE, False, tmp_path).exists()
    )


def test_changed_recipe_is_retrained_not_reused(tmp_path, capsys):
    zoo.load(RECIPE, fast=True, root=tmp_path)
    zoo.load(dataclasses.replace(RECIPE, version=2), fast=True, root=tmp_path)
    assert CALLS == [True, True]
    assert "another version of its recipe" in capsys.readouterr().out

    def other_train(model, fast, progress):
        CALLS.append("other")
        return model

    zoo.load(dataclasses.replace(RECIPE, version=2, train=other_train), fast=True, root=tmp_path)
    assert CALLS[-1] == "other"


def test_corrupt_cache_is_retrained_with_a_warning(tmp_path):
    zoo.load(RECIPE, fast=True, root=tmp_path)
    zoo.path_of(RECIPE, True, tmp_path).write_bytes(b"not a checkpoint")
    with pytest.warns(UserWarning, match="not the file its json records"):
        model = zoo.load(RECIPE, fast=True, root=tmp_path)
    assert CALLS == [True, True]
    torch.testing.assert_close(weights(model), weights(build()) + 1.0)


@pytest.mark.parametrize("stranger", ["untrained", "other_recipe"])
def test_weights_the_json_does_not_record_are_retrained_never_loaded(tmp_path, stranger):
    """Weights written at a recipe's path by anything else (an untrained model saved there; an
    edited recipe's build killed between its weights and its json, then the edit reverted)."""
    zoo.load(RECIPE, fast=True, root=tmp_path)
    path = zoo.path_of(RECIPE, True, tmp_path)
    model = build()
    if stranger == "other_recipe":
        with torch.no_grad():
            next(model.parameters()).add_(7.0)
    checkpoint.save_checkpoint(path, model)  # the json beside it is still the valid one
    assert not zoo.is_cached(RECIPE, True, tmp_path)
    with pytest.warns(UserWarning, match="not the file its json records"):
        loaded = zoo.load(RECIPE, fast=True, root=tmp_path)
    assert CALLS == [True, True] and zoo.is_cached(RECIPE, True, tmp_path)
    torch.testing.assert_close(weights(loaded), weights(build()) + 1.0)


def test_cache_dir_and_fast_mode_follow_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("MINIDIFF_CACHE", str(tmp_path))
    monkeypatch.setenv("MINIDIFF_FAST", "1")
    assert zoo.cache_dir() == tmp_path and zoo.fast_mode()
    zoo.load(RECIPE)
    assert zoo.path_of(RECIPE, True).parent == tmp_path and CALLS == [True]


def test_load_rejects_a_non_recipe(tmp_path):
    with pytest.raises(TypeError, match="recipe"):
        zoo.load("tiny", root=tmp_path)


def test_course_recipes_build_and_have_unique_names():
    from minidiff import recipes

    names = [r.name for r in recipes.ALL]
    assert len(names) == len(set(names))
    for recipe in recipes.ALL:
        model = recipe.build()
        assert isinstance(model, torch.nn.Module) and getattr(model, "config", None)
        assert zoo.fingerprint(recipe, True) != zoo.fingerprint(recipe, False)


def test_recipe_builds_are_seeded_and_leave_the_global_rng_alone():
    from minidiff import recipes

    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    first = weights(recipes.ring_teacher.build())
    after = torch.rand(3)
    torch.testing.assert_close(after, expected)  # the caller's RNG stream is untouched
    torch.testing.assert_close(first, weights(recipes.ring_teacher.build()), rtol=0, atol=0)


def test_a_cache_from_before_the_sha256_is_retrained_once(tmp_path, capsys):
    zoo.load(RECIPE, fast=True, root=tmp_path)
    record = zoo.path_of(RECIPE, True, tmp_path).with_suffix(".json")
    meta = json.loads(record.read_text())
    record.write_text(json.dumps({k: v for k, v in meta.items() if k != "sha256"}))
    zoo.load(RECIPE, fast=True, root=tmp_path)
    assert "older than its weights' sha256; retraining" in capsys.readouterr().out
    zoo.load(RECIPE, fast=True, root=tmp_path)
    assert CALLS == [True, True]
