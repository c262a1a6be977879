"""``emotune compare``: the same task run once per arm and seed, fairly, resumably.

An *arm* is one value of every ``--vary`` key (several ``--vary`` make a grid).
Fairness is structural: every arm of a seed gets the same base config, the same
seed (hence the same outer and inner splits, the same benchmark-function
instance and the same model initialisation) and the same budget; only the varied
keys differ. The plan is written to ``OUT/plan.json`` before anything runs; each
finished run writes ``OUT/arms/ARM/seed_S/record.json`` atomically, so a
comparison killed half-way resumes where it stopped (finished runs are skipped)
and a half-finished run is redone from scratch.

Tasks (see :mod:`emotune.experiments.compare_tasks`): ``function:NAME`` runs an
optimizer on a benchmark function with ``trials`` evaluations; ``tune`` runs the
whole tune protocol (``emotune tune``) for a text or speech config, where
``tuned=false`` means the model's documented defaults trained once.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from dataclasses import asdict, dataclass, field
from itertools import product
from pathlib import Path
from typing import Any, Callable, Sequence

import yaml

from emotune.exceptions import ConfigError
from emotune.experiments.run_files import atomic_write_text, json_default

__all__ = ["ComparePlan", "parse_vary", "make_plan", "run_comparison", "finish_comparison", "load_records", "arm_label",
           "run_dir"]

PLAN_FILE = "plan.json"
RECORD_FILE = "record.json"


def parse_vary(items: Sequence[str]) -> dict[str, list[Any]]:
    """``["optimizer=random,ga", "tuned=false,true"]`` -> ``{"optimizer": ["random", "ga"], "tuned": [False, True]}``.

    Each value is read as YAML (``false`` is a bool, ``30`` an int, ``1e-3`` a float).
    """
    vary: dict[str, list[Any]] = {}
    for item in items:
        key, sep, values = item.partition("=")
        key = key.strip()
        if not sep or not key or not values.strip():
            raise ConfigError(f"--vary must look like KEY=V1,V2,..., got {item!r}")
        if key in vary:
            raise ConfigError(f"--vary key {key!r} is given twice")
        parsed = [_scalar(v.strip()) for v in values.split(",") if v.strip()]
        if len(set(map(str, parsed))) != len(parsed):
            raise ConfigError(f"--vary {key} repeats a value: {values!r}")
        vary[key] = parsed
    return vary


def _scalar(text: str) -> Any:
    value = yaml.safe_load(text)
    if isinstance(value, str) and re.fullmatch(r"[-+]?\d*\.?\d+(e[-+]?\d+)?", text, flags=re.I):
        return float(text)  # YAML 1.1 reads 1e-3 as a string
    return value


def _fmt(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def arm_label(values: dict[str, Any]) -> str:
    """``{"optimizer": "ga", "tuned": True}`` -> ``"optimizer=ga,tuned=true"``."""
    return ",".join(f"{k}={_fmt(v)}" for k, v in values.items())


def _arm_dir(values: dict[str, Any]) -> str:
    return re.sub(r"[^A-Za-z0-9._=-]+", "_", "__".join(f"{k}={_fmt(v)}" for k, v in values.items()))


@dataclass
class ComparePlan:
    """What a comparison runs; saved as ``plan.json`` before the first run.

    Attributes:
        task: ``"function:NAME"`` or ``"tune"``.
        base: the base settings every arm shares (the tune config, or ``dim`` / ``trials`` for a function).
        vary: key -> values, in the order given.
        seeds: the seeds every arm runs with.
        reference: ``KEY=VALUE`` of the reference arm(s) of the paired tests.
        metric: the score compared (``error`` for functions, a test metric for tune).
        higher_is_better: the metric's direction.
        budget_by: ``trials`` (equal number of evaluations) or ``time`` (equal wall clock).
        time_budget: seconds per run when ``budget_by == "time"``.
        arms: ``[{"label", "dir", "values"}]``, the grid in order.
    """

    task: str
    base: dict[str, Any]
    vary: dict[str, list[Any]]
    seeds: list[int]
    reference: str
    metric: str
    higher_is_better: bool
    budget_by: str = "trials"
    time_budget: float | None = None
    arms: list[dict[str, Any]] = field(default_factory=list)

    def runs(self) -> list[tuple[dict[str, Any], int]]:
        """Every (arm, seed), seed-major so that an interrupted comparison has whole seeds done."""
        return [(arm, seed) for seed in self.seeds for arm in self.arms]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def table_rows(self) -> list[list[str]]:
        """One row per arm: label, then the varied values."""
        return [[a["label"]] + [_fmt(a["values"][k]) for k in self.vary] for a in self.arms]


def _resolve_reference(reference: str | None, vary: dict[str, list[Any]]) -> str:
    """``KEY=VALUE`` naming the reference level of one varied key (a bare value is looked up)."""
    if reference is None:
        key = next(iter(vary))
        return f"{key}={_fmt(vary[key][0])}"
    if "=" in reference:
        key, _, value = reference.partition("=")
        key = key.strip()
        if key not in vary or _fmt(_scalar(value.strip())) not in [_fmt(v) for v in vary[key]]:
            raise ConfigError(f"--reference {reference!r} is not one of the varied values {vary}")
        return f"{key}={_fmt(_scalar(value.strip()))}"
    keys = [k for k, values in vary.items() if reference in [_fmt(v) for v in values]]
    if len(keys) != 1:
        raise ConfigError(f"--reference {reference!r} must name exactly one varied value (as KEY=VALUE if "
                          f"ambiguous); varied: {vary}")
    return f"{keys[0]}={reference}"


def make_plan(
    task: str,
    base: dict[str, Any],
    vary: dict[str, list[Any]],
    seeds: int | Sequence[int],
    *,
    reference: str | None = None,
    metric: str | None = None,
    budget_by: str = "trials",
    time_budget: float | None = None,
) -> ComparePlan:
    """Validate everything cheap and lay out the grid of arms; runs nothing.

    Raises:
        ConfigError: an unknown key or value, a budget that is not positive, fewer than two arms.
    """
    from emotune.experiments.compare_tasks import task_for

    if not vary:
        raise ConfigError("give at least one --vary KEY=V1,V2")
    seed_list = list(range(int(seeds))) if isinstance(seeds, int) else [int(s) for s in seeds]
    if not seed_list or len(set(seed_list)) != len(seed_list):
        raise ConfigError(f"seeds must be a positive count or distinct integers, got {seeds!r}")
    if budget_by not in ("trials", "time"):
        raise ConfigError(f"budget_by must be 'trials' or 'time', got {budget_by!r}")
    if budget_by == "time" and not (time_budget and time_budget > 0):
        raise ConfigError(f"--budget-by time needs --time-budget SECONDS > 0, got {time_budget!r}")
    runner = task_for(task)
    arms = []
    for combo in product(*vary.values()):
        values = dict(zip(vary, combo))
        arms.append({"label": arm_label(values), "dir": _arm_dir(values), "values": values})
    if len(arms) < 2:
        raise ConfigError(f"a comparison needs at least two arms, got {[a['label'] for a in arms]}")
    base = runner.check(base, vary)
    metric_name, higher = runner.metric(base, metric)
    return ComparePlan(task=task, base=base, vary=vary, seeds=seed_list,
                       reference=_resolve_reference(reference, vary), metric=metric_name, higher_is_better=higher,
                       budget_by=budget_by, time_budget=time_budget, arms=arms)


def run_dir(out: Path, arm: dict[str, Any], seed: int) -> Path:
    return Path(out) / "arms" / arm["dir"] / f"seed_{seed}"


def _save_or_check_plan(plan: ComparePlan, out: Path) -> bool:
    """Write ``plan.json``; if one exists it must be the same plan. Returns True when resuming."""
    path = out / PLAN_FILE
    fresh = json.loads(json.dumps(plan.to_dict(), default=json_default))
    if path.exists():
        old = json.loads(path.read_text())
        if old != fresh:
            changed = sorted(k for k in set(old) | set(fresh) if old.get(k) != fresh.get(k))
            raise ConfigError(f"{out} holds a different comparison (plan keys that differ: {changed}); "
                              f"use another --out or repeat the original options to resume")
        return True
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(fresh, indent=1))
    return False


def load_records(out: str | Path) -> tuple[ComparePlan, list[dict[str, Any]]]:
    """The plan and the records of every finished run of the comparison in ``out``."""
    out = Path(out)
    path = out / PLAN_FILE
    if not path.exists():
        raise ConfigError(f"{out} is not a comparison: {PLAN_FILE} is missing")
    plan = ComparePlan(**json.loads(path.read_text()))
    records = []
    for arm, seed in plan.runs():
        rec = run_dir(out, arm, seed) / RECORD_FILE
        if rec.exists():
            records.append(json.loads(rec.read_text()))
    return plan, records


def run_comparison(
    plan: ComparePlan,
    out: str | Path,
    *,
    say: Callable[[str], None] = lambda _: None,
    on_run_done: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Save the plan, run every (arm, seed) not finished yet, return all records.

    Each record: ``arm`` (label), ``values``, ``seed``, ``value`` (the plan's metric; NaN when the
    run failed), ``curve`` (``[[trial, best_so_far, seconds], ...]``), ``wall_seconds``, ``error``
    and task-specific extras. A run that raises an ``EmotuneError`` is recorded as failed
    (value NaN, the message in ``error``) and the comparison goes on.
    """
    from emotune.exceptions import EmotuneError
    from emotune.experiments.compare_tasks import task_for

    out = Path(out)
    resuming = _save_or_check_plan(plan, out)
    runner = task_for(plan.task)
    todo = [(arm, seed) for arm, seed in plan.runs() if not (run_dir(out, arm, seed) / RECORD_FILE).exists()]
    done = len(plan.runs()) - len(todo)
    say(f"{'resuming' if resuming else 'starting'}: {len(plan.arms)} arms x {len(plan.seeds)} seeds, "
        f"{done} runs already finished, {len(todo)} to run")
    for k, (arm, seed) in enumerate(todo, 1):
        path = run_dir(out, arm, seed)
        if path.exists():  # a run killed half-way: its folder belongs to the comparison, start it afresh
            shutil.rmtree(path)
        path.mkdir(parents=True)
        say(f"[{k}/{len(todo)}] {arm['label']} seed {seed}")
        t0 = time.time()
        try:
            record = runner.run(plan, arm["values"], seed, path)
            error = None
        except EmotuneError as exc:
            record, error = {"value": float("nan"), "curve": []}, f"{type(exc).__name__}: {exc}"
        record = {"arm": arm["label"], "values": arm["values"], "seed": seed, **record, "error": error,
                  "wall_seconds": round(time.time() - t0, 3)}
        atomic_write_text(path / RECORD_FILE, json.dumps(record, default=json_default))
        if on_run_done is not None:
            on_run_done(record)
    return load_records(out)[1]


def finish_comparison(out: str | Path) -> dict[str, Any]:
    """Analyse whatever runs are finished: write ``comparison.json`` and the HTML + markdown report.

    Returns the analysis (see :func:`emotune.evaluation.comparison.analyze`).
    """
    from emotune.evaluation.comparison import analyze
    from emotune.evaluation.html_report import write_comparison_report

    out = Path(out)
    plan, records = load_records(out)
    analysis = analyze(plan, records)
    atomic_write_text(out / "comparison.json", json.dumps(analysis, indent=1, default=json_default))
    write_comparison_report(out, plan, records, analysis)
    return analysis
