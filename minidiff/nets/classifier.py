"""A small CNN classifier with one head per attribute: the course's feature network and judge.

Its pooled features feed FD/KD and precision/recall (minidiff/fd.py), and its attribute heads
score condition accuracy: does a sample show the digit, shape or colour it was asked for. It is
trained in-repo in seconds on CPU, so nothing is downloaded (testing.md B8). Notable choices:
conv-GroupNorm-SiLU blocks as in ADM (Dhariwal & Nichol 2021) with per-sample norms, so batch
composition never changes a feature; labels -1 (attribute not given) are ignored by the loss.
"""

import numbers

import torch
import torch.nn.functional as F
from torch import nn

from minidiff import fd, train
from minidiff.checks import check_instance, check_int, describe
from minidiff.nets.layers import check_input


def _block(channels_in: int, channels_out: int, stride: int) -> nn.Sequential:
    """conv 3x3 -> GroupNorm -> SiLU; stride 2 halves H and W."""
    return nn.Sequential(
        nn.Conv2d(channels_in, channels_out, 3, stride=stride, padding=1),
        nn.GroupNorm(min(8, channels_out), channels_out),
        nn.SiLU(),
    )


def _check_heads(heads) -> dict[str, int]:
    """{name: number of classes >= 2} with identifier names; numpy ints become ints."""
    valid = isinstance(heads, dict) and heads and all(
        isinstance(k, str) and k.isidentifier() and isinstance(v, numbers.Integral)
        and not isinstance(v, bool) and v >= 2
        for k, v in heads.items()
    )  # fmt: skip
    if not valid:
        raise ValueError(f"heads: expected a non-empty dict {{name: classes >= 2}}, e.g. "
                         f"{{'digit': 10}}, got {describe(heads)}")  # fmt: skip
    return {k: int(v) for k, v in heads.items()}


class Classifier(nn.Module):
    """net(x) -> {head: logits (B, K)} for images x (B, in_channels, H, W) in [-1, 1].

    A stem block at `width` channels, then `depth` stages (a stride-2 block doubling the channels,
    then a stride-1 block), then global average pooling: features(x) is (B, D) with
    D = width * 2**depth (128 by default), and each head is a linear layer on it.
    heads: {attribute name: number of classes}, e.g. {"digit": 10} or {"shape": 3, "colour": 6}.
    """

    def __init__(self, in_channels: int = 1, heads: dict | None = None, width=16, depth=3):
        super().__init__()
        self.config = dict(  # ints as ints: the config is stored in checkpoints
            in_channels=check_int("in_channels", in_channels, 1), heads=_check_heads(heads),
            width=check_int("width", width, 8), depth=check_int("depth", depth, 1),
        )  # fmt: skip
        in_channels, heads, width, depth = self.config.values()
        if width % 8:
            raise ValueError(f"width: expected a multiple of 8 (GroupNorm's 8 groups), got {width}")
        self.feature_dim = width * 2**depth
        layers = [_block(in_channels, width, 1)]
        for i in range(depth):
            channels = width * 2**i
            layers += [_block(channels, 2 * channels, 2), _block(2 * channels, 2 * channels, 1)]
        self.body = nn.Sequential(*layers)
        self.heads = nn.ModuleDict({k: nn.Linear(self.feature_dim, v) for k, v in heads.items()})

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, D) globally pooled features of the last stage: what FD and KD compare."""
        shape, dtype = ("B", self.config["in_channels"], "H", "W"), self.body[0][0].weight.dtype
        check_input("x", x, dtype, shape, "images in [-1, 1] of shape")
        return self.body(x).mean(dim=(2, 3))  # (B, D)

    def forward(self, x: torch.Tensor) -> dict:
        h = self.features(x)
        return {name: head(h) for name, head in self.heads.items()}


def _check_images(model: Classifier, images, batch_size: int = 1) -> None:
    """model a Classifier, images (N, C, H, W) in its dtype, batch_size an int >= 1."""
    check_instance("model", model, Classifier, "Classifier(1, {'digit': 10})")
    shape, dtype = ("N", model.config["in_channels"], "H", "W"), model.body[0][0].weight.dtype
    check_input("images", images, dtype, shape, "images in [-1, 1] of shape")
    check_int("batch_size", batch_size, 1)


def _check_labels(model: Classifier, images, labels) -> tuple:
    """labels ({head: (N,) ints in [-1, K)}) as a tuple in the model's head order."""
    _check_images(model, images)
    heads = model.config["heads"]
    if not isinstance(labels, dict) or set(labels) != set(heads):
        got = sorted(labels) if isinstance(labels, dict) else describe(labels)
        raise ValueError(f"labels: expected a dict with the heads {sorted(heads)}, got {got}")
    for name, y in labels.items():
        expected = f"labels[{name!r}]: expected ({len(images)},) ints in [-1, {heads[name] - 1}]"
        if not isinstance(y, torch.Tensor) or y.shape != images.shape[:1] or y.is_floating_point():
            raise ValueError(f"{expected}, got {describe(y)}")
        if not bool(((y >= -1) & (y < heads[name])).all()):
            raise ValueError(f"{expected}, got values {int(y.min())}..{int(y.max())}")
    return tuple(labels[name] for name in heads)


def cross_entropy(model, x, *targets, generator=None) -> torch.Tensor:
    """Sum over heads of the mean cross-entropy over labels != -1 (targets in head order);
    `generator` is unused (train.fit's loss_fn signature)."""
    total = 0.0
    for logits, y in zip(model(x).values(), targets):
        count = (y != -1).sum().clamp(min=1)  # a batch with no label for a head adds 0
        total = total + F.cross_entropy(logits, y, ignore_index=-1, reduction="sum") / count
    return total


def train_classifier(
    model, images, labels, steps=300, batch_size=64, lr=2e-3, generator=None, progress=False
) -> train.History:
    """Fit the heads by AdamW with train.fit (multi-head cross-entropy, -1 ignored); the model is
    trained in place and left in eval mode. images (N, C, H, W), labels {head: (N,) ints}."""
    targets = _check_labels(model, images, labels)
    history = train.fit(
        model,
        cross_entropy,
        (images, *targets),
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        generator=generator,
        progress=progress,
        log_every=max(steps, 1),
    )
    model.eval()
    return history


@torch.no_grad()
def features(model: Classifier, images: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """(N, D) features of many images, in eval mode and batches (for fd.fd, fd.kd, ...)."""
    _check_images(model, images, batch_size)
    model.eval()
    device = next(model.parameters()).device
    chunks = [images[i : i + batch_size] for i in range(0, len(images), batch_size)]
    return torch.cat([model.features(x.to(device)) for x in chunks])


@torch.no_grad()
def predict(model: Classifier, images: torch.Tensor, batch_size: int = 256) -> dict:
    """{head: (N,) predicted labels} for many images, in eval mode and batches."""
    _check_images(model, images, batch_size)
    model.eval()
    device = next(model.parameters()).device
    chunks = [images[i : i + batch_size] for i in range(0, len(images), batch_size)]
    outputs = [model(x.to(device)) for x in chunks]
    return {name: torch.cat([o[name].argmax(1) for o in outputs]) for name in model.heads}


def accuracy(model: Classifier, images, labels: dict, batch_size: int = 256) -> dict:
    """{head: accuracy} on (images, labels), labels -1 ignored (fd.condition_accuracy)."""
    _check_labels(model, images, labels)
    return fd.condition_accuracy(predict(model, images, batch_size), labels)
