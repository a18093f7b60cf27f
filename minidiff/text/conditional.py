"""A text-conditional network: a frozen text encoder feeding a UNet's cross-attention (Imagen).

TextConditional(encoder, unet)(x, t, ids, mask) = unet(x, t, context=encoder(ids, mask), mask)
(Saharia et al. 2022, Sec. 2.1: the text encoder is pre-trained on text only and kept frozen).
It takes the caption's token ids, so a sampler or targets.Denoiser passes (ids, mask) as its
conditions and one checkpoint holds both networks; the encoder's cost is small next to the UNet's.
"""

import torch
from torch import nn

from ..checks import check_instance
from .encoder import TextEncoder
from .pretrain import freeze


class TextConditional(nn.Module):
    """net(x, t, ids, mask) -> unet output; encoder frozen (no gradients, always in eval mode)."""

    def __init__(self, encoder: TextEncoder, unet: nn.Module):
        super().__init__()
        check_instance("encoder", encoder, TextEncoder, "text_encoder_small(len(tokenizer))")
        check_instance("unet", unet, nn.Module, "unet_text()")
        context_dim = getattr(unet, "config", {}).get("context_dim")
        if context_dim != encoder.config["width"]:
            raise ValueError(
                f"unet: expected context_dim equal to the encoder's width "
                f"{encoder.config['width']}, got context_dim={context_dim}"
            )
        self.encoder, self.unet = freeze(encoder), unet
        self.config = dict(encoder=encoder.config, unet=unet.config)

    def train(self, mode: bool = True):
        super().train(mode)
        self.encoder.eval()
        return self

    def forward(self, x, t, ids, mask):
        with torch.no_grad():
            context = self.encoder(ids, mask)
        return self.unet(x, t, context=context, mask=mask)
