"""The typed configuration of one ``emotune tune`` run.

One YAML file (or the equivalent flags) per run, seed first; validated into
:class:`TuneConfig`; the resolved config is saved beside the results so any run
can be repeated with ``emotune tune --config RUN/config.yaml``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from emotune.exceptions import ConfigError
from emotune.features.audio_extractors import AUDIO_FEATURES
from emotune.features.face_images import FACE_FEATURES  # re-exported: face-image features, the task default first

__all__ = ["TuneConfig", "load_config", "save_config", "TEXT_FEATURES", "SPEECH_FEATURES", "FACE_FEATURES",
           "MODALITIES", "FUSIONS"]

TEXT_FEATURES = ("tokens", "word2vec", "minilm", "minilm_pooled", "minilm_layers", "mpnet", "mpnet_pooled")
"""Text inputs: token ids with a trainable embedding, the same initialised from
Word2Vec, frozen MiniLM token states (frames), or pooled MiniLM sentence vectors;
``mpnet``/``mpnet_pooled`` the same from all-mpnet-base-v2 (the CLI's text default; ``make venv`` installs it)."""

SPEECH_FEATURES = tuple(AUDIO_FEATURES.names())  # every registered audio extractor (features/audio_extractors.py)

MODALITIES = ("audio", "face", "mocap", "text")
"""Modalities of task ``multimodal`` (``face``: the per-clip Action Unit / OpenFace vector; ``mocap``: the motion-capture
streams of a ``manifest``, 200 averaged segments; ``text``: hashed word n-grams of the sample's text)."""

FUSIONS = ("late_aquila", "late_equal", "stacking", "intermediate", "early", "search")
"""Fusion styles of task ``multimodal`` (see :mod:`emotune.models.fusion`); ``search``: the style is a categorical
of one joint search space with every modality's hyperparameters (:mod:`emotune.experiments.fusion_search`)."""

# task -> (default features, default model) when the config leaves them unset (None)
# speech: Whisper-base pooled states + MLP with speaker enrolment measured best on CREMA-D (bench/README.md, Speech)
# face: mirror-averaged mini-Xception + HOG into a linear softmax head, searched by 5 folds by subject
# (bench/README.md, Faces: the best measured on ckplus48-dev; a 40-image hold-out was too noisy to choose by)
_TASK_DEFAULTS = {"text": ("tokens", "sa_lstm"), "face": ("mx_hog", "linear"),
                  "multimodal": ("egemaps", "mlp"), "speech": ("whisper_base_pooled", "mlp")}

# speech: 3 folds by speaker; on CREMA-D dev (Whisper-base, 5 outer folds by actor) a hold-out of 3-4 actors
# chose worse configurations and epoch counts (bench/README.md, Speech, "inner cv: group:3" and "padded windows")
_TASK_CV = {"face": "group:5", "speech": "group:3"}
"""task -> the search's ``cv`` when the config leaves it unset (None); every other task: ``holdout``."""

_TASKS = ("text", "speech", "face", "multimodal")
_NORMALIZE = ("global", "speaker", "none", "auto")
_ON_BAD = ("error", "skip")
_TEXT_REFERENCES = ("tfidf_logreg", "minilm_logreg", "mpnet_logreg")  # mpnet: installed by `make venv` / `make mpnet`


@dataclass
class TuneConfig:
    """Everything that defines a tuning run. Field order mirrors the YAML file."""

    seed: int = 0
    task: str = "text"
    # data
    dataset: str = "tweets"
    data_dir: str | None = None
    text_col: str = "text"
    label_col: str = "label"
    group_col: str | None = None
    on_bad_rows: str = "error"
    encoding: str | None = None
    keep_duplicates: bool = False
    limit: int | None = None
    # protocol
    cv: str | None = None  # None: the task's default (_TASK_CV, else holdout)
    outer_cv: str = "auto"
    test_size: float = 0.2
    val_size: float = 0.15
    fitness: str = "macro_f1"
    split_by: str = "group"
    # features
    features: str | None = None  # None: the task's default (_TASK_DEFAULTS)
    tokenizer: str = "blankspace"
    vocab_size: int = 11560
    max_len: int = 64
    normalize: str = "auto"  # speech: speaker enrolment when every clip has a speaker, else global
    enrol_min_clips: int = 5  # speech, normalize speaker: clips a speaker needs for their own statistics
    # speech features (task "speech"; max_len is not used there: frames follow from max_seconds)
    max_seconds: float = 8.0
    frame_pool: int = 1
    workers: int = 2
    # multimodal (task "multimodal"): `features` are the audio features
    modalities: list[str] = field(default_factory=lambda: ["audio", "face"])
    fusion: str = "early"  # the best measured on ravdess-av-dev (bench/README.md, Fusion)
    early_frames: int = 0  # early fusion: 0 = clip vectors concatenated; N = frames aligned to N steps (sa_lstm)
    # model and search
    model: str | None = None  # None: the task's default (_TASK_DEFAULTS)
    preset: str | None = None
    optimizer: str = "lwaro"
    optimizer_options: dict[str, Any] = field(default_factory=dict)
    trials: int = 30
    timeout: float | None = None
    fixed_params: dict[str, Any] = field(default_factory=dict)
    warm_start: bool = True
    # scale-out (docs/scaling.md): where trials run, their limits, early stopping
    executor: str = "serial"
    jobs: int = 1
    trial_timeout: float | None = None
    trial_cpus: float = 1.0
    trial_gpus: float = 0.0
    address: str | None = None
    device: str = "auto"
    pruner: str = "none"
    references: list[str] = field(default_factory=lambda: ["tfidf_logreg", "minilm_logreg"])
    # training
    epochs: int = 10
    patience: int = 3
    max_train_seconds: float | None = None
    fgm_epsilon: float = 0.0
    augment: str = "none"
    threads: int = 1
    # output
    out: str = "runs/latest"
    cache_dir: str | None = None
    progress: bool = True

    def __post_init__(self) -> None:
        # Only unset keys take the task's defaults: an explicit choice (even the text default
        # "sa_lstm" on a speech run) is never replaced.
        features, model = _TASK_DEFAULTS.get(self.task, _TASK_DEFAULTS["text"])
        self.features = features if self.features is None else self.features
        self.model = model if self.model is None else self.model
        self.cv = _TASK_CV.get(self.task, "holdout") if self.cv is None else self.cv
        if self.normalize == "auto" and self.task != "speech":
            self.normalize = "global"
        self.validate()

    def validate(self) -> None:
        """Cheap checks; each error names the field, the rule and the value."""
        if self.task not in _TASKS:
            raise ConfigError(f"task must be one of {_TASKS}, got {self.task!r}")
        if self.on_bad_rows not in _ON_BAD:
            raise ConfigError(f"on_bad_rows must be one of {_ON_BAD}, got {self.on_bad_rows!r}")
        allowed = {"text": TEXT_FEATURES, "face": FACE_FEATURES}.get(self.task, SPEECH_FEATURES)
        if self.features not in allowed:
            raise ConfigError(f"features for task {self.task!r} must be one of {allowed}, got {self.features!r}")
        if not 0.0 < self.test_size < 1.0:
            raise ConfigError(f"test_size must be in (0, 1), got {self.test_size}")
        if not 0.0 < self.val_size < 1.0:
            raise ConfigError(f"val_size must be in (0, 1), got {self.val_size}")
        for name in ("trials", "epochs", "max_len", "vocab_size"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.limit is not None and int(self.limit) < 2:
            raise ConfigError(f"limit must be >= 2 or empty, got {self.limit}")
        if int(self.threads) < 1:
            raise ConfigError(f"threads must be >= 1, got {self.threads}")
        _validate_scale_out(self)
        if self.patience < 0:
            raise ConfigError(f"patience must be >= 0, got {self.patience}")
        if self.split_by not in ("group", "sample"):
            raise ConfigError(f"split_by must be 'group' or 'sample', got {self.split_by!r}")
        if self.encoding is not None:
            import codecs

            try:
                codecs.lookup(self.encoding)
            except LookupError:
                raise ConfigError(f"encoding must be a codec Python knows (e.g. utf-8, latin-1, cp1252), "
                                  f"got {self.encoding!r}") from None
        if self.augment not in ("none", "fgm", "gan"):
            raise ConfigError(f"augment must be none, fgm or gan, got {self.augment!r}")
        from emotune.search.optimizers import check_optimizer_options

        check_optimizer_options(self.optimizer, self.optimizer_options)  # at once, not after feature extraction
        bad_refs = [r for r in self.references if r not in _TEXT_REFERENCES]
        if bad_refs:
            raise ConfigError(f"references must be among {_TEXT_REFERENCES}, got {bad_refs}")
        if self.task == "multimodal":
            bad = [m for m in self.modalities if m not in MODALITIES]
            if bad or len(set(self.modalities)) < 1:
                raise ConfigError(f"modalities must be among {MODALITIES}, got {self.modalities!r}")
            if self.fusion not in FUSIONS:
                raise ConfigError(f"fusion must be one of {FUSIONS}, got {self.fusion!r}")
            if isinstance(self.early_frames, bool) or not isinstance(self.early_frames, int) or self.early_frames < 0:
                raise ConfigError(f"early_frames must be an int >= 0 (0: clip vectors), got {self.early_frames!r}")
        if self.normalize not in _NORMALIZE:
            raise ConfigError(f"normalize must be one of {_NORMALIZE}, got {self.normalize!r}")
        if not (isinstance(self.max_seconds, (int, float)) and self.max_seconds > 0):
            raise ConfigError(f"max_seconds must be a positive number of seconds, got {self.max_seconds!r}")
        for name in ("frame_pool", "workers", "enrol_min_clips"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be an int >= 1, got {value!r}")

    def resolved_outer_cv(self) -> str:
        """The outer protocol: ``auto`` is a hold-out test split for text and 5-fold by speaker for speech."""
        if self.outer_cv == "auto":
            return "holdout" if self.task == "text" else "group:5"
        return self.outer_cv

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TuneConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown config keys {unknown}; known keys: {sorted(known)}")
        return cls(**data)


_EXECUTORS = ("serial", "process", "ray")
_DEVICES = ("auto", "cpu", "cuda")
_PRUNERS = ("none", "median", "halving", "hyperband")


def _validate_scale_out(c: "TuneConfig") -> None:
    """Executor, jobs, trial limits, device and pruner (each error names the field and the value)."""
    if c.executor not in _EXECUTORS:
        raise ConfigError(f"executor must be one of {_EXECUTORS}, got {c.executor!r}")
    if isinstance(c.jobs, bool) or not isinstance(c.jobs, int) or c.jobs < 1:
        raise ConfigError(f"jobs must be an int >= 1, got {c.jobs!r}")
    if c.trial_timeout is not None and not c.trial_timeout > 0:
        raise ConfigError(f"trial_timeout must be > 0 seconds or empty, got {c.trial_timeout!r}")
    if c.timeout is not None and not c.timeout > 0:
        raise ConfigError(f"timeout must be > 0 seconds or empty, got {c.timeout!r}")
    if c.trial_cpus <= 0 or c.trial_gpus < 0:
        raise ConfigError(f"trial_cpus must be > 0 and trial_gpus >= 0, got {c.trial_cpus!r} and {c.trial_gpus!r}")
    if c.device not in _DEVICES:
        raise ConfigError(f"device must be one of {_DEVICES}, got {c.device!r}")
    if c.pruner not in _PRUNERS:
        raise ConfigError(f"pruner must be one of {_PRUNERS}, got {c.pruner!r}")


def load_config(path: str | Path, **overrides: Any) -> TuneConfig:
    """Read a YAML config and apply ``overrides`` (non-None values only)."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read config {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"config {path} must be a mapping of keys to values, got {type(data).__name__}")
    data.update({k: v for k, v in overrides.items() if v is not None})
    return TuneConfig.from_dict(data)


def save_config(config: TuneConfig, path: str | Path) -> None:
    """Write the resolved config as YAML (seed first)."""
    Path(path).write_text(yaml.safe_dump(config.to_dict(), sort_keys=False))
