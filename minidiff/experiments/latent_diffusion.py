"""Lesson 07's measured claims: a lightweight decoder costs >= 4x fewer FLOPs than the
autoencoder's own at <= 1 dB of reconstruction PSNR (MobileDiffusion, Zhao et al. 2023, Sec.
3.4); the end-to-end cost of one image (text encoder + UNet x steps + decoder; Rombach et al.
2022's latent diffusion) for pixel-space and latent pipelines; and latent against pixel space's
quality at equal training compute (experiments.latent_space, 3 training seeds each).

Models: the zoo's recipes.latent (shapes_autoencoder, shapes_light_decoder, latent_t2i).
Reconstruction: PSNR of decode(latents(x)) to x on held-out 32x32 images. Samples: latent_t2i
with DDIM and CFG on one-object held-out captions, decoded by each decoder; condition accuracy
(shape, colour, size and position all read as captioned) and FD by the 16x16 shapes judge on the
2x2-average-pooled images. Pipeline: median ms at 1 thread for one image (the UNet sees a batch
of 2 per step: CFG's conditional and unconditional halves); the SD-like and pixel-space UNets
are timed untrained (their weights do not change their cost).

python -m minidiff.experiments.latent_diffusion [--fast]
"""

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from minidiff import fd, profile, recipes, report, zoo
from minidiff.data import shapes
from minidiff.experiments import latent_space
from minidiff.experiments import text_to_image as t2i_bench
from minidiff.nets import autoencoder, classifier
from minidiff.recipes import latent, mobile
from minidiff.recipes import shapes as shape_recipes

NAME = "latent_diffusion"
PIXEL, LATENT = "pixel, efficient UNet", "latent, efficient UNet + light decoder"
AT = {  # the pixel runs' accuracy at equal compute, and the latent runs' at the end
    "latent": ("latent", -1),
    "pixel_equal_unet": ("pixel", latent_space.POINTS["unet"]),
    "pixel_equal_total": ("pixel", latent_space.POINTS["total"]),
}
CONFIG = {
    False: dict(n=200, nfe=15, scale=3.0, repeats=30),
    True: dict(n=16, nfe=4, scale=3.0, repeats=2),
}


def held_out(n: int) -> torch.Tensor:
    return shapes.generate(n, latent.SIZE, seed=shape_recipes.SEEDS["test"]).images


def decoder_rows(full, light, x) -> list[dict]:
    """Each decoder's parameters, GFLOPs and ms for one latent, and PSNR on x."""
    rows, z = [], full.latents(x)
    for name, model in (("full", full), ("light", light)):
        with torch.no_grad():
            reconstruction = model.decode(z)
        row = profile.profile_row(name, model.decoder, z[:1] / model.scale)
        widths = "-".join(map(str, model.config["decoder_channels"]))
        row["model"] = widths + (" separable" if model.config["separable"] else "")
        rows.append(dict(decoder=name, **row, psnr_db=autoencoder.psnr(reconstruction, x)))
    return rows


def sample_latents(denoiser, captions, scale, nfe, seed=0) -> torch.Tensor:
    """DDIM with CFG in latent space (lesson 05's sampler): (B, 4, 8, 8) latents for captions."""
    side = latent.SIZE // 4
    shape = (latent.Z_CHANNELS, side, side)
    return t2i_bench.sample(denoiser, captions, scale, nfe, seed=seed, shape=shape)


def sample_rows(denoiser, decoders, judge_net, cfg) -> list[dict]:
    """Condition accuracy and FD of the latent model's samples through each decoder."""
    data = t2i_bench.prompts(cfg["n"], 1)
    z = sample_latents(denoiser, data.captions, cfg["scale"], cfg["nfe"])
    return [
        dict(decoder=name, **judge_latents(z, model, judge_net, data))
        for name, model in decoders.items()
    ]


@torch.no_grad()
def judge_latents(z, decoder, judge_net, data: shapes.Shapes) -> dict:
    """Condition accuracy (shape, colour, size, position) and FD of latents z for data's captions,
    decoded and pooled from 32x32 to the judge's 16x16."""
    images = F.avg_pool2d(decoder.decode(z).clamp(-1, 1), 2)
    right = t2i_bench.all_right(judge_net, images, data, 1, mobile.ATTRIBUTES)
    real = classifier.features(judge_net, data.images)
    feats = classifier.features(judge_net, images)
    return dict(accuracy_pct=100 * right.double().mean().item(), fd=fd.fd(feats, real))


def pipeline_row(name, denoiser, decoder, in_shape, steps, ms, batch=2) -> dict:
    """ms of one image: the text encoder once, the UNet `steps` times (batch 2 for CFG's two
    halves, 1 without CFG), the decoder; ms(module, *inputs) times a network."""
    ids, mask = shape_recipes.encode(["a small red circle on the left", ""][:batch])
    with torch.no_grad():
        context = denoiser.net.encoder(ids, mask)
    x, t, unet = torch.randn(batch, *in_shape), torch.full((batch,), 0.5), denoiser.net.unet
    row = dict(pipeline=name, text_ms=ms(denoiser.net.encoder, ids[:1], mask[:1]))
    row["unet_ms_per_step"] = ms(unet, x, t, context, mask)
    row["decoder_ms"] = 0.0
    gflops = profile.flops(unet, x, t, context, mask) * steps
    if decoder is not None:
        z = torch.randn(1, *in_shape)
        row["decoder_ms"] = ms(decoder.decoder, z)
        gflops += profile.flops(decoder.decoder, z)
    row["steps"] = steps
    row["total_ms"] = row["text_ms"] + steps * row["unet_ms_per_step"] + row["decoder_ms"]
    row["GFLOPs"] = gflops / 1e9
    return row


def timer(repeats: int):
    """ms(module, *inputs): median ms at 1 thread, measured once per module and input shapes."""
    timed = {}

    def ms(module, *inputs):
        key = (module, tuple(tuple(v.shape) for v in inputs))
        if key not in timed:
            timed[key] = profile.latency_ms(module, *inputs, warmup=5, repeats=repeats)
        return timed[key]

    return ms


def pipeline_rows(efficient, full, light, cfg) -> list[dict]:
    """One image at 32x32 in pixel space (no decoder) and in latent space (8x8x4); a network
    that two pipelines share is timed once, so they share its number too."""
    side, steps = latent.SIZE // 4, cfg["nfe"]
    pixel, latent_shape = (3, latent.SIZE, latent.SIZE), (latent.Z_CHANNELS, side, side)
    sd_pixel = mobile.build("sd_like").eval()  # 3 channels in and out
    efficient_pixel = mobile.build("one_resblock").eval()
    sd_latent = latent.build_latent_t2i("sd_like").eval()
    ms = timer(cfg["repeats"])
    pipelines = [
        ("pixel, SD-like UNet", sd_pixel, None, pixel),
        ("pixel, efficient UNet", efficient_pixel, None, pixel),
        ("latent, SD-like UNet + full decoder", sd_latent, full, latent_shape),
        ("latent, efficient UNet + full decoder", efficient, full, latent_shape),
        ("latent, efficient UNet + light decoder", efficient, light, latent_shape),
    ]
    return [
        pipeline_row(name, denoiser, decoder, shape, steps, ms)
        for name, denoiser, decoder, shape in tqdm(pipelines, desc="pipelines")
    ]


def run(fast: bool = False) -> dict:
    cfg = CONFIG[fast]
    full = zoo.load(latent.shapes_autoencoder, fast=fast)
    light = zoo.load(latent.shapes_light_decoder, fast=fast)
    denoiser = zoo.load(latent.latent_t2i, fast=fast)
    judge_net = zoo.load(recipes.shapes_classifier, fast=fast)
    decoders = decoder_rows(full, light, held_out(cfg["n"]))
    samples = sample_rows(denoiser, dict(full=full, light=light), judge_net, cfg)
    pipelines = pipeline_rows(denoiser, full, light, cfg)
    flops, spaces = latent_space.training_flops(fast), latent_space.measure(fast)
    f, li = decoders
    pipeline_flops = {r["pipeline"]: r["GFLOPs"] for r in pipelines}
    return dict(
        decoders=decoders,
        samples=samples,
        pipelines=pipelines,
        spaces=spaces,
        space_table=latent_space.table(spaces, flops),
        training_flops=flops,
        figures=dict(
            decoder_flops_ratio=f["GFLOPs"] / li["GFLOPs"],
            psnr_full_db=f["psnr_db"],
            psnr_light_db=li["psnr_db"],
            psnr_drop_db=f["psnr_db"] - li["psnr_db"],
            accuracy_pct={r["decoder"]: r["accuracy_pct"] for r in samples},
            fd={r["decoder"]: r["fd"] for r in samples},
            pipeline_ms={r["pipeline"]: r["total_ms"] for r in pipelines},
            pipeline_GFLOPs=pipeline_flops,
            latent_flops_ratio=pipeline_flops[PIXEL] / pipeline_flops[LATENT],
            space_accuracy_pct={k: latent_space.final(spaces, s, i) for k, (s, i) in AT.items()},
            samples=cfg["n"],
        ),
    )


def claims(result: dict) -> list[dict]:
    """The light decoder's cost and PSNR; latent space's cost for one image and its quality at
    equal training compute (latent_space.claims)."""
    f = result["figures"]
    ratio, drop = f["decoder_flops_ratio"], f["psnr_drop_db"]
    steps = result["pipelines"][0]["steps"]
    return [
        report.claim("The light decoder needs >= 4x fewer FLOPs than the full one",
                     ratio >= 4, "FLOPs ratio >= 4 (exact count)", ratio=round(ratio, 2)),
        report.claim("The light decoder loses <= 1 dB of PSNR on held-out images (one training "
                     "run of each decoder)", drop <= 1, "PSNR(full) - PSNR(light) <= 1 dB",
                     drop_db=round(drop, 2)),
        report.claim("Latent space makes one image of the efficient UNet >= 10x cheaper than "
                     f"pixel space ({steps} DDIM steps, CFG)", f["latent_flops_ratio"] >= 10,
                     "FLOPs ratio >= 10 (exact count, decoder included)",
                     ratio=round(f["latent_flops_ratio"], 1)),
        *latent_space.claims(result["spaces"]),
    ]  # fmt: skip


def main(argv: list[str] | None = None) -> dict:
    """The command line: [--fast]; prints the tables, then one JSON line of figures."""
    tables = ("decoders", "samples", "pipelines", "space_table")
    return report.benchmark_main(NAME, run, tables=tables, argv=argv, claims=claims)


if __name__ == "__main__":
    main()
