"""Tokenizers: one contract suite over every registered tokenizer, then each one's specifics."""

from __future__ import annotations

import json

import numpy as np
import pytest

from emotune.exceptions import ConfigError, FeatureError, RegistryError
from emotune.features.tokenizers import (
    DEFAULT_MAX_LEN,
    DEFAULT_MAX_VOCAB,
    PAD_ID,
    TOKENIZERS,
    UNK_ID,
    BlankspaceTokenizer,
    make_tokenizer,
    tokenizer_from_json,
)

TRAIN = [
    "I am so happy today!",
    "Why are you so sad?",
    "I don't like this at all.",
    "What a wonderful, wonderful day.",
    "She was angry and then happy again.",
    "This is so boring, I am tired.",
    "Happy happy joy joy!",
    "Are you angry with me?",
] * 3
TEST = ["I am happy", "zebras xylophone quixotic", "", "so so so so so so so so so so so so"]


@pytest.fixture(params=TOKENIZERS.names())
def name(request: pytest.FixtureRequest) -> str:
    return request.param


def test_registry_has_both() -> None:
    assert {"blankspace", "wordpiece"} <= set(TOKENIZERS.names())
    with pytest.raises(RegistryError, match="known: blankspace"):
        make_tokenizer("nope")


def test_defaults() -> None:
    assert DEFAULT_MAX_VOCAB == 11_560 and DEFAULT_MAX_LEN == 64
    assert make_tokenizer("blankspace").max_vocab == 11_560


def test_encode_shapes_padding_and_lengths(name: str) -> None:
    tok = make_tokenizer(name).fit(TRAIN)
    ids, lengths = tok.encode(TEST, max_len=8)
    assert ids.dtype == np.int64 and ids.shape == (4, 8)
    assert lengths.dtype == np.int64 and lengths.shape == (4,)
    assert lengths[2] == 0 and (ids[2] == PAD_ID).all()  # empty text
    assert lengths[3] == 8  # truncated to max_len
    for row, n in zip(ids, lengths):
        assert (row[n:] == PAD_ID).all()  # right padding
        assert (row[:n] != PAD_ID).all()  # pad never inside a text
        assert (row < tok.vocab_size).all()
    default_ids, _ = tok.encode(TEST)
    assert default_ids.shape == (4, DEFAULT_MAX_LEN)


def test_unknown_tokens_map_to_unk(name: str) -> None:
    tok = make_tokenizer(name).fit(TRAIN)
    ids, lengths = tok.encode(["zebras xylophone quixotic"], max_len=32)
    assert lengths[0] > 0 and UNK_ID in ids[0, : lengths[0]]
    assert tok.vocab["[PAD]"] == PAD_ID and tok.vocab["[UNK]"] == UNK_ID


@pytest.mark.parametrize("cap", [20, 60])
def test_vocab_cap_is_respected(name: str, cap: int) -> None:
    tok = make_tokenizer(name, max_vocab=cap).fit(TRAIN)
    assert tok.vocab_size <= cap
    ids, _ = tok.encode(TRAIN + TEST, max_len=16)
    assert ids.max() < cap


def test_json_round_trip_gives_identical_ids(name: str) -> None:
    tok = make_tokenizer(name, max_vocab=50).fit(TRAIN)
    data = json.loads(json.dumps(tok.to_json()))  # plain JSON, no pickle
    assert data["name"] == name
    again = tokenizer_from_json(data)
    assert type(again) is type(tok) and again.max_vocab == 50
    for a, b in zip(tok.encode(TRAIN + TEST, 12), again.encode(TRAIN + TEST, 12)):
        np.testing.assert_array_equal(a, b)
    assert again.vocab == tok.vocab
    assert type(tok).from_json(data).vocab_size == tok.vocab_size


def test_fit_is_deterministic(name: str) -> None:
    a = make_tokenizer(name, max_vocab=40).fit(TRAIN)
    b = make_tokenizer(name, max_vocab=40).fit(list(TRAIN))
    assert a.vocab == b.vocab


def test_errors_name_the_rule(name: str) -> None:
    tok = make_tokenizer(name)
    with pytest.raises(FeatureError, match="not fitted"):
        tok.encode(["hi"])
    with pytest.raises(ConfigError, match="max_vocab"):
        make_tokenizer(name, max_vocab=2)
    tok.fit(TRAIN)
    with pytest.raises(ConfigError, match="max_len"):
        tok.encode(["hi"], max_len=0)
    with pytest.raises(FeatureError, match="single str"):
        tok.encode("hi")


def test_blankspace_splits_lowercased_words_and_punctuation() -> None:
    tok = BlankspaceTokenizer()
    assert tok.tokens("I DON'T like it... Really?!") == ["i", "don't", "like", "it", ".", ".", ".", "really", "?", "!"]
    assert BlankspaceTokenizer(keep_punctuation=False).tokens("Sad, very sad!") == ["sad", "very", "sad"]


def test_blankspace_keeps_most_frequent() -> None:
    tok = BlankspaceTokenizer(max_vocab=5).fit(["a a a b b c", "a b c d"])
    assert tok.vocab == {"[PAD]": 0, "[UNK]": 1, "a": 2, "b": 3, "c": 4}
    ids, lengths = tok.encode(["A d B"], max_len=4)
    assert ids.tolist() == [[2, UNK_ID, 3, PAD_ID]] and lengths.tolist() == [3]


def test_wordpiece_splits_unseen_words_into_pieces() -> None:
    tok = make_tokenizer("wordpiece", max_vocab=200).fit(TRAIN)
    pieces = tok.tokens("Happiness")
    assert pieces[0] == "happ" or pieces[0].startswith("h")
    assert all(p.startswith("##") for p in pieces[1:])


def test_wordpiece_trainer_merges_most_frequent_pair_first() -> None:
    from emotune.features._wordpiece import train_wordpiece_vocab

    counts = {"hug": 10, "pug": 5, "pun": 12, "bun": 4, "hugs": 5}
    # pairs: (##u, ##g) 20, (p, ##u) 17, (##u, ##n) 16, (h, ##u) 15, (##g, ##s) 5, (b, ##u) 4
    vocab = train_wordpiece_vocab(counts, max_vocab=18, special_tokens=["[PAD]", "[UNK]"], min_frequency=2)
    alphabet = ["b", "h", "p", "##g", "##n", "##s", "##u"]
    assert vocab[:9] == ["[PAD]", "[UNK]"] + alphabet
    # (##u, ##g) 20 -> "##ug"; then (p, ##u) drops to 12 (pun only), so (##u, ##n) 16 -> "##un",
    # (h, ##ug) 15 -> "hug", (p, ##un) 12 -> "pun"; then a tie at 5, (hug, ##s) < (p, ##ug) -> "hugs"
    assert vocab[9:14] == ["##ug", "##un", "hug", "pun", "hugs"]
    assert train_wordpiece_vocab(counts, max_vocab=18, special_tokens=["[PAD]", "[UNK]"]) == vocab
