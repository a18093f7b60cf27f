"""The in-house feature network: shapes, determinism, config, and that it really learns."""

import json
import time

import pytest
import torch

from minidiff import fd, train
from minidiff.nets import classifier
from minidiff.nets.classifier import Classifier

COLOURS = torch.tensor([[1.0, -1.0, -1.0], [-1.0, 1.0, -1.0], [-1.0, -1.0, 1.0]])


def squares(n, seed):
    """16x16 RGB images in [-1, 1]: a 5x5 square of one of 3 colours in the left or right half,
    on a grey noisy background. Labels: side (0 left, 1 right) and colour (0, 1, 2)."""
    g = torch.Generator().manual_seed(seed)
    side, colour = torch.randint(2, (n,), generator=g), torch.randint(3, (n,), generator=g)
    row = torch.randint(0, 12, (n,), generator=g)
    col = torch.randint(0, 4, (n,), generator=g) + 8 * side
    x = 0.2 * torch.randn(n, 3, 16, 16, generator=g)
    for i in range(n):
        x[i, :, row[i] : row[i] + 5, col[i] : col[i] + 5] += COLOURS[colour[i]][:, None, None]
    return x.clamp(-1, 1), {"side": side, "colour": colour}


@pytest.mark.parametrize("size", [16, 32])
@pytest.mark.parametrize("heads", [{"digit": 10}, {"shape": 3, "colour": 6, "size": 2}])
def test_output_and_feature_shapes(size, heads):
    net = Classifier(in_channels=3, heads=heads, width=8, depth=3)
    x = torch.randn(5, 3, size, size)
    out = net(x)
    assert list(out) == list(heads) and all(out[k].shape == (5, v) for k, v in heads.items())
    assert net.features(x).shape == (5, net.feature_dim) and net.feature_dim == 8 * 2**3
    assert Classifier(1, {"digit": 10}).feature_dim == 128  # the default feature size D


def test_forward_is_deterministic_and_per_sample():
    net = Classifier(in_channels=1, heads={"digit": 10}, width=8).eval()
    x = torch.randn(6, 1, 16, 16)
    torch.testing.assert_close(net.features(x), net.features(x), rtol=0, atol=0)
    # GroupNorm is per sample: a sample's features do not depend on the rest of the batch
    torch.testing.assert_close(net.features(x[2:3]), net.features(x)[2:3], rtol=1e-5, atol=1e-5)
    batched = classifier.features(net, x, batch_size=4)
    torch.testing.assert_close(batched, net.features(x), rtol=1e-5, atol=1e-5)


def test_config_round_trip_through_json_and_checkpoint(tmp_path):
    net = Classifier(in_channels=3, heads={"shape": 3, "colour": 6}, width=8, depth=2)
    config = json.loads(json.dumps(net.config))
    assert config == dict(in_channels=3, heads={"shape": 3, "colour": 6}, width=8, depth=2)
    train.save_checkpoint(tmp_path / "c.safetensors", net)
    copy = Classifier(**config)
    train.load_checkpoint(tmp_path / "c.safetensors", copy)
    x = torch.randn(2, 3, 16, 16)
    torch.testing.assert_close(copy(x), net(x), rtol=0, atol=0)


def test_cross_entropy_ignores_missing_labels():
    net = Classifier(in_channels=3, heads={"side": 2, "colour": 3}, width=8)
    x, labels = squares(4, 0)
    side = labels["side"]
    loss = classifier.cross_entropy(net, x, side, torch.full((4,), -1))
    logits = net(x)["side"]
    torch.testing.assert_close(loss, torch.nn.functional.cross_entropy(logits, side))


def test_train_classifier_learns_two_heads_on_held_out_images():
    x, labels = squares(600, 0)
    x_test, labels_test = squares(300, 1)
    net = Classifier(in_channels=3, heads={"side": 2, "colour": 3}, width=8, depth=2)
    before = classifier.accuracy(net, x_test, labels_test)
    start = time.perf_counter()
    history = classifier.train_classifier(
        net,
        x,
        labels,
        steps=150,
        batch_size=32,
        lr=3e-3,
        generator=torch.Generator().manual_seed(0),
    )
    seconds = time.perf_counter() - start
    after = classifier.accuracy(net, x_test, labels_test)
    assert len(history.loss) == 150 and history.loss[-1] < history.loss[0] / 3
    assert after["side"] > 0.95 and after["colour"] > 0.95, (before, after)
    assert min(before.values()) < 0.8 and seconds < 15 and not net.training
    predictions = classifier.predict(net, x_test)
    assert fd.condition_accuracy(predictions, labels_test) == after


def test_bad_inputs_raise_naming_the_argument():
    with pytest.raises(ValueError, match="heads"):
        Classifier(1, {})
    with pytest.raises(ValueError, match="heads"):
        Classifier(1, {"digit": 1})
    with pytest.raises(ValueError, match="width"):
        Classifier(1, {"digit": 10}, width=2)
    with pytest.raises(ValueError, match="in_channels"):
        Classifier(0, {"digit": 10})
    net = Classifier(in_channels=3, heads={"side": 2, "colour": 3}, width=8)
    with pytest.raises(ValueError, match="x:"):
        net(torch.randn(2, 1, 16, 16))
    x, labels = squares(8, 0)
    with pytest.raises(ValueError, match="labels"):
        classifier.train_classifier(net, x, {"side": labels["side"]}, steps=1)
    with pytest.raises(ValueError, match=r"labels\['colour'\]"):
        classifier.accuracy(net, x, {"side": labels["side"], "colour": labels["colour"] + 3})
    with pytest.raises(ValueError, match="images"):
        classifier.accuracy(net, x[:, 0], labels)
