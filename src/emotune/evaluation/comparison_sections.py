"""The sections of a comparison's HTML/markdown report: plan, per-arm summary, paired tests,
ranks with the critical-difference diagram, best-so-far curves and the table of runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from emotune.evaluation import report_figures as F
from emotune.evaluation.comparison import curve_band, seed_matrix
from emotune.evaluation.html_report import HTML_NAME, Section

__all__ = ["comparison_sections"]


def _plan_section(plan: Any, analysis: dict[str, Any]) -> Section:
    s = Section("plan", "Plan and fairness")
    budget = analysis["fairness"]["budget"]
    s.p(f"Task **{plan.task}**; {len(plan.arms)} arms x {len(plan.seeds)} seeds (seeds {plan.seeds}); {budget}. "
        f"Score: **{plan.metric}** ({'higher' if plan.higher_is_better else 'lower'} is better). Reference: "
        f"**{plan.reference}**. Runs finished: {analysis['runs_done']} of {analysis['runs_planned']}.")
    s.p("Every arm runs with the same base settings and, for each seed, the same seed for splits, function "
        "instance and model initialisation; only the varied keys differ.")
    fair = analysis["fairness"]
    if fair["splits_checked"]:
        if fair["seeds_with_different_splits"]:
            s.note(f"Arms saw different splits for seeds {fair['seeds_with_different_splits']}: the comparison is "
                   f"NOT paired for those seeds.")
        else:
            s.p("Checked: for every seed, all arms wrote the same split.json (same SHA-256).")
    s.table(["arm"] + list(plan.vary), plan.table_rows(), caption="Arms")
    s.table(["setting", "value"], [[k, json.dumps(v) if isinstance(v, (dict, list)) else v]
                                   for k, v in plan.base.items()], caption="Shared settings")
    if analysis["failed_runs"]:
        s.note(f"{len(analysis['failed_runs'])} runs failed (score NaN, left out of the tests): "
               + "; ".join(f"{f['arm']} seed {f['seed']}: {f['error']}" for f in analysis["failed_runs"][:5]))
    return s


def _summary_section(plan: Any, records: Sequence[dict], analysis: dict[str, Any]) -> Section:
    s = Section("summary", "Per-arm summary")
    rows = []
    for label, a in analysis["arms"].items():
        row = [label, a["n"], a["mean"], a["std"], a["median"], a["q25"], a["q75"], a["failed"], a["missing"],
               a["wall_seconds_mean"]]
        if "over_folds" in a:
            row += [a["over_folds"]["mean"], a["over_folds"]["std"]]
        rows.append(row)
    header = ["arm", "seeds", "mean", "std", "median", "q25", "q75", "failed", "not run", "wall s / run"]
    if any("over_folds" in a for a in analysis["arms"].values()):
        header += ["mean over folds", "std over folds"]
        rows = [r + [None] * (len(header) - len(r)) for r in rows]
    s.table(header, rows, sortable=True, caption=f"{plan.metric} over seeds")
    labels = [a["label"] for a in plan.arms]
    matrix = seed_matrix(plan, records, labels)
    if np.isfinite(matrix).any():
        s.figure("scores.png", F.scores_figure({lab: matrix[:, j] for j, lab in enumerate(labels)}, ylabel=plan.metric),
                 f"{plan.metric} of each seed (dots) and the median (bar) per arm")
    return s


def _tests_section(plan: Any, analysis: dict[str, Any]) -> Section:
    s = Section("tests", "Paired tests against the reference")
    s.p("Wilcoxon signed-rank test (two-sided, paired by seed) of each arm against the reference arm of its group, "
        "Holm's correction over the arms of the group, the matched-pairs rank-biserial correlation as effect size "
        "(positive: the arm is better) and a BCa bootstrap 95% interval of the mean paired difference (arm - "
        "reference).")
    for g in analysis["groups"]:
        paired = g["paired"]
        if paired is None:
            s.p(f"Group {g['name']}: no reference arm or fewer than two seeds, so no paired test.")
            continue
        if paired["note"]:
            s.note(paired["note"])
        s.table(["arm", "pairs", "mean diff", "95% CI low", "95% CI high", "median diff", "W", "p", "p (Holm)",
                 "effect (r_rb)", "significant"],
                [[r["arm"], r["n"], r["mean_diff"], r["ci_low"], r["ci_high"], r["median_diff"], r["statistic"],
                  r["p_value"], r["p_holm"], r["effect_size"],
                  ("yes, better" if r["better"] else "yes, worse") if r["significant"] else "no"]
                 for r in paired["rows"]],
                caption=f"Group {g['name']}: against {paired['reference']} (alpha {paired['alpha']})")
    return s


def _ranks_section(plan: Any, analysis: dict[str, Any]) -> Section:
    s = Section("ranks", "Friedman test and average ranks")
    for k, g in enumerate(analysis["groups"]):
        fr = g["friedman"]
        if fr is None:
            s.p(f"Group {g['name']}: fewer than two seeds.")
            continue
        if fr["note"]:
            s.note(f"Group {g['name']}: {fr['note']}")
        tested = fr["statistic"] == fr["statistic"]  # not NaN: the test ran
        caption = (f"Group {g['name']}: Friedman chi2 = {fr['statistic']:.3f}, p = {fr['p_value']:.4g}, "
                   f"{fr['n_blocks']} seeds; Nemenyi CD = {fr['cd']:.3f}" if tested
                   else f"Group {g['name']}: average ranks over {fr['n_blocks']} seeds")
        s.table(["arm", "average rank (1 = best)"], sorted(([a, r] for a, r in fr["ranks"].items()),
                                                            key=lambda x: x[1]), caption=caption)
        if np.isfinite(fr["cd"]) and all(np.isfinite(v) for v in fr["ranks"].values()):
            s.figure(f"cd_diagram_{k}.png", F.cd_diagram(fr["ranks"], fr["cd"]),
                     f"Critical-difference diagram, group {g['name']}: arms joined by a bar are not significantly "
                     f"different (Nemenyi, alpha {fr['alpha']})")
    return s


def _curves_section(plan: Any, records: Sequence[dict]) -> Section:
    s = Section("curves", "Best so far over seeds")
    by_arm: dict[str, list] = {}
    for r in records:
        if len(r.get("curve") or []) > 1:  # a one-trial run (tuned=false) has no curve to speak of
            by_arm.setdefault(r["arm"], []).append(r["curve"])
    is_fn = plan.task.startswith("function:")
    ylabel = "best error f(x) - f*" if is_fn else "best validation fitness (mean over folds)"
    for axis, name, xlabel in ((0, "trials", "evaluations" if is_fn else "trial"),
                               (2, "time", "wall time (s)" if is_fn else "search wall time (s, sum of trials)")):
        bands = {a: b for a, curves in by_arm.items() if (b := curve_band(curves, axis=axis)) is not None}
        if bands:
            s.figure(f"best_so_far_{name}.png", F.band_figure(bands, xlabel=xlabel, ylabel=ylabel, log_y=is_fn),
                     f"Median (line) and interquartile range (band) over seeds of the best so far, against {xlabel}")
    if not by_arm:
        s.p("No curves recorded yet.")
    return s


def comparison_sections(out: Path, plan: Any, records: Sequence[dict], analysis: dict[str, Any]) -> tuple[str, list]:
    """The title and sections of the report of the comparison in ``out``."""
    runs = Section("runs", "All runs")
    rows = []
    for r in records:
        link = Path("arms") / _arm_dir(plan, r["arm"]) / f"seed_{r['seed']}" / HTML_NAME
        rows.append([r["arm"], r["seed"], r.get("value"), r.get("validation"), r.get("wall_seconds"),
                     str(link) if (out / link).exists() else "-", r.get("error") or ""])
    runs.table(["arm", "seed", plan.metric, "validation", "wall s", "run report", "error"], rows, sortable=True,
               caption="Click a column header to sort")
    sections = [_plan_section(plan, analysis), _summary_section(plan, records, analysis),
                _tests_section(plan, analysis), _ranks_section(plan, analysis), _curves_section(plan, records), runs]
    varied = ", ".join(plan.vary)
    return f"emotune comparison: {varied} on {plan.task}", sections


def _arm_dir(plan: Any, label: str) -> str:
    return next(a["dir"] for a in plan.arms if a["label"] == label)
