"""train_word2vec: table shape, pad and unknown rows, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from emotune.exceptions import ConfigError, FeatureError
from emotune.features.tokenizers import BlankspaceTokenizer
from emotune.features.word2vec import train_word2vec, word2vec_for_tokenizer

TEXTS = [
    "the cat sat on the mat",
    "the dog sat on the rug",
    "a cat and a dog played",
    "i feel happy and glad today",
    "i feel sad and unhappy today",
] * 20


@pytest.fixture(scope="module")
def tokenizer() -> BlankspaceTokenizer:
    return BlankspaceTokenizer().fit(TEXTS)


def test_shape_dtype_pad_and_unk_rows(tokenizer: BlankspaceTokenizer) -> None:
    table = word2vec_for_tokenizer(tokenizer, TEXTS, dim=16)
    assert table.dtype == np.float32 and table.shape == (tokenizer.vocab_size, 16)
    assert (table[0] == 0).all()  # pad
    unk = table[1]
    assert 0 < np.abs(unk).max() < 0.1  # small random
    trained = table[2:]
    assert np.linalg.norm(trained, axis=1).min() > np.linalg.norm(unk)


def test_same_seed_same_table_other_seed_differs(tokenizer: BlankspaceTokenizer) -> None:
    a = word2vec_for_tokenizer(tokenizer, TEXTS, dim=8, seed=3)
    b = word2vec_for_tokenizer(tokenizer, TEXTS, dim=8, seed=3)
    c = word2vec_for_tokenizer(tokenizer, TEXTS, dim=8, seed=4)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_tokens_missing_from_corpus_get_small_random_rows() -> None:
    vocab = {"[PAD]": 0, "[UNK]": 1, "cat": 2, "never_seen": 3}
    table = train_word2vec([["cat", "cat", "mat"]] * 5, vocab, dim=4, seed=0)
    assert table.shape == (4, 4)
    assert 0 < np.abs(table[3]).max() < 0.1
    empty = train_word2vec([], vocab, dim=4)  # nothing to train on: pad zero, the rest random
    assert (empty[0] == 0).all() and np.abs(empty[1:]).max() < 0.1


def test_bad_arguments_are_errors() -> None:
    vocab = {"[PAD]": 0, "[UNK]": 1}
    with pytest.raises(ConfigError, match="window"):
        train_word2vec([["a"]], vocab, window=0)
    with pytest.raises(ConfigError, match="alpha"):
        train_word2vec([["a"]], vocab, alpha=0)
    with pytest.raises(FeatureError, match="no gaps"):
        train_word2vec([["a"]], {"[PAD]": 0, "a": 2})
