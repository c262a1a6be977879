"""Serving speed: latency per input and throughput of tuned bundles (PyTorch eager, ONNX Runtime, int8), and an HTTP load test.

For each run directory given (``--text-run``, ``--speech-run``: what ``emotune tune`` wrote):

1. ``emotune export RUN --format onnx --quantize dynamic`` (through the library), which
   also checks ONNX against PyTorch on the run's test inputs;
2. latency of one input, ``--repeats`` times after warm-up, on ``--threads`` threads
   (default one core: ``torch.set_num_threads(1)``, ONNX Runtime ``intra_op_num_threads=1``):

   * ``model``: the forward pass only, on inputs prepared beforehand (features excluded);
   * ``end-to-end``: raw input to probabilities through the predictor (features included:
     tokenizer or MiniLM for a text, audio decoding + resampling + features for a clip);

   for three backends: ``torch`` (eager), ``onnx`` (fp32) and ``int8`` (dynamic quantization);
   the text is a test sentence, the utterance a test clip cut to exactly 3.0 s;
3. throughput: inputs per second for batches of ``--batch`` test inputs (model only);
4. size on disk of the bundle, ``model.onnx`` and ``model.int8.onnx``.

Then a bounded load test of ``emotune serve`` (a separate process, loopback only) with the
text bundle: ``--requests`` requests from ``--clients`` concurrent clients, one in five
invalid (malformed JSON, empty text, wrong content type, oversized body): p50/p95 latency of
the valid ones, of all, and the count of each status code (5xx must be zero).

Usage::

    HF_HUB_OFFLINE=1 .venv/bin/python bench/serving.py --text-run runs/text --speech-run runs/speech

Prints a table (``--json``: the JSON payload) and writes ``bench/out/serving.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def _percentiles(ms: list[float]) -> dict[str, float]:
    a = np.asarray(ms)
    return {"p50_ms": round(float(np.percentile(a, 50)), 3), "p95_ms": round(float(np.percentile(a, 95)), 3),
            "mean_ms": round(float(a.mean()), 3), "n": int(len(a))}


def _time(fn: Callable[[], Any], repeats: int, warmup: int = 5) -> dict[str, float]:
    for _ in range(warmup):
        fn()
    ms = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ms.append((time.perf_counter() - t0) * 1000)
    return _percentiles(ms)


def _three_second_clip(path: str, out_dir: Path) -> str:
    """``path`` decoded, resampled to 16 kHz and cut (or zero-padded) to exactly 3.0 s, as a WAV file."""
    import soundfile as sf

    from emotune.features.audio import load_audio

    y = load_audio(path, sr=16000)
    y = np.asarray(y, np.float32)[: 3 * 16000]
    y = np.pad(y, (0, 3 * 16000 - len(y)))
    target = out_dir / "utterance_3s.wav"
    sf.write(target, y, 16000)
    return str(target)


def bench_run(run: Path, kind: str, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    """Export, then time one input and a batch with every backend."""
    import torch

    from emotune.serving.bundle import bundle_bytes
    from emotune.serving.export import export_onnx, run_test_items
    from emotune.serving.onnx_runtime import OnnxBackend
    from emotune.serving.predictor import Predictor, TorchBackend

    torch.set_num_threads(args.threads)
    export_dir = tmp / f"{kind}_export"
    t0 = time.perf_counter()
    report = export_onnx(run, export_dir, quantize="dynamic", samples=args.samples)
    export_s = time.perf_counter() - t0
    base = Predictor.load(run / "model")
    shortest = json.loads((export_dir / "preprocessing.json").read_text())["min_time"]
    items, _ = run_test_items(run, base.modality, limit=max(args.batch, 8))
    one = items[0] if kind == "text" else _three_second_clip(items[0], tmp)
    backends = {
        "torch": TorchBackend(base.bundle.build_model(), threads=args.threads),
        "onnx": OnnxBackend(export_dir / "model.onnx", threads=args.threads, min_time=shortest),
        "int8": OnnxBackend(export_dir / "model.int8.onnx", threads=args.threads, min_time=shortest),
    }
    single = base.builder.build([one])
    batch = base.builder.build(items[: args.batch])
    rows = {}
    for name, backend in backends.items():
        pred = Predictor(base.bundle, backend=backend, builder=base.builder)  # one loaded tokenizer / encoder
        model_only = _time(lambda: backend(single.x, single.mask), args.repeats)
        end_to_end = _time(lambda: pred.predict_proba([one]), args.repeats if kind == "text" else args.repeats // 2)
        t0 = time.perf_counter()
        reps = 3
        for _ in range(reps):
            backend(batch.x, batch.mask)
        per_s = reps * len(batch.ok) / (time.perf_counter() - t0)
        rows[name] = {"model": model_only, "end_to_end": end_to_end, "throughput_per_s": round(per_s, 1),
                      "batch": len(batch.ok)}
    meta = base.meta
    return {
        "run": str(run), "kind": kind, "model": meta["model"], "features": meta["features"].get("features")
        or meta["features"].get("extractor", {}).get("name"),
        "input": "one test sentence" if kind == "text" else "one test clip cut to 3.0 s",
        "test_metrics": {k: meta.get("metrics", {}).get(k) for k in ("accuracy", "macro_f1")},
        "parity": {"max_abs_diff": report["max_abs_diff"], "passed": report["passed"], "n_inputs": report["n_inputs"]},
        "quantization": report.get("quantization"),
        "export_seconds": round(export_s, 1),
        "sizes_bytes": {"bundle": bundle_bytes(run / "model"), **report["files"]},
        "latency": rows,
    }


# -- HTTP load test ----------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _requests(n: int, texts: list[str], seed: int) -> list[tuple[str, dict[str, Any]]]:
    """``n`` (kind, httpx kwargs) pairs; every fifth one invalid, of four kinds in turn."""
    rng = random.Random(seed)
    invalid = [
        ("malformed_json", {"content": b'{"texts": ["unterminated', "headers": {"content-type": "application/json"}}),
        ("empty_text", {"json": {"texts": ["   "]}}),
        ("wrong_type", {"content": b"hello", "headers": {"content-type": "text/plain"}}),
        ("oversized", {"content": b"x" * (2 * 1024 * 1024), "headers": {"content-type": "application/json"}}),
    ]
    out = []
    for i in range(n):
        if i % 5 == 4:
            out.append(invalid[(i // 5) % len(invalid)])
        else:
            out.append(("valid", {"json": {"texts": [rng.choice(texts)]}}))
    rng.shuffle(out)
    return out


def load_test(run: Path, args: argparse.Namespace) -> dict[str, Any]:
    import httpx

    from emotune.serving.export import run_test_items

    texts, _ = run_test_items(run, "text", limit=200)
    port = _free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "OMP_NUM_THREADS": str(args.threads)}
    cmd = [str(REPO / ".venv" / "bin" / "emotune"), "serve", str(run / "model"), "--host", "127.0.0.1",
           "--port", str(port), "--workers", str(args.server_workers), "--queue", str(args.queue),
           "--threads", str(args.threads), "--max-body-mb", "1"]
    server = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 120
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.time() > deadline or server.poll() is not None:
                raise RuntimeError(f"server did not start: {server.stderr.read() if server.poll() is not None else ''}")
            time.sleep(0.2)
        plan = _requests(args.requests, texts, seed=0)
        results: list[tuple[str, int, float]] = []
        lock = threading.Lock()
        cursor = iter(range(len(plan)))

        def client() -> None:
            with httpx.Client(base_url=url, timeout=60) as http:
                while True:
                    with lock:
                        i = next(cursor, None)
                    if i is None:
                        return
                    kind, kwargs = plan[i]
                    t0 = time.perf_counter()
                    try:
                        status = http.post("/predict", **kwargs).status_code
                    except httpx.HTTPError:
                        status = -1  # connection error
                    with lock:
                        results.append((kind, status, (time.perf_counter() - t0) * 1000))

        t0 = time.perf_counter()
        threads = [threading.Thread(target=client) for _ in range(args.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
    codes: dict[str, int] = {}
    for _, status, _ in results:
        codes[str(status)] = codes.get(str(status), 0) + 1
    by_kind: dict[str, dict[str, int]] = {}
    for kind, status, _ in results:
        by_kind.setdefault(kind, {}).setdefault(str(status), 0)
        by_kind[kind][str(status)] += 1
    return {
        "requests": len(results), "clients": args.clients, "server_workers": args.server_workers,
        "queue": args.queue, "threads_per_worker": args.threads, "seconds": round(wall, 2),
        "requests_per_s": round(len(results) / wall, 1),
        "valid": _percentiles([ms for kind, status, ms in results if kind == "valid"]),
        "all": _percentiles([ms for _, _, ms in results]),
        "status_codes": dict(sorted(codes.items())),
        "by_kind": by_kind,
        "n_5xx": sum(n for code, n in codes.items() if code.startswith("5")),
        "n_connection_errors": codes.get("-1", 0),
    }


# -- output ------------------------------------------------------------------------------------------------


def _table(payload: dict[str, Any]) -> str:
    m = payload["machine"]
    lines = [f"{m['cpus']} CPUs, load average {m['load_average_at_start'][0]:.1f} at start, "
             f"{m['load_average_at_end'][0]:.1f} at end (other jobs share the machine when it is above {m['cpus']})"]
    for r in payload["runs"]:
        lines.append(f"\n{r['kind']}: {r['model']} on {r['features']} ({r['input']}); test accuracy "
                     f"{r['test_metrics']['accuracy']}; ONNX parity max |diff| {r['parity']['max_abs_diff']:.2e} "
                     f"over {r['parity']['n_inputs']} test inputs")
        lines.append(f"{'backend':8s} {'model p50':>10s} {'model p95':>10s} {'e2e p50':>10s} {'e2e p95':>10s} "
                     f"{'batch/s':>9s} {'size':>10s}")
        sizes = {"torch": r["sizes_bytes"]["bundle"], "onnx": r["sizes_bytes"]["model.onnx"],
                 "int8": r["sizes_bytes"]["model.int8.onnx"]}
        for name, row in r["latency"].items():
            lines.append(f"{name:8s} {row['model']['p50_ms']:10.2f} {row['model']['p95_ms']:10.2f} "
                         f"{row['end_to_end']['p50_ms']:10.2f} {row['end_to_end']['p95_ms']:10.2f} "
                         f"{row['throughput_per_s']:9.0f} {sizes[name] / 1024:8.0f} KiB")
        q = r.get("quantization") or {}
        if q:
            lines.append(f"int8 vs fp32 on {q['n_inputs']} test inputs: accuracy {q['int8']['accuracy']:.4f} vs "
                         f"{q['fp32']['accuracy']:.4f}, agreement {q['agreement']:.4f}")
    lt = payload.get("load_test")
    if lt:
        lines.append(f"\nHTTP load test: {lt['requests']} requests, {lt['clients']} clients, "
                     f"{lt['server_workers']} server threads, {lt['seconds']} s ({lt['requests_per_s']} req/s)")
        lines.append(f"valid: p50 {lt['valid']['p50_ms']:.1f} ms, p95 {lt['valid']['p95_ms']:.1f} ms; "
                     f"all: p50 {lt['all']['p50_ms']:.1f} ms, p95 {lt['all']['p95_ms']:.1f} ms")
        lines.append(f"status codes {lt['status_codes']}; 5xx {lt['n_5xx']}; connection errors "
                     f"{lt['n_connection_errors']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--text-run", type=Path, help="run directory of a text tune")
    parser.add_argument("--speech-run", type=Path, help="run directory of a speech tune")
    parser.add_argument("--threads", type=int, default=1, help="threads per forward pass (default one core)")
    parser.add_argument("--repeats", type=int, default=200, help="timed single-input calls per backend")
    parser.add_argument("--batch", type=int, default=64, help="inputs per batch for throughput")
    parser.add_argument("--samples", type=int, default=256, help="test inputs for the export parity check")
    parser.add_argument("--requests", type=int, default=1000, help="HTTP load test requests")
    parser.add_argument("--clients", type=int, default=8, help="concurrent HTTP clients")
    parser.add_argument("--server-workers", type=int, default=2, help="inference threads of the server")
    parser.add_argument("--queue", type=int, default=64, help="server queue size")
    parser.add_argument("--no-load-test", action="store_true")
    parser.add_argument("--json", action="store_true", help="print the JSON payload instead of the table")
    parser.add_argument("--json-file", type=Path, default=REPO / "bench" / "out" / "serving.json")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    payload: dict[str, Any] = {
        "machine": {"platform": platform.platform(), "processor": platform.processor(), "cpus": os.cpu_count(),
                    "python": sys.version.split()[0], "load_average_at_start": os.getloadavg()},
        "settings": {k: str(v) for k, v in vars(args).items()},
        "runs": [],
    }
    with tempfile.TemporaryDirectory() as tmp:
        for kind, run in (("text", args.text_run), ("speech", args.speech_run)):
            if run is not None:
                payload["runs"].append(bench_run(run, kind, args, Path(tmp)))
    if args.text_run is not None and not args.no_load_test:
        payload["load_test"] = load_test(args.text_run, args)
    payload["machine"]["load_average_at_end"] = os.getloadavg()
    args.json_file.parent.mkdir(parents=True, exist_ok=True)
    args.json_file.write_text(json.dumps(payload, indent=1, default=str))
    print(json.dumps(payload, indent=1, default=str) if args.json else _table(payload))
    return 1 if payload.get("load_test", {}).get("n_5xx") else 0


if __name__ == "__main__":
    sys.exit(main())
