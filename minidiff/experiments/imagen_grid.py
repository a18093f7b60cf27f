"""Lesson 05's exercise: Imagen's scaling experiment (Saharia et al. 2022, Sec. 4.4) at toy scale,
a 2 x 2 grid of text-encoder size x UNet size (recipes.t2i, 1,500 steps and one seed each), each
judged on one- and two-object held-out captions, with the encoders' masked-word accuracy.

Not a claim of the lesson: deciding it needs every cell converged and repeated over 3 training
seeds (hours of CPU), and a caption language in which a bigger encoder has something to add.
"""

from tqdm.auto import tqdm

from minidiff import profile, recipes, text, zoo
from minidiff.experiments.text_to_image import all_right, sample
from minidiff.recipes import shapes as shape_recipes


def grid_rows(judge_net, single, double, cfg, fast: bool) -> list[dict]:
    """Exercise (not run by the lesson): each (encoder, UNet) pair of recipes.t2i at the same
    scale, one seed each: alignment on one- and two-object prompts, and the encoders' MLM."""
    rows, held_out = [], shape_recipes.encode(double.captions)  # held-out captions for MLM
    for (encoder, unet), recipe in tqdm(recipes.t2i.items(), desc="Imagen grid"):
        denoiser = zoo.load(recipe, fast=fast)
        mlm = zoo.load(recipes.text_encoders[encoder], fast=fast)
        row = dict(encoder=encoder, unet=unet)
        row["encoder_params_k"] = profile.count_params(mlm.encoder) // 1000
        row["unet_params_k"] = profile.count_params(denoiser.net.unet) // 1000
        row["mlm_accuracy_pct"] = 100 * text.mlm_accuracy(mlm, *held_out)
        for objects, data in ((1, single), (2, double)):
            images = sample(denoiser, data.captions, cfg["grid_scale"], cfg["nfe"])
            right = all_right(judge_net, images.clamp(-1, 1), data, objects)
            row[f"accuracy_{objects}obj_pct"] = 100 * right.double().mean().item()
        rows.append(row)
    return rows
