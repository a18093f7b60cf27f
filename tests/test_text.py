"""minidiff.text: the caption tokenizer, the transformer text encoder and its MLM pre-training."""

import itertools
import json

import pytest
import torch

from minidiff import text
from minidiff.text import CLS, MASK, PAD, UNK

CAPTIONS = [
    "a small red circle",
    "a large blue square on the left",
    "a small red circle left of a large blue square",
    "two green triangles",
]


def corpus() -> list[str]:
    """A tiny caption world (~170 distinct captions) in which every circle is red, every square
    blue and every triangle green, so a masked colour or shape is predictable from its partner,
    while sizes, positions and left/right are not."""
    colour = {"circle": "red", "square": "blue", "triangle": "green"}
    objects = [f"a {s} {colour[sh]} {sh}" for s in ("small", "large") for sh in colour]
    places = ["", " on the left", " on the right", " at the top", " at the bottom"]
    relations = ["left of", "right of", "above", "below"]
    singles = [o + p for o in objects for p in places]
    pairs = [f"{o1} {r} {o2}" for o1, o2 in itertools.product(objects, objects) for r in relations]
    return singles + pairs


def split(captions, generator):
    order = torch.randperm(len(captions), generator=generator).tolist()
    held_out = len(captions) // 5
    return [captions[i] for i in order[held_out:]], [captions[i] for i in order[:held_out]]


# ---------------------------------------------------------------- tokenizer


def test_tokenizer_round_trip_and_padding_mask():
    tok = text.Tokenizer.from_captions(CAPTIONS)
    ids, mask = tok.encode(CAPTIONS, max_len=12)
    assert (
        ids.shape == mask.shape == (4, 12) and ids.dtype == torch.long and mask.dtype == torch.bool
    )
    assert tok.decode(ids) == CAPTIONS
    assert tok.decode(ids[2]) == CAPTIONS[2]
    lengths = [1 + len(c.split()) for c in CAPTIONS]  # [CLS] + words
    assert mask.sum(dim=1).tolist() == lengths
    for row, n in zip(range(4), lengths):
        assert ids[row, 0] == CLS and mask[row, :n].all() and not mask[row, n:].any()
        assert (ids[row, n:] == PAD).all() and (ids[row, 1:n] >= len(text.SPECIAL_TOKENS)).all()


def test_tokenizer_ids_are_deterministic_and_sorted():
    a = text.Tokenizer.from_captions(CAPTIONS)
    b = text.Tokenizer.from_captions(list(reversed(CAPTIONS)) + CAPTIONS)
    assert a.vocab == b.vocab and torch.equal(a.encode(CAPTIONS, 12)[0], b.encode(CAPTIONS, 12)[0])
    assert a.vocab[:4] == ["[PAD]", "[UNK]", "[MASK]", "[CLS]"]
    assert (PAD, UNK, MASK, CLS) == (0, 1, 2, 3)
    assert a.words == sorted(set(" ".join(CAPTIONS).split())) and len(a) == len(a.vocab)


def test_tokenizer_splits_case_and_punctuation():
    tok = text.Tokenizer(["a", "circle", "red", ","])
    ids, _ = tok.encode(["A Red, circle"], max_len=6)
    assert ids[0].tolist() == [CLS, 4, 6, 7, 5, PAD]  # ids follow `words`: a=4 circle=5 red=6 ,=7
    assert tok.decode(ids[0]) == "a red , circle"


def test_tokenizer_unknown_words_and_too_long_captions():
    tok = text.Tokenizer.from_captions(CAPTIONS)
    ids, _ = tok.encode(["a purple circle"], max_len=5)
    assert ids[0, 2] == UNK and tok.decode(ids[0]) == "a [UNK] circle"
    with pytest.raises(ValueError, match=r"captions\[1\].*\['purple'\]"):
        tok.encode(["a red circle", "a purple circle"], max_len=5, strict=True)
    with pytest.raises(ValueError, match=r"captions\[0\].*10 words.*max_len - 1 = 9"):
        tok.encode([CAPTIONS[2]], max_len=10)
    assert tok.encode([CAPTIONS[2]], max_len=11)[1].all()  # exactly fits


def test_tokenizer_dict_round_trip_through_json():
    tok = text.Tokenizer.from_captions(CAPTIONS)
    back = text.Tokenizer.from_dict(json.loads(json.dumps(tok.to_dict())))
    assert back == tok and back.vocab == tok.vocab
    assert torch.equal(back.encode(CAPTIONS, 12)[0], tok.encode(CAPTIONS, 12)[0])


def test_tokenizer_bad_inputs_name_the_argument():
    tok = text.Tokenizer.from_captions(CAPTIONS)
    with pytest.raises(TypeError, match="captions"):
        text.Tokenizer.from_captions("a red circle")
    with pytest.raises(TypeError, match="captions"):
        tok.encode(["a red circle", 3], max_len=8)
    with pytest.raises(ValueError, match="max_len"):
        tok.encode(CAPTIONS, max_len=0)
    with pytest.raises(ValueError, match="words"):
        text.Tokenizer(["red", "red"])
    with pytest.raises(ValueError, match="words"):
        text.Tokenizer(["[MASK]"])
    with pytest.raises(ValueError, match="ids"):
        tok.decode(torch.tensor([0, len(tok)]))
    with pytest.raises(ValueError, match="d:"):
        text.Tokenizer.from_dict({"words": ["a"]})


# ---------------------------------------------------------------- encoder


def encoded(max_len=12):
    tok = text.Tokenizer.from_captions(CAPTIONS)
    return tok, *tok.encode(CAPTIONS, max_len)


def test_encoder_shape_and_zero_padded_outputs():
    tok, ids, mask = encoded()
    encoder = text.TextEncoder(len(tok), width=16, depth=2, heads=4, max_len=16)
    h = encoder(ids, mask)
    assert h.shape == (4, 12, 16) and torch.isfinite(h).all()
    assert (h[~mask] == 0).all() and (h[mask].abs().sum(dim=-1) > 0).all()
    assert encoder.config == dict(vocab_size=len(tok), width=16, depth=2, heads=4, max_len=16)


def test_padding_does_not_change_real_tokens():
    tok, ids, mask = encoded(max_len=11)
    encoder = text.text_encoder_small(len(tok), max_len=32).double()
    # garbage (not just [PAD]) in the padded positions must not matter either
    extra = torch.randint(len(tok), (4, 9))
    ids_long, mask_long = torch.cat([ids, extra], 1), torch.cat([mask, torch.zeros(4, 9).bool()], 1)
    ids_long[:, :11][~mask] = torch.randint(len(tok), (int((~mask).sum()),))
    h, h_long = encoder(ids, mask), encoder(ids_long, mask_long)
    torch.testing.assert_close(h_long[:, :11][mask], h[mask], atol=1e-6, rtol=0)


def test_batch_equals_one_caption_at_a_time():
    tok, ids, mask = encoded()
    encoder = text.text_encoder_tiny(len(tok))
    h = encoder(ids, mask)
    for i, caption in enumerate(CAPTIONS):
        n = 1 + len(caption.split())
        h_i = encoder(ids[i : i + 1, :n], mask[i : i + 1, :n])
        torch.testing.assert_close(h_i[0], h[i, :n], atol=1e-5, rtol=1e-5)


def test_presets_grow_by_at_least_8x():
    counts = [
        sum(p.numel() for p in preset(30).parameters())
        for preset in (text.text_encoder_tiny, text.text_encoder_small, text.text_encoder_base)
    ]
    assert counts == sorted(counts) and counts[-1] >= 8 * counts[0], counts
    assert text.text_encoder_tiny(30, width=48, heads=3).config["width"] == 48


def test_encoder_bad_inputs_name_the_argument():
    tok, ids, mask = encoded()
    with pytest.raises(ValueError, match="heads"):
        text.TextEncoder(len(tok), width=30, heads=4)
    with pytest.raises(ValueError, match="width"):
        text.TextEncoder(len(tok), width=0)
    encoder = text.TextEncoder(len(tok), width=16, max_len=12)
    with pytest.raises(ValueError, match="ids"):
        encoder(ids.float(), mask)
    with pytest.raises(ValueError, match="ids"):
        encoder(torch.cat([ids, ids], 1), torch.cat([mask, mask], 1))  # L > max_len
    with pytest.raises(ValueError, match="ids"):
        encoder(ids + len(tok), mask)
    with pytest.raises(ValueError, match="mask"):
        encoder(ids, mask.long())
    with pytest.raises(ValueError, match="mask"):
        encoder(ids, torch.zeros_like(mask))


# ---------------------------------------------------------------- masked-LM pre-training


def test_masking_spares_cls_and_pad_and_hits_mask_prob():
    tok = text.Tokenizer.from_captions(corpus())
    ids, mask = tok.encode(corpus() * 20, max_len=12)
    g = torch.Generator().manual_seed(1)
    p = 0.15
    ids_in, targets = text.mask_tokens(ids, mask, len(tok), p, generator=g)
    chosen = targets != -100
    special = (ids == CLS) | ~mask
    assert not chosen[special].any() and torch.equal(ids_in[special], ids[special])
    assert chosen.any(dim=1).all() and torch.equal(targets[chosen], ids[chosen])
    assert torch.equal(ids_in[~chosen], ids[~chosen])
    # closed form with the "at least one" rule: E[chosen] = n p + (1 - p)^n for n words
    n = (mask & (ids != CLS)).sum(dim=1).double()
    expected = (n * p + (1 - p) ** n).sum() / n.sum()
    rate = chosen.sum() / n.sum()
    assert abs(rate - expected) < 0.01, (rate, expected)
    # 80/10/10: [MASK], a random word (never a special token), or unchanged
    became_mask = (ids_in[chosen] == MASK).double().mean()
    kept = (ids_in[chosen] == ids[chosen]).double().mean()
    assert abs(became_mask - 0.8) < 0.02 and abs(kept - (0.1 + 0.1 / len(tok.words))) < 0.02
    assert (ids_in[chosen & (ids_in != MASK)] >= len(text.SPECIAL_TOKENS)).all()


def test_pretraining_beats_chance_on_held_out_captions():
    g = torch.Generator().manual_seed(0)
    train, held_out = split(corpus(), g)
    assert not set(train) & set(held_out)
    tok = text.Tokenizer.from_captions(train)
    ids, mask = tok.encode(train, max_len=12)
    test_ids, test_mask = tok.encode(held_out * 10, max_len=12)  # 10 maskings of each
    model = text.MaskedLM(text.text_encoder_tiny(len(tok), max_len=12))
    before = text.mlm_accuracy(model, test_ids, test_mask)
    losses = text.pretrain_mlm(model, ids, mask, steps=200, batch_size=64, lr=3e-3, generator=g)
    after = text.mlm_accuracy(model, test_ids, test_mask)
    # the best context-free guess: the most frequent training word ("a"), scored on the words
    # mlm_accuracy hides (its default generator is seeded 0)
    g0 = torch.Generator().manual_seed(0)
    targets = text.mask_tokens(test_ids, test_mask, len(tok), 0.15, 0.0, 0.0, g0)[1]
    most_frequent = ids[mask & (ids != CLS)].mode().values
    unigram = (targets[targets != -100] == most_frequent).double().mean().item()
    assert len(losses) == 200 and sum(losses[-50:]) < 0.5 * sum(losses[:50])
    assert before < 0.2 and after > 0.6 and after > unigram + 0.3, (before, after, unigram)
    encoder = text.freeze(model.encoder)
    assert not encoder.training and not any(p.requires_grad for p in encoder.parameters())


def test_pretraining_bad_inputs_name_the_argument():
    tok, ids, mask = encoded()
    encoder = text.text_encoder_tiny(len(tok))
    model = text.MaskedLM(encoder)
    with pytest.raises(TypeError, match="model"):
        text.pretrain_mlm(encoder, ids, mask, steps=1)
    with pytest.raises(ValueError, match="steps"):
        text.pretrain_mlm(model, ids, mask, steps=-1)
    with pytest.raises(ValueError, match="lr"):
        text.pretrain_mlm(model, ids, mask, steps=1, lr=0)
    with pytest.raises(ValueError, match="mask_prob"):
        text.pretrain_mlm(model, ids, mask, steps=1, mask_prob=1.5)
    with pytest.raises(ValueError, match="mask"):
        text.pretrain_mlm(model, ids, mask[:, :5], steps=1)
    with pytest.raises(ValueError, match="ids"):
        text.mask_tokens(ids[:, :1], mask[:, :1], len(tok))  # only [CLS]: nothing to mask
    with pytest.raises(TypeError, match="encoder"):
        text.MaskedLM(torch.nn.Linear(2, 2))


def test_non_finite_loss_raises_naming_the_step():
    tok, ids, mask = encoded()
    model = text.MaskedLM(text.text_encoder_tiny(len(tok)))
    with torch.no_grad():
        model.bias.fill_(float("nan"))
    with pytest.raises(FloatingPointError, match="step 1"):
        text.pretrain_mlm(model, ids, mask, steps=3, generator=torch.Generator().manual_seed(0))
