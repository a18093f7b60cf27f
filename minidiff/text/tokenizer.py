"""A word-level tokenizer for the templated captions of the text-to-image lessons.

Captions such as "a small red circle left of a large blue square" use a few dozen words, so a word
vocabulary (as in Imagen's frozen-text-encoder setup, Saharia et al. 2022, minus the subwords) is
enough. Notable choices: ids 0-3 are the special tokens [PAD]=0, [UNK]=1, [MASK]=2, [CLS]=3 (BERT's
names, Devlin et al. 2019); words follow in sorted order, so the same captions always give the same
ids; every encoded caption starts with [CLS]; the tokenizer is a plain JSON-able dict (to_dict).
"""

import re

import torch

from ..checks import check_int, describe

PAD, UNK, MASK, CLS = 0, 1, 2, 3
SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[MASK]", "[CLS]")
FORMAT = "minidiff-tokenizer-1"


def split_words(caption: str) -> list[str]:
    """Lower-case words and single punctuation marks: "Two red, circles." -> two red , circles ."""
    if not isinstance(caption, str):
        raise TypeError(f"caption: expected a str, got {describe(caption)}")
    return re.findall(r"\w+|[^\w\s]", caption.lower())


def _check_captions(captions) -> list[str]:
    if isinstance(captions, str):
        raise TypeError(f"captions: expected a list of str, got {describe(captions)}; "
                        f"wrap one caption in a list: [{captions!r:.40}]")  # fmt: skip
    if not isinstance(captions, (list, tuple)):
        raise TypeError(f"captions: expected a list of str, got {describe(captions)}")
    if bad := [c for c in captions if not isinstance(c, str)]:
        raise TypeError(f"captions: expected a list of str, got an item {describe(bad[0])}")
    return list(captions)


def check_tokens(ids, mask) -> None:
    """ids must be a long tensor (B, L), B and L >= 1, and mask a bool tensor of its shape, as
    Tokenizer.encode returns them. Metadata only: no host sync."""
    if not isinstance(ids, torch.Tensor):
        raise TypeError(f"ids: expected a long tensor (B, L) from Tokenizer.encode, "
                        f"got {describe(ids)}")  # fmt: skip
    if ids.ndim != 2 or 0 in ids.shape or ids.dtype != torch.long:
        raise ValueError(f"ids: expected a long tensor (B, L) with B, L >= 1, got {describe(ids)}")
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool or mask.shape != ids.shape:
        error = ValueError if isinstance(mask, torch.Tensor) else TypeError
        raise error(f"mask: expected a bool tensor of ids' shape {tuple(ids.shape)}, "
                    f"got {describe(mask)}")  # fmt: skip


class Tokenizer:
    """Maps captions to (ids, mask) and back. Build it with from_captions(...) or Tokenizer(words).

    words: the vocabulary without the special tokens; word words[i] gets id 4 + i.
    """

    def __init__(self, words: list[str]):
        if isinstance(words, str) or not isinstance(words, (list, tuple)):
            raise TypeError(f"words: expected a list of str, got {type(words).__name__}")
        for w in words:
            if not isinstance(w, str) or w in SPECIAL_TOKENS or split_words(w) != [w]:
                raise ValueError(f"words: expected lower-case words or marks, got {w!r}")
        if len(set(words)) != len(words):
            raise ValueError(f"words: expected no duplicates, got {sorted(words)}")
        self.words = list(words)
        self._id = {w: i for i, w in enumerate(self.vocab)}

    @classmethod
    def from_captions(cls, captions: list[str]) -> "Tokenizer":
        """The sorted set of words in `captions`: the same captions always give the same ids."""
        captions = _check_captions(captions)
        return cls(sorted({w for c in captions for w in split_words(c)}))

    @property
    def vocab(self) -> list[str]:
        """Every token, indexed by id: the 4 special tokens, then the words."""
        return list(SPECIAL_TOKENS) + self.words

    def __len__(self) -> int:
        return len(SPECIAL_TOKENS) + len(self.words)

    def encode(
        self, captions: list[str], max_len: int, strict: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """ids (B, max_len) long, [CLS] then the words then [PAD]s, and mask (B, max_len) bool,
        True on real tokens ([CLS] included). Unknown words become [UNK], or raise if strict."""
        captions, max_len = _check_captions(captions), check_int("max_len", max_len, 1)
        ids = torch.full((len(captions), max_len), PAD, dtype=torch.long)
        for i, caption in enumerate(captions):
            words = split_words(caption)
            if len(words) + 1 > max_len:
                raise ValueError(
                    f"captions[{i}]: {caption!r} has {len(words)} words, "
                    f"more than max_len - 1 = {max_len - 1} ([CLS] takes one position)"
                )
            if strict and (unknown := [w for w in words if w not in self._id]):
                raise ValueError(f"captions[{i}]: {caption!r} has unknown words {unknown}")
            row = [CLS] + [self._id.get(w, UNK) for w in words]
            ids[i, : len(row)] = torch.tensor(row)
        return ids, ids != PAD

    def decode(self, ids) -> str | list[str]:
        """Captions from ids (L,) or (B, L) (tensor or lists): words joined by spaces, with [PAD]
        and [CLS] dropped and [UNK], [MASK] kept as text."""
        try:  # a tensor, a (nested) list or a numpy array of ids
            ids = torch.as_tensor(ids)
        except (TypeError, ValueError, RuntimeError):
            raise TypeError(f"ids: expected a tensor or list of ids, got {describe(ids)}") from None
        if ids.ndim not in (1, 2) or ids.is_floating_point() or ids.dtype == torch.bool:
            raise ValueError(f"ids: expected integer ids (L,) or (B, L), got {describe(ids)}")
        if ids.numel() and not 0 <= int(ids.min()) <= int(ids.max()) < len(self):
            raise ValueError(f"ids: expected ids in [0, {len(self)}) (len(tokenizer)), "
                             f"got {int(ids.min())}..{int(ids.max())}")  # fmt: skip
        if ids.ndim == 2:
            return [self.decode(row) for row in ids]
        vocab = self.vocab
        return " ".join(vocab[i] for i in ids.tolist() if i not in (PAD, CLS))

    def to_dict(self) -> dict:
        """A JSON-able dict, e.g. for checkpoint metadata; from_dict inverts it."""
        return {"format": FORMAT, "words": list(self.words)}

    @classmethod
    def from_dict(cls, d: dict) -> "Tokenizer":
        if not isinstance(d, dict) or d.get("format") != FORMAT or "words" not in d:
            raise ValueError(f"d: expected a Tokenizer.to_dict() dict ({FORMAT!r}), got {d!r:.80}")
        return cls(d["words"])

    def __eq__(self, other) -> bool:
        return isinstance(other, Tokenizer) and self.words == other.words

    def __repr__(self) -> str:
        return f"Tokenizer({len(self.words)} words + {len(SPECIAL_TOKENS)} special tokens)"
