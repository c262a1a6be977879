"""``emotune serve``: a FastAPI app over a :class:`~emotune.serving.predictor.Predictor`, with the limits a public service needs.

Endpoints:

* ``POST /predict``: ``application/json`` ``{"texts": ["...", ...]}`` (text
  bundles), or ``multipart/form-data`` with one audio ``file`` (speech
  bundles) or one face image (face bundles); answers ``{"model", "labels", "predictions": [{"label", "proba"}]}``;
* ``GET /health``: liveness and the current load;
* ``GET /model``: labels, test metrics, versions, training-data fingerprint;
* ``GET /openapi.json`` (and ``/docs``): the OpenAPI description.

Limits (:class:`Limits`): a maximum body size (checked on ``Content-Length``
and while the body streams in, 413), allowed content types (415), at most
``max_texts`` texts of ``max_text_chars`` characters, a maximum clip duration
(413), a bounded pool of inference threads plus a bounded queue (a request that
finds both full is answered 503 with ``Retry-After`` at once, never left
hanging), a per-request timeout (503 with ``Retry-After``; 408 for a body that does not
arrive in that time), a cap on open connections, and an optional API
key (``X-API-Key`` or ``Authorization: Bearer``, 401). Inference runs in the
thread pool, off the event loop. Every bad request gets a 4xx JSON
``{"detail": "..."}``; an unexpected failure gets a 500 JSON without a stack trace.
"""

# no `from __future__ import annotations`: FastAPI reads the route annotations (Request) at runtime

import asyncio
import contextlib
import hmac
import json
import os
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from emotune.exceptions import ConfigError, EmotuneError

__all__ = ["Limits", "create_app", "serve", "read_api_key", "LOOPBACK_HOSTS"]

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")

AUDIO_TYPES = (
    "audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave", "audio/flac", "audio/x-flac", "audio/ogg",
    "audio/mpeg", "audio/mp3",
)
IMAGE_TYPES = ("image/png", "image/jpeg", "image/bmp", "image/tiff")
_SUFFIX = {"audio/flac": ".flac", "audio/x-flac": ".flac", "audio/ogg": ".ogg", "audio/mpeg": ".mp3",
           "audio/mp3": ".mp3", "image/png": ".png", "image/jpeg": ".jpg", "image/bmp": ".bmp", "image/tiff": ".tif"}


@dataclass
class Limits:
    """What one request may ask for, and how much work the service takes on at once.

    Args:
        max_body_bytes: largest request body.
        max_texts: texts per request.
        max_text_chars: characters per text.
        max_clip_seconds: longest audio upload (seconds); longer clips are refused, not cut.
        workers: inference threads.
        queue_size: requests that may wait for a thread; one more gets 503.
        timeout_s: seconds a request may wait and run before it is answered 503.
        retry_after_s: the ``Retry-After`` of a 503.
        audio_types: allowed content types of an audio upload.
        image_types: allowed content types of an image upload (face bundles).
    """

    max_body_bytes: int = 10 * 1024 * 1024
    max_texts: int = 64
    max_text_chars: int = 2000
    max_clip_seconds: float = 30.0
    workers: int = 2
    queue_size: int = 16
    timeout_s: float = 30.0
    retry_after_s: int = 1
    audio_types: tuple[str, ...] = field(default=AUDIO_TYPES)
    image_types: tuple[str, ...] = field(default=IMAGE_TYPES)

    def __post_init__(self) -> None:
        for name in ("max_body_bytes", "max_texts", "max_text_chars", "workers"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"Limits.{name} must be an int >= 1, got {value!r}")
        if not isinstance(self.queue_size, int) or self.queue_size < 0:
            raise ConfigError(f"Limits.queue_size must be an int >= 0, got {self.queue_size!r}")
        for name in ("max_clip_seconds", "timeout_s"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"Limits.{name} must be > 0 seconds, got {getattr(self, name)!r}")


class _Rejected(Exception):
    """A request refused with an HTTP status and a message (turned into JSON by a handler)."""

    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.headers = status, detail, headers or {}


class _Gate:
    """At most ``workers + queue_size`` requests admitted at once; the rest are refused immediately."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.active = 0
        self._lock = threading.Lock()

    def enter(self) -> bool:
        with self._lock:
            if self.active >= self.capacity:
                return False
            self.active += 1
            return True

    def leave(self) -> None:
        with self._lock:
            self.active -= 1


class _BodyLimit:
    """ASGI middleware: 413 when ``Content-Length`` or the streamed body exceeds ``limit`` bytes."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None:
            try:
                too_big = int(length) > self.limit
            except ValueError:
                await _send_json(send, 400, {"detail": "Content-Length is not a number"})
                return
            if too_big:
                await _send_json(send, 413, {"detail": f"request body over {self.limit} bytes"})
                return
        seen = 0

        async def limited() -> dict:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _Rejected(413, f"request body over {self.limit} bytes")
            return message

        await self.app(scope, limited, send)


async def _send_json(send: Any, status: int, body: dict) -> None:
    data = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]})
    await send({"type": "http.response.body", "body": data})


_PREDICT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {
                "type": "object", "required": ["texts"], "additionalProperties": False,
                "properties": {"texts": {"type": "array", "minItems": 1,
                                         "items": {"type": "string", "minLength": 1}}},
            }},
            "multipart/form-data": {"schema": {
                "type": "object", "required": ["file"],
                "properties": {"file": {"type": "string", "format": "binary"}},
            }},
        },
    },
    "responses": {
        "200": {"description": "one label and the class probabilities per input"},
        "400": {"description": "malformed request"},
        "401": {"description": "missing or wrong API key"},
        "413": {"description": "body or clip too large"},
        "415": {"description": "content type not allowed for this model"},
        "422": {"description": "inputs that cannot be used"},
        "503": {"description": "queue full or timed out; retry after Retry-After seconds"},
    },
}


def create_app(predictor: Any, limits: Limits | None = None, *, api_key: str | None = None) -> Any:
    """The ASGI app serving ``predictor`` under ``limits`` (and ``api_key`` when given)."""
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from starlette.exceptions import HTTPException as StarletteHTTPException

    limits = limits or Limits()
    meta = predictor.meta
    pool = ThreadPoolExecutor(max_workers=limits.workers, thread_name_prefix="emotune-infer")
    gate = _Gate(limits.workers + limits.queue_size)
    modality = predictor.modality
    predictor.warm_up()  # model, tokenizer and encoder load now, not in two racing first requests

    @contextlib.asynccontextmanager
    async def lifespan(_app: Any):
        yield
        pool.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(title="emotune", version=str(meta.get("emotune_version", "")), lifespan=lifespan,
                  description=f"{meta['model']} ({meta['task']}): labels {meta['labels']}")

    @app.exception_handler(_Rejected)
    async def _rejected(request: Request, exc: _Rejected) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": "invalid request", "errors": [str(e.get("msg")) for e in exc.errors()][:10]},
                            status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"detail": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": "internal error"}, status_code=500)

    def check_key(request: Request) -> None:
        if api_key is None:
            return
        given = request.headers.get("x-api-key") or ""
        auth = request.headers.get("authorization") or ""
        if auth.lower().startswith("bearer "):
            given = given or auth[7:].strip()
        if not hmac.compare_digest(given.encode(), api_key.encode()):
            raise _Rejected(401, "missing or wrong API key (X-API-Key header)", {"WWW-Authenticate": "Bearer"})

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "in_flight": gate.active, "capacity": gate.capacity}

    @app.get("/model")
    async def model_info(request: Request) -> dict[str, Any]:
        check_key(request)
        return {
            "model": meta["model"], "task": meta["task"], "labels": meta["labels"], "input": modality,
            "metrics": _metric_summary(meta.get("metrics")), "emotune_version": meta.get("emotune_version"),
            "format": meta.get("format"), "data_fingerprint": meta.get("data_fingerprint"),
            "encoders": meta.get("encoders"),
            "limits": {"max_body_bytes": limits.max_body_bytes, "max_texts": limits.max_texts,
                       "max_text_chars": limits.max_text_chars, "max_clip_seconds": limits.max_clip_seconds},
        }

    async def run(inputs: list[Any]) -> list[Any]:
        if not gate.enter():
            raise _Rejected(503, "server busy: the request queue is full", {"Retry-After": str(limits.retry_after_s)})
        try:
            future = asyncio.get_running_loop().run_in_executor(pool, predictor.predict_many, inputs)
        except BaseException:
            gate.leave()
            raise
        future.add_done_callback(lambda _: gate.leave())  # the slot frees when the work ends, not when we stop waiting
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout=limits.timeout_s)
        except asyncio.TimeoutError:
            raise _Rejected(503, f"request timed out after {limits.timeout_s:g} s",
                            {"Retry-After": str(limits.retry_after_s)}) from None
        except EmotuneError as exc:
            raise _Rejected(422, str(exc)) from None

    @app.post("/predict", openapi_extra=_PREDICT_BODY)
    async def predict(request: Request) -> dict[str, Any]:
        check_key(request)
        ctype = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
        if ctype == "application/json":
            if modality != "text":
                raise _Rejected(415, f"this model takes {modality} uploads (multipart/form-data field 'file'), not JSON texts")
            texts = _texts(await _within(request.body(), limits.timeout_s), limits)
            preds = await run(texts)
        elif ctype == "multipart/form-data":
            if modality not in ("audio", "image"):
                raise _Rejected(415, "this model takes JSON texts ({\"texts\": [...]}), not file uploads")
            path = await _within(_upload(request, limits, modality), limits.timeout_s)
            try:
                preds = await run([path])
            finally:
                os.unlink(path)
        else:
            raise _Rejected(415, f"content type {ctype or 'missing'!r} not allowed: use application/json "
                                 "or multipart/form-data")
        bad = [(i, p.error) for i, p in enumerate(preds) if p.error is not None]
        if bad:
            raise _Rejected(422, "; ".join(f"input {i}: {reason}" for i, reason in bad[:10]))
        return {"model": meta["model"], "labels": meta["labels"],
                "predictions": [{"label": p.label, "proba": p.proba} for p in preds]}

    app.state.gate = gate
    return _BodyLimitApp(app, limits.max_body_bytes)


class _BodyLimitApp(_BodyLimit):
    """The FastAPI app behind the body limit; a body that overflows mid-stream is answered 413 here."""

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        started = False

        async def tracked(message: dict) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await _BodyLimit.__call__(self, scope, receive, tracked)
        except _Rejected as exc:
            if not started:
                await _send_json(send, exc.status, {"detail": exc.detail})

    @property
    def fastapi(self) -> Any:
        return self.app


async def _within(awaitable: Any, seconds: float) -> Any:
    """``awaitable``'s result, or 408 when the client takes longer than ``seconds`` to send its body."""
    try:
        return await asyncio.wait_for(awaitable, timeout=seconds)
    except asyncio.TimeoutError:
        raise _Rejected(408, f"request body not received within {seconds:g} s") from None


def _metric_summary(metrics: Any) -> dict[str, Any] | None:
    if not metrics:
        return None
    return {k: metrics[k] for k in ("accuracy", "macro_f1", "unweighted_accuracy", "roc_auc") if k in metrics}


def _texts(body: bytes, limits: Limits) -> list[str]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise _Rejected(400, "body is not valid JSON; send {\"texts\": [\"...\"]}") from None
    if not isinstance(data, dict) or set(data) != {"texts"}:
        raise _Rejected(422, "body must be a JSON object with exactly one key, 'texts'")
    texts = data["texts"]
    if not isinstance(texts, list) or not texts:
        raise _Rejected(422, "'texts' must be a non-empty list of strings")
    if len(texts) > limits.max_texts:
        raise _Rejected(413, f"{len(texts)} texts in one request; at most {limits.max_texts}")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise _Rejected(422, f"texts[{i}] must be a string, got {type(text).__name__}")
        if not text.strip():
            raise _Rejected(422, f"texts[{i}] is empty")
        if len(text) > limits.max_text_chars:
            raise _Rejected(413, f"texts[{i}] has {len(text)} characters; at most {limits.max_text_chars}")
    return texts


async def _upload(request: Any, limits: Limits, modality: str) -> str:
    """The uploaded audio or image saved to a temporary file (its path), after type, size (and duration) checks."""
    from starlette.datastructures import UploadFile

    try:
        form = await request.form(max_files=1, max_fields=4)
    except _Rejected:
        raise
    except Exception as exc:  # malformed multipart bodies raise parser-specific errors
        raise _Rejected(400, f"malformed multipart body: {str(exc)[:200]}") from None
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise _Rejected(422, "multipart body needs one file field named 'file'")
    ctype = (upload.content_type or "").split(";")[0].strip().lower()
    allowed = limits.audio_types if modality == "audio" else limits.image_types
    if ctype not in allowed:
        raise _Rejected(415, f"file content type {ctype or 'missing'!r} not allowed; allowed: {list(allowed)}")
    data = await upload.read()
    if not data:
        raise _Rejected(422, "the uploaded file is empty")
    fd, path = tempfile.mkstemp(prefix="emotune-upload-", suffix=_SUFFIX.get(ctype, ".wav"))
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    try:
        if modality == "audio":
            _check_duration(path, limits.max_clip_seconds)
    except Exception:
        os.unlink(path)
        raise
    return path


def _check_duration(path: str, max_seconds: float) -> None:
    import soundfile as sf

    try:
        info = sf.info(path)
    except Exception as exc:  # libsndfile's own error type: not audio, truncated header, ...
        raise _Rejected(422, f"the uploaded file is not readable audio ({str(exc)[:160]})") from None
    if info.samplerate <= 0 or info.frames <= 0:
        raise _Rejected(422, "the uploaded audio has no samples")
    seconds = info.frames / info.samplerate
    if seconds > max_seconds:
        raise _Rejected(413, f"clip is {seconds:.1f} s long; at most {max_seconds:g} s")


def serve(
    bundle: str,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    limits: Limits | None = None,
    api_key: str | None = None,
    threads: int | None = None,
    log_level: str = "info",
) -> None:
    """Load ``bundle`` and serve it with uvicorn until interrupted.

    Raises:
        ConfigError: a host other than loopback without an API key.
    """
    import uvicorn

    from emotune.serving.bundle import read_bundle
    from emotune.serving.predictor import Predictor, TorchBackend

    if host not in LOOPBACK_HOSTS and not api_key:
        raise ConfigError(f"--host {host} exposes the service beyond this machine; give --api-key-file too")
    verified = read_bundle(bundle)
    predictor = Predictor(verified, backend=TorchBackend(verified.build_model(), threads=threads))
    app = create_app(predictor, limits, api_key=api_key)
    limits = limits or Limits()
    # open connections beyond this are refused by uvicorn itself (503), so idle sockets cannot pile up
    uvicorn.run(app, host=host, port=port, log_level=log_level, timeout_keep_alive=5,
                limit_concurrency=max(64, 4 * (limits.workers + limits.queue_size)))


def read_api_key(path: str) -> str:
    """The API key in a file (first line, stripped); the file must not be empty."""
    try:
        key = open(path, encoding="utf-8").readline().strip()
    except OSError as exc:
        raise ConfigError(f"--api-key-file {path}: cannot read it ({exc.strerror or exc})") from None
    if not key:
        raise ConfigError(f"--api-key-file {path}: the first line is empty")
    return key

