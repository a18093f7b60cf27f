"""Lesson 00's experiment: the per-lesson time table and the claims the lesson prints."""

from pathlib import Path

from minidiff import recipes
from minidiff.experiments import welcome
from minidiff.recipes.build import RECORDED


def test_lesson_times_count_every_loaded_model_once_in_order():
    rows = welcome.lesson_times()
    assert [r["lesson"][:2] for r in rows] == [f"{i:02d}" for i in range(11)]
    assert all(r["zoo_models"] == 0 for r in rows[:3])  # lessons 00-02 load no zoo model
    assert rows[3]["zoo_models"] == len(recipes.ring_seeds)  # 03: the seed runs
    loaded = set()
    for names in map(welcome._with_needs, welcome.zoo_loads().values()):
        loaded |= set(names)
    in_order = sum(r["zoo_in_order_s"] for r in rows)
    assert abs(in_order - sum(RECORDED["cpu"][n] for n in loaded)) <= len(rows)  # rounding
    assert all(r["zoo_in_order_s"] <= r["zoo_cold_s"] for r in rows)


def test_needs_come_before_the_recipes_that_load_them():
    names = welcome._with_needs([recipes.latent_t2i, recipes.distill.pd[1]])
    assert names.index("text_encoder_tiny") < names.index("latent_t2i")
    assert names.index("shapes_autoencoder") < names.index("latent_t2i")
    assert names.index("pd_2") < names.index("pd_1")
    assert len(names) == len(set(names))


def _rows(sw_data, sw_model, prec_model):
    rows = []
    for seed, (a, b, p) in enumerate(zip(sw_data, sw_model, prec_model)):
        rows.append(dict(sampler=welcome.DATA, seed=seed, NFE=0, sample_s=0.0, SW2=a, modes=8,
                         precision=0.99 - 0.001 * seed))  # fmt: skip
        rows.append(dict(sampler="DDIM (25 steps)", seed=seed, NFE=25, sample_s=0.1, SW2=b,
                         modes=8, precision=p))  # fmt: skip
    return rows


def test_claims_follow_the_paired_verdicts():
    out = dict(seed_rows=_rows([0.07, 0.05, 0.09], [0.071, 0.052, 0.089], [0.99, 0.989, 0.988]),
               figures=dict(train_s=10.0, threads=1))  # fmt: skip
    assert [c["holds"] for c in welcome.claims(out)] == [True, True, True, True]
    out = dict(seed_rows=_rows([0.07, 0.05, 0.09], [0.17, 0.16, 0.18], [0.85, 0.86, 0.84]),
               figures=dict(train_s=70.0, threads=1))  # fmt: skip
    assert [c["holds"] for c in welcome.claims(out)] == [False, True, False, False]


def test_lesson_seconds_are_the_readme_lesson_tables_full_column():
    """One recorded time per lesson, in two places a reader sees: lesson 00's table and the
    README's; re-timing a lesson means updating both, and this test says when one was missed."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    full = {}
    for line in readme.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 5 and cells[0].isdigit() and "lessons/" in cells[1]:
            full[cells[0]] = int(cells[4])
    assert full == {name[:2]: s for name, s in welcome.LESSON_SECONDS.items()}


def test_readme_cold_cache_table_is_lesson_times():
    """The README's zoo-cost table (models, cold-cache and in-order seconds) is what
    welcome.lesson_times() computes from recipes.build.RECORDED, row for row."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    table = {}
    for line in readme.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 4 and cells[0].isdigit():
            numbers = [int(c.split(" (")[0].replace(",", "")) for c in cells[1:]]
            table[cells[0]] = numbers
    rows = welcome.lesson_times()
    expected = {r["lesson"][:2]: [r["zoo_models"], r["zoo_cold_s"], r["zoo_in_order_s"]]
                for r in rows if r["zoo_models"]}  # fmt: skip
    assert table == expected
