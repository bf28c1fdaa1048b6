"""bench/tf_vs_ort.py: the same model served by Serval's TensorFlow engine (the SavedModel) and by its ONNX
Runtime engine (the tf2onnx conversion), over the same protocol, in one run — with in-process TensorFlow and
in-process ONNX Runtime beside them. The serving stack is held constant; only the engine changes.

For each model (Keras ResNet-50 and a BERT-base-shaped encoder, from models/make_tf_models.py --big):
  1. the SavedModel is converted with tf2onnx (the tools venv: TF 2.15.1 + tf2onnx 1.16.1, opset 17), cached;
  2. in-process TensorFlow (the server venv's TF, 1 intra-op + 1 inter-op thread) and in-process ONNX Runtime
     (serval-bench --target=inprocess, 1 thread), both pinned to the server CPU;
  3. Serval with --intra_op_threads=1 --inter_op_threads=1 pinned to the server CPU, serving the SavedModel
     (TF engine) and then the ONNX file (ORT engine); serval-bench kserve-grpc from the client CPU at each
     concurrency; RSS of the server plus its TensorFlow worker after the run.
Writes bench/results/<date>-tf-vs-ort.{json,md}. Every loop is bounded (serval-bench's windows).

  .venv/bin/python bench/tf_vs_ort.py --models-dir /tmp/bigtf --tools-python .venv-tools/bin/python
"""

from __future__ import annotations

import argparse
import datetime
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402

REPO = harness.REPO
PYTHON = str(REPO / ".venv" / "bin" / "python")
MODELS = {
    # name: (SavedModel dir under --models-dir, serval-bench extra args, concurrency sweep)
    "resnet50": ("tf_resnet50/1", [], [1, 2]),
    "bert": ("tf_bert/1", ["--input_ranges=input_ids=0:30522"], [1, 2]),
}

TF_INPROCESS = r"""
import json, os, sys, time
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np, tensorflow as tf
tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(1)
path, seconds = sys.argv[1], float(sys.argv[2])
fn = tf.saved_model.load(path).signatures["serving_default"]
feeds = {}
for name, spec in fn.structured_input_signature[1].items():
    shape = [1 if d is None else d for d in spec.shape]
    rng = np.random.default_rng(1)
    feeds[name] = tf.constant(rng.integers(0, 30522, shape).astype(spec.dtype.as_numpy_dtype) if spec.dtype.is_integer
                              else rng.random(shape, dtype=np.float32))
for _ in range(3): fn(**feeds)
lat = []
end = time.monotonic() + seconds
while time.monotonic() < end and len(lat) < 100000:
    t = time.perf_counter(); fn(**feeds); lat.append(time.perf_counter() - t)
lat.sort()
rss = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmRSS:"))
print(json.dumps({"throughput": len(lat) / sum(lat), "p50_us": lat[len(lat) // 2] * 1e6,
                  "p99_us": lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1e6, "vm_rss_kb": rss, "runs": len(lat)}))
"""


def log(msg: str) -> None:
    print(f"[tf-vs-ort] {msg}", flush=True)


def rss_kib(pid: int) -> int:
    try:
        return next(int(l.split()[1]) for l in Path(f"/proc/{pid}/status").read_text().splitlines()
                    if l.startswith("VmRSS:"))
    except (OSError, StopIteration):
        return 0


def children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def convert(saved_model: Path, out: Path, tools_python: str) -> None:
    if out.is_file() and out.stat().st_mtime > (saved_model / "saved_model.pb").stat().st_mtime:
        return
    log(f"converting {saved_model} with tf2onnx")
    out.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([tools_python, "-m", "tf2onnx.convert", "--saved-model", str(saved_model), "--opset", "17",
                           "--output", str(out)], capture_output=True, text=True, timeout=3600)
    if proc.returncode != 0:
        raise RuntimeError(f"tf2onnx failed:\n{proc.stderr[-3000:]}")


def bench_points(bench: Path, args: list[str], work: Path, tag: str, cpu: str) -> list[dict]:
    code, data, out = harness.run_bench(bench, args, work / f"{tag}.json", cpus=cpu, timeout_s=1800)
    if code != 0 and not data:
        raise RuntimeError(out[-3000:])
    return data.get("points", data if isinstance(data, list) else [])


def summarize(points: list[dict]) -> list[dict]:
    rows = []
    for p in points:
        rows.append({"concurrency": p.get("concurrency"), "throughput": p.get("throughput"),
                     "p50_us": p.get("latency_us", {}).get("p50"), "p99_us": p.get("latency_us", {}).get("p99"),
                     "errors": p.get("errors")})
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models-dir", required=True, help="output of make_tf_models.py --big")
    parser.add_argument("--tools-python", default=str(REPO / ".venv-tools" / "bin" / "python"))
    parser.add_argument("--serval", default=str(REPO / "build" / "src" / "server" / "serval"))
    parser.add_argument("--bench", default=str(REPO / "build" / "tools" / "bench" / "serval-bench"))
    parser.add_argument("--server-cpu", default="1")
    parser.add_argument("--client-cpu", default="0")
    parser.add_argument("--window", type=float, default=4.0)
    parser.add_argument("--max-windows", type=int, default=4)
    parser.add_argument("--tf-seconds", type=float, default=15.0)
    parser.add_argument("--only", default="")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tf-vs-ort-"))
    results: dict = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                     "cpu": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), ""),
                     "models": {}}
    window = [f"--window_s={args.window}", f"--max_windows={args.max_windows}", "--warmup_s=3"]
    try:
        for name, (rel, extra, sweep) in MODELS.items():
            if args.only and name not in args.only.split(","):
                continue
            saved = Path(args.models_dir) / rel
            onnx_file = Path(args.models_dir) / "onnx" / name / "1" / "model.onnx"
            convert(saved, onnx_file, args.tools_python)
            res: dict = {}
            log(f"{name}: in-process TensorFlow")
            proc = subprocess.run(harness.pinned([PYTHON, "-c", TF_INPROCESS, str(saved), str(args.tf_seconds)],
                                                 args.server_cpu), capture_output=True, text=True, timeout=1800)
            if proc.returncode != 0:
                raise RuntimeError(proc.stderr[-3000:])
            res["tf_inprocess"] = json.loads(proc.stdout.strip().splitlines()[-1])
            log(f"{name}: in-process ONNX Runtime")
            res["ort_inprocess"] = summarize(bench_points(
                Path(args.bench), ["--target=inprocess", f"--model_file={onnx_file}", "--intra_op_threads=1",
                                   "--concurrency=1", *extra, *window], work, f"{name}-ort-inproc", args.server_cpu))
            for engine, base_dir in (("tf_engine", saved.parent), ("ort_engine", onnx_file.parent.parent)):
                log(f"{name}: Serval, {engine}")
                base = work / f"{name}-{engine}"
                shutil.copytree(base_dir, base)
                server = harness.start_serval(Path(args.serval), work,
                                              [f"--model_name={name}", f"--model_base_path={base}",
                                               "--intra_op_threads=1", "--inter_op_threads=1",
                                               "--rest_api_num_threads=1", "--file_system_poll_wait_seconds=0"],
                                              cpus=args.server_cpu, ready_models=(name,))
                try:
                    points = bench_points(
                        Path(args.bench), ["--target=kserve-grpc", f"--port={server.grpc_port}", f"--model_name={name}",
                                           f"--model_file={onnx_file}", f"--server_pid={server.pid}",
                                           f"--concurrency={','.join(map(str, sweep))}", "--check_every=1000000",
                                           *extra, *window], work, f"{name}-{engine}", args.client_cpu)
                    rss = rss_kib(server.pid) + sum(rss_kib(c) for c in children(server.pid))
                    res[engine] = {"points": summarize(points), "rss_kib_server_and_worker": rss,
                                   "worker_processes": len(children(server.pid))}
                finally:
                    server.stop()
            results["models"][name] = res
    finally:
        shutil.rmtree(work, ignore_errors=True)

    stamp = datetime.date.today().isoformat()
    out_dir = REPO / "bench" / "results"
    (out_dir / f"{stamp}-tf-vs-ort.json").write_text(json.dumps(results, indent=1))
    lines = [f"# TensorFlow engine vs ONNX Runtime engine, same server, same protocol ({results['date']})", "",
             f"CPU: {results['cpu']}. Server pinned to CPU {args.server_cpu} with 1 intra-op and 1 inter-op thread in "
             f"both engines; serval-bench (KServe gRPC, batch 1) on CPU {args.client_cpu}. In-process runs on the "
             "server CPU with 1 thread. RSS: server + TensorFlow worker after the run.", "",
             "| model | engine | c | req/s | p50 ms | p99 ms | RSS MiB |", "|---|---|---|---|---|---|---|"]
    for name, res in results["models"].items():
        tf_in = res["tf_inprocess"]
        lines.append(f"| {name} | in-process TensorFlow | 1 | {tf_in['throughput']:.1f} | {tf_in['p50_us'] / 1000:.1f} "
                     f"| {tf_in['p99_us'] / 1000:.1f} | {tf_in['vm_rss_kb'] / 1024:.0f} |")
        for p in res["ort_inprocess"]:
            lines.append(f"| {name} | in-process ONNX Runtime | {p['concurrency']} | {p['throughput']:.1f} "
                         f"| {p['p50_us'] / 1000:.1f} | {p['p99_us'] / 1000:.1f} | – |")
        for engine, label in (("tf_engine", "Serval, TensorFlow engine (SavedModel)"),
                              ("ort_engine", "Serval, ONNX Runtime engine (tf2onnx)")):
            for p in res[engine]["points"]:
                lines.append(f"| {name} | {label} | {p['concurrency']} | {p['throughput']:.1f} | {p['p50_us'] / 1000:.1f} "
                             f"| {p['p99_us'] / 1000:.1f} | {res[engine]['rss_kib_server_and_worker'] / 1024:.0f} |")
        best = {e: max(p["throughput"] for p in res[e]["points"]) for e in ("tf_engine", "ort_engine")}
        lines.append(f"| {name} | **ORT engine / TF engine, best req/s** | | **{best['ort_engine'] / best['tf_engine']:.2f} ×** "
                     "| | | |")
    (out_dir / f"{stamp}-tf-vs-ort.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
