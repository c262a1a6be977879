"""Text tokenizers fitted on a training split, registered by name in :data:`TOKENIZERS`.

Every tokenizer maps a text to integer ids with ``0`` = padding and ``1`` =
unknown, and saves itself as plain JSON (no pickle) so a model bundle can ship it.

- ``"blankspace"``: lower-cased words and punctuation marks; the vocabulary is
  the ``max_vocab - 2`` most frequent tokens of the training split.
- ``"wordpiece"``: a WordPiece model trained on the training split with the
  Hugging Face ``tokenizers`` library (BERT normalisation and pre-splitting).

The default cap of 11,560 ids is the vocabulary size of the GA-tuned text
model the project reproduces; the default sequence length is 64.
"""

from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from collections import Counter
from typing import Any, Iterable, Sequence

import numpy as np

from emotune._registry import Registry
from emotune.exceptions import ConfigError, FeatureError

__all__ = [
    "TOKENIZERS",
    "Tokenizer",
    "BlankspaceTokenizer",
    "WordPieceTokenizer",
    "make_tokenizer",
    "tokenizer_from_json",
    "PAD_ID",
    "UNK_ID",
    "DEFAULT_MAX_VOCAB",
    "DEFAULT_MAX_LEN",
]

PAD_ID = 0
UNK_ID = 1
DEFAULT_MAX_VOCAB = 11_560
DEFAULT_MAX_LEN = 64

TOKENIZERS: Registry[type["Tokenizer"]] = Registry("tokenizer")


def _check_texts(texts: Iterable[str], where: str) -> list[str]:
    if isinstance(texts, str):
        raise FeatureError(f"{where} takes a sequence of texts, got a single str: {texts[:40]!r}")
    out = list(texts)
    for i, t in enumerate(out):
        if not isinstance(t, str):
            raise FeatureError(f"{where}: text {i} must be a str, got {type(t).__name__}: {t!r}")
    return out


class Tokenizer(ABC):
    """Base class: ``fit`` on training texts, then ``encode`` to padded id matrices.

    Args:
        max_vocab: largest number of ids, pad and unknown included (>= 3).
    """

    name: str = ""

    def __init__(self, *, max_vocab: int = DEFAULT_MAX_VOCAB) -> None:
        if not isinstance(max_vocab, (int, np.integer)) or isinstance(max_vocab, bool) or max_vocab < 3:
            raise ConfigError(f"max_vocab must be an int >= 3 (pad, unk and one token), got {max_vocab!r}")
        self.max_vocab = int(max_vocab)

    # -- required -------------------------------------------------------------

    @abstractmethod
    def fit(self, texts: Sequence[str]) -> "Tokenizer":
        """Learn the vocabulary from the training texts; returns ``self``."""

    @abstractmethod
    def tokens(self, text: str) -> list[str]:
        """The token strings ``text`` splits into (before mapping to ids)."""

    @abstractmethod
    def _ids(self, texts: list[str]) -> list[list[int]]:
        """Unpadded, untruncated ids of each text."""

    @property
    @abstractmethod
    def vocab(self) -> dict[str, int]:
        """Token -> id of the fitted vocabulary (pad and unknown included)."""

    @abstractmethod
    def _state(self) -> dict[str, Any]:
        """JSON-able fitted state for :meth:`to_json`."""

    @abstractmethod
    def _load_state(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`_state` returned."""

    @abstractmethod
    def _params(self) -> dict[str, Any]:
        """Constructor keyword arguments, for :meth:`to_json`."""

    @property
    @abstractmethod
    def is_fitted(self) -> bool: ...

    # -- shared ---------------------------------------------------------------

    @property
    def vocab_size(self) -> int:
        """Number of ids after fitting (``<= max_vocab``); the rows an embedding table needs."""
        self._check_fitted()
        return len(self.vocab)

    def _check_fitted(self) -> None:
        if not self.is_fitted:
            raise FeatureError(f"{type(self).__name__} is not fitted; call fit(train_texts) first")

    def encode(self, texts: Sequence[str], max_len: int = DEFAULT_MAX_LEN) -> tuple[np.ndarray, np.ndarray]:
        """Token ids of ``texts``, truncated to ``max_len`` and right-padded with 0.

        Args:
            texts: ``n`` strings.
            max_len: columns of the id matrix (tokens beyond it are dropped).

        Returns:
            ``ids``: int64, shape ``(n, max_len)``; ``0`` = pad, ``1`` = unknown.
            ``lengths``: int64, shape ``(n,)``, tokens kept per text (0 for an
            empty text).
        """
        if not isinstance(max_len, (int, np.integer)) or isinstance(max_len, bool) or max_len < 1:
            raise ConfigError(f"max_len must be a positive int, got {max_len!r}")
        self._check_fitted()
        texts = _check_texts(texts, f"{type(self).__name__}.encode")
        ids = np.full((len(texts), int(max_len)), PAD_ID, dtype=np.int64)
        lengths = np.zeros(len(texts), dtype=np.int64)
        for i, row in enumerate(self._ids(texts)):
            row = row[:max_len]
            ids[i, : len(row)] = row
            lengths[i] = len(row)
        return ids, lengths

    def to_json(self) -> dict[str, Any]:
        """``{"name", "params", "state"}``, plain JSON; :func:`tokenizer_from_json` reverses it."""
        self._check_fitted()
        return {"name": self.name, "params": self._params(), "state": self._state()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Tokenizer":
        """Rebuild a fitted tokenizer from :meth:`to_json` output."""
        name = data.get("name")
        if cls is Tokenizer:
            cls = TOKENIZERS.get(name)
        elif name != cls.name:
            raise FeatureError(f"{cls.__name__}.from_json expects name {cls.name!r}, got {name!r}")
        tok = cls(**data.get("params", {}))
        tok._load_state(data["state"])
        return tok

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self._params().items())
        return f"{type(self).__name__}({params})"


@TOKENIZERS.register("blankspace")
class BlankspaceTokenizer(Tokenizer):
    """Lower-cased words (apostrophes kept inside: ``don't``) and, optionally, punctuation marks.

    The vocabulary keeps the ``max_vocab - 2`` most frequent training tokens
    (ties broken alphabetically), numbered from 2 in that order.

    Args:
        max_vocab: largest number of ids, pad and unknown included.
        keep_punctuation: emit each punctuation mark as its own token
            (``"sad!"`` -> ``["sad", "!"]``); ``False`` drops them.
    """

    name = "blankspace"
    _WORD = re.compile(r"\w+(?:'\w+)*")
    _WORD_OR_PUNCT = re.compile(r"\w+(?:'\w+)*|[^\w\s]")

    def __init__(self, *, max_vocab: int = DEFAULT_MAX_VOCAB, keep_punctuation: bool = True) -> None:
        super().__init__(max_vocab=max_vocab)
        self.keep_punctuation = bool(keep_punctuation)
        self.vocab_: dict[str, int] | None = None

    def _params(self) -> dict[str, Any]:
        return {"max_vocab": self.max_vocab, "keep_punctuation": self.keep_punctuation}

    @property
    def is_fitted(self) -> bool:
        return self.vocab_ is not None

    def tokens(self, text: str) -> list[str]:
        pattern = self._WORD_OR_PUNCT if self.keep_punctuation else self._WORD
        return pattern.findall(text.lower())

    def fit(self, texts: Sequence[str]) -> "BlankspaceTokenizer":
        texts = _check_texts(texts, "BlankspaceTokenizer.fit")
        counts: Counter[str] = Counter()
        for t in texts:
            counts.update(self.tokens(t))
        kept = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[: self.max_vocab - 2]
        vocab = {"[PAD]": PAD_ID, "[UNK]": UNK_ID}
        for i, (tok, _) in enumerate(kept):
            vocab[tok] = i + 2
        self.vocab_ = vocab
        return self

    @property
    def vocab(self) -> dict[str, int]:
        self._check_fitted()
        return dict(self.vocab_)  # type: ignore[arg-type]

    def _ids(self, texts: list[str]) -> list[list[int]]:
        vocab = self.vocab_
        assert vocab is not None
        # "[PAD]"/"[UNK]" can never come out of tokens() (brackets split off), so no collisions
        return [[vocab.get(tok, UNK_ID) for tok in self.tokens(t)] for t in texts]

    def _state(self) -> dict[str, Any]:
        assert self.vocab_ is not None
        return {"itos": sorted(self.vocab_, key=self.vocab_.__getitem__)}

    def _load_state(self, state: dict[str, Any]) -> None:
        itos = list(state["itos"])
        if itos[:2] != ["[PAD]", "[UNK]"]:
            raise FeatureError(f"blankspace state must start with [PAD], [UNK]; got {itos[:2]!r}")
        self.vocab_ = {tok: i for i, tok in enumerate(itos)}


@TOKENIZERS.register("wordpiece")
class WordPieceTokenizer(Tokenizer):
    """WordPiece sub-words, lower-cased, run by Hugging Face ``tokenizers``.

    Texts are normalised and split as BERT does (``BertNormalizer``,
    ``BertPreTokenizer``); the vocabulary is learned by the deterministic
    trainer in :mod:`emotune.features._wordpiece` (the same BPE-style merges as
    ``tokenizers``' ``WordPieceTrainer``, whose tie-breaking varies from run to
    run) and encoding uses the library's ``WordPiece`` model. Special tokens
    are ``[PAD]`` = 0 and ``[UNK]`` = 1. The alphabet is limited to
    ``(max_vocab - 2) // 2`` characters (each needs a word-initial and a ``##``
    piece) so the vocabulary never exceeds the cap; rarer characters become
    ``[UNK]``.

    Args:
        max_vocab: largest number of ids, pad and unknown included.
        min_frequency: pairs seen fewer times are not merged.
    """

    name = "wordpiece"

    def __init__(self, *, max_vocab: int = DEFAULT_MAX_VOCAB, min_frequency: int = 2) -> None:
        super().__init__(max_vocab=max_vocab)
        if not isinstance(min_frequency, (int, np.integer)) or isinstance(min_frequency, bool) or min_frequency < 0:
            raise ConfigError(f"min_frequency must be an int >= 0, got {min_frequency!r}")
        self.min_frequency = int(min_frequency)
        self.tokenizer_: Any = None  # tokenizers.Tokenizer once fitted

    def _params(self) -> dict[str, Any]:
        return {"max_vocab": self.max_vocab, "min_frequency": self.min_frequency}

    @property
    def is_fitted(self) -> bool:
        return self.tokenizer_ is not None

    def fit(self, texts: Sequence[str]) -> "WordPieceTokenizer":
        from tokenizers import Tokenizer as HFTokenizer
        from tokenizers import models, normalizers, pre_tokenizers

        from emotune.features._wordpiece import train_wordpiece_vocab

        texts = _check_texts(texts, "WordPieceTokenizer.fit")
        normalizer = normalizers.BertNormalizer(lowercase=True)
        pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        word_counts: Counter[str] = Counter()
        for t in texts:
            word_counts.update(w for w, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(t)))
        itos = train_wordpiece_vocab(
            word_counts,
            max_vocab=self.max_vocab,
            special_tokens=["[PAD]", "[UNK]"],
            min_frequency=self.min_frequency,
            limit_alphabet=max(1, (self.max_vocab - 2) // 2),
        )
        tok = HFTokenizer(models.WordPiece({t: i for i, t in enumerate(itos)}, unk_token="[UNK]"))
        tok.normalizer = normalizer
        tok.pre_tokenizer = pre_tokenizer
        self.tokenizer_ = tok
        return self

    def tokens(self, text: str) -> list[str]:
        self._check_fitted()
        return list(self.tokenizer_.encode(text, add_special_tokens=False).tokens)

    @property
    def vocab(self) -> dict[str, int]:
        self._check_fitted()
        return dict(self.tokenizer_.get_vocab())

    @property
    def vocab_size(self) -> int:
        self._check_fitted()
        return int(self.tokenizer_.get_vocab_size())

    def _ids(self, texts: list[str]) -> list[list[int]]:
        return [list(e.ids) for e in self.tokenizer_.encode_batch(texts, add_special_tokens=False)]

    def _state(self) -> dict[str, Any]:
        return {"hf_tokenizer": json.loads(self.tokenizer_.to_str())}

    def _load_state(self, state: dict[str, Any]) -> None:
        from tokenizers import Tokenizer as HFTokenizer

        self.tokenizer_ = HFTokenizer.from_str(json.dumps(state["hf_tokenizer"]))


def make_tokenizer(name: str, **params: Any) -> Tokenizer:
    """An unfitted tokenizer registered as ``name`` (``"blankspace"``, ``"wordpiece"``)."""
    return TOKENIZERS.get(name)(**params)


def tokenizer_from_json(data: dict[str, Any]) -> Tokenizer:
    """Rebuild any registered tokenizer from its :meth:`Tokenizer.to_json` output."""
    return Tokenizer.from_json(data)
