"""A small CNN classifier with one head per attribute: the course's feature network and judge.

Its pooled features feed FD/KD and precision/recall (minidiff/fd.py), and its attribute heads
score condition accuracy: does a sample show the digit, shape or colour it was asked for. It is
trained in-repo in seconds on CPU, so nothing is downloaded (testing.md B8). Notable choices:
conv-GroupNorm-SiLU blocks as in ADM (Dhariwal & Nichol 2021) with per-sample norms, so batch
composition never changes a feature; labels -1 (attribute not given) are ignored by the loss.
"""

import torch
import torch.nn.functional as F
from torch import nn

from minidiff import fd, train
from minidiff.checks import check_int


def _block(channels_in: int, channels_out: int, stride: int) -> nn.Sequential:
    """conv 3x3 -> GroupNorm -> SiLU; stride 2 halves H and W."""
    return nn.Sequential(
        nn.Conv2d(channels_in, channels_out, 3, stride=stride, padding=1),
        nn.GroupNorm(min(8, channels_out), channels_out),
        nn.SiLU(),
    )


class Classifier(nn.Module):
    """net(x) -> {head: logits (B, K)} for images x (B, in_channels, H, W) in [-1, 1].

    A stem block at `width` channels, then `depth` stages (a stride-2 block doubling the channels,
    then a stride-1 block), then global average pooling: features(x) is (B, D) with
    D = width * 2**depth (128 by default), and each head is a linear layer on it.
    heads: {attribute name: number of classes}, e.g. {"digit": 10} or {"shape": 3, "colour": 6}.
    """

    def __init__(self, in_channels: int = 1, heads: dict | None = None, width=16, depth=3):
        super().__init__()
        self.config = dict(in_channels=in_channels, heads=heads, width=width, depth=depth)
        for name, low in [("in_channels", 1), ("width", 8), ("depth", 1)]:
            check_int(name, self.config[name], low)
        if (
            not isinstance(heads, dict)
            or not heads
            or not all(
                isinstance(k, str) and k.isidentifier() and type(v) is int and v >= 2
                for k, v in heads.items()
            )
        ):
            raise ValueError(
                f"heads: expected a non-empty dict {{name: classes >= 2}}, got {heads}"
            )
        self.config["heads"] = dict(heads)
        self.feature_dim = width * 2**depth
        layers = [_block(in_channels, width, 1)]
        for i in range(depth):
            channels = width * 2**i
            layers += [_block(channels, 2 * channels, 2), _block(2 * channels, 2 * channels, 1)]
        self.body = nn.Sequential(*layers)
        self.heads = nn.ModuleDict({k: nn.Linear(self.feature_dim, v) for k, v in heads.items()})

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, D) globally pooled features of the last stage: what FD and KD compare."""
        channels = self.config["in_channels"]
        if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[1] != channels:
            got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"x: expected images of shape (B, {channels}, H, W), got {got}")
        if not x.is_floating_point():
            raise ValueError(f"x: expected floating-point images in [-1, 1], got {x.dtype}")
        return self.body(x).mean(dim=(2, 3))  # (B, D)

    def forward(self, x: torch.Tensor) -> dict:
        h = self.features(x)
        return {name: head(h) for name, head in self.heads.items()}


def _check_labels(model: Classifier, images, labels) -> tuple:
    """labels ({head: (N,) ints in [-1, K)}) as a tuple in the model's head order."""
    heads = model.config["heads"]
    if not isinstance(labels, dict) or set(labels) != set(heads):
        got = sorted(labels) if isinstance(labels, dict) else type(labels).__name__
        raise ValueError(f"labels: expected a dict with the heads {sorted(heads)}, got {got}")
    if not isinstance(images, torch.Tensor) or images.ndim != 4 or not images.is_floating_point():
        got = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise ValueError(f"images: expected float images (N, C, H, W), got {got}")
    for name, y in labels.items():
        ok = (
            isinstance(y, torch.Tensor)
            and y.shape == images.shape[:1]
            and not y.is_floating_point()
        )
        if not ok or not bool(((y >= -1) & (y < heads[name])).all()):
            raise ValueError(
                f"labels[{name!r}]: expected ({len(images)},) ints in [-1, {heads[name] - 1}]"
            )
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
    model.eval()
    device = next(model.parameters()).device
    chunks = [images[i : i + batch_size] for i in range(0, len(images), batch_size)]
    return torch.cat([model.features(x.to(device)) for x in chunks])


@torch.no_grad()
def predict(model: Classifier, images: torch.Tensor, batch_size: int = 256) -> dict:
    """{head: (N,) predicted labels} for many images, in eval mode and batches."""
    model.eval()
    device = next(model.parameters()).device
    chunks = [images[i : i + batch_size] for i in range(0, len(images), batch_size)]
    outputs = [model(x.to(device)) for x in chunks]
    return {name: torch.cat([o[name].argmax(1) for o in outputs]) for name in model.heads}


def accuracy(model: Classifier, images, labels: dict, batch_size: int = 256) -> dict:
    """{head: accuracy} on (images, labels), labels -1 ignored (fd.condition_accuracy)."""
    _check_labels(model, images, labels)
    return fd.condition_accuracy(predict(model, images, batch_size), labels)
