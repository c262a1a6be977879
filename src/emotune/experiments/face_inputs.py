"""Face-image inputs of ``emotune tune --task face``: cached face features of every image, per-fold normalisation.

:func:`load_face` reads a face-image corpus (``ckplus``, ``image-folder``) and
extracts one feature kind (:data:`~emotune.features.face_images.FACE_FEATURES`)
for every image once, through the on-disk feature cache; images that cannot be
read are dropped and listed in ``Dataset.skipped`` (``on_bad_rows="skip"``) or
stop the run with an error naming the file. :class:`FaceInputs` builds the
arrays of any ``(train, evaluation)`` pair: float32 ``(n, D)`` vectors
normalised by statistics of the training indices only (``"global"``), by each
subject's own statistics (``"speaker"``, the subject being the group; no labels
used), or not at all. Under ``"global"``, a kind that joins several blocks
(:data:`~emotune.features.face_images.FACE_FEATURE_BLOCKS`, e.g. ``mx_hog``) gives
each block an equal share of the variance
(:func:`~emotune.features.face_combo.block_scale`); the weights are folded into
the saved ``std``, so serving applies them unchanged. The reference rows of a
face run are in :func:`face_baselines`.
"""

from __future__ import annotations

import warnings
from typing import Any, Sequence

import numpy as np

from emotune.exceptions import ConfigError, DatasetError
from emotune.experiments.text_inputs import FoldInputs

__all__ = ["FaceInputs", "load_face", "face_baselines", "FACE_REFERENCES"]

FACE_REFERENCES = (("pixels", "pca_logreg"), ("hog", "linear_svm"), ("mini_xception", "logreg"))
"""The reference rows of a face run: (features, classifier)."""

_NORMALIZE = ("global", "speaker", "none")


def _drop_failed(dataset: Any, feats: list, errors: list[tuple[str, str]]):
    from emotune.data import BadRow, Dataset
    from emotune.data.loading import check_classes

    if not errors:
        return dataset, feats
    keep = [i for i, f in enumerate(feats) if f is not None]
    bad = [BadRow(file=path, line=0, field="image", reason=reason) for path, reason in errors]
    dropped = Dataset(name=dataset.name, samples=[dataset.samples[i] for i in keep],
                      skipped=list(dataset.skipped) + bad, source=dataset.source + f"; {len(bad)} unreadable images skipped")
    check_classes(dropped)
    return dropped, [feats[i] for i in keep]


def load_face(config: Any) -> tuple[Any, "FaceInputs"]:
    """Read the face-image corpus of ``config`` (task ``face``) and extract its features once (cached)."""
    from emotune.data import load_dataset
    from emotune.data.readers._images import image_paths
    from emotune.features.cache import FeatureCache, default_cache_root
    from emotune.features.face_images import face_image_features

    dataset = load_dataset(config.dataset, config.data_dir, group_col=config.group_col,
                           on_bad_rows=config.on_bad_rows, limit=config.limit, seed=config.seed)
    cache = FeatureCache(config.cache_dir or default_cache_root())
    feats, errors = face_image_features(image_paths(dataset), config.features, cache=cache,
                                        on_error="skip" if config.on_bad_rows == "skip" else "raise")
    dataset, feats = _drop_failed(dataset, feats, errors)
    # "auto" is global for faces: per-subject normalisation was measured to lower mini-Xception + LR on CK+
    normalize = config.normalize if config.normalize in ("global", "none") else "global"
    if config.normalize == "speaker" and dataset.has_groups:
        normalize = "speaker"
    return dataset, FaceInputs(feats, dataset.groups, features_name=config.features, normalize=normalize, cache=cache)


class FaceInputs:
    """Builds :class:`~emotune.experiments.text_inputs.FoldInputs` from precomputed face vectors.

    Args:
        features: one float ``(D,)`` vector per image.
        groups: the subject of each image (all ``""`` when unknown).
        features_name: the feature kind (for the bundle).
        normalize: ``"global"``, ``"speaker"`` (per subject) or ``"none"``.
        cache: the feature cache the vectors came from (reference rows use it).
    """

    def __init__(self, features: Sequence[np.ndarray], groups: Sequence[str], *, features_name: str | None = None,
                 normalize: str = "global", cache: Any = None) -> None:
        if normalize not in _NORMALIZE:
            raise ConfigError(f"normalize must be one of {_NORMALIZE}, got {normalize!r}")
        if len(features) != len(groups):
            raise DatasetError(f"features and groups must have one entry per image, got {len(features)} and {len(groups)}")
        if normalize == "speaker" and not all(groups):
            raise ConfigError("normalize='speaker' needs the subject of every image; use normalize='global'")
        self.features = list(features)
        self.groups = np.asarray(list(groups))
        self.features_name = features_name or ""
        self.normalize = normalize
        self.cache = cache
        self.x_: np.ndarray | None = None

    def prepare(self) -> None:
        """Stack the vectors once into ``x_`` float32 ``(n, D)``."""
        if self.x_ is None:
            self.x_ = np.stack([np.asarray(f, np.float32) for f in self.features])

    def block_scale(self, dim: int) -> np.ndarray:
        """Per-feature weights ``(dim,)`` of the feature kind's blocks (all ones for a one-block kind)."""
        from emotune.features.face_combo import block_scale
        from emotune.features.face_images import FACE_FEATURE_BLOCKS

        blocks = FACE_FEATURE_BLOCKS.get(self.features_name)
        if blocks is None:
            return np.ones(dim)
        if sum(blocks) != dim:
            raise DatasetError(f"{self.features_name} vectors must have {sum(blocks)} values (blocks {blocks}), "
                               f"got {dim}")
        return block_scale(blocks)

    def build(self, train_idx: np.ndarray, eval_idx: np.ndarray, params: dict[str, Any]) -> FoldInputs:
        """Inputs for training on ``train_idx`` and evaluating on ``eval_idx``; statistics from ``train_idx`` only."""
        from emotune.features.frames import feature_stats, normalize_features, speaker_normalize
        from emotune.models.inputs import InputSpec

        self.prepare()
        x = self.x_
        assert x is not None
        train_idx = np.asarray(train_idx, dtype=np.int64)
        eval_idx = np.asarray(eval_idx, dtype=np.int64)
        mean, std = feature_stats(x[train_idx], None)
        if self.normalize == "global":
            std = std / self.block_scale(x.shape[1])
            x_train = normalize_features(x[train_idx], None, mean, std)
            x_eval = normalize_features(x[eval_idx], None, mean, std)
        elif self.normalize == "speaker":
            both = np.concatenate([train_idx, eval_idx])
            normed = speaker_normalize(x[both], None, self.groups[both])
            x_train, x_eval = normed[: len(train_idx)], normed[len(train_idx):]
        else:
            x_train, x_eval = x[train_idx], x[eval_idx]
        spec = InputSpec(kind="vector", feature_dim=int(x.shape[1]))
        keep = self.normalize != "none"
        bundle = {"features": self.features_name, "level": "image", "normalize": self.normalize,
                  "mean": [float(v) for v in mean] if keep else None,
                  "std": [float(v) for v in std] if keep else None}
        return FoldInputs(x_train.astype(np.float32), None, x_eval.astype(np.float32), None, spec, bundle)


class _SoftmaxSvm:
    """A linear SVM whose class probabilities are the softmax of its decision values (argmax unchanged).

    Platt calibration on internal folds was measured to cost about 15 points of
    UA on CK+ (few samples per class), so the raw margins are used instead.
    """

    def __init__(self, seed: int) -> None:
        from sklearn.preprocessing import StandardScaler
        from sklearn.svm import LinearSVC

        self.scaler = StandardScaler()
        self.svm = LinearSVC(C=0.01, class_weight="balanced", random_state=seed)

    def fit(self, x: np.ndarray, y: np.ndarray) -> "_SoftmaxSvm":
        self.svm.fit(self.scaler.fit_transform(x), y)
        self.classes_ = self.svm.classes_
        return self

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        d = self.svm.decision_function(self.scaler.transform(x))
        if d.ndim == 1:  # two classes
            d = np.stack([-d, d], axis=1)
        e = np.exp(d - d.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)


def _classifier(kind: str, seed: int, n_train: int = 1000):
    """``logreg``: standardised + logistic regression; ``pca_logreg``: + 100 PCA components first (at most
    ``n_train - 1``; 2304 pixels make plain L-BFGS slow); ``linear_svm``: standardised + :class:`_SoftmaxSvm`."""
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    lr = LogisticRegression(max_iter=3000, C=1.0, class_weight="balanced", random_state=seed)
    if kind == "logreg":
        return make_pipeline(StandardScaler(), lr)
    if kind == "pca_logreg":
        return make_pipeline(StandardScaler(), PCA(min(100, n_train - 1), random_state=seed), lr)
    return _SoftmaxSvm(seed)  # standardises inside


def face_baselines(config: Any, dataset: Any, inputs: FaceInputs, y: np.ndarray, dev_idx: np.ndarray,
                   test_idx: np.ndarray, labels: Sequence[str]) -> list[dict[str, Any]]:
    """Reference rows on the run's split: pixels + PCA + LR, HOG + linear SVM, mini-Xception features + LR.

    Each is fit on ``dev_idx`` and scored on ``test_idx``; features come from the
    same cache (computed once per image). A row whose features fail is skipped
    with a warning.

    Returns:
        ``[{"name": "pixels_logreg", **metrics, "_proba": ...}, ...]``.
    """
    from emotune.data.readers._images import image_paths
    from emotune.evaluation.metrics import classification_metrics
    from emotune.experiments.speech_baselines import _full_proba
    from emotune.features.face_images import face_image_features

    paths = image_paths(dataset)
    rows = []
    for features, kind in FACE_REFERENCES:
        if features == inputs.features_name:
            vecs = inputs.features
        else:
            try:
                vecs, errors = face_image_features(paths, features, cache=inputs.cache, on_error="skip")
            except Exception as exc:  # a missing optional library must not end the run
                warnings.warn(f"face reference {features}_{kind} skipped: {exc}", stacklevel=2)
                continue
            if errors:
                warnings.warn(f"face reference {features}_{kind} skipped: {len(errors)} images failed", stacklevel=2)
                continue
        x = np.stack([np.asarray(v, np.float32) for v in vecs])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = _classifier(kind, config.seed, len(dev_idx)).fit(x[dev_idx], y[dev_idx])
            proba = _full_proba(model.predict_proba(x[test_idx]), y[dev_idx], len(labels))
        rows.append({"name": f"{features}_{kind}", **classification_metrics(y[test_idx], proba, labels),
                     "_proba": proba})
    return rows
