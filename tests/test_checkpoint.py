"""Safe state: a checkpoint is one unit (killed saves leave the old or the new one), loading is
all or nothing, a resume with other arguments is refused, and stale temp files are removed."""

import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import torch
from test_train import assert_same, gaussian_data, gen, params, small_mlp, x0_mse
from torch import nn

from minidiff import checkpoint, files, train


def adamw_after_a_step(model):
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    x0_mse(model, gaussian_data(64)).backward()
    optimizer.step()
    return optimizer


def full_checkpoint(tmp_path):
    model = small_mlp()
    optimizer, generator = adamw_after_a_step(model), gen(5)
    path = tmp_path / "full.safetensors"
    train.save_checkpoint(path, model, ema=train.EMA(model), optimizer=optimizer, step=4,
                          generator=generator)  # fmt: skip
    return path


# ---------------------------------------------------------------- all or nothing


def unchanged_after(load, model, optimizer, generator):
    """load() must raise CheckpointError and leave model, optimizer and generator as they were."""
    before = params(model), optimizer.state_dict(), generator.get_state()
    with pytest.raises(train.CheckpointError) as info:
        load()
    assert_same(params(model), before[0])
    assert str(optimizer.state_dict()) == str(before[1])
    assert torch.equal(generator.get_state(), before[2])
    return str(info.value)


def test_a_foreign_optimizer_class_is_refused_and_nothing_is_loaded(tmp_path):
    path = full_checkpoint(tmp_path)
    model = small_mlp(seed=3)
    sgd, generator = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9), gen(1)
    load = lambda: train.load_checkpoint(path, model, optimizer=sgd, generator=generator)  # noqa: E731
    message = unchanged_after(load, model, sgd, generator)
    assert "optimizer: " in message and "AdamW" in message and "SGD" in message


def test_another_parameter_grouping_is_refused_and_nothing_is_loaded(tmp_path):
    path = full_checkpoint(tmp_path)
    model = small_mlp(seed=3)
    decay = [p for p in model.parameters() if p.ndim > 1]
    rest = [p for p in model.parameters() if p.ndim <= 1]
    optimizer = torch.optim.AdamW([{"params": decay}, {"params": rest, "weight_decay": 0.0}])
    load = lambda: train.load_checkpoint(path, model, optimizer=optimizer)  # noqa: E731
    assert "parameter groups of sizes" in unchanged_after(load, model, optimizer, gen())


def test_a_missing_generator_state_leaves_the_model_alone(tmp_path):
    model = small_mlp()
    path = tmp_path / "no-generator.safetensors"
    train.save_checkpoint(path, model, optimizer=adamw_after_a_step(model), step=2)
    clone = small_mlp(seed=3)
    optimizer, generator = torch.optim.AdamW(clone.parameters()), gen(1)
    load = lambda: train.load_checkpoint(path, clone, optimizer=optimizer, generator=generator)  # noqa: E731
    assert "generator: " in unchanged_after(load, clone, optimizer, generator)


def test_a_full_checkpoint_round_trips_optimizer_and_generator(tmp_path):
    path = full_checkpoint(tmp_path)
    model = small_mlp(seed=3)
    optimizer, generator = torch.optim.AdamW(model.parameters(), lr=1e-2), gen(0)
    assert train.load_checkpoint(path, model, optimizer=optimizer, generator=generator) == 4
    original = small_mlp()
    reference = adamw_after_a_step(original)
    assert_same(params(model), params(original))
    loaded, expected = optimizer.state_dict(), reference.state_dict()
    assert loaded["param_groups"] == expected["param_groups"]
    assert loaded["state"].keys() == expected["state"].keys()
    for index, state in expected["state"].items():
        assert state.keys() == loaded["state"][index].keys()
        assert all(torch.equal(loaded["state"][index][k], v) for k, v in state.items())
    assert torch.equal(generator.get_state(), gen(5).get_state())
    assert train.read_info(path)["step"] == 4 and train.read_info(path)["cls"] == "MLP"


# ---------------------------------------------------------------- resuming with other arguments


@pytest.mark.parametrize(
    "change, argument",
    [({"lr": 2e-2}, "lr"), ({"batch_size": 32}, "batch_size"), ({"ema_decay": 0.9}, "ema_decay"),
     ({"data": gaussian_data(seed=1)}, "data"), ({"steps": 5}, "steps")],
)  # fmt: skip
def test_resuming_with_another_argument_is_refused_naming_it(tmp_path, change, argument):
    path = tmp_path / "run.safetensors"
    kwargs = dict(data=gaussian_data(), steps=10, batch_size=16, lr=1e-2, ema_decay=0.8)
    train.fit(small_mlp(), x0_mse, generator=gen(), checkpoint=path, log_every=5, **kwargs)
    saved = path.read_bytes()
    with pytest.raises(train.CheckpointError, match=f"^{argument}: the checkpoint"):
        train.fit(small_mlp(), x0_mse, generator=gen(), checkpoint=path, **kwargs | change)
    assert path.read_bytes() == saved


def test_resuming_with_more_steps_and_other_logging_continues(tmp_path):
    path, data = tmp_path / "run.safetensors", gaussian_data()
    kwargs = dict(batch_size=16, lr=1e-2, ema_decay=0.8)
    straight = train.fit(small_mlp(), x0_mse, data, steps=12, generator=gen(), **kwargs)
    train.fit(small_mlp(), x0_mse, data, steps=6, generator=gen(), checkpoint=path, **kwargs)
    more = train.fit(small_mlp(seed=4), x0_mse, data, steps=12, generator=gen(9), checkpoint=path,
                     log_every=3, val_data=data[:32], **kwargs)  # fmt: skip
    assert more.steps == list(range(7, 13)) and more.loss == straight.loss[6:]


def test_one_run_pauses_a_run_without_changing_it(tmp_path):
    kwargs = dict(batch_size=16, lr=1e-2, ema_decay=0.8)
    reference = small_mlp()
    straight = train.fit(reference, x0_mse, gaussian_data(), steps=12, generator=gen(), **kwargs)
    model, generator = small_mlp(), gen()  # legs share them, as a recipe's legs do
    with checkpoint.one_run() as path:  # outside a build: a temporary file
        for steps in (4, 8, 12):
            legs = train.fit(model, x0_mse, gaussian_data(), steps=steps, generator=generator,
                             checkpoint=path, **kwargs)  # fmt: skip
        assert path.exists()
    assert not path.exists()
    assert_same(params(model), params(reference))
    assert_same(params(legs.ema.model), params(straight.ema.model))
    with checkpoint.checkpoints_in(tmp_path), checkpoint.one_run() as path:
        assert path == tmp_path / "fit-1.safetensors"  # inside a build: its next checkpoint
        train.fit(small_mlp(), x0_mse, gaussian_data(), steps=2, generator=gen(), checkpoint=path)
    assert path.exists()  # kept, for an interrupted build to resume


def test_a_builds_own_checkpoint_with_other_arguments_starts_afresh(tmp_path):
    kwargs = dict(steps=6, batch_size=16, ema_decay=0.8, generator=None)
    with checkpoint.checkpoints_in(tmp_path):
        train.fit(small_mlp(), x0_mse, gaussian_data(), lr=1e-2, **kwargs | {"generator": gen()})
    afresh = pytest.warns(UserWarning, match="starting afresh.*lr")
    with checkpoint.checkpoints_in(tmp_path), afresh:
        history = train.fit(small_mlp(), x0_mse, gaussian_data(), lr=5e-3, **kwargs)
    assert history.steps[0] == 1


# ---------------------------------------------------------------- crash-proof saves

SAVER = textwrap.dedent("""
    import os, sys, torch
    from minidiff import train
    torch.set_num_threads(1)
    model = torch.nn.Linear(512, 512)
    optimizer = torch.optim.AdamW(model.parameters())
    model(torch.ones(1, 512)).sum().backward()
    optimizer.step()
    generator = torch.Generator()
    while True:  # one saver after another (forked: torch is imported once), each killed by the test
        saver = os.fork()
        if saver == 0:
            for step in range(1, 10**9):
                with torch.no_grad():  # every tensor of save k holds k: a mix of saves shows
                    for p in model.parameters():
                        p.fill_(step)
                        for value in optimizer.state[p].values():
                            value.fill_(step)
                generator.manual_seed(step)
                train.save_checkpoint(sys.argv[1], model, optimizer=optimizer, step=step,
                                      generator=generator)
        print(saver, flush=True)
        os.waitpid(saver, 0)
""")


def check_consistent(path):
    """The checkpoint at path loads whole, and every tensor in it comes from the same save."""
    model = nn.Linear(512, 512)
    optimizer, generator = torch.optim.AdamW(model.parameters()), torch.Generator()
    model(torch.ones(1, 512)).sum().backward()
    optimizer.step()
    step = train.load_checkpoint(path, model, optimizer=optimizer, generator=generator)
    for p in model.parameters():
        assert torch.all(p == step)
        assert all(torch.all(v == step) for v in optimizer.state[p].values())
    assert torch.equal(generator.get_state(), torch.Generator().manual_seed(step).get_state())
    return step


def stop(pid: int) -> None:
    """SIGKILL pid (the forker's last saver, now init's child) and wait until it is gone."""
    try:
        os.kill(pid, signal.SIGKILL)
        while True:
            os.kill(pid, 0)
            time.sleep(0.01)
    except ProcessLookupError:
        pass


@pytest.mark.skipif(os.name != "posix", reason="kills with SIGKILL, forks")
def test_killing_saves_at_random_points_always_leaves_a_whole_checkpoint(tmp_path):
    path, rng, steps, temps = tmp_path / "ckpt.safetensors", random.Random(0), [], 0
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    forker = subprocess.Popen([sys.executable, "-c", SAVER, str(path)], env=env,
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    saver = None
    try:
        saver = int(forker.stdout.readline())
        for _ in range(20):
            time.sleep(rng.uniform(0.02, 0.5))
            os.kill(saver, signal.SIGKILL)
            saver = int(forker.stdout.readline())  # the forker reaped the killed one first
            temps += len(list(tmp_path.glob("*.tmp")))
            if path.exists():
                steps.append(check_consistent(path))
    finally:
        forker.kill()
        forker.wait()
        forker.stdout.close()
        if saver is not None:
            stop(saver)
    print(f"{temps} of 20 kills left a temp file (killed inside a save); {len(steps)} loaded")
    assert len(steps) >= 10, f"only {len(steps)} of 20 kills came after a completed save"
    assert temps > 0, "no kill landed inside a save: the test did not test a crash mid-save"
    train.save_checkpoint(path, nn.Linear(512, 512))
    assert not list(tmp_path.glob("*.tmp")), "the next save removes the killed savers' temp files"


def test_a_failing_write_keeps_the_previous_checkpoint_and_no_temp(tmp_path, monkeypatch):
    model = small_mlp()
    path = tmp_path / "ckpt.safetensors"
    train.save_checkpoint(path, model, step=1)
    before = path.read_bytes()

    def fsync_fails(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", fsync_fails)
    with pytest.raises(OSError, match="disk full"):
        train.save_checkpoint(path, small_mlp(seed=2), step=2)
    assert path.read_bytes() == before and os.listdir(tmp_path) == [path.name]


def test_stale_temps_of_live_writers_and_other_files_are_kept(tmp_path):
    path = tmp_path / "a.safetensors"
    live, dead = tmp_path / f"a.safetensors.{os.getpid()}.tmp", tmp_path / "a.safetensors.1.tmp"
    other = tmp_path / "b.safetensors.99999999.tmp"
    for f in (live, dead, other):
        f.write_bytes(b"partial")
    if os.name == "posix":
        dead_pid = subprocess.Popen(["true"])
        dead_pid.wait()
        dead = dead.rename(tmp_path / f"a.safetensors.{dead_pid.pid}.tmp")
        assert files.remove_stale_temps(path) == [dead.name]
    assert live.exists() and other.exists()
