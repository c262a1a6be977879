"""Text inputs for a fold: tokenize or encode texts into model-ready tensors.

:class:`TextInputs` turns the texts of a dataset into what a model is fed, for
any ``(train indices, evaluation indices)`` pair. Everything learned from data
(tokenizer vocabulary, Word2Vec vectors) is fitted on the *training* indices
only. Results are memoised per fold and setting, so the search never tokenizes
or encodes a text twice; MiniLM states also go to the on-disk feature cache.

Feature kinds (``TuneConfig.features``):

* ``tokens``: token ids (pad 0) into a trainable embedding;
* ``word2vec``: the same, the embedding initialised by Word2Vec trained on the
  training texts (GA paper: window 4, five epochs, learning rate 0.03);
* ``minilm``: frozen MiniLM-L6 token states, frames ``(T, 384)``;
* ``minilm_pooled``: frozen MiniLM-L6 sentence vectors ``(384,)``;
* ``mpnet`` / ``mpnet_pooled``: the same from the frozen all-mpnet-base-v2 (768 features; the text default,
  ``make venv`` / ``make mpnet`` install it, see :mod:`emotune.features.mpnet`);
* ``minilm_layers``: the states at MiniLM-L6's layer boundary ``6 - finetune_layers``,
  frames ``(T, 384)``, for the fine-tuned encoder ``minilm_ft``: every boundary is
  encoded once (cached on disk, float16), so a trial only runs the unfrozen layers.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from emotune.exceptions import ConfigError
from emotune.features.frames import lengths_to_mask

__all__ = ["TextInputs", "FoldInputs"]


@dataclass
class FoldInputs:
    """Model-ready arrays for one fold.

    ``x_*`` are int64 ``(n, T)`` token ids, float32 ``(n, T, F)`` frames or
    float32 ``(n, F)`` vectors; ``mask_*`` bool ``(n, T)`` or ``None``.
    ``bundle`` holds what a saved model needs to rebuild the features (JSON-able).
    """

    x_train: np.ndarray
    mask_train: np.ndarray | None
    x_eval: np.ndarray
    mask_eval: np.ndarray | None
    input_spec: Any
    bundle: dict[str, Any] = field(default_factory=dict)


_FEATURES = ("tokens", "word2vec", "minilm", "minilm_pooled", "minilm_layers", "mpnet", "mpnet_pooled")
_FROZEN = ("minilm", "minilm_pooled", "mpnet", "mpnet_pooled")  # frozen encoder outputs, tokens or pooled


def _key(indices: np.ndarray) -> str:
    return hashlib.sha1(np.asarray(indices, dtype=np.int64).tobytes()).hexdigest()[:16]


class TextInputs:
    """Builds :class:`FoldInputs` from texts for one feature kind.

    Args:
        texts: all texts of the dataset (train, validation and test).
        features: ``tokens``, ``word2vec``, ``minilm``, ``minilm_pooled``, ``minilm_layers``,
            ``mpnet`` or ``mpnet_pooled``.
        tokenizer: default tokenizer name (a ``tokenizer`` search parameter overrides it).
        vocab_size: vocabulary cap for token features.
        max_len: tokens (or word pieces) per text.
        cache: a :class:`~emotune.features.cache.FeatureCache` for MiniLM states, or None.
        seed: seed of Word2Vec.
        progress: show progress bars while encoding.
    """

    def __init__(
        self,
        texts: Sequence[str],
        *,
        features: str = "tokens",
        tokenizer: str = "blankspace",
        vocab_size: int = 11560,
        max_len: int = 64,
        cache: Any = None,
        seed: int = 0,
        progress: bool = False,
    ) -> None:
        if features not in _FEATURES:
            raise ConfigError(f"text features must be one of {_FEATURES}, got {features!r}")
        self.texts = list(texts)
        self.features = features
        self.tokenizer = tokenizer
        self.vocab_size = int(vocab_size)
        self.max_len = int(max_len)
        self.cache = cache
        self.seed = seed
        self.progress = progress
        self._memo: dict[tuple, Any] = {}
        self._encoder = None

    # --- token features ---------------------------------------------------------
    def _tokenized(self, train_idx: np.ndarray, name: str):
        key = ("tok", _key(train_idx), name)
        if key not in self._memo:
            from emotune.features.tokenizers import make_tokenizer

            tok = make_tokenizer(name, max_vocab=self.vocab_size).fit([self.texts[i] for i in train_idx])
            ids, lengths = tok.encode(self.texts, max_len=self.max_len)
            self._memo[key] = (tok, ids, lengths)
        return self._memo[key]

    def _word2vec(self, train_idx: np.ndarray, name: str, tok: Any, dim: int) -> np.ndarray:
        key = ("w2v", _key(train_idx), name, dim)
        if key not in self._memo:
            from emotune.features.word2vec import word2vec_for_tokenizer

            self._memo[key] = word2vec_for_tokenizer(
                tok, [self.texts[i] for i in train_idx], dim=dim, seed=self.seed
            )
        return self._memo[key]

    # --- frozen encoder features (MiniLM, MPNet) --------------------------------------
    @property
    def encoder(self):
        if self._encoder is None:
            from emotune.features.text_encoders import make_text_encoder

            name = "mpnet" if self.features.startswith("mpnet") else "minilm"
            self._encoder = make_text_encoder(name, max_len=self.max_len, cache=self.cache, progress=self.progress)
        return self._encoder

    def _minilm(self) -> tuple[np.ndarray, np.ndarray | None]:
        key = ("minilm", self.features, self.max_len)
        if key not in self._memo:
            if self.features in ("minilm", "mpnet"):
                states, lengths = self.encoder.encode_tokens(self.texts, self.max_len)
                self._memo[key] = (states, lengths_to_mask(lengths, self.max_len))
            else:
                self._memo[key] = (self.encoder.encode_pooled(self.texts), None)
        return self._memo[key]

    def sentence_vectors(self, max_len: int = 128, encoder: str = "minilm") -> np.ndarray:
        """Frozen sentence vectors of every text, float32 ``(n, 384)`` (``minilm``) or ``(n, 768)`` (``mpnet``).

        For the reference rows. ``max_len`` is fixed (not the model's) so the reference is the same whatever
        the model reads; the vectors share the on-disk cache with ``features: <encoder>_pooled`` at the same
        ``max_len``.
        """
        key = ("pooled_ref", max_len, encoder)
        if key not in self._memo:
            from emotune.features.text_encoders import make_text_encoder

            enc = make_text_encoder(encoder, max_len=max_len, cache=self.cache, progress=self.progress)
            self._memo[key] = enc.encode_pooled(self.texts)
        return self._memo[key]

    def _layer_rows(self) -> list[np.ndarray]:
        """Every text's states at every MiniLM layer boundary, float16 ``(7, t_i, 384)`` each."""
        key = ("layers", self.max_len)
        if key not in self._memo:
            from emotune.features.text_encoders import encode_layers_rows

            self._memo[key] = encode_layers_rows(self.encoder, self.texts, self.max_len)
        return self._memo[key]

    def _layer(self, boundary: int, max_len: int) -> tuple[np.ndarray, np.ndarray]:
        """Padded states ``(n, T, 384)`` at one boundary and the mask ``(n, T)``; the last one asked is memoised."""
        key = ("layer", boundary, max_len)
        if self._memo.get("layer_key") != key:
            from emotune.features.text_encoders import stack_layer

            states, lengths = stack_layer(self._layer_rows(), boundary, max_len)
            self._memo["layer_key"], self._memo["layer"] = key, (states, lengths_to_mask(lengths, states.shape[1]))
        return self._memo["layer"]

    def prepare(self) -> None:
        """Encode every text now (MiniLM features), so trials only train."""
        if self.features == "minilm_layers":
            self._layer_rows()
        elif self.features in _FROZEN:
            self._minilm()

    # --- the fold -------------------------------------------------------------------
    def build(self, train_idx: np.ndarray, eval_idx: np.ndarray, params: dict[str, Any]) -> FoldInputs:
        """Inputs for training on ``train_idx`` and evaluating on ``eval_idx``.

        Reads ``tokenizer`` and ``embedding_dim`` from ``params`` when present.
        """
        from emotune.models.inputs import InputSpec

        train_idx = np.asarray(train_idx, dtype=np.int64)
        eval_idx = np.asarray(eval_idx, dtype=np.int64)
        if self.features == "minilm_layers":
            from emotune.models.minilm_ft import N_LAYERS

            k = int(params.get("finetune_layers", 2))
            if not 0 <= k <= N_LAYERS:
                raise ConfigError(f"finetune_layers must be in [0, {N_LAYERS}], got {k}")
            max_len = min(int(params.get("max_len", self.max_len)), self.max_len)
            x, mask = self._layer(N_LAYERS - k, max_len)
            spec = InputSpec(kind="frames", feature_dim=x.shape[2], max_len=x.shape[1])
            bundle = {**self._bundle_minilm(), "layer": N_LAYERS - k, "max_len": max_len,
                      "encode_max_len": self.max_len}
            return FoldInputs(x[train_idx], mask[train_idx], x[eval_idx], mask[eval_idx], spec, bundle)
        if self.features in _FROZEN:
            x, mask = self._minilm()
            if mask is None:
                spec = InputSpec(kind="vector", feature_dim=x.shape[1])
                return FoldInputs(x[train_idx], None, x[eval_idx], None, spec, self._bundle_minilm())
            spec = InputSpec(kind="frames", feature_dim=x.shape[2], max_len=self.max_len)
            return FoldInputs(x[train_idx], mask[train_idx], x[eval_idx], mask[eval_idx], spec, self._bundle_minilm())

        name = params.get("tokenizer", self.tokenizer)
        tok, ids, lengths = self._tokenized(train_idx, name)
        mask = lengths_to_mask(lengths, self.max_len)
        pretrained = None
        dim = int(params.get("embedding_dim", 128))
        if self.features == "word2vec":
            dim = int(params.get("embedding_dim", 100))
            pretrained = self._word2vec(train_idx, name, tok, dim)
        spec = InputSpec(
            kind="tokens", vocab_size=tok.vocab_size, embedding_dim=dim, pretrained=pretrained, max_len=self.max_len
        )
        bundle = {"features": self.features, "max_len": self.max_len, "tokenizer": tok.to_json()}
        return FoldInputs(ids[train_idx], mask[train_idx], ids[eval_idx], mask[eval_idx], spec, bundle)

    def _bundle_minilm(self) -> dict[str, Any]:
        encoder = "mpnet-base" if self.features.startswith("mpnet") else "minilm-l6"
        return {"features": self.features, "max_len": self.max_len, "encoder": encoder}
