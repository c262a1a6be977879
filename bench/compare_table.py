"""One compact markdown table per `emotune compare` folder, for bench/README.md.

Reads ``OUT/comparison.json`` (written by ``emotune compare`` / ``emotune report OUT``) and prints, per arm:
median and IQR over seeds, mean and std, the paired Wilcoxon p-value against the reference after Holm's
correction, the rank-biserial effect size (positive: better than the reference), the BCa 95% interval of the mean
paired difference, the Friedman average rank and the mean wall time of one run.

Usage::

    python bench/compare_table.py runs/cmp-shifted_rastrigin-d30 [more folders ...]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _g(x: float, digits: int = 3) -> str:
    return "-" if x is None or x != x else f"{x:.{digits}g}"


def table(out: Path) -> str:
    a = json.loads((out / "comparison.json").read_text())
    lines = [f"`{out.name}`: {a['metric']} ({'higher' if a['higher_is_better'] else 'lower'} is better), "
             f"{a['runs_done']}/{a['runs_planned']} runs, seeds {a['seeds'][0]}-{a['seeds'][-1]}, reference "
             f"{a['reference']}", ""]
    for g in a["groups"]:
        tests = {r["arm"]: r for r in (g["paired"] or {}).get("rows", [])}
        ranks = (g["friedman"] or {}).get("ranks", {})
        fr = g["friedman"] or {}
        if len(a["groups"]) > 1:
            lines += [f"group {g['name']}:", ""]
        lines.append("| arm | median | IQR | mean ± std | diff vs ref [95% CI] | p (Holm) | effect r | avg rank | s/run |")
        lines.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for arm in g["arms"]:
            s, t = a["arms"][arm], tests.get(arm)
            effect = "-" if t is None else f"{t['effect_size']:+.2f}"
            diff = "reference" if t is None else f"{_g(t['mean_diff'])} [{_g(t['ci_low'])}, {_g(t['ci_high'])}]"
            lines.append(
                f"| {arm} | {_g(s['median'], 4)} | {_g(s['q75'] - s['q25'])} | {_g(s['mean'], 4)} ± {_g(s['std'])} | "
                f"{diff} | {'-' if t is None else _g(t['p_holm'])} | {effect} | "
                f"{_g(ranks.get(arm))} | {_g(s['wall_seconds_mean'])} |")
        lines.append("")
        if fr.get("p_value") == fr.get("p_value") and fr.get("p_value") is not None:
            lines.append(f"Friedman chi2 {fr['statistic']:.2f}, p = {fr['p_value']:.2g}; Nemenyi CD {fr['cd']:.2f}.")
        if g["paired"] and g["paired"].get("note"):
            lines.append(g["paired"]["note"])
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    for folder in sys.argv[1:]:
        print(table(Path(folder)))
