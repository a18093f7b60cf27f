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

from minidiff.checks import check_int
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
        check_int("channels", self.channels, 1)
        check_int("num_res_blocks", self.num_res_blocks, 1)
        if not isinstance(self.separable, bool):
            raise ValueError(f"separable: expected a bool, got {self.separable!r}")
        if self.attention is not None and not isinstance(self.attention, Block):
            raise TypeError(f"attention: expected a Block or None, got {self.attention!r}")


def as_stage(stage) -> Stage:
    """A Stage, or the dict that UNet.config stores for it (attention as a dict or None)."""
    if isinstance(stage, Stage):
        return stage
    if not isinstance(stage, dict):
        raise TypeError(f"stages: expected Stage objects or dicts, got {stage!r}")
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
            raise ValueError(f"stages: expected a non-empty list of Stage, got {stages!r}")
        stages = [as_stage(s) for s in stages]
        time_dim = 4 * stages[0].channels if time_dim is None else time_dim
        out_channels = in_channels if out_channels is None else out_channels
        self.config = dict(  # the constructor's kwargs, JSON-ready for checkpoints
            in_channels=in_channels,
            stages=[asdict(s) for s in stages],
            context_dim=context_dim,
            num_classes=num_classes,
            time_dim=time_dim,
            out_channels=out_channels,
            dropout=float(dropout),
        )
        self._check_config(stages)
        self.stages = stages
        width = stages[0].channels
        frequencies = max(2, width - width % 2)  # SinusoidalEmbedding needs an even size
        self.time_embedder = nn.Sequential(
            layers.SinusoidalEmbedding(frequencies),
            nn.Linear(frequencies, time_dim),
            nn.SiLU(),
            nn.Linear(time_dim, time_dim),
        )
        # one extra row: index num_classes is the null label for classifier-free guidance
        self.class_embedder = nn.Embedding(num_classes + 1, time_dim) if num_classes else None
        self.x_embedder = nn.Conv2d(in_channels, width, 3, padding=1)
        self._build_levels(stages, time_dim, context_dim, float(dropout))

    def _check_config(self, stages):
        c = self.config
        for name in ("in_channels", "num_classes", "time_dim", "out_channels"):
            check_int(name, c[name], 0 if name == "num_classes" else 1)
        if c["context_dim"] is not None:
            check_int("context_dim", c["context_dim"], 1)
        if not 0 <= c["dropout"] < 1:
            raise ValueError(f"dropout: expected a float in [0, 1), got {c['dropout']!r}")
        for i, s in enumerate(stages):
            if s.attention is None:
                continue
            if s.channels % s.attention.num_heads:
                raise ValueError(
                    f"stages[{i}]: channels {s.channels} not divisible by "
                    f"num_heads {s.attention.num_heads}"
                )
            if s.attention.kind == "cross" and c["context_dim"] is None:
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
        if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[1] != c["in_channels"]:
            got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"x: expected a tensor (B, {c['in_channels']}, H, W), got {got}")
        if x.shape[2] % factor or x.shape[3] % factor:
            raise ValueError(f"x: H and W must be divisible by {factor}, got {tuple(x.shape)}")
        if not isinstance(t, torch.Tensor) or t.shape != x.shape[:1]:
            got = tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
            raise ValueError(f"t: expected a tensor of shape ({len(x)},) like x's batch, got {got}")

    def _check_conditions(self, batch, context, mask, y):
        dim, classes = self.config["context_dim"], self.config["num_classes"]
        if context is not None and not (
            dim is not None
            and isinstance(context, torch.Tensor)
            and context.is_floating_point()
            and context.ndim == 3
            and context.shape[::2] == (batch, dim)
        ):
            got = f"{context.dtype} {tuple(context.shape)}" if torch.is_tensor(context) else context
            raise ValueError(
                f"context: expected float tokens ({batch}, L, {dim}) (context_dim={dim}; class "
                f"labels go in y=), got {got}"
            )
        if mask is not None and not (
            context is not None
            and isinstance(mask, torch.Tensor)
            and mask.dtype == torch.bool
            and mask.shape == context.shape[:2]
        ):
            raise ValueError(f"mask: expected a bool tensor (B, L) like context's, got {mask!r}")
        if y is not None and not (
            classes
            and isinstance(y, torch.Tensor)
            and not y.is_floating_point()
            and y.shape == (batch,)
            and bool(((y >= 0) & (y <= classes)).all())
        ):
            raise ValueError(
                f"y: expected int labels ({batch},) in [0, {classes}] (num_classes={classes}, "
                f"{classes} = null), got {y!r}"
            )

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
