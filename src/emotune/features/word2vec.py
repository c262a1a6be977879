"""Word2vec vectors trained on the training split, laid out as an embedding table.

The GA-tuned text model initialises a trainable embedding from word2vec
vectors trained with window 4, five epochs and learning rate 0.03, then
fine-tunes it; :func:`train_word2vec` produces that initial table, row ``i``
holding the vector of the token with id ``i``.
"""

from __future__ import annotations

import zlib
from typing import Any, Mapping, Sequence

import numpy as np

from emotune.exceptions import ConfigError, FeatureError

__all__ = ["train_word2vec", "word2vec_for_tokenizer"]


def _stable_hash(text: str) -> int:
    """Process-independent replacement for ``hash`` (gensim seeds each vector with it)."""
    return zlib.crc32(text.encode("utf-8"))


def train_word2vec(
    token_lists: Sequence[Sequence[str]],
    vocab: Mapping[str, int],
    *,
    dim: int = 100,
    window: int = 4,
    epochs: int = 5,
    alpha: float = 0.03,
    sg: int = 0,
    seed: int = 0,
    pad_id: int = 0,
    unk_scale: float = 0.01,
) -> np.ndarray:
    """An embedding table whose rows are gensim word2vec vectors.

    Training is single-threaded so a seed gives the same table in any process.

    Args:
        token_lists: the training texts, each already split into tokens.
        vocab: token -> id; ids must be ``0 .. len(vocab) - 1``.
        dim: vector size.
        window: context window, in tokens (paper: 4).
        epochs: passes over the corpus (paper: 5).
        alpha: initial learning rate (paper: 0.03), decayed linearly.
        sg: 0 = CBOW (gensim's default), 1 = skip-gram.
        seed: seeds gensim and the random rows.
        pad_id: row left at zero.
        unk_scale: standard deviation of the random rows given to ids with no
            trained vector (the unknown token and tokens absent from ``token_lists``).

    Returns:
        float32, shape ``(len(vocab), dim)``.
    """
    for name, value, low in (("dim", dim, 1), ("window", window, 1), ("epochs", epochs, 1)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
            raise ConfigError(f"{name} must be an int >= {low}, got {value!r}")
    if not alpha > 0:
        raise ConfigError(f"alpha must be > 0, got {alpha!r}")
    if sg not in (0, 1):
        raise ConfigError(f"sg must be 0 (CBOW) or 1 (skip-gram), got {sg!r}")
    n = len(vocab)
    ids = sorted(vocab.values())
    if ids != list(range(n)):
        raise FeatureError(f"vocab ids must be 0 .. {n - 1} with no gaps or repeats")

    rng = np.random.default_rng(seed)
    table = rng.normal(0.0, unk_scale, size=(n, dim)).astype(np.float32)
    sentences = [list(toks) for toks in token_lists if len(toks) > 0]
    if sentences:
        from gensim.models import Word2Vec

        model = Word2Vec(
            sentences=sentences,
            vector_size=int(dim),
            window=int(window),
            epochs=int(epochs),
            alpha=float(alpha),
            min_count=1,
            sg=int(sg),
            seed=int(seed),
            workers=1,
            hashfxn=_stable_hash,
        )
        kv = model.wv
        for tok, i in vocab.items():
            j = kv.key_to_index.get(tok)
            if j is not None:
                table[i] = kv.vectors[j]
    if 0 <= pad_id < n:
        table[pad_id] = 0.0
    return table


def word2vec_for_tokenizer(tokenizer: Any, texts: Sequence[str], **kwargs: Any) -> np.ndarray:
    """:func:`train_word2vec` on a fitted tokenizer's tokens of ``texts`` and its vocabulary.

    Returns float32, shape ``(tokenizer.vocab_size, dim)``.
    """
    token_lists = [tokenizer.tokens(t) for t in texts]
    return train_word2vec(token_lists, tokenizer.vocab, **kwargs)
