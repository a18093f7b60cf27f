"""`make zoo`: say what building the missing models will cost, then build them with an ETA.

RECORDED holds the seconds each recipe took at full budget in the course's own builds (the
`seconds` of its json), per kind of device; what has no record is listed as unknown.
"""

import time

from tqdm.auto import tqdm

from .. import runtime, zoo

RECORDED = {
    # a 2-core CPU, 1 torch thread per training, two to six trainings sharing the cores
    "cpu": {
        "ring_teacher": 19, "ring_eps_seeds": 61, "ring_x0_seeds": 59, "ring_v_seeds": 65,
        "ring_velocity_seeds": 65, "ring_eps_ts1000_seeds": 59, "digits_classifier": 4,
        "digits_unet": 312, "shapes_classifier": 115,
        "text_encoder_tiny": 30, "text_encoder_small": 105, "text_encoder_base": 503,
        "shapes_t2i_tiny_small": 716, "shapes_t2i_tiny_large": 1417,
        "shapes_t2i_base_small": 397, "shapes_t2i_base_large": 1688, "shapes_t2i": 1401,
        # lesson 06's runs (two trainings sharing an otherwise quiet machine, one thread each)
        **dict(zip((f"mobile_sd_like_seed{i}" for i in range(3)), (1924, 1903, 1710))),
        **dict(zip((f"mobile_one_resblock_seed{i}" for i in range(3)), (837, 809, 808))),
        **dict(zip((f"mobile_no_attention_high_seed{i}" for i in range(3)), (597, 579, 519))),
        **dict(zip((f"mobile_relu_finetune_seed{i}" for i in range(3)), (165, 183, 166))),
        **dict(zip((f"mobile_relu_scratch_seed{i}" for i in range(3)), (672, 682, 667))),
        "shapes_autoencoder": 695, "shapes_light_decoder": 1331, "latent_t2i": 1167,
        # lesson 07's seeds and pixel-space runs (two trainings sharing an otherwise quiet machine)
        "latent_t2i_seed1": 617, "latent_t2i_seed2": 613, "pixel_t2i_seed0": 765,
        "pixel_t2i_seed1": 759, "pixel_t2i_seed2": 732,
        "ring_v_teacher": 20, "ring_ufogen": 36, "pd_32": 188, "pd_16": 191, "pd_8": 151,
        "pd_4": 155, "pd_2": 179, "pd_1": 130, "ufogen": 680, "ufogen_random_d": 685,
        # lesson 08's seeds 1 and 2 (two trainings sharing an otherwise quiet machine)
        "pd_32_seed1": 124, "pd_16_seed1": 106, "pd_8_seed1": 128, "pd_4_seed1": 124,
        "pd_2_seed1": 121, "pd_1_seed1": 131, "pd_32_seed2": 154, "pd_16_seed2": 113,
        "pd_8_seed2": 118, "pd_4_seed2": 138, "pd_2_seed2": 115, "pd_1_seed2": 125,
        "ufogen_seed1": 685, "ufogen_seed2": 750,
        "ufogen_random_d_seed1": 736, "ufogen_random_d_seed2": 724,
        # lesson 09's runs (two trainings sharing an otherwise quiet machine)
        **dict(zip((f"hdit_study_hdit_seed{i}" for i in range(3)), (341, 398, 330))),
        **dict(zip((f"hdit_study_dit_seed{i}" for i in range(3)), (303, 365, 313))),
        **dict(zip((f"hdit_study_unet_seed{i}" for i in range(3)), (232, 248, 232))),
        **dict(zip((f"hdit_study_hdit_add_seed{i}" for i in range(3)), (326, 351, 328))),
        **dict(zip((f"hdit_study_hdit_uniform_seed{i}" for i in range(3)), (341, 312, 322))),
        # lesson 10's models (two trainings sharing an otherwise quiet machine; arad_seed1 in two
        # legs, interrupted and resumed)
        "scenes_judge": 54, "scenes_tile": 444, "scenes_sr": 458,
        **dict(zip((f"composition_arad_seed{i}" for i in range(3)), (483, 467, 437))),
        **dict(zip((f"composition_crop_seed{i}" for i in range(3)), (421, 427, 395))),
    },
    # an H200 (issue 11's measurement, before fit lost its per-step host overhead)
    "cuda": {"ring_teacher": 24.5, "digits_unet": 37.6},
}  # fmt: skip


def plan(recipes, fast: bool, root=None) -> list[tuple[str, float | None]]:
    """(name, recorded seconds or None) of each recipe the cache lacks, in build order."""
    recorded = {} if fast else RECORDED.get(runtime.device().type, {})
    missing = [r for r in recipes if not zoo.is_cached(r, fast, root)]
    return [(r.name, recorded.get(r.name)) for r in missing]


def describe(steps: list, fast: bool) -> str:
    """The plan as text: one line per missing recipe, then the total."""
    if not steps:
        return "zoo: every model is in the cache; nothing to train"
    where = f"{runtime.device()}, {'fast' if fast else 'full budget'}"
    lines = [f"zoo: {len(steps)} models to train on {where} (recorded seconds on this kind):"]
    lines += [f"  {name:28s} {'unknown' if s is None else f'{s:7.0f} s'}" for name, s in steps]
    known = [s for _, s in steps if s is not None]
    total = f"  total {sum(known) / 3600:.1f} h recorded"
    if len(known) < len(steps):
        total += f", plus {len(steps) - len(known)} with no record on this kind of device"
    return "\n".join(lines + [total])


def build_all(recipes, fast: bool | None = None, root=None) -> dict:
    """Print the plan, then train (or find) every recipe under one progress bar weighted by the
    recorded seconds (ETA); returns {name: seconds this call spent on it}."""
    fast = runtime.fast_mode() if fast is None else fast
    steps = plan(recipes, fast, root)
    print(describe(steps, fast))
    weight = {name: s or 1.0 for name, s in steps}
    seconds = {}
    with tqdm(total=sum(weight.values()), desc="zoo", unit="s", disable=not steps) as bar:
        for recipe in recipes:
            start = time.perf_counter()
            zoo.load(recipe, fast=fast, progress=True, root=root)
            seconds[recipe.name] = round(time.perf_counter() - start, 1)
            bar.update(weight.get(recipe.name, 0.0))
    return seconds
