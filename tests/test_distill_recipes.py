"""recipes.distill (lesson 08): the progressive distillation chain halves the steps and keeps the
teacher's architecture, each training seed has its own chain from the one teacher, the UFOGen
runs differ only in the discriminator's initialisation (and their seed),
Snapshots keep their iteration counts through a checkpoint, and no fingerprint holds a memory
address."""

import torch

from minidiff import recipes, train, zoo
from minidiff.recipes import distill, latent


def test_the_rounds_halve_the_steps_down_to_one():
    assert list(distill.pd) == list(distill.ROUNDS)
    assert distill.ROUNDS[0] == distill.TEACHER_STEPS // 2 and distill.ROUNDS[-1] == 1
    assert all(a == 2 * b for a, b in zip(distill.ROUNDS, distill.ROUNDS[1:]))
    assert all(recipe.train.keywords == {"n": n, "seed": 0} for n, recipe in distill.pd.items())


def test_each_seed_distils_its_own_chain_from_the_same_teacher():
    assert distill.pd is distill.pd_runs[0] and len(distill.pd_runs) == distill.SEEDS
    for seed, chain in distill.pd_runs.items():
        assert all(r.train.keywords == {"n": n, "seed": seed} for n, r in chain.items())
        assert chain[distill.ROUNDS[0]].needs[0] is latent.latent_t2i  # one teacher for all
        for big, small in zip(distill.ROUNDS, distill.ROUNDS[1:]):
            assert chain[small].needs[0] is chain[big]  # the round before, same seed
    names = [r.name for runs in distill.pd_runs.values() for r in runs.values()]
    ufogen = (*distill.ufogen_runs.values(), *distill.ufogen_random_d_runs.values())
    names += [r.name for r in ufogen]
    assert len(names) == len(set(names)) == distill.SEEDS * (len(distill.ROUNDS) + 2)


def test_a_student_has_its_teachers_architecture():
    teacher, student = latent.build_latent_t2i(), distill.pd[8].build()
    assert student.config == teacher.config
    student.load_state_dict(teacher.state_dict())  # strict: every tensor has its place


def test_the_ufogen_runs_differ_only_in_the_discriminators_start():
    assert distill.ufogen.build is distill.ufogen_random_d.build
    assert distill.ufogen_random_d.train.func is distill.ufogen.train.func
    assert distill.ufogen_random_d.train.keywords == {"pretrained_d": False, "seed": 0}
    for seed in range(distill.SEEDS):
        a, b = distill.ufogen_runs[seed].train, distill.ufogen_random_d_runs[seed].train
        assert (a.keywords, b.keywords) == (
            {"pretrained_d": True, "seed": seed},
            {"pretrained_d": False, "seed": seed},
        )


def test_snapshots_keep_their_steps_through_a_checkpoint(tmp_path):
    model = distill.build_ring_ufogen()
    assert len(model.models) == len(distill.RING_SNAPSHOTS[False]) == len(distill.SNAPSHOTS[True])
    model.steps.copy_(torch.tensor(distill.RING_SNAPSHOTS[False]))
    with torch.no_grad():
        model.models[2].net.final_layer.bias.fill_(0.5)
    train.save_checkpoint(tmp_path / "s.safetensors", model)
    loaded = distill.build_ring_ufogen()
    train.load_checkpoint(tmp_path / "s.safetensors", loaded)
    assert loaded.steps.tolist() == list(distill.RING_SNAPSHOTS[False])
    assert torch.equal(loaded.models[2].net.final_layer.bias, torch.full((2,), 0.5))


def test_no_course_fingerprint_holds_a_memory_address():
    for recipe in recipes.ALL:
        source = zoo._source(recipe.train) + zoo._source(recipe.build)
        assert " at 0x" not in source, recipe.name
