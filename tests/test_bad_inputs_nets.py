"""Issue 12 for the networks, text and data: every bad input a student might pass raises a
TypeError or ValueError naming the argument (tests/bad_inputs.py), and numpy ints work wherever
Python ints do, with the same config and numbers."""

import json

import numpy as np
import pytest
import torch
from bad_inputs import assert_rejected, case

from minidiff import sde, text
from minidiff.data import digits, shapes, toy2d
from minidiff.nets import attention, autoencoder, classifier, layers, mlp, unet
from minidiff.nets.attention import Block
from minidiff.nets.unet import Stage

CAPTIONS = ["a small red circle", "a large blue square on the left"]
x2, t4 = torch.zeros(4, 2), torch.rand(4)
x8, t2, ctx = torch.zeros(2, 1, 8, 8), torch.rand(2), torch.zeros(2, 5, 8)
x3 = torch.zeros(2, 3, 8, 8)


def tiny_unet(**kw) -> unet.UNet:
    """1 channel, 8x8 or larger (two stages: H and W even), 3 classes."""
    stages = (Stage(8), Stage(16, attention=Block(num_heads=2)))
    return unet.UNet(**{"in_channels": 1, "stages": stages, "num_classes": 3, **kw})


def images(*shape, dtype=torch.float32) -> torch.Tensor:
    return torch.zeros(*shape, dtype=dtype)


def tokens():
    tok = text.Tokenizer.from_captions(CAPTIONS)
    return (tok, *tok.encode(CAPTIONS, max_len=12))


def encoder():
    return text.TextEncoder(len(tokens()[0]), width=16, heads=2, max_len=12)


def conditional_mlp(y):
    return mlp.MLP(cond_classes=3)(x2, t4, y)


def unet_call(x=None, t=None, net=None, **conditions):
    """tiny_unet() (or net) on 2 images 8x8 (or x) at times t2 (or t)."""
    x, t = (x8 if x is None else x), (t2 if t is None else t)
    return (tiny_unet() if net is None else net)(x, t, **conditions)


def mlm_call(**kw):
    _, ids, mask = tokens()
    return text.mask_tokens(ids, mask, **{"vocab_size": 20, **kw})


ae = autoencoder.AutoEncoder(3, 4, (8, 16))
net3 = classifier.Classifier(3, {"colour": 3}, width=8, depth=1)
ring = toy2d.ring()
text_unet = tiny_unet(context_dim=8)

CASES = [
    # MLP (2-D toys)
    case("hidden", lambda: mlp.MLP(hidden=-4)),
    case("depth", lambda: mlp.MLP(depth=1.5), id="mlp-depth"),
    case("embed_dim", lambda: mlp.MLP(embed_dim=7)),
    case("time_scale", lambda: mlp.MLP(time_scale="1000")),
    case("x", lambda: mlp.MLP()(x2.double(), t4), TypeError, id="mlp-dtype"),
    case("x", lambda: mlp.MLP()(images(4, 1, 16, 16), t4), id="mlp-given-images"),
    case("x", lambda: mlp.MLP()(x2[:0], t4[:0]), id="mlp-empty-batch"),
    case("x", lambda: mlp.MLP()(x2.tolist(), t4), TypeError, id="mlp-list"),
    case("t", lambda: mlp.MLP()(x2, t4[:3]), id="mlp-t-batch"),
    case("t", lambda: mlp.MLP()(x2, torch.arange(4)), id="mlp-t-int-steps"),
    case("t", lambda: mlp.MLP()(x2, 0.5), id="mlp-t-number"),
    case("y", lambda: conditional_mlp(torch.tensor([0, 1, 2, 7])), id="mlp-y-range"),
    case("y", lambda: conditional_mlp(torch.zeros(4)), id="mlp-y-float"),
    case("y", lambda: conditional_mlp(torch.zeros(3).long()), id="mlp-y-batch"),
    case("y", lambda: conditional_mlp(1), TypeError, id="mlp-y-int"),
    case("y", lambda: mlp.MLP()(x2, t4, torch.zeros(4).long()), id="mlp-y-unconditional"),
    # layers and attention
    case("dim", lambda: layers.SinusoidalEmbedding(7)),
    case("t", lambda: layers.SinusoidalEmbedding(8)(torch.arange(3)), id="embedding-t-int"),
    case("num_heads", lambda: attention.Attention(30, num_heads=4)),
    case("kernel", lambda: attention.Attention(32, kernel="linear")),
    case("num_heads", lambda: Block(num_heads=0), id="block-heads"),
    case("kind", lambda: Block(kind="self")),
    case("block", lambda: attention.SpatialTransformer(8, None, Block), TypeError),
    # UNet
    case("channels", lambda: Stage(-32), id="stage-channels"),
    case("num_res_blocks", lambda: Stage(32, num_res_blocks=0)),
    case("attention", lambda: Stage(32, attention=Block), TypeError),
    case("stages", lambda: unet.UNet(1, (32, 64)), TypeError, id="unet-int-stages"),
    case("stages", lambda: unet.UNet(1, (Stage(8), Stage(10, attention=Block(num_heads=4))))),
    case("in_channels", lambda: tiny_unet(in_channels=0)),
    case("num_classes", lambda: tiny_unet(num_classes=-1)),
    case("dropout", lambda: tiny_unet(dropout=1.5)),
    case("x", lambda: unet_call(images(2, 3, 8, 8)), id="unet-channels"),
    case("x", lambda: unet_call(images(2, 1, 7, 8)), id="unet-odd-size"),
    case("x", lambda: unet_call(x2, t4), id="unet-given-points"),
    case("x", lambda: unet_call(x8.double()), TypeError, id="unet-dtype"),
    case("x", lambda: unet_call(x8[:0], t2[:0]), id="unet-empty-batch"),
    case("t", lambda: unet_call(t=t4), id="unet-t-batch"),
    case("y", lambda: unet_call(y=torch.tensor([0, 4])), id="unet-y-range"),
    case("y", lambda: unet_call(y=torch.zeros(3).long()), id="unet-y-batch"),
    case("context", lambda: unet_call(context=ctx), id="unet-no-context-dim"),
    case("context", lambda: unet_call(context=ctx[..., :5], net=text_unet), id="context-width"),
    case("mask", lambda: unet_call(mask=torch.ones(2, 5).bool()), id="mask-alone"),
    case("mask", lambda: unet_call(context=ctx, mask=ctx[..., 0], net=text_unet), id="mask-float"),
    # AutoEncoder
    case("channels", lambda: autoencoder.AutoEncoder(3, 4, (32, -64)), id="ae-channels"),
    case("z_channels", lambda: autoencoder.AutoEncoder(3, 0)),
    case("separable", lambda: autoencoder.AutoEncoder(3, 4, (8, 16), separable="yes"), TypeError),
    case("x", lambda: ae.encode(images(1, 3, 16, 15)), id="ae-width-not-divisible"),
    case("x", lambda: ae(images(1, 3, 16, 16).half()), TypeError, id="ae-dtype"),
    case("generator", lambda: ae(images(1, 3, 16, 16), generator=0), TypeError),
    case("latents", lambda: ae.decode(images(1, 3, 8, 8))),
    case("beta", lambda: autoencoder.vae_loss(ae, images(1, 3, 16, 16), beta=-1.0)),
    case("reference", lambda: autoencoder.psnr(images(2, 3, 8, 8), images(3, 8, 8))),
    case("images", lambda: autoencoder.psnr(images(2, 3) / 0, images(2, 3)), id="psnr-nan"),
    # Classifier
    case("width", lambda: classifier.Classifier(1, {"digit": 10}, width=12)),
    case("heads", lambda: classifier.Classifier(1, ["digit"]), id="classifier-heads"),
    case("depth", lambda: classifier.Classifier(1, {"digit": 10}, depth=0), id="classifier-depth"),
    case(
        "x", lambda: net3(images(2, 3, 16, 16, dtype=torch.uint8)), TypeError, id="classifier-uint8"
    ),
    case("model", lambda: classifier.predict(classifier.Classifier, x3), TypeError, id="predict"),
    case("images", lambda: classifier.predict(net3, x8), id="predict-channels"),
    case("batch_size", lambda: classifier.features(net3, x3, batch_size=0)),
    case("labels", lambda: classifier.accuracy(net3, x3, {"colour": torch.tensor([0, 3])})),
    # text
    case("caption", lambda: text.split_words(3), TypeError),
    case("captions", lambda: text.Tokenizer.from_captions("a red circle"), TypeError),
    case("captions", lambda: tokens()[0].encode([["a", "red"]], 8), TypeError, id="encode-nested"),
    case("captions", lambda: tokens()[0].encode(CAPTIONS, max_len=4), id="encode-too-long"),
    case("max_len", lambda: tokens()[0].encode(CAPTIONS, max_len=0)),
    case("ids", lambda: tokens()[0].decode([3, 99]), id="decode-range"),
    case("ids", lambda: tokens()[0].decode("a red circle"), TypeError, id="decode-str"),
    case("vocab_size", lambda: text.text_encoder_tiny(3)),
    case("heads", lambda: text.TextEncoder(20, width=30, heads=4), id="text-heads"),
    case("ids", lambda: encoder()(tokens()[1] + 50, tokens()[2]), id="encoder-ids-range"),
    case("ids", lambda: encoder()(tokens()[1].int(), tokens()[2]), id="encoder-ids-int32"),
    case("ids", lambda: encoder()(tokens()[1].tolist(), tokens()[2]), TypeError, id="encoder-list"),
    case("ids", lambda: encoder()(tokens()[1][:0], tokens()[2][:0]), id="encoder-empty-batch"),
    case("mask", lambda: encoder()(tokens()[1], tokens()[2].long()), id="encoder-mask-long"),
    case("encoder", lambda: text.MaskedLM(text.TextEncoder), TypeError),
    case("encoder", lambda: text.TextConditional(text.TextEncoder, text_unet), TypeError, id="t2i"),
    case("unet", lambda: text.TextConditional(encoder(), tiny_unet())),
    case("vocab_size", lambda: mlm_call(vocab_size=4), id="mask-tokens-vocab"),
    case("mask_prob", lambda: mlm_call(mask_prob=0.0)),
    case("keep_prob", lambda: mlm_call(random_prob=0.6, keep_prob=0.6)),
    case("generator", lambda: mlm_call(generator=0), TypeError, id="mask-tokens-seed"),
    case("model", lambda: text.pretrain_mlm(encoder(), *tokens()[1:], steps=1), TypeError, id="lm"),
    # data
    case("k", lambda: toy2d.ring(k=0)),
    case("std", lambda: toy2d.ring(std=-0.1)),
    case("spacing", lambda: toy2d.grid(spacing=float("inf"))),
    case("n", lambda: ring.sample(0), id="mixture-sample-zero"),
    case("generator", lambda: ring.sample(10, generator=0), TypeError, id="mixture-seed"),
    case("means", lambda: toy2d.GaussianMixture([1.0], [[float("nan"), 0.0]], torch.eye(2)[None])),
    case("sde", lambda: ring.score(x2, 0.5, sde.VP), TypeError, id="score-sde-class"),
    case("sde", lambda: ring.marginal(sde.VP, 0.5), TypeError, id="marginal-sde-class"),
    case("n", lambda: toy2d.moons(-3), id="moons-negative"),
    case("noise", lambda: toy2d.moons(10, noise=-0.1)),
    case("n", lambda: toy2d.swiss_roll(2.5), id="swiss-roll-float"),
    case("generator", lambda: toy2d.checkerboard(10, generator=1), TypeError, id="checkerboard"),
    case("n", lambda: shapes.generate(0), id="shapes-zero"),
    case("size", lambda: shapes.generate(4, size=24)),
    case("split", lambda: digits.load("training")),
]


@pytest.mark.parametrize("argument, call, error", CASES)
def test_bad_input_is_named(argument, call, error):
    assert_rejected(argument, call, error)


def test_messages_say_what_would_work():
    """A few messages in full: the value received and the fix, not only the argument's name."""
    message = assert_rejected("x", lambda: mlp.MLP()(x2.double(), t4), TypeError)
    assert "float64 differs from the network's float32; use x.float() or net.double()" in message
    message = assert_rejected("t", lambda: mlp.MLP()(x2, 0.5), ValueError)
    assert "torch.full((4,), 0.5)" in message
    message = assert_rejected("generator", lambda: ring.sample(3, generator=0), TypeError)
    assert "torch.Generator().manual_seed(0)" in message
    message = assert_rejected("attention", lambda: Stage(8, attention=Block), TypeError)
    assert "Block()" in message
    message = assert_rejected("y", lambda: unet_call(y=torch.tensor([0, 4])), ValueError)
    assert "[0, 3]" in message and "0..4" in message
    message = assert_rejected("x", lambda: unet_call(images(2, 1, 5, 6)), ValueError)
    assert "divisible by 2" in message and "(2, 1, 5, 6)" in message


def same_net(make, *args, **kwargs):
    """make(*args, **kwargs) twice from the same seed, once with every int argument as a numpy
    int: the configs must be equal (and JSON-ready Python ints), the parameters identical."""
    as_numpy = lambda v: np.int64(v) if type(v) is int else v
    torch.manual_seed(0)
    plain = make(*args, **kwargs)
    torch.manual_seed(0)
    numpy = make(*map(as_numpy, args), **{k: as_numpy(v) for k, v in kwargs.items()})
    assert json.dumps(numpy.config) == json.dumps(plain.config)
    for (name, a), (_, b) in zip(plain.state_dict().items(), numpy.state_dict().items()):
        assert torch.equal(a, b), name
    return numpy


def test_numpy_ints_build_the_same_networks():
    net = same_net(mlp.MLP, dim=2, hidden=64, depth=2, embed_dim=16, cond_classes=3)
    assert net(x2, t4, torch.tensor([0, 1, 2, 3])).shape == (4, 2)
    net = same_net(tiny_unet, in_channels=1, num_classes=3, time_dim=32, context_dim=8)
    assert net(images(2, 1, 8, 8), t4[:2]).shape == (2, 1, 8, 8)
    same_net(autoencoder.AutoEncoder, 3, 4, channels=(8, 16))
    same_net(classifier.Classifier, 1, {"digit": 10}, width=8, depth=1)
    same_net(text.TextEncoder, 20, width=16, depth=1, heads=2, max_len=8)
    assert layers.SinusoidalEmbedding(np.int64(8)).dim == 8
    assert attention.Attention(np.int64(8), num_heads=np.int64(2)).num_heads == 2


def test_numpy_ints_inside_stages_widths_and_heads_are_stored_as_ints():
    n = np.int64
    stage = Stage(n(16), n(1), attention=Block(depth=n(1), num_heads=n(2), ffn_expansion=n(2)))
    plain = Stage(16, 1, attention=Block(depth=1, num_heads=2, ffn_expansion=2))
    assert stage == plain and type(stage.channels) is int
    config = unet.UNet(1, (Stage(n(8)), stage)).config
    assert json.dumps(config) == json.dumps(unet.UNet(1, (Stage(8), plain)).config)
    config = autoencoder.AutoEncoder(3, 4, [n(8), n(16)], decoder_channels=(n(16), n(8))).config
    assert json.dumps(config) == json.dumps(autoencoder.AutoEncoder(3, 4, [8, 16]).config)
    heads = classifier.Classifier(1, {"digit": n(10)}).config["heads"]
    assert type(heads["digit"]) is int


def test_numpy_numbers_work_for_text_and_data():
    tok, ids, mask = tokens()
    assert torch.equal(tok.encode(CAPTIONS, max_len=np.int64(12))[0], ids)
    assert text.mask_tokens(ids, mask, np.int64(len(tok)), np.float32(0.5))[0].shape == ids.shape
    gen = lambda: torch.Generator().manual_seed(0)
    assert torch.equal(toy2d.ring(k=np.int64(8)).sample(np.int64(5), gen()), ring.sample(5, gen()))
    assert torch.equal(toy2d.moons(np.int64(7), np.float32(0.5), gen()),
                       toy2d.moons(7, float(np.float32(0.5)), gen()))  # fmt: skip
    assert toy2d.grid(side=np.int64(3), std=np.float64(0.2)).means.shape == (9, 2)
    data = shapes.generate(np.int64(3), size=np.int64(16), seed=np.int64(1))
    assert torch.equal(data.images, shapes.generate(3, size=16, seed=1).images)
