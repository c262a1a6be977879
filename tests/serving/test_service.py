"""The HTTP service through its real uvicorn server on a loopback port: valid requests, every refusal a 4xx, 503 when full."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

from emotune.serving.predictor import Predictor, TorchBackend  # noqa: E402
from emotune.serving.service import Limits, create_app  # noqa: E402


KEY = "s3cret-key"


@pytest.fixture(scope="module")
def text_server(text_run, live):
    limits = Limits(max_body_bytes=4096, max_texts=8, max_text_chars=200)
    with live(create_app(Predictor.load(text_run.path / "model"), limits)) as url:
        yield url


@pytest.fixture(scope="module")
def speech_server(speech_run, live):
    limits = Limits(max_body_bytes=2 * 1024 * 1024, max_clip_seconds=5.0)
    with live(create_app(Predictor.load(speech_run.path / "model"), limits)) as url:
        yield url


def test_texts_are_answered_with_the_bundle_predictions(text_server, text_run):
    r = httpx.post(f"{text_server}/predict", json={"texts": text_run.items[:3]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["labels"] == ["negative", "neutral", "positive"]
    got = np.array([[p["proba"][k] for k in body["labels"]] for p in body["predictions"]])
    np.testing.assert_allclose(got, text_run.eval_proba[:3], atol=1e-5)
    assert [p["label"] for p in body["predictions"]] == [body["labels"][i] for i in got.argmax(1)]


def test_health_model_and_openapi(text_server):
    assert httpx.get(f"{text_server}/health").json()["status"] == "ok"
    info = httpx.get(f"{text_server}/model").json()
    assert info["labels"] == ["negative", "neutral", "positive"] and info["format"] == "emotune-bundle/2"
    assert len(info["data_fingerprint"]["sha256"]) == 64 and "accuracy" in info["metrics"]
    spec = httpx.get(f"{text_server}/openapi.json").json()
    assert set(spec["paths"]["/predict"]["post"]["requestBody"]["content"]) == {"application/json",
                                                                               "multipart/form-data"}


@pytest.mark.parametrize("body, status, words", [
    ({"texts": ["x" * 300]}, 413, "at most 200"),                    # a text over max_text_chars
    ({"texts": ["ok"] * 9}, 413, "at most 8"),                        # more texts than max_texts
    ({"texts": []}, 422, "non-empty list"),
    ({"texts": ["fine", "  "]}, 422, "texts[1] is empty"),
    ({"texts": [3]}, 422, "must be a string"),
    ({"texts": ["a"], "extra": 1}, 422, "exactly one key"),
    (["a list"], 422, "JSON object"),
])
def test_bad_json_requests_are_4xx_with_a_message(text_server, body, status, words):
    r = httpx.post(f"{text_server}/predict", json=body)
    assert r.status_code == status, r.text
    assert words in r.json()["detail"]


def test_malformed_json_oversized_body_and_wrong_content_type(text_server):
    r = httpx.post(f"{text_server}/predict", content=b'{"texts": ["unterminated', headers={"content-type": "application/json"})
    assert r.status_code == 400 and "not valid JSON" in r.json()["detail"]
    r = httpx.post(f"{text_server}/predict", content=b"x" * 5000, headers={"content-type": "application/json"})
    assert r.status_code == 413
    chunks = (b"x" * 1024 for _ in range(8))  # no Content-Length: the limit is counted while streaming
    r = httpx.post(f"{text_server}/predict", content=chunks, headers={"content-type": "application/json"})
    assert r.status_code == 413
    r = httpx.post(f"{text_server}/predict", content=b"hello", headers={"content-type": "text/plain"})
    assert r.status_code == 415
    r = httpx.post(f"{text_server}/predict", files={"file": ("a.wav", b"RIFF", "audio/wav")})
    assert r.status_code == 415 and "JSON texts" in r.json()["detail"]
    r = httpx.get(f"{text_server}/nowhere")
    assert r.status_code == 404


def test_audio_upload_is_predicted_like_the_file(speech_server, speech_run):
    path = Path(speech_run.items[0])
    r = httpx.post(f"{speech_server}/predict", files={"file": (path.name, path.read_bytes(), "audio/wav")})
    assert r.status_code == 200, r.text
    labels = r.json()["labels"]
    got = [r.json()["predictions"][0]["proba"][k] for k in labels]
    np.testing.assert_allclose(got, speech_run.eval_proba[0], atol=1e-5)


def test_bad_audio_uploads_are_4xx(speech_server, speech_run):
    wav = Path(speech_run.items[0]).read_bytes()
    cases = [
        ({"file": ("a.wav", b"", "audio/wav")}, 422, "empty"),
        ({"file": ("a.wav", wav[:60], "audio/wav")}, 422, "not readable audio"),      # truncated after the header
        ({"file": ("a.txt", b"hello", "text/plain")}, 415, "not allowed"),
        ({"other": ("a.wav", wav, "audio/wav")}, 422, "field named 'file'"),
    ]
    for files, status, words in cases:
        r = httpx.post(f"{speech_server}/predict", files=files)
        assert r.status_code == status, (files.keys(), r.text)
        assert words in r.json()["detail"]
    r = httpx.post(f"{speech_server}/predict", json={"texts": ["hello"]})
    assert r.status_code == 415


def test_a_clip_over_the_duration_limit_is_413(speech_run, tmp_path, live):
    import soundfile as sf

    long = tmp_path / "long.wav"
    sf.write(long, np.zeros(16000 * 3, np.float32), 16000)
    limits = Limits(max_clip_seconds=2.0)
    with live(create_app(Predictor.load(speech_run.path / "model"), limits)) as url:
        r = httpx.post(f"{url}/predict", files={"file": ("long.wav", long.read_bytes(), "audio/wav")})
    assert r.status_code == 413 and "at most 2 s" in r.json()["detail"]


class _Slow:
    """A backend that holds its thread for ``seconds`` before answering."""

    def __init__(self, inner, seconds: float) -> None:
        self.inner, self.seconds = inner, seconds

    def __call__(self, x, mask):
        time.sleep(self.seconds)
        return self.inner(x, mask)


def test_a_full_queue_answers_503_with_retry_after_at_once(text_run, live):
    plain = Predictor.load(text_run.path / "model")
    slow = Predictor(plain.bundle, backend=_Slow(TorchBackend(plain.bundle.build_model()), 1.5))
    limits = Limits(workers=1, queue_size=1, timeout_s=20)
    with live(create_app(slow, limits)) as url:
        results: list[tuple[int, float, dict]] = []

        def call():
            t0 = time.perf_counter()
            r = httpx.post(f"{url}/predict", json={"texts": ["hello"]}, timeout=30)
            results.append((r.status_code, time.perf_counter() - t0, dict(r.headers)))

        threads = [threading.Thread(target=call) for _ in range(4)]
        for t in threads:
            t.start()
            time.sleep(0.05)
        for t in threads:
            t.join()
    codes = sorted(code for code, _, _ in results)
    assert codes.count(200) == 2 and codes.count(503) == 2, codes  # one running + one queued; the rest refused
    for code, seconds, headers in results:
        if code == 503:
            assert headers.get("retry-after") == "1"
            assert seconds < 1.0, "a refused request must not wait for the queue"


def test_a_request_over_its_time_limit_is_503(text_run, live):
    plain = Predictor.load(text_run.path / "model")
    slow = Predictor(plain.bundle, backend=_Slow(TorchBackend(plain.bundle.build_model()), 1.0))
    with live(create_app(slow, Limits(timeout_s=0.2))) as url:
        r = httpx.post(f"{url}/predict", json={"texts": ["hello"]}, timeout=10)
    assert r.status_code == 503 and "timed out" in r.json()["detail"] and r.headers["retry-after"] == "1"


def test_api_key(text_run, live):
    with live(create_app(Predictor.load(text_run.path / "model"), api_key=KEY)) as url:
        assert httpx.post(f"{url}/predict", json={"texts": ["hi"]}).status_code == 401
        assert httpx.post(f"{url}/predict", json={"texts": ["hi"]}, headers={"x-api-key": "wrong"}).status_code == 401
        assert httpx.post(f"{url}/predict", json={"texts": ["hi"]}, headers={"x-api-key": KEY}).status_code == 200
        assert httpx.get(f"{url}/model", headers={"authorization": f"Bearer {KEY}"}).status_code == 200
        assert httpx.get(f"{url}/health").status_code == 200  # liveness stays open


def test_serve_refuses_a_public_host_without_a_key(text_run):
    from emotune.exceptions import ConfigError
    from emotune.serving.service import serve

    with pytest.raises(ConfigError, match="api-key-file"):
        serve(str(text_run.path / "model"), host="0.0.0.0", port=1)


def test_a_body_that_trickles_in_is_408(text_run, live):
    def slow_body():
        yield b'{"texts": '
        time.sleep(1.0)
        yield b'["hello"]}'

    with live(create_app(Predictor.load(text_run.path / "model"), Limits(timeout_s=0.3))) as url:
        r = httpx.post(f"{url}/predict", content=slow_body(), headers={"content-type": "application/json"}, timeout=10)
        assert r.status_code == 408 and "not received" in r.json()["detail"]
        assert httpx.post(f"{url}/predict", json={"texts": ["hello"]}).status_code == 200
