"""The model bundle: weights as safetensors plus one JSON file, loadable without pickle.

Layout of a bundle folder::

    model/
      weights.safetensors   # the torch state_dict
      bundle.json           # format, model name and params, labels, input spec, feature settings

``bundle.json`` carries everything needed to rebuild the features for new
inputs (the fitted tokenizer as JSON, the encoder name, normalisation
statistics) so :class:`~emotune.serving.predictor.Predictor` needs nothing else.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from emotune.exceptions import ConfigError

__all__ = ["BUNDLE_FORMAT", "save_bundle", "load_bundle"]

BUNDLE_FORMAT = "emotune-bundle/1"


def _input_spec_json(spec: Any) -> dict[str, Any]:
    d = asdict(spec)
    d.pop("pretrained", None)  # the trained weights already hold the embedding
    return d


def save_bundle(
    path: str | Path,
    model: Any,
    *,
    model_name: str,
    params: dict[str, Any],
    labels: list[str],
    input_spec: Any,
    features: dict[str, Any],
    task: str,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write ``path/weights.safetensors`` and ``path/bundle.json`` (each atomically)."""
    from safetensors.torch import save_file

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    fd, tmp = tempfile.mkstemp(dir=path, suffix=".tmp")
    os.close(fd)
    save_file(state, tmp)
    os.replace(tmp, path / "weights.safetensors")
    meta = {
        "format": BUNDLE_FORMAT,
        "task": task,
        "model": model_name,
        "params": params,
        "labels": list(labels),
        "input_spec": _input_spec_json(input_spec),
        "features": features,
        "extra": extra or {},
    }
    fd, tmp = tempfile.mkstemp(dir=path, suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        json.dump(meta, fh, indent=1, default=str)
    os.replace(tmp, path / "bundle.json")
    return path


def load_bundle(path: str | Path) -> tuple[Any, dict[str, Any]]:
    """Rebuild the model (eval mode) and return it with the bundle's metadata."""
    from safetensors.torch import load_file

    from emotune.models import build_model
    from emotune.models.inputs import InputSpec

    path = Path(path)
    meta_path = path / "bundle.json"
    if not meta_path.is_file():
        raise ConfigError(f"no model bundle at {path}: expected bundle.json and weights.safetensors there")
    meta = json.loads(meta_path.read_text())
    if meta.get("format") != BUNDLE_FORMAT:
        raise ConfigError(f"{meta_path}: unsupported bundle format {meta.get('format')!r}, expected {BUNDLE_FORMAT!r}")
    spec = InputSpec(**meta["input_spec"])
    model = build_model(meta["model"], meta["params"], n_classes=len(meta["labels"]), input_spec=spec)
    model.load_state_dict(load_file(str(path / "weights.safetensors")))
    model.eval()
    return model, meta
