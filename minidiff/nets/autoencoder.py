"""A small KL-regularised autoencoder for latent diffusion, and a lightweight decoder for it.

Latent diffusion (Rombach et al. 2022, Sec. 3): an encoder E maps an image x (B, 3, H, W) to a
diagonal Gaussian q(z | x) over latents (B, z_channels, H/f, W/f), f = 2^(levels - 1); a decoder D
maps z back; the loss is ||D(z) - x||^2 + beta KL(q(z | x) || N(0, I)), z ~ q by the
reparameterisation trick (Kingma & Welling 2014). The diffusion model then works on scale * mean,
scale = 1 / std of the training latents (LDM's 0.18215), so its data have unit variance.
MobileDiffusion (Zhao et al. 2023, Sec. 3.4) keeps the encoder and pairs it with a lighter decoder
trained for the same latents: here `decoder_channels` and `separable` make that decoder.
Notable choices: ResBlocks without attention, and no perceptual or GAN loss (the shapes are flat
colours, which MSE reconstructs); the encoder's log-variance is clamped to [-30, 20] (LDM).
"""

import torch
from torch import nn

from minidiff.checks import check_float, check_generator, check_int, check_tensor, describe
from minidiff.nets.layers import Downsample, ResBlock, Upsample, check_input, conv3x3, group_norm


class Coder(nn.Module):
    """(B, in_channels, H, W) -> (B, out_channels, H * 2^-k or 2^k, ...): conv, then per level a
    ResBlock of its width with a Down/Upsample between levels (k = levels - 1), GroupNorm, SiLU,
    conv. `up` picks the decoder's direction."""

    def __init__(self, in_channels, out_channels, channels, up=False, separable=False):
        super().__init__()
        self.conv_in = nn.Conv2d(in_channels, channels[0], 3, padding=1)
        blocks, width = [], channels[0]
        for i, c in enumerate(channels):
            blocks.append(ResBlock(width, c, None, separable))
            if i < len(channels) - 1:
                blocks.append(Upsample(c, separable) if up else Downsample(c))
            width = c
        self.blocks = nn.Sequential(*blocks)
        self.conv_out = nn.Sequential(group_norm(width), nn.SiLU(), conv3x3(width, out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_out(self.blocks(self.conv_in(x)))


def _check_widths(name: str, widths) -> list[int]:
    """A non-empty list of positive int widths (numpy ints become ints: the config is JSON)."""
    if not isinstance(widths, (tuple, list)) or len(widths) < 1:
        raise ValueError(f"{name}: expected a non-empty list of widths, got {describe(widths)}")
    return [check_int(name, width, 1) for width in widths]


class AutoEncoder(nn.Module):
    """E: 3 x H x W -> (mean, log-variance) of z_channels x H/f x W/f; D: z -> 3 x H x W.

    channels: the encoder's widths from the image down (the decoder's, reversed, unless
    decoder_channels says otherwise); separable: depthwise-separable convs in the decoder.
    """

    def __init__(
        self, in_channels=3, z_channels=4, channels=(32, 64, 64), decoder_channels=None,
        separable=False,
    ):  # fmt: skip
        super().__init__()
        in_channels = check_int("in_channels", in_channels, 1)
        z_channels = check_int("z_channels", z_channels, 1)
        channels = _check_widths("channels", channels)
        decoder_channels = _check_widths(
            "decoder_channels", channels[::-1] if decoder_channels is None else decoder_channels
        )
        if not isinstance(separable, bool):
            raise TypeError(f"separable: expected a bool, got {describe(separable)}")
        if len(decoder_channels) != len(channels):
            raise ValueError(
                f"decoder_channels: expected {len(channels)} widths like channels "
                f"{tuple(channels)} (the same downsampling), got {tuple(decoder_channels)}"
            )
        self.config = dict(
            in_channels=in_channels, z_channels=z_channels, channels=channels,
            decoder_channels=decoder_channels, separable=separable,
        )  # fmt: skip
        self.factor = 2 ** (len(channels) - 1)
        self.encoder = Coder(in_channels, 2 * z_channels, channels)
        self.decoder = Coder(
            z_channels, in_channels, decoder_channels, up=True, separable=separable
        )
        self.register_buffer("scale", torch.ones(()))  # 1 / std of the latents, set by training

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance of q(z | x), each (B, z_channels, H/f, W/f)."""
        c, f = self.config["in_channels"], self.factor
        check_input("x", x, self.encoder.conv_in.weight.dtype, ("B", c, "H", "W"), "images")
        if x.shape[2] % f or x.shape[3] % f:
            raise ValueError(f"x: expected images (B, {c}, H, W) with H and W divisible by {f}, "
                             f"got {describe(x)}")  # fmt: skip
        mean, logvar = self.encoder(x).chunk(2, dim=1)
        return mean, logvar.clamp(-30.0, 20.0)

    def forward(self, x, generator=None):
        """(reconstruction of a sampled z, mean, log-variance)."""
        mean, logvar = self.encode(x)
        check_generator("generator", generator)
        device = x.device if generator is None else generator.device  # drawn where it lives
        noise = torch.randn(mean.shape, generator=generator, device=device, dtype=x.dtype)
        noise = noise.to(x.device)
        return self.decoder(mean + (0.5 * logvar).exp() * noise), mean, logvar

    def latents(self, x: torch.Tensor) -> torch.Tensor:
        """What the diffusion model sees: scale * the mean of q(z | x)."""
        return self.scale * self.encode(x)[0]

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Images from diffusion latents (the inverse of `latents`)."""
        z, dtype = self.config["z_channels"], self.decoder.conv_in.weight.dtype
        check_input("latents", latents, dtype, ("B", z, "h", "w"), noun="")
        return self.decoder(latents / self.scale)


def kl_divergence(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, exp(logvar)) || N(0, I)) per latent element, averaged: a scalar."""
    return 0.5 * (mean.square() + logvar.exp() - 1.0 - logvar).mean()


def vae_loss(model: AutoEncoder, x, *, generator=None, beta: float = 1e-3) -> torch.Tensor:
    """Mean squared reconstruction error plus beta times the mean KL to N(0, I)."""
    check_float("beta", beta, 0)
    reconstruction, mean, logvar = model(x, generator=generator)
    return (reconstruction - x).square().mean() + beta * kl_divergence(mean, logvar)


def decoder_loss(model: AutoEncoder, x, *, generator=None) -> torch.Tensor:
    """A decoder's loss for a fixed encoder: mean squared error of D(mean of q(z | x)) to x."""
    with torch.no_grad():
        mean, _ = model.encode(x)
    return (model.decoder(mean) - x).square().mean()


def psnr(images: torch.Tensor, reference: torch.Tensor) -> float:
    """Peak signal-to-noise ratio in dB of images in [-1, 1] (peak-to-peak 2) to reference."""
    check_tensor("images", images), check_tensor("reference", reference)  # finite, non-empty
    if reference.shape != images.shape:
        raise ValueError(f"reference: expected images' shape {tuple(images.shape)}, got "
                         f"{describe(reference)}")  # fmt: skip
    mse = (images.clamp(-1, 1) - reference).square().mean().item()
    return 10 * torch.log10(torch.tensor(4.0 / max(mse, 1e-12))).item()
