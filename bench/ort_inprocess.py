"""In-process ONNX Runtime from Python: the article's own loop (session.run in a closed loop), with the same
session options as Serval's engine (1 intra-op thread, sequential, all optimizations, no spinning) and the
same generated inputs (fixed seed; integers in [0, int_range)). Prints one JSON object: throughput, latency
percentiles (µs), and this process's VmRSS/VmHWM after the run — the "RSS with the model loaded and warm" of
an in-process harness.

Usage: python bench/ort_inprocess.py --model FILE [--seconds 10] [--warmup 2] [--batch 1]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import onnxruntime as ort

NP = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(int64)": np.int64,
      "tensor(int32)": np.int32, "tensor(bool)": np.bool_, "tensor(uint8)": np.uint8, "tensor(int8)": np.int8}


def proc_status() -> dict:
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "Threads"):
                out[key] = int(value.split()[0])
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--warmup", type=float, default=2)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--int-range", type=int, default=2)
    ap.add_argument("--input-ranges", default="", help="name=lo:hi,... integer ranges [lo, hi) per input")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()

    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(args.model, options, providers=["CPUExecutionProvider"])
    ranges = {}
    for item in filter(None, args.input_ranges.split(",")):
        name, _, span = item.partition("=")
        lo, _, hi = span.partition(":")
        ranges[name] = (int(lo), int(hi))
    rng = np.random.default_rng(1)
    feeds = {}
    for i in session.get_inputs():
        shape = [args.batch if (d is None or isinstance(d, str)) and k == 0 else (1 if not isinstance(d, int) else d)
                 for k, d in enumerate(i.shape)]
        dtype = NP[i.type]
        if np.issubdtype(dtype, np.floating):
            feeds[i.name] = rng.random(shape, dtype=np.float64).astype(dtype)
        else:
            lo, hi = ranges.get(i.name, (0, args.int_range))
            feeds[i.name] = rng.integers(lo, hi, shape).astype(dtype)

    end = time.monotonic() + args.warmup
    while time.monotonic() < end:  # bounded by time
        session.run(None, feeds)
    latencies = []
    start = time.perf_counter_ns()
    deadline = start + int(args.seconds * 1e9)
    while True:
        t0 = time.perf_counter_ns()
        if t0 >= deadline or len(latencies) >= 10_000_000:
            break
        session.run(None, feeds)
        latencies.append(time.perf_counter_ns() - t0)
    elapsed = (time.perf_counter_ns() - start) / 1e9
    lat = np.sort(np.array(latencies, dtype=np.int64)) / 1000.0

    def pct(p: float) -> float:
        return float(lat[min(len(lat) - 1, max(0, int(np.ceil(p * len(lat))) - 1))])

    status = proc_status()
    print(json.dumps({"target": "ort-python", "completed": len(latencies), "seconds": elapsed,
                      "throughput": len(latencies) / elapsed, "latency_us": {"p50": pct(0.5), "p90": pct(0.9),
                      "p99": pct(0.99), "p99.9": pct(0.999), "max": float(lat[-1])},
                      "vm_rss_kb": status.get("VmRSS", 0), "vm_hwm_kb": status.get("VmHWM", 0),
                      "threads": status.get("Threads", 0), "onnxruntime": ort.__version__}))


if __name__ == "__main__":
    main()
