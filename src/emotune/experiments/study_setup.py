"""How ``emotune tune`` builds and keeps its studies: the run directory, the study file, executor and pruner.

* A run directory is never overwritten silently: an existing one is refused
  unless the run resumes it or ``--overwrite`` is given (then only a folder that
  holds an emotune run is removed).
* ``--resume RUN`` reads ``RUN/config.yaml``; a changed config is refused unless
  ``--force``, with the difference shown. Settings that only say *where* trials
  run (executor, jobs, limits, device, progress) may change freely.
* Each search keeps its trials in ``study.db`` (SQLite, written on every ask and
  tell, see :mod:`emotune.search.storage`); a finished outer fold keeps its
  result in ``fold_result.pkl`` so a resumed run does not rerun it.
"""

from __future__ import annotations

import os
import pickle
import shutil
from functools import partial
from pathlib import Path
from typing import Any

from emotune.exceptions import ConfigError

__all__ = [
    "IF_EXISTS", "prepare_run_dir", "resume_diff", "RUNTIME_KEYS", "make_executor_for", "make_pruner_for",
    "study_path", "save_fold_result", "load_fold_result",
]

IF_EXISTS = ("refuse", "resume", "overwrite")
RUNTIME_KEYS = frozenset({"executor", "jobs", "trial_timeout", "trial_cpus", "trial_gpus", "address", "device",
                          "progress", "timeout", "workers", "threads", "cache_dir", "out"})
"""Config keys a resumed run may change: where and how fast trials run, not what is searched."""

_RUN_MARKERS = ("config.yaml", "study.db", "result.json", "trials.csv")


def _is_run_dir(path: Path) -> bool:
    return any((path / m).exists() for m in _RUN_MARKERS) or any(path.glob("fold_*/study.db"))


def prepare_run_dir(out: Path, if_exists: str) -> bool:
    """Check (and with ``"overwrite"`` clear) the run directory; True when an existing run is resumed."""
    if if_exists not in IF_EXISTS:
        raise ConfigError(f"if_exists must be one of {IF_EXISTS}, got {if_exists!r}")
    out = Path(out)
    if not out.exists() or (out.is_dir() and not any(out.iterdir())):
        if if_exists == "resume":
            raise ConfigError(f"nothing to resume: {out} does not hold a run (no config.yaml / study.db)")
        return False
    if not out.is_dir():
        raise ConfigError(f"run directory {out} exists and is a file")
    if if_exists == "resume":
        if not _is_run_dir(out):
            raise ConfigError(f"nothing to resume: {out} does not hold a run (no config.yaml / study.db)")
        return True
    if if_exists == "overwrite":
        if not _is_run_dir(out):
            raise ConfigError(
                f"--overwrite refuses to delete {out}: it is not empty and holds no emotune run "
                f"(none of {', '.join(_RUN_MARKERS)}); remove it yourself or pick another --out"
            )
        shutil.rmtree(out)
        return False
    raise ConfigError(
        f"run directory {out} already exists and is not empty; refusing to overwrite it. "
        f"Continue it with `emotune tune --resume {out}`, replace it with --overwrite, or pick another --out"
    )


def resume_diff(saved: dict[str, Any], new: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Keys whose value differs between the saved and the new config, runtime keys left out."""
    keys = (set(saved) | set(new)) - RUNTIME_KEYS
    return {k: (saved.get(k), new.get(k)) for k in sorted(keys) if saved.get(k) != new.get(k)}


def study_path(out: Path) -> Path:
    return Path(out) / "study.db"


def _worker_init(slot: int, cpus: float, n_gpus: int) -> None:
    """In each trial process: one GPU per worker (before CUDA starts here), torch threads from ``--trial-cpus``."""
    if n_gpus:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(slot % n_gpus)
    try:
        import torch

        torch.set_num_threads(max(1, int(cpus)))
    except ImportError:  # pragma: no cover
        pass


def _gpus_without_cuda_init() -> int:
    """GPUs this process may use, counted without starting CUDA here (a forked worker could not use it then)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return len([v for v in visible.split(",") if v.strip() and v.strip() != "-1"])
    import shutil
    import subprocess

    if shutil.which("nvidia-smi") is None:
        return 0
    try:
        listing = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return 0
    return sum(line.startswith("GPU ") for line in listing.splitlines())


def make_executor_for(config: Any):
    """The executor the config asks for (``serial``, ``process`` with ``jobs`` workers, or ``ray``)."""
    from emotune.search.executors import ProcessExecutor, RayExecutor, SerialExecutor

    if config.executor == "serial":
        return SerialExecutor()
    if config.executor == "process":
        n_gpus = 0 if config.device == "cpu" else _gpus_without_cuda_init()
        return ProcessExecutor(config.jobs, initializer=partial(_worker_init, cpus=config.trial_cpus, n_gpus=n_gpus))
    gpus = 0.0 if config.device == "cpu" else (config.trial_gpus or (1.0 if config.device == "cuda" else 0.0))
    return RayExecutor(config.jobs, address=config.address, num_cpus=config.trial_cpus, num_gpus=gpus,
                       initializer=partial(_threads_init, cpus=config.trial_cpus))


def _threads_init(slot: int, cpus: float) -> None:
    """In each Ray worker: torch threads from ``--trial-cpus`` (Ray assigns the GPUs itself)."""
    import torch

    torch.set_num_threads(max(1, int(cpus)))


def make_pruner_for(config: Any):
    """The pruner of ``config.pruner`` over epochs (``None`` for ``none``)."""
    from emotune.search.pruners import make_pruner

    if config.pruner == "hyperband":
        return make_pruner("hyperband", min_resource=1, max_resource=max(1, config.epochs), reduction_factor=3)
    if config.pruner == "median":
        return make_pruner("median", n_startup_trials=4, n_warmup_steps=1)
    return make_pruner(config.pruner)


def save_fold_result(fold_out: Path, result: dict[str, Any]) -> None:
    """Keep a finished outer fold's full result (test probabilities included) for a resumed run."""
    tmp = Path(fold_out) / "fold_result.pkl.tmp"
    tmp.write_bytes(pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))
    os.replace(tmp, Path(fold_out) / "fold_result.pkl")


def load_fold_result(fold_out: Path) -> dict[str, Any] | None:
    path = Path(fold_out) / "fold_result.pkl"
    if not path.exists():
        return None
    return pickle.loads(path.read_bytes())
