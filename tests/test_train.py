"""minidiff.train: EMA formula, the fit loop, and checkpoints (round trip, exact resume, errors)."""

import os

import pytest
import safetensors.torch
import torch
from torch import nn

from minidiff import sde, train
from minidiff.nets.mlp import MLP

VP = sde.VP()


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def x0_mse(model, x0, generator=None):
    """A plain x0-prediction loss on the VP process, written here so train is tested alone."""
    t = 0.02 + 0.96 * torch.rand(len(x0), generator=generator)
    eps = torch.randn(x0.shape, generator=generator)
    return (model(VP.add_noise(x0, t, eps), t) - x0).square().mean()


def gaussian_data(n=512, seed=0):
    return torch.tensor([1.0, -0.5]) + 0.3 * torch.randn(n, 2, generator=gen(seed))


def small_mlp(seed=0, hidden=32):
    torch.manual_seed(seed)  # the test, not the library, seeds the initialisation
    return MLP(hidden=hidden, depth=2, embed_dim=16)


def params(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def assert_same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


# ---------------------------------------------------------------- EMA


def test_ema_is_a_frozen_copy_until_updated():
    model = small_mlp()
    ema = train.EMA(model, decay=0.9)
    assert not ema.model.training and not any(p.requires_grad for p in ema.model.parameters())
    before = params(ema.model)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    assert_same(params(ema.model), before)  # a deep copy: the model's change is not seen


def test_ema_update_formula_and_decay_zero():
    model = small_mlp()
    ema = train.EMA(model, decay=0.75)
    shadow = params(ema.model)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(-2.0).add_(0.5)
    ema.update(model)
    for k, v in params(model).items():
        torch.testing.assert_close(ema.model.state_dict()[k], 0.75 * shadow[k] + 0.25 * v)
    copier = train.EMA(small_mlp(seed=1), decay=0.0)
    copier.update(model)
    assert_same(params(copier.model), params(model))


def test_ema_copies_buffers_and_checks_decay():
    model = nn.BatchNorm1d(3)
    ema = train.EMA(model, decay=0.5)
    model.running_mean.fill_(4.0)
    ema.update(model)
    assert torch.equal(ema.model.running_mean, torch.full((3,), 4.0))
    for bad in [1.0, -0.1, "0.9"]:
        with pytest.raises(ValueError, match="decay"):
            train.EMA(model, decay=bad)


# ---------------------------------------------------------------- fit


def test_fit_decreases_the_loss():
    model, data = small_mlp(), gaussian_data()
    history = train.fit(
        model, x0_mse, data, steps=150, batch_size=64, lr=3e-3, ema_decay=0.9,
        val_data=gaussian_data(256, seed=1), generator=gen(), log_every=50,
    )  # fmt: skip
    assert history.steps == list(range(1, 151)) and len(history.loss) == 150
    assert history.val_steps == [50, 100, 150]
    first, last = sum(history.loss[:30]) / 30, sum(history.loss[-30:]) / 30
    assert last < 0.5 * first, (first, last)
    assert history.val_loss[-1] < history.val_loss[0]
    assert history.seconds > 0 and history.ema.model is not model


def test_fit_with_tuple_data_passes_every_tensor():
    seen = []

    def loss_fn(model, x, y, generator=None):
        seen.append((x.shape, y.shape, y.dtype))
        return model(x, torch.full((len(x),), 0.5), y).square().mean()

    data = (torch.randn(50, 2), torch.randint(0, 3, (50,)))
    train.fit(MLP(hidden=8, cond_classes=3), loss_fn, data, steps=2, batch_size=7, generator=gen())
    assert seen == [((7, 2), (7,), torch.int64)] * 2


def test_fit_raises_on_nan_loss_with_the_step():
    calls = []

    def loss_fn(model, x0, generator=None):
        calls.append(1)
        loss = x0_mse(model, x0, generator)
        return loss * float("nan") if len(calls) == 4 else loss

    with pytest.raises(FloatingPointError, match=r"step 4.*lower lr"):
        train.fit(small_mlp(), loss_fn, gaussian_data(), steps=10, batch_size=8, generator=gen())


def test_fit_rejects_bad_arguments():
    model, data = small_mlp(), gaussian_data()
    with pytest.raises(ValueError, match="steps"):
        train.fit(model, x0_mse, data, steps=-1)
    with pytest.raises(ValueError, match="batch_size"):
        train.fit(model, x0_mse, data, steps=1, batch_size=0)
    with pytest.raises(ValueError, match="lr"):
        train.fit(model, x0_mse, data, steps=1, lr=0.0)
    with pytest.raises(TypeError, match="data"):
        train.fit(model, x0_mse, data.tolist(), steps=1)
    with pytest.raises(ValueError, match="data"):
        train.fit(model, x0_mse, (data, data[:10]), steps=1)
    with pytest.raises(TypeError, match="generator"):
        train.fit(model, x0_mse, data, steps=1, generator=42)


# ---------------------------------------------------------------- checkpoints


def test_checkpoint_round_trip(tmp_path):
    model = small_mlp()
    ema = train.EMA(model, decay=0.5)
    train.fit(model, x0_mse, gaussian_data(), steps=3, batch_size=8, generator=gen())
    ema.update(model)
    path = tmp_path / "ckpt.safetensors"
    train.save_checkpoint(path, model, ema=ema, step=7)
    with safetensors.safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
    assert meta["format"] == "minidiff-checkpoint-2" and meta["class"] == "MLP"
    assert meta["step"] == "7" and '"hidden": 32' in meta["config"]
    clone, clone_ema = small_mlp(seed=1), train.EMA(small_mlp(seed=2))
    assert train.load_checkpoint(path, clone, ema=clone_ema) == 7
    assert_same(params(clone), params(model))
    assert_same(params(clone_ema.model), params(ema.model))
    x, t = torch.randn(5, 2), torch.rand(5)
    assert torch.equal(clone(x, t), model(x, t))


def test_resume_is_exact(tmp_path):
    data, path = gaussian_data(), tmp_path / "run.safetensors"
    kwargs = dict(steps=20, batch_size=16, lr=1e-2, ema_decay=0.8, log_every=5)
    straight = small_mlp()
    straight_history = train.fit(straight, x0_mse, data, generator=gen(3), **kwargs)
    first = small_mlp()
    train.fit(first, x0_mse, data, generator=gen(3), checkpoint=path, **kwargs | {"steps": 10})
    resumed = small_mlp(seed=9)  # any weights: they come from the checkpoint
    history = train.fit(resumed, x0_mse, data, generator=gen(99), checkpoint=path, **kwargs)
    assert history.steps == list(range(11, 21))
    assert history.loss == straight_history.loss[10:]
    assert_same(params(resumed), params(straight))
    assert_same(params(history.ema.model), params(straight_history.ema.model))
    assert train.load_checkpoint(path, small_mlp()) == 20


def test_missing_file_raises(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.safetensors"):
        train.load_checkpoint(tmp_path / "nothing.safetensors", small_mlp())


def saved(tmp_path, model=None):
    path = tmp_path / "ckpt.safetensors"
    model = small_mlp() if model is None else model
    train.save_checkpoint(path, model, optimizer=torch.optim.AdamW(model.parameters()), step=3)
    return path


def test_truncated_file_raises_checkpoint_error(tmp_path):
    path = saved(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(train.CheckpointError, match=f"{path}.*corrupt or not a minidiff"):
        train.load_checkpoint(path, small_mlp())


def test_random_bytes_raise_checkpoint_error(tmp_path):
    path = tmp_path / "noise.safetensors"
    path.write_bytes(torch.randint(0, 256, (4096,), generator=gen(), dtype=torch.uint8).numpy())
    with pytest.raises(train.CheckpointError, match=f"{path}.*corrupt or not a minidiff"):
        train.load_checkpoint(path, small_mlp())


def test_plain_safetensors_file_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "plain.safetensors"
    safetensors.torch.save_file(small_mlp().state_dict(), str(path))
    with pytest.raises(train.CheckpointError, match="not a minidiff checkpoint.*format"):
        train.load_checkpoint(path, small_mlp())


def test_state_the_checkpoint_lacks_raises(tmp_path):
    model = small_mlp()
    path = tmp_path / "weights-only.safetensors"
    train.save_checkpoint(path, model, step=3)
    with pytest.raises(train.CheckpointError, match="optimizer: .*saved without optimizer state"):
        train.load_checkpoint(path, model, optimizer=torch.optim.AdamW(model.parameters()))
    with pytest.raises(train.CheckpointError, match="generator: .*holds no state"):
        train.load_checkpoint(saved(tmp_path), model, generator=torch.Generator())


def test_other_config_raises_naming_the_key(tmp_path):
    path = saved(tmp_path)
    with pytest.raises(train.CheckpointError, match=r"MLP.*hidden: stored 32, expected 16"):
        train.load_checkpoint(path, small_mlp(hidden=16))
    with pytest.raises(train.CheckpointError, match=r"saved from a MLP, this model is a Linear"):
        train.load_checkpoint(path, nn.Linear(2, 2))


def test_shape_mismatch_raises(tmp_path):
    path = saved(tmp_path, nn.Linear(3, 2))  # no config: only the tensors can be checked
    with pytest.raises(train.CheckpointError, match=r"weight: stored \(2, 3\), expected \(2, 4\)"):
        train.load_checkpoint(path, nn.Linear(4, 2))
    with pytest.raises(train.CheckpointError, match="bias: stored"):
        train.load_checkpoint(path, nn.Linear(3, 2, bias=False))
    with pytest.raises(train.CheckpointError, match="EMA model"):  # saved without EMA weights
        train.load_checkpoint(path, nn.Linear(3, 2), ema=train.EMA(nn.Linear(3, 2)))


def test_failed_save_keeps_the_old_checkpoint(tmp_path, monkeypatch):
    model = small_mlp()
    path = saved(tmp_path, model)
    before = sorted(os.listdir(tmp_path))
    old_bytes = path.read_bytes()

    def broken_save(tensors, metadata=None):  # dies after the temp file has been opened
        raise OSError("disk full")

    monkeypatch.setattr(safetensors.torch, "save", broken_save)
    with torch.no_grad():
        next(model.parameters()).add_(1.0)
    with pytest.raises(OSError, match="disk full"):
        train.save_checkpoint(path, model, optimizer=torch.optim.AdamW(model.parameters()), step=4)
    assert sorted(os.listdir(tmp_path)) == before  # no temp file left behind
    assert path.read_bytes() == old_bytes
    model = small_mlp()
    assert train.load_checkpoint(path, model, optimizer=torch.optim.AdamW(model.parameters())) == 3
