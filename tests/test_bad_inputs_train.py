"""Bad inputs to training, checkpoints, distillation, the zoo, runtime and the archive: each
raises the expected exception type with a message that names the argument (tests/bad_inputs.py)."""

import tempfile

import numpy as np
import pytest
import torch
from bad_inputs import assert_rejected, case
from test_train import gaussian_data, gen, small_mlp, x0_mse

from minidiff import archive, checkpoint, runtime, sde, targets, train, zoo
from minidiff.distill import diffusion_gan, progressive
from minidiff.nets.mlp import MLP

DATA = gaussian_data(64)
NAN_DATA = DATA.clone().index_fill_(0, torch.tensor([5]), float("nan"))
DENOISER = targets.Denoiser(MLP(hidden=8, depth=1), sde.VP(), "x0")
UFO = diffusion_gan.UFOGen(DENOISER, small_mlp())


def fit(**change):
    kwargs = dict(steps=2, batch_size=8, generator=gen()) | change
    model, loss_fn, data = kwargs.pop("model", small_mlp()), kwargs.pop("loss_fn", x0_mse), kwargs
    return train.fit(model, loss_fn, data.pop("data", DATA), **data)


def per_sample_loss(model, x0, generator=None):
    return x0_mse(model, x0, generator) * torch.ones(len(x0))


def detached_loss(model, x0, generator=None):
    return x0.square().mean()


def build():
    return MLP(hidden=8, depth=1)


def returns_nothing(model, fast, progress):
    model.requires_grad_(False)


SCRATCH = tempfile.TemporaryDirectory()  # removed at exit; nothing here should write to it
SCRATCH_FILE = f"{SCRATCH.name}/x.safetensors"


def saved_checkpoint():
    path = f"{SCRATCH.name}/ckpt.safetensors"
    checkpoint.save_checkpoint(path, small_mlp(), step=1)
    return path


def no_generator_kwarg(model, x0):
    return x0_mse(model, x0)


def other_model_ema():
    ema = train.EMA(small_mlp())
    ema.update(small_mlp(hidden=16))


CASES = [
    # found by an independent audit (a suite the project did not write)
    case("loss_fn", lambda: fit(loss_fn=no_generator_kwarg), TypeError, id="fit-loss-signature"),
    case("loss_fn", lambda: train.evaluate(small_mlp(), per_sample_loss, DATA), id="eval-per-s"),
    case(
        "loss_fn",
        lambda: train.evaluate(small_mlp(), lambda m, x, generator: 1.0, DATA),
        TypeError,
        id="eval-float-loss",
    ),  # fmt: skip
    case("model", other_model_ema, id="ema-update-other-model"),
    case("path", lambda: checkpoint.save_checkpoint(SCRATCH.name, small_mlp()), id="save-dir"),
    case("path", lambda: checkpoint.save_checkpoint(None, small_mlp()), TypeError, id="save-none"),
    case("path", lambda: checkpoint.load_checkpoint(None, small_mlp()), TypeError, id="load-none"),
    case(
        "ema",
        lambda: checkpoint.save_checkpoint(SCRATCH_FILE, small_mlp(), ema=small_mlp()),
        TypeError,
        id="save-ema-model",
    ),  # fmt: skip
    case(
        "ema",
        lambda: checkpoint.load_checkpoint(saved_checkpoint(), small_mlp(), ema=small_mlp()),
        TypeError,
        id="load-ema-model",
    ),  # fmt: skip
    case("snapshots", lambda: diffusion_gan.fit(UFO, DATA, steps=1, snapshots=2), TypeError),
    case("G", lambda: diffusion_gan.sample(small_mlp(), DATA, [1.0, 0.0]), TypeError),
    case(
        "student",
        lambda: progressive.loss(small_mlp(), DATA, teacher=DENOISER, n=2),
        TypeError,
        id="pd-student-without-sde",
    ),  # fmt: skip
    case(
        "x0",
        lambda: progressive.loss(DENOISER, DATA.numpy(), teacher=DENOISER, n=2),
        TypeError,
        id="pd-numpy-x0",
    ),  # fmt: skip
    case(
        "generator",
        lambda: progressive.loss(DENOISER, DATA, teacher=DENOISER, n=2, generator=0),
        TypeError,
        id="pd-seed",
    ),  # fmt: skip
    case(
        "train",
        lambda: zoo.Recipe("t", build, lambda model: model),
        TypeError,
        id="recipe-train-signature",
    ),  # fmt: skip
    # train.fit
    case("model", lambda: fit(model=MLP), TypeError, id="fit-model-class"),
    case("model", lambda: fit(model="mlp"), TypeError, id="fit-model-string"),
    case("loss_fn", lambda: fit(loss_fn="dsm"), TypeError, id="fit-loss-string"),
    case("loss_fn", lambda: fit(loss_fn=per_sample_loss), id="fit-per-sample-loss"),
    case("loss_fn", lambda: fit(loss_fn=lambda m, x, generator: None), TypeError, id="fit-none"),
    case("loss_fn", lambda: fit(loss_fn=detached_loss), id="fit-loss-without-grad"),
    case("data", lambda: fit(data=NAN_DATA), id="fit-nan-data"),
    case("data", lambda: fit(data=DATA[:0]), id="fit-empty-data"),
    case("data", lambda: fit(data=DATA.numpy()), TypeError, id="fit-numpy-data"),
    case("val_data", lambda: fit(val_data=NAN_DATA), id="fit-nan-val-data"),
    case("steps", lambda: fit(steps=0), id="fit-steps-zero"),
    case("steps", lambda: fit(steps=2.5), id="fit-steps-float"),
    case("batch_size", lambda: fit(batch_size=-8), id="fit-batch-negative"),
    case("lr", lambda: fit(lr=float("nan")), id="fit-lr-nan"),
    case("lr", lambda: fit(lr="1e-3"), id="fit-lr-string"),
    case("ema_decay", lambda: fit(ema_decay=1.0), id="fit-ema-one"),
    case("log_every", lambda: fit(log_every=0), id="fit-log-every"),
    case("generator", lambda: fit(generator=0), TypeError, id="fit-seed-as-generator"),
    case("checkpoint", lambda: fit(checkpoint=3), TypeError, id="fit-checkpoint-int"),
    case("checkpoint", lambda: fit(checkpoint="."), id="fit-checkpoint-dir"),
    # train.evaluate, EMA, clip_gradients
    case("loss_fn", lambda: train.evaluate(small_mlp(), None, DATA), TypeError, id="eval-loss"),
    case("batch_size", lambda: train.evaluate(small_mlp(), x0_mse, DATA, batch_size=0)),
    case("seed", lambda: train.evaluate(small_mlp(), x0_mse, DATA, seed=-1), id="eval-seed"),
    case("data", lambda: train.evaluate(small_mlp(), x0_mse, NAN_DATA), id="eval-nan"),
    case("decay", lambda: train.EMA(small_mlp(), decay=1.5), id="ema-decay"),
    case("model", lambda: train.EMA(MLP), TypeError, id="ema-class"),
    case("max_norm", lambda: train.clip_gradients([], -1.0), id="clip-negative"),
    # checkpoints
    case(
        "model",
        lambda: checkpoint.save_checkpoint(SCRATCH_FILE, MLP),
        TypeError,
        id="save-model-class",
    ),  # fmt: skip
    case("step", lambda: checkpoint.save_checkpoint(SCRATCH_FILE, small_mlp(), step=-1)),
    case(
        "generator",
        lambda: checkpoint.save_checkpoint(SCRATCH_FILE, small_mlp(), generator=1),
        TypeError,
        id="save-seed",
    ),  # fmt: skip
    case(
        "optimizer",
        lambda: checkpoint.save_checkpoint(SCRATCH_FILE, small_mlp(), optimizer="adamw"),
        TypeError,
        id="save-optimizer-string",
    ),  # fmt: skip
    case(
        "path",
        lambda: checkpoint.load_checkpoint(f"{SCRATCH.name}/missing.safetensors", small_mlp()),
        FileNotFoundError,
        id="load-missing",
    ),  # fmt: skip
    case(
        "optimizer",
        lambda: checkpoint.load_checkpoint(
            saved_checkpoint(), small_mlp(), optimizer=torch.optim.AdamW
        ),
        TypeError,
        id="load-optimizer-class",
    ),  # fmt: skip
    case(
        "optimizer",
        lambda: checkpoint.load_checkpoint(
            saved_checkpoint(), small_mlp(), optimizer=torch.optim.AdamW(small_mlp().parameters())
        ),
        checkpoint.CheckpointError,
        id="load-no-optimizer-state",
    ),  # fmt: skip
    # the zoo
    case("recipe", lambda: zoo.load("digits_unet"), TypeError, id="zoo-load-string"),
    case("recipe", lambda: zoo.load(zoo.Recipe), TypeError, id="zoo-load-class"),
    case("fast", lambda: zoo.load(zoo.Recipe("t", build, returns_nothing), fast="yes"), TypeError),
    case("name", lambda: zoo.Recipe("a/b", build, returns_nothing), id="recipe-name"),
    case("build", lambda: zoo.Recipe("t", "MLP", returns_nothing), TypeError, id="recipe-build"),
    case("train", lambda: zoo.Recipe("t", build, None), TypeError, id="recipe-train"),
    case("version", lambda: zoo.Recipe("t", build, returns_nothing, version=0)),
    case("needs", lambda: zoo.Recipe("t", build, returns_nothing, needs=("x",)), TypeError),
    # UFOGen and progressive distillation
    case("generator", lambda: diffusion_gan.UFOGen(MLP, None), TypeError, id="ufogen-class"),
    case(
        "generator", lambda: diffusion_gan.UFOGen(small_mlp(), None), TypeError, id="ufogen-no-sde"
    ),  # fmt: skip
    case("discriminator", lambda: diffusion_gan.UFOGen(DENOISER, "D"), TypeError),
    case("jump", lambda: diffusion_gan.UFOGen(DENOISER, small_mlp(), jump=0.0), id="ufogen-jump"),
    case("r1", lambda: diffusion_gan.UFOGen(DENOISER, small_mlp(), r1=-1.0), id="ufogen-r1"),
    case("ufogen", lambda: diffusion_gan.fit(DENOISER, DATA, steps=1), TypeError),
    case(
        "generator",
        lambda: diffusion_gan.fit(UFO, DATA, steps=1, generator=3),
        TypeError,
        id="ufogen-fit-seed",
    ),  # fmt: skip
    case("data", lambda: diffusion_gan.fit(UFO, NAN_DATA, steps=1), id="ufogen-fit-nan"),
    case("ema_decay", lambda: diffusion_gan.fit(UFO, DATA, steps=1, ema_decay=1.0)),
    case("x", lambda: diffusion_gan.sample(DENOISER, NAN_DATA, [1.0, 0.0]), id="ufogen-sample"),
    case("teacher", lambda: progressive.loss(DENOISER, DATA, teacher="ddim", n=2), TypeError),
    case("n", lambda: progressive.loss(DENOISER, DATA, teacher=DENOISER, n=0), id="pd-n"),
    # runtime and the archive
    case("MINIDIFF_DEVICE", lambda: runtime.device("tpu"), id="device-name"),
    case("fast", lambda: archive.pack("zoo.zip", [], fast="no"), TypeError, id="pack-fast"),
]


@pytest.mark.parametrize("argument, call, error", CASES)
def test_bad_input_is_named(argument, call, error):
    assert_rejected(argument, call, error)


def test_a_recipe_whose_train_returns_nothing_is_named(tmp_path):
    recipe = zoo.Recipe("nothing", build, returns_nothing)
    message = assert_rejected(
        "recipe 'nothing'", lambda: zoo.load(recipe, root=tmp_path), TypeError
    )
    assert "its train function returned NoneType None" in message
    assert not zoo.is_cached(recipe, False, tmp_path)


def test_a_nan_in_the_data_is_bad_data_not_a_diverging_run():
    message = assert_rejected("data", lambda: fit(data=NAN_DATA), ValueError)
    assert "NaN" in message and "lower lr" not in message


def test_numpy_numbers_are_accepted_by_fit_and_evaluate():
    history = fit(
        steps=np.int64(3), batch_size=np.int32(8), lr=np.float32(1e-3), log_every=np.int64(1)
    )
    expected = fit(steps=3, batch_size=8, lr=float(np.float32(1e-3)), log_every=1)
    assert history.loss == expected.loss and history.steps == [1, 2, 3]
    model = small_mlp()
    assert train.evaluate(model, x0_mse, DATA, batch_size=np.int64(16), seed=np.int64(1)) == (
        train.evaluate(model, x0_mse, DATA, batch_size=16, seed=1)
    )


def test_a_class_is_a_valid_recipe_build():
    assert zoo.Recipe("t", MLP, returns_nothing).build is MLP
