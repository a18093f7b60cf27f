"""A small UNet denoiser: net(x, t, context=None, mask=None, y=None) -> (B, C_out, H, W).

DDPM/ADM's UNet (Ho et al. 2020; Dhariwal & Nichol 2021): ResBlocks with the time embedding, one
Stage per resolution, concatenated skips, a middle block at the lowest resolution; LDM-style
transformers with cross-attention to text tokens (Rombach et al. 2022); a class embedding with a
null label for classifier-free guidance (Ho & Salimans 2022). Notable choices: every residual
branch's last layer and the output conv start at zero (DDPM/ADM), so the untrained net outputs 0;
each Stage says its own widths, ResBlocks, separable convs and transformer Block (MobileDiffusion).
"""

from dataclasses import asdict, dataclass

import torch
from torch import nn

from minidiff.checks import check_float, check_instance, check_int, describe
from minidiff.nets import layers
from minidiff.nets.attention import Block, SpatialTransformer


@dataclass(frozen=True)
class Stage:
    """One resolution level: `num_res_blocks` ResBlocks of `channels` (one more on the way up),
    each followed by a SpatialTransformer if `attention` is a Block."""

    channels: int
    num_res_blocks: int = 1
    separable: bool = False
    attention: Block | None = None

    def __post_init__(self):
        for name in ("channels", "num_res_blocks"):  # numpy ints are stored as ints
            object.__setattr__(self, name, check_int(name, getattr(self, name), 1))
        if not isinstance(self.separable, bool):
            raise ValueError(f"separable: expected a bool, got {describe(self.separable)}")
        if self.attention is not None:
            check_instance("attention", self.attention, Block, "Block(num_heads=2)")


def as_stage(stage) -> Stage:
    """A Stage, or the dict that UNet.config stores for it (attention as a dict or None)."""
    if isinstance(stage, Stage):
        return stage
    if not isinstance(stage, dict):
        raise TypeError(f"stages: expected Stage(...) objects or dicts, got {describe(stage)}")
    attention = stage.get("attention")
    attention = Block(**attention) if isinstance(attention, dict) else attention
    return Stage(**{**stage, "attention": attention})


DEFAULT_STAGES = (Stage(32), Stage(64, attention=Block()))


class Layer(nn.Module):
    """A ResBlock, then the stage's SpatialTransformer (if any), then an Upsample (if asked)."""

    def __init__(self, in_channels, stage, time_dim, context_dim, dropout, upsample=False):
        super().__init__()
        self.res = layers.ResBlock(in_channels, stage.channels, time_dim, stage.separable, dropout)
        self.transformer = None
        if stage.attention is not None:
            self.transformer = SpatialTransformer(stage.channels, context_dim, stage.attention)
        self.upsample = layers.Upsample(stage.channels) if upsample else None

    def forward(self, h, emb, context=None, mask=None):
        h = self.res(h, emb)
        if self.transformer is not None:
            h = self.transformer(h, context, mask)
        return h if self.upsample is None else self.upsample(h)


class UNet(nn.Module):
    """x (B, in_channels, H, W), t (B,) -> (B, out_channels, H, W); H, W divisible by
    2^(len(stages) - 1). context: text tokens (B, L, context_dim) with mask (B, L) bool (True =
    real token); y: int labels (B,) in [0, num_classes], num_classes being the null label (also
    used when y is None). time_dim defaults to 4 stages[0].channels (DDPM)."""

    def __init__(
        self,
        in_channels=3,
        stages=DEFAULT_STAGES,
        context_dim=None,
        num_classes=0,
        time_dim=None,
        out_channels=None,
        dropout=0.0,
    ):
        super().__init__()
        if not isinstance(stages, (tuple, list)) or not stages:
            raise ValueError(f"stages: expected a non-empty list of Stage, got {describe(stages)}")
        stages = [as_stage(s) for s in stages]
        time_dim = 4 * stages[0].channels if time_dim is None else time_dim
        out_channels = in_channels if out_channels is None else out_channels
        self.config = c = dict(  # the constructor's kwargs, JSON-ready for checkpoints
            in_channels=check_int("in_channels", in_channels, 1),
            stages=[asdict(s) for s in stages],
            context_dim=None if context_dim is None else check_int("context_dim", context_dim, 1),
            num_classes=check_int("num_classes", num_classes, 0),
            time_dim=check_int("time_dim", time_dim, 1),
            out_channels=check_int("out_channels", out_channels, 1),
            dropout=check_float("dropout", dropout, 0, 1, open_high=True),
        )
        self._check_attention(stages)
        self.stages = stages
        width = stages[0].channels
        frequencies = max(2, width - width % 2)  # SinusoidalEmbedding needs an even size
        self.time_embedder = nn.Sequential(
            layers.SinusoidalEmbedding(frequencies),
            nn.Linear(frequencies, c["time_dim"]),
            nn.SiLU(),
            nn.Linear(c["time_dim"], c["time_dim"]),
        )
        # one extra row: index num_classes is the null label for classifier-free guidance
        classes = c["num_classes"]
        self.class_embedder = nn.Embedding(classes + 1, c["time_dim"]) if classes else None
        self.x_embedder = nn.Conv2d(c["in_channels"], width, 3, padding=1)
        self._build_levels(stages, c["time_dim"], c["context_dim"], c["dropout"])

    def _check_attention(self, stages):
        for i, s in enumerate(stages):
            if s.attention is None:
                continue
            if s.channels % s.attention.num_heads:
                raise ValueError(
                    f"stages[{i}]: channels {s.channels} not divisible by num_heads "
                    f"{s.attention.num_heads}; use a multiple of it, or fewer heads"
                )
            if s.attention.kind == "cross" and self.config["context_dim"] is None:
                raise ValueError(f"stages[{i}]: attention kind 'cross' needs a context_dim")

    def _build_levels(self, stages, time_dim, context_dim, dropout):
        """ADM's layout: the encoder keeps every output as a skip; the decoder has one more
        Layer per stage, each eating one skip, the last of a level upsampling; then the output."""
        args = (time_dim, context_dim, dropout)
        self.encoder, skips, channels = nn.ModuleList(), [stages[0].channels], stages[0].channels
        for i, stage in enumerate(stages):
            for _ in range(stage.num_res_blocks):
                self.encoder.append(Layer(channels, stage, *args))
                channels = stage.channels
                skips.append(channels)
            if i < len(stages) - 1:
                self.encoder.append(layers.Downsample(channels))
                skips.append(channels)
        middle = Stage(channels, attention=stages[-1].attention)
        self.middle = nn.ModuleList(
            [Layer(channels, middle, *args), Layer(channels, Stage(channels), *args)]
        )
        self.decoder = nn.ModuleList()
        for i, stage in reversed(list(enumerate(stages))):
            for j in range(stage.num_res_blocks + 1):
                upsample = i > 0 and j == stage.num_res_blocks
                self.decoder.append(Layer(channels + skips.pop(), stage, *args, upsample))
                channels = stage.channels
        self.final_layer = nn.Sequential(
            layers.group_norm(channels),
            nn.SiLU(),
            layers.zero_init(nn.Conv2d(channels, self.config["out_channels"], 3, padding=1)),
        )

    def _check_inputs(self, x, t):
        c, factor = self.config, 2 ** (len(self.stages) - 1)
        layers.check_input("x", x, self.x_embedder.weight.dtype, ("B", c["in_channels"], "H", "W"))
        if x.shape[2] % factor or x.shape[3] % factor:
            raise ValueError(f"x: H and W must be divisible by {factor} (one halving per stage "
                             f"after the first), got {describe(x)}")  # fmt: skip
        layers.check_times(t, len(x))

    def _check_conditions(self, batch, context, mask, y):
        dim, classes = self.config["context_dim"], self.config["num_classes"]
        if context is not None and dim is None:
            raise ValueError(f"context: this UNet has context_dim=None, so context must be None "
                             f"(class labels go in y=), got {describe(context)}")  # fmt: skip
        if context is not None:
            dtype = self.x_embedder.weight.dtype
            layers.check_input("context", context, dtype, (batch, "L", dim), "float tokens")
        if mask is not None and context is None:
            raise ValueError(f"mask: needs a context (pass both or neither), got {describe(mask)}")
        if mask is not None and not (torch.is_tensor(mask) and mask.dtype == torch.bool
                                     and mask.shape == context.shape[:2]):  # fmt: skip
            shape = tuple(context.shape[:2])
            raise ValueError(f"mask: expected a bool tensor {shape} like context's (B, L), got "
                             f"{describe(mask)}")  # fmt: skip
        layers.check_labels(y, batch, classes, "num_classes", "UNet")

    def forward(self, x, t, context=None, mask=None, y=None):
        self._check_inputs(x, t)
        self._check_conditions(len(x), context, mask, y)
        emb = self.time_embedder(t.to(x.dtype))  # (B, time_dim)
        if self.class_embedder is not None:
            if y is None:
                y = torch.full_like(t, self.config["num_classes"], dtype=torch.long)
            emb = emb + self.class_embedder(y)
        h = self.x_embedder(x)  # (B, C_0, H, W)
        skips = [h]
        for layer in self.encoder:
            h = layer(h, emb, context, mask)
            skips.append(h)
        for layer in self.middle:
            h = layer(h, emb, context, mask)
        for layer in self.decoder:
            h = layer(torch.cat([h, skips.pop()], dim=1), emb, context, mask)
        return self.final_layer(h)


def unet_small(**kw) -> UNet:
    """16x16 grey digits, 10 classes: 32-64-64 channels, self-attention at 8x8 and 4x4."""
    attention = Block(num_heads=2)
    stages = (Stage(32), Stage(64, attention=attention), Stage(64, attention=attention))
    return UNet(**{"in_channels": 1, "stages": stages, "num_classes": 10, **kw})


def unet_text(**kw) -> UNet:
    """32x32 RGB shapes from text tokens (context_dim 64): 32-64-96 channels, cross-attention
    only at 16x16, self+cross attention at 8x8 and in the middle (MobileDiffusion's layout)."""
    stages = (
        Stage(32),
        Stage(64, attention=Block("cross", num_heads=2, ffn_expansion=2)),
        Stage(96, attention=Block("self+cross", num_heads=4, ffn_expansion=2)),
    )
    return UNet(**{"in_channels": 3, "stages": stages, "context_dim": 64, **kw})
