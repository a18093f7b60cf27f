"""nets.autoencoder: shapes and the downsampling factor, the KL against torch.distributions, the
scale as an exact inverse pair (latents / decode), PSNR's closed form, the time-free ResBlock,
and clear errors for bad input."""

import math

import pytest
import torch
from torch.distributions import Normal, kl_divergence

from minidiff import profile
from minidiff.nets import autoencoder, layers
from minidiff.recipes import latent


def test_shapes_and_factor():
    torch.manual_seed(0)
    model = autoencoder.AutoEncoder(3, 4, (8, 16, 16))
    x = torch.randn(2, 3, 32, 32)
    mean, logvar = model.encode(x)
    assert mean.shape == logvar.shape == (2, 4, 8, 8) and model.factor == 4
    reconstruction, *_ = model(x, generator=torch.Generator().manual_seed(0))
    assert reconstruction.shape == x.shape


def test_kl_matches_torch_distributions():
    torch.manual_seed(0)
    mean, logvar = torch.randn(2, 4, 3, 3), torch.randn(2, 4, 3, 3)
    q, p = Normal(mean, (0.5 * logvar).exp()), Normal(0.0, 1.0)
    expected = kl_divergence(q, p).mean()
    torch.testing.assert_close(autoencoder.kl_divergence(mean, logvar), expected)
    zero = torch.zeros(1, 4, 2, 2)
    assert autoencoder.kl_divergence(zero, zero).item() == 0.0


def test_scale_makes_latents_and_decode_inverse_maps():
    torch.manual_seed(0)
    model = autoencoder.AutoEncoder(3, 4, (8, 16)).eval()
    x = torch.randn(3, 3, 16, 16)
    model.scale.fill_(2.5)
    with torch.no_grad():
        torch.testing.assert_close(model.latents(x), 2.5 * model.encode(x)[0])
        torch.testing.assert_close(
            model.decode(model.latents(x)), model.decoder(model.encode(x)[0])
        )


def test_set_scale_gives_unit_std_latents():
    torch.manual_seed(0)
    model = autoencoder.AutoEncoder(3, 4, (8, 16)).eval()
    x = 3 * torch.randn(64, 3, 16, 16)
    latent.set_scale(model, x)
    with torch.no_grad():
        assert model.latents(x).std().item() == pytest.approx(1.0, rel=1e-4)


def test_psnr_closed_form():
    x = torch.zeros(1, 3, 4, 4)
    assert autoencoder.psnr(x + 0.2, x) == pytest.approx(10 * math.log10(4 / 0.04), rel=1e-5)


def test_resblock_without_time_is_the_resblock_with_zero_time_term():
    torch.manual_seed(0)
    plain, timed = layers.ResBlock(8, 16, None), layers.ResBlock(8, 16, 32)
    timed.load_state_dict(plain.state_dict(), strict=False)  # all but time_proj
    torch.nn.init.zeros_(timed.time_proj[1].weight)
    torch.nn.init.zeros_(timed.time_proj[1].bias)
    torch.nn.init.normal_(timed.out_layers[-1].weight)  # undo zero init: a non-trivial output
    plain.out_layers[-1].load_state_dict(timed.out_layers[-1].state_dict())
    x = torch.randn(2, 8, 6, 6)
    torch.testing.assert_close(plain(x), timed(x, torch.randn(2, 32)))


def test_light_decoder_is_four_times_cheaper_on_the_same_latents():
    full, light = latent.build_autoencoder(), latent.build_autoencoder(light=True)
    z = torch.randn(1, latent.Z_CHANNELS, 8, 8)
    assert light.decoder(z).shape == full.decoder(z).shape == (1, 3, 32, 32)
    assert profile.flops(full.decoder, z) >= 4 * profile.flops(light.decoder, z)
    assert full.encoder.state_dict().keys() == light.encoder.state_dict().keys()


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="decoder_channels: expected 3 widths"):
        autoencoder.AutoEncoder(3, 4, (8, 16, 16), decoder_channels=(8, 8))
    with pytest.raises(ValueError, match="z_channels: expected an int >= 1"):
        autoencoder.AutoEncoder(3, 0)
    model = autoencoder.AutoEncoder(3, 4, (8, 16, 16))
    with pytest.raises(ValueError, match=r"x: expected images \(B, 3, H, W\)"):
        model.encode(torch.randn(1, 3, 30, 30))
    with pytest.raises(ValueError, match=r"latents: expected \(B, 4, h, w\)"):
        model.decode(torch.randn(1, 3, 8, 8))
