"""Write a stored emotune study as an Optuna journal file, so optuna-dashboard (or ``optuna.load_study``) opens it.

Mapping: ``Float`` -> ``FloatDistribution(low, high, log)``, ``Int`` ->
``IntDistribution(low, high, log, step)``, ``Categorical`` ->
``CategoricalDistribution(choices)``, ``Bits`` -> ``IntDistribution(0, 2**n - 1)``
holding the gene's integer (its decoded value is kept in the user attribute
``decoded.<name>``). States: complete -> COMPLETE, failed and interrupted ->
FAIL (the error text in the user attribute ``error``), pruned -> PRUNED with its
intermediate values. Each trial keeps its emotune id, worker and fold as user
attributes.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from emotune.exceptions import ConfigError

__all__ = ["export_optuna"]


def _distributions(space) -> dict[str, Any]:
    import optuna.distributions as d

    from emotune.search.spaces import Bits, Categorical, Float, Int

    out = {}
    for name, p in space.params.items():
        if isinstance(p, Float):
            out[name] = d.FloatDistribution(p.low, p.high, log=p.log)
        elif isinstance(p, Int):
            out[name] = d.IntDistribution(p.low, p.high, log=p.log, step=1 if p.log else p.step)
        elif isinstance(p, Categorical):
            out[name] = d.CategoricalDistribution(list(p.choices))
        elif isinstance(p, Bits):
            out[name] = d.IntDistribution(0, 2 ** p.n - 1)
        else:  # pragma: no cover - a new parameter type must be mapped here
            raise ConfigError(f"parameter {name!r}: no Optuna distribution for {type(p).__name__}")
    return out


def _params(space, record) -> tuple[dict[str, Any], dict[str, Any]]:
    from emotune.search.spaces import Bits

    x = np.asarray(record.x, dtype=float)
    params, decoded = {}, {}
    start = 0
    for name, p in space.params.items():
        part = x[start:start + p.width]
        start += p.width
        if isinstance(p, Bits):
            params[name] = int(p.to_int(part))
            decoded[f"decoded.{name}"] = record.params.get(name)
        else:
            params[name] = record.params[name]
    return params, decoded


def _time(t: float | None):
    return None if t is None else dt.datetime.fromtimestamp(float(t))


def export_optuna(studies: Iterable[tuple[str, Any, str, list]], out: str | Path) -> list[str]:
    """Write ``(name, space, direction, records)`` studies into the journal file ``out``; returns their names.

    ``out`` must not exist (an export never overwrites).
    """
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend
    from optuna.trial import TrialState as OS

    out = Path(out)
    if out.exists():
        raise ConfigError(f"{out} already exists; choose another file (an export never overwrites)")
    out.parent.mkdir(parents=True, exist_ok=True)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = JournalStorage(JournalFileBackend(str(out)))
    names = []
    for name, space, direction, records in studies:
        study = optuna.create_study(study_name=name, storage=storage, direction=direction)
        dists = _distributions(space)
        for r in records:
            params, decoded = _params(space, r)
            attrs = {"emotune_id": r.id, "worker": r.worker, "fold": r.fold, "error": r.error, **decoded,
                     **{k: v for k, v in r.user_attrs.items() if isinstance(v, (int, float, str, bool, list))}}
            finite = r.value is not None and math.isfinite(r.value)
            if r.state == "complete" and finite:
                state, value = OS.COMPLETE, r.value
            elif r.state == "pruned":
                state, value = OS.PRUNED, None
            else:
                state, value = OS.FAIL, None
            trial = optuna.trial.create_trial(
                params=params, distributions=dists, value=value, state=state, user_attrs=attrs,
                intermediate_values={int(k): float(v) for k, v in r.intermediate.items() if math.isfinite(v)},
            )
            trial.datetime_start = _time(r.start)
            trial.datetime_complete = _time(r.end) if r.end is not None else _time(r.start)
            study.add_trial(trial)
        names.append(name)
    return names
