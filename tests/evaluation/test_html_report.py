"""The HTML report: self-contained, every section present, sortable tables, and it renders in headless Chromium
with no console error."""

import csv
import json
import re
import shutil
import subprocess

import numpy as np
import pytest

from emotune.evaluation import html_report as H
from emotune.evaluation.run_sections import _permutation, parameter_importance

_RUN_SECTIONS = ("config", "data", "results", "per-class", "search", "trials", "importance", "parallel", "files")
_CMP_SECTIONS = ("plan", "summary", "tests", "ranks", "curves", "runs")


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("no chromium binary on PATH (CI installs Debian's `chromium` in .ci/run; "
                "locally: apt-get install chromium)")


def _render(path) -> tuple[str, list[str]]:
    """Load ``path`` in headless Chromium: (the DOM after scripts ran, console messages)."""
    proc = subprocess.run(
        [_chromium(), "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run", "--enable-logging=stderr",
         "--v=0", "--virtual-time-budget=3000", "--dump-dom", path.resolve().as_uri()],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    console = [line for line in proc.stderr.splitlines() if ":CONSOLE" in line]
    return proc.stdout, console


def _run_dir(tmp_path, n_trials=12):
    """A tune run directory with the files `emotune tune` writes (result.json, trials.csv, split.json)."""
    rng = np.random.default_rng(0)
    run = tmp_path / "run"
    run.mkdir()
    labels = ["negative", "neutral", "positive"]
    cm = [[20, 3, 2], [4, 15, 6], [1, 5, 24]]
    metrics = {"accuracy": 0.74, "macro_f1": 0.73, "unweighted_accuracy": 0.72, "roc_auc": 0.88,
               "confusion_matrix": cm,
               "per_class": {c: {"precision": 0.7, "recall": 0.7, "f1": 0.7, "support": sum(cm[i])}
                             for i, c in enumerate(labels)}}
    result = {
        "config": {"seed": 0, "task": "text", "dataset": "tweets", "model": "sa_lstm", "optimizer": "lwaro",
                   "trials": n_trials, "fitness": "macro_f1"},
        "labels": labels, "protocol": {"test": "stratified hold-out", "search": "holdout", "warning": None},
        "best_params": {"lr": 0.003, "hidden_size": 64}, "best_fitness": 0.71, "best_trial": 3,
        "test_metrics": metrics, "baseline_metrics": {"name": "tfidf_logreg", "accuracy": 0.7, "macro_f1": 0.69},
        "reference_metrics": [],
        "comparison": [{"reference": "tfidf_logreg", "metric": "macro_f1", "difference": 0.04, "low": -0.01,
                        "high": 0.09, "level": 0.95, "unit": "samples", "n_units": 80,
                        "verdict": "is not distinguishable from"}],
        "data": {"n_train": 200, "n_val": 40, "n_test": 80, "skipped": 0},
        "timings": {"search_seconds": 12.0, "seconds_per_trial": 1.0, "final_train_seconds": 2.0},
    }
    (run / "result.json").write_text(json.dumps(result))
    (run / "split.json").write_text(json.dumps({"format": "emotune-split", "version": 1,
                                                "parts": {"train": list(range(200)), "test": list(range(80))}}))
    with (run / "trials.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["trial", "state", "fitness", "seconds", "best_epoch", "lr", "hidden_size", "cell", "error"])
        for i in range(n_trials):
            lr = float(10 ** rng.uniform(-4, -2))
            failed = i == 5
            fit = "" if failed else f"{0.5 + 0.05 * np.log10(lr) + 0.2 + rng.normal(0, 0.002):.6f}"
            w.writerow([i, "failed" if failed else "complete", fit, f"{rng.uniform(1, 2):.2f}", 3, lr,
                        int(rng.integers(16, 128)), rng.choice(["lstm", "gru"]), "nan loss" if failed else ""])
    return run


def _comparison_dir(tmp_path):
    from emotune.experiments.compare import finish_comparison, make_plan, parse_vary, run_comparison

    out = tmp_path / "cmp"
    plan = make_plan("function:shifted_sphere", {"dim": 3, "trials": 120}, parse_vary(["optimizer=random,pso,lwaro"]),
                     4)
    run_comparison(plan, out)
    finish_comparison(out)
    return out


def test_page_is_self_contained_and_markdown_has_the_same_sections(run_report):
    run, html_path = run_report
    page = html_path.read_text()
    for sid in _RUN_SECTIONS:
        assert f'<section id="{sid}">' in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)  # nothing fetched from the network
    imgs = re.findall(r'<img [^>]*src="([^"]+)"', page)
    assert imgs and all(src.startswith("data:image/png;base64,") for src in imgs)
    assert 'class="sortable"' in page and "<script>" in page
    md = (run / "report_full.md").read_text()
    titles = re.findall(r"<h2>([^<]+)</h2>", page)
    assert re.findall(r"^## (.+)$", md, flags=re.M) == [t.replace("&amp;", "&") for t in titles]
    for rel in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md):
        assert (run / rel).stat().st_size > 0
    assert "is not distinguishable from" in page  # the reference interval row


def test_parameter_importance_finds_the_parameter_that_matters(tmp_path):
    rows = list(csv.DictReader((_run_dir(tmp_path, n_trials=30) / "trials.csv").open()))
    imp, method = parameter_importance(rows)
    assert method.startswith("fANOVA")
    assert max(imp, key=imp.get) == "lr" and imp["lr"] > 0.5
    perm = _permutation({"lr": [float(r["lr"]) for r in rows if r["fitness"]],
                         "cell": [r["cell"] for r in rows if r["fitness"]]},
                        np.array([float(r["fitness"]) for r in rows if r["fitness"]]), 0)
    assert perm["lr"] > perm["cell"]


def test_too_few_trials_say_so_instead_of_guessing(tmp_path):
    rows = list(csv.DictReader((_run_dir(tmp_path, n_trials=3) / "trials.csv").open()))
    imp, method = parameter_importance(rows)
    assert imp == {} and "not estimated" in method


_PROBE = """<script>
  var table = document.querySelector('#trials table'), th = Array.prototype.filter.call(
      table.querySelectorAll('th'), function (h) { return h.textContent === 'fitness'; })[0];
  var read = function () { return Array.prototype.map.call(table.tBodies[0].rows,
      function (r) { return r.cells[th.cellIndex].textContent; }).join(' '); };
  th.click(); document.body.setAttribute('data-asc', read());
  th.click(); document.body.setAttribute('data-desc', read());
</script></body>"""


@pytest.fixture(scope="module")
def run_report(tmp_path_factory):
    """A run directory and its report.html, written once for the module."""
    run = _run_dir(tmp_path_factory.mktemp("html"))
    return run, H.write_run_report(run)


@pytest.fixture(scope="module")
def rendered_run(run_report):
    """The run report loaded once in Chromium, with a probe that clicks the 'fitness' header twice."""
    run, html_path = run_report
    page = html_path.read_text()
    probe_path = run.parent / "probe.html"
    probe_path.write_text(page.replace("</body>", _PROBE))
    return _render(probe_path)


def test_run_report_renders_in_chromium_with_every_section_and_no_console_error(rendered_run):
    dom, console = rendered_run
    assert console == []
    for sid in _RUN_SECTIONS:
        assert f'<section id="{sid}">' in dom
    assert len(re.findall(r"<img ", dom)) >= 4


def test_comparison_report_renders_in_chromium(tmp_path):
    dom, console = _render(_comparison_dir(tmp_path) / "report.html")
    assert console == []
    for sid in _CMP_SECTIONS:
        assert f'<section id="{sid}">' in dom
    assert "Friedman" in dom and "optimizer=lwaro" in dom


def test_sort_script_sorts_in_the_browser(rendered_run):
    """The probe clicked the 'fitness' header of the trial table twice in Chromium; read the row orders back."""
    dom, _ = rendered_run
    asc = re.search(r'data-asc="([^"]*)"', dom).group(1).split()
    desc = re.search(r'data-desc="([^"]*)"', dom).group(1).split()
    nums = [float(x) for x in asc if x not in ("-", "nan")]
    assert nums == sorted(nums) and len(nums) == 11
    assert [float(x) for x in desc if x not in ("-", "nan")] == sorted(nums, reverse=True)


def test_the_console_check_catches_a_script_error(tmp_path):
    bad = tmp_path / "bad.html"
    bad.write_text(H.render_html("t", [H.Section("x", "X").p("hi")]).replace(
        "</body>", "<script>undefinedFunction();</script></body>"))
    _, console = _render(bad)
    assert any("undefinedFunction" in line for line in console)
