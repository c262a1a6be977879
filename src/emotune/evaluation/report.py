"""The run report: ``report.md`` from a run's ``result.json`` and trial records."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

__all__ = ["write_report", "metrics_table_rows"]

_SCALARS = (
    ("accuracy", "accuracy"),
    ("macro_f1", "macro-F1"),
    ("unweighted_accuracy", "UA (macro recall)"),
    ("roc_auc", "ROC-AUC"),
)


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}" if value == value else "nan"
    return str(value)


def _secs(value: Any) -> str:
    return "-" if value is None else f"{float(value):.1f}"


def metrics_table_rows(rows: Sequence[tuple[str, dict[str, Any]]]) -> list[list[str]]:
    """One row per (name, metrics dict): name then the scalar metrics, formatted."""
    return [[name] + [_fmt(m.get(key)) for key, _ in _SCALARS] for name, m in rows]


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def _verdict_lines(model: Any, comparisons: Sequence[dict[str, Any]]) -> list[str]:
    """The verdict against the best reference row, one sentence per metric, with the bootstrap interval."""
    lines = []
    for c in comparisons:
        unit = "speakers/groups" if c.get("unit") == "groups" else "test samples"
        lines.append(
            f"**Verdict ({c['metric']}):** the tuned {model} **{c['verdict']}** the best reference, "
            f"{c['reference']} ({100 * c['reference_score']:.2f}): difference **{100 * c['difference']:+.2f} points**, "
            f"{100 * c['level']:.0f}% interval [{100 * c['low']:+.2f}, {100 * c['high']:+.2f}] "
            f"(paired bootstrap over {c['n_units']} {unit}, {c['n_boot']} resamples). "
            + ("The interval excludes zero." if c.get("excludes_zero") else
               "The interval includes zero, so the difference may be test-set noise.")
            + "\n"
        )
    return lines


def _ranking_lines(trials: Sequence[dict[str, Any]], fitness: Any) -> list[str]:
    """Whether the validation judge can rank: fold spread next to the gap between the top trials."""
    from emotune.evaluation.ranking import ranking_noise

    r = ranking_noise(trials)
    if r is None:
        return ["Validation was one hold-out part, so the noise of a trial's score is unknown; "
                "`cv: K` (k folds of train + validation) reports it.\n"]
    verdict = ("larger than twice the standard error, so the ranking of the top two is meaningful"
               if r["resolved"] else "within twice the standard error: the search cannot tell the top two apart")
    return [
        "Can the search rank? Validation " + str(fitness) + f" over {r['folds']} folds:\n",
        _md_table(["fold std of one trial (median)", "standard error of a trial's mean", "std over trials",
                   "best", "runner-up", "gap"],
                  [[_fmt(r["fold_std"]), _fmt(r["fold_se"]), _fmt(r["trial_std"]), _fmt(r["best"]),
                    _fmt(r["runner_up"]), _fmt(r["gap"])]]) + "\n",
        f"The gap between the best and the runner-up ({_fmt(r['gap'])}) is {verdict}.\n",
    ]


def _trial_count(trials: Sequence[dict[str, Any]], result: dict[str, Any]) -> str:
    """``"12 trials"``, or ``"60 trials over 5 outer folds (12 per fold)"`` for an outer-CV run."""
    folds = result.get("folds") or []
    if len(folds) < 2:
        return f"{len(trials)} trials"
    per_fold = len(trials) / len(folds)
    each = f"{per_fold:g} per fold" if per_fold == int(per_fold) else "per fold: see each fold's report"
    return f"{len(trials)} trials over {len(folds)} outer folds ({each})"


def write_report(run_dir: str | Path, result: dict[str, Any], trials: Sequence[dict[str, Any]]) -> Path:
    """Write ``run_dir/report.md``; PNGs named in ``result["plots"]`` are linked.

    Args:
        result: the contents of ``result.json``.
        trials: one dict per trial (``id``, ``state``, ``value``, ``duration``, ``params``, ``error``).
    """
    run_dir = Path(run_dir)
    cfg = result.get("config", {})
    lines: list[str] = []
    protocol = result.get("protocol", {})
    if protocol.get("warning"):
        lines.append(f"> **{protocol['warning']}**\n")
    if protocol.get("note"):
        lines.append(f"> Protocol: {protocol['note']}\n")
    if protocol.get("normalization"):
        lines.append(f"> Normalisation: {protocol['normalization']}\n")
    lines.append(f"# emotune run: {cfg.get('task', '?')} / {cfg.get('dataset', '?')} / {cfg.get('model', '?')}\n")
    lines.append(
        f"Optimizer **{cfg.get('optimizer')}**, {_trial_count(trials, result)}, fitness **{cfg.get('fitness')}** "
        f"on validation ({protocol.get('search', cfg.get('cv'))}); seed {cfg.get('seed')}. "
        f"The test split ({protocol.get('test', 'held out')}) was fixed before the search and never seen by it.\n"
    )
    data = result.get("data", {})
    if data:
        lines.append("## Data\n")
        lines.append(
            _md_table(
                ["train", "validation", "test", "classes", "skipped rows"],
                [[_fmt(data.get("n_train")), _fmt(data.get("n_val")), _fmt(data.get("n_test")),
                  ", ".join(result.get("labels", [])), _fmt(data.get("skipped", 0))]],
            )
            + "\n"
        )
        if data.get("source"):
            lines.append(f"Source: {data['source']}.\n")
        dup = data.get("duplicates")
        if dup and dup.get("groups"):
            lines.append(
                f"Duplicates: {dup['removed']} rows removed before the split ({dup['groups']} texts occurred more than "
                f"once, {dup['conflicting']} with conflicting labels; {dup['relabelled']} kept copies took the majority "
                f"label, {dup['ties_dropped']} tied texts were dropped). `--keep-duplicates` keeps them.\n"
            )
        for bad in data.get("skipped_examples", [])[:10]:
            lines.append(f"- skipped: {bad}")
        if data.get("skipped_examples"):
            lines.append("")

    test = result.get("test_metrics", {})
    baseline = result.get("baseline_metrics", {})
    lines.append("## Test split\n")
    rows = [(f"tuned {cfg.get('model')}", test)]
    rows += [(f"reference: {baseline.get('name', 'baseline')}", baseline)] if baseline else []
    rows += [(f"reference: {r.get('name')}", r) for r in result.get("reference_metrics", [])]
    lines.append(_md_table(["model"] + [label for _, label in _SCALARS], metrics_table_rows(rows)) + "\n")
    comparisons = result.get("comparison") or []
    if comparisons and test:
        lines.extend(_verdict_lines(cfg.get("model"), comparisons))
    elif baseline and test:
        key = cfg.get("fitness", "macro_f1")
        key = key if key in test else "macro_f1"
        delta = test.get(key, float("nan")) - baseline.get(key, float("nan"))
        lines.append(
            f"The tuned model differs from the {baseline.get('name', 'baseline')} reference by "
            f"**{delta * 100:+.2f} points** of {key} "
            f"(accuracy {100 * (test.get('accuracy', 0) - baseline.get('accuracy', 0)):+.2f} points); "
            "no interval was computed, so this is not a verdict.\n"
        )
    if result.get("fold_metrics"):
        lines.append("Mean and spread over outer folds:\n")
        agg = result["fold_metrics"]
        lines.append(
            _md_table(
                ["metric", "mean", "std"],
                [[label, _fmt(agg.get(key, {}).get("mean")), _fmt(agg.get(key, {}).get("std"))] for key, label in _SCALARS],
            )
            + "\n"
        )
    if test.get("per_class"):
        lines.append("Per class on test:\n")
        per = test["per_class"]
        lines.append(
            _md_table(
                ["class", "precision", "recall", "F1", "support"],
                [[name, _fmt(v.get("precision")), _fmt(v.get("recall")), _fmt(v.get("f1")), _fmt(v.get("support"))]
                 for name, v in per.items()],
            )
            + "\n"
        )

    lines.append("## Search\n")
    states = {}
    for t in trials:
        states[t["state"]] = states.get(t["state"], 0) + 1
    timings = result.get("timings", {})
    lines.append(
        f"Best validation {cfg.get('fitness')}: **{_fmt(result.get('best_fitness'))}** "
        f"(trial {result.get('best_trial')}). Trials: "
        + ", ".join(f"{n} {s}" for s, n in sorted(states.items()))
        + f". Search {_secs(timings.get('search_seconds'))} s, "
        f"{_secs(timings.get('seconds_per_trial'))} s per trial; final training "
        f"{_secs(timings.get('final_train_seconds'))} s.\n"
    )
    lines.extend(_ranking_lines(trials, cfg.get("fitness")))
    for png in result.get("plots", []):
        lines.append(f"![{Path(png).stem}]({Path(png).name})\n")
    lines.append("Best parameters:\n")
    lines.append(_md_table(["parameter", "value"], [[k, _fmt(v)] for k, v in (result.get("best_params") or {}).items()]) + "\n")
    failed = [t for t in trials if t["state"] == "failed"]
    if failed:
        lines.append("Failed trials:\n")
        for t in failed[:20]:
            lines.append(f"- trial {t['id']}: {t.get('error')}")
        lines.append("")
    lines.append("## Files\n")
    lines.append(
        "`config.yaml` (resolved config; rerun with `emotune tune --config config.yaml`), `split.json` (sample ids of "
        "each part), `trials.csv`, `result.json`, `model/` (safetensors weights + JSON config; "
        "`emotune predict --model model/ ...`).\n"
    )
    path = run_dir / "report.md"
    path.write_text("\n".join(lines))
    return path
