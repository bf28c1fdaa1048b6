"""bench/compare: the whole server-vs-in-process comparison in one bounded run (docs/benchmarking.md §3.2 recipe).

System under test on --server-cpu (default 1), load generator on --client-cpu (default 0), both via taskset.
For each model (tiny `add`, ResNet-50-shaped, BERT-base-shaped):
  in-process ONNX Runtime C++ (serval-bench inprocess) and Python (bench/ort_inprocess.py), both on the
  server CPU with 1 intra-op thread; then Serval (1 intra-op thread, 1 REST thread) over every protocol, a
  closed-loop concurrency sweep each.
Transport floors in the same run: nginx static (serval-bench http-get and wrk), serval-grpc-echo.
Open loop: Poisson at 50/70/90 % of the best closed-loop rate (tiny model, KServe gRPC).
JSON cost: the wide-input model (ResNet-50's input, next to no compute) over REST-JSON and gRPC at c=1, and
the codecs themselves in process (serval-codec-bench: CPU ns per float of every decoder and encoder).
Cross-check: perf_analyzer against Serval (tiny, KServe gRPC, c=1 and c=4), runs alternating with serval-bench in
ABBA order (4 pairs each); means compared.
Writes bench/results/<date>-<machine>.json, .md and PNG plots (bench/report.py renders them).
Every process started is stopped on exit, including Ctrl-C.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402
import report  # noqa: E402

REPO = harness.REPO
PYTHON = str(REPO / ".venv" / "bin" / "python")
PROTOCOLS = ["tfs-rest", "kserve-rest", "kserve-rest-binary", "tfs-grpc", "kserve-grpc"]

# Per profile: warm-up, window, most windows, sweeps. Full: ~15 min on a quiet 2-core machine (points stabilize
# in 3 windows); 19 min when every point runs out its window budget on a busy one. Quick: ~2 min.
PROFILES = {
    "quick": {"warmup": 0.5, "window": 0.5, "max_windows": 6, "models": ["tiny"], "codec_repetitions": 3,
              "codec_min_time": 0.05,
              "sweep": {"tiny": [1, 4], "resnet50": [1, 2], "bert": [1]}, "floor_sweep": [1, 8], "open_fractions": [0.7], "open_seconds": 2,
              "ort_python_seconds": 2, "wrk_seconds": 2, "perf_analyzer_ms": 1000, "cross_check_pairs": 2,
              "cross_check_concurrency": [1, 4], "paired_rounds": 3, "paired_seconds": 1.0,
              "paired_best_concurrency": [4], "paired_resnet_rounds": 0},
    "full": {"warmup": 2, "window": 2, "max_windows": 5, "models": ["tiny", "resnet50", "bert"], "codec_repetitions": 5,
             "codec_min_time": 0.3,
             "sweep": {"tiny": [1, 2, 4, 8, 16], "resnet50": [1, 2, 4], "bert": [1, 2]},
             "floor_sweep": [1, 2, 4, 8, 16, 50], "open_fractions": [0.5, 0.7, 0.9], "open_seconds": 20,
             "ort_python_seconds": 10, "wrk_seconds": 10, "perf_analyzer_ms": 2000, "cross_check_pairs": 4,
             "cross_check_concurrency": [1, 4], "paired_rounds": 7, "paired_seconds": 1.5,
             "paired_best_concurrency": [4, 16], "paired_resnet_rounds": 4},
}
# Slow models need longer windows to hold enough requests (ResNet-50 ≈ 75 ms, BERT ≈ 200+ ms on one core);
# fewer of them keep the full run within ~15 minutes.
BERT_RANGES = "input_ids=0:30522,attention_mask=1:2,token_type_ids=0:2"
# (window seconds, most windows) per model in the full profile.
MODEL_WINDOW = {"tiny": (1.0, 5), "resnet50": (3.0, 4), "bert": (4.0, 4)}


def log(msg: str) -> None:
    print(f"[compare {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def machine_name() -> str:
    cpu = "cpu"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    short = re.sub(r"[^a-z0-9]+", "-", cpu.lower()).strip("-")
    short = "-".join(short.split("-")[:3])
    return f"{os.cpu_count()}cpu-{short}"


def models(profile: dict, models_dir: Path) -> dict:
    """name -> (server model name, base path, model file, serval-bench extra flags)."""
    wanted = profile["models"]
    make = [m for m in ("add", "resnet50") if (m == "add" and "tiny" in wanted) or m in wanted]
    subprocess.run([PYTHON, str(REPO / "models" / "make_models.py"), "--out", str(models_dir), "--only", ",".join(make)],
                   check=True, timeout=900)
    out = {"tiny": ("add", models_dir / "add", models_dir / "add" / "2" / "model.onnx", [])}
    if "resnet50" in wanted:
        out["resnet50"] = ("resnet50", models_dir / "resnet50", models_dir / "resnet50" / "1" / "model.onnx", [])
    subprocess.run([PYTHON, str(REPO / "models" / "bench_models.py"), "--out", str(models_dir),
                    "--only", "wide,bert" if "bert" in wanted else "wide"], check=True, timeout=1800)
    out["wide"] = ("wide", models_dir / "wide", models_dir / "wide" / "1" / "model.onnx", [])
    if "bert" in wanted:
        out["bert"] = ("bert", models_dir / "bert", models_dir / "bert" / "1" / "model.onnx", [f"--input_ranges={BERT_RANGES}"])
    return {k: v for k, v in out.items() if k in wanted or k == "wide"}


def bench_args(profile: dict, window: float, max_windows: int | None = None) -> list[str]:
    return [f"--warmup_s={profile['warmup']}", f"--window_s={window}",
            f"--max_windows={max_windows or profile['max_windows']}"]


def point_summary(p: dict) -> dict:
    keys = ["target", "concurrency", "target_rate", "throughput", "completed", "errors", "wrong_answers", "stable",
            "valid", "invalid_reason", "achieved_rate", "late_fraction", "client_cpu_percent", "server_cpu_percent",
            "server_cpu_us_per_request", "first_error"]
    out = {k: p.get(k) for k in keys}
    out["latency_us"] = p["latency_us"]
    out["server_rss_kb"] = p["server_after_run"]["vm_rss_kb"]
    out["server_hwm_kb"] = p["server_after_run"]["vm_hwm_kb"]
    out["server_threads"] = p["server_after_run"]["threads"]
    return out


class Runner:
    def __init__(self, args, work: Path):
        self.args = args
        self.work = work
        build = REPO / args.build_dir
        self.serval = build / "src" / "server" / "serval"
        self.bench = build / "tools" / "bench" / "serval-bench"
        self.echo = build / "tools" / "bench" / "serval-grpc-echo"
        self.codec_bench = build / "tools" / "bench" / "serval-codec-bench"
        for exe in (self.serval, self.bench, self.echo):
            if not exe.is_file():
                raise SystemExit(f"{exe} missing: build first (scripts/build {args.build_dir})")
        self.failures: list[str] = []
        self.n = 0

    def bench_run(self, args: list[str], cpus: str | None = None) -> list[dict]:
        self.n += 1
        path = self.work / f"run-{self.n}.json"
        code, data, out = harness.run_bench(self.bench, args, path, cpus=cpus or self.args.client_cpu)
        print(out.split("\n", 1)[1].rstrip(), flush=True)
        if code != 0 or not data:
            self.failures.append(out[-2000:])
            return [point_summary(p) for p in data.get("points", [])]
        return [point_summary(p) for p in data["points"]]

    def start_serval(self, server_name: str, base: Path) -> harness.Server:
        """Serval on the server CPU serving one model, one intra-op and one REST thread (as every phase runs it)."""
        return harness.start_serval(self.serval, self.work,
                                    [f"--model_name={server_name}", f"--model_base_path={base}",
                                     "--intra_op_threads=1", "--rest_api_num_threads=1",
                                     "--file_system_poll_wait_seconds=0"],
                                    cpus=self.args.server_cpu, ready_models=(server_name,))

    # ---- floors ----
    def floor_window(self, profile: dict) -> float:
        return MODEL_WINDOW["tiny"][0] if self.args.profile == "full" else profile["window"]

    def floors(self, profile: dict) -> dict:
        res = {}
        nginx = harness.start_nginx(self.work, cpus=self.args.server_cpu)
        try:
            sweep = ",".join(str(c) for c in profile["floor_sweep"])
            res["nginx"] = self.bench_run(["--target=http-get", f"--port={nginx.rest_port}", "--http_path=/static",
                                           f"--server_pid={nginx.pid}", f"--concurrency={sweep}",
                                           *bench_args(profile, self.floor_window(profile))])
            res["wrk"] = [self.wrk(nginx.rest_port, c, profile["wrk_seconds"]) for c in (1, 50)]
        finally:
            nginx.stop()
        echo = harness.start_grpc_echo(self.echo, self.work, cpus=self.args.server_cpu)
        try:
            sweep = ",".join(str(c) for c in profile["floor_sweep"] if c <= 16)
            res["grpc_echo"] = self.bench_run(["--target=grpc-echo", f"--port={echo.grpc_port}",
                                               f"--server_pid={echo.pid}", f"--concurrency={sweep}",
                                               *bench_args(profile, self.floor_window(profile))])
        finally:
            echo.stop()
        return res

    def wrk(self, port: int, connections: int, seconds: float) -> dict:
        cmd = harness.pinned(["wrk", "-t1", f"-c{connections}", f"-d{max(1, int(seconds))}s", "--latency",
                              f"http://127.0.0.1:{port}/static"], self.args.client_cpu)
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60).stdout
        except (OSError, subprocess.TimeoutExpired) as e:
            self.failures.append(f"wrk: {e}")
            return {"connections": connections, "error": str(e)}
        print(out, flush=True)

        def us(text: str) -> float:
            m = re.match(r"([\d.]+)(us|ms|s)", text)
            if not m:
                return float("nan")
            return float(m.group(1)) * {"us": 1, "ms": 1e3, "s": 1e6}[m.group(2)]

        p = {}
        for q in ("50", "90", "99"):
            m = re.search(rf"^\s+{q}%\s+(\S+)", out, re.M)
            p[q] = us(m.group(1)) if m else float("nan")
        m = re.search(r"Requests/sec:\s+([\d.]+)", out)
        return {"connections": connections, "throughput": float(m.group(1)) if m else float("nan"),
                "p50_us": p["50"], "p90_us": p["90"], "p99_us": p["99"]}

    # ---- one model ----
    def model(self, name: str, spec, profile: dict) -> dict:
        server_name, base, model_file, extra = spec
        window, max_windows = MODEL_WINDOW[name] if self.args.profile == "full" else (profile["window"], None)
        sweep = profile["sweep"][name]
        res = {"model_file": str(model_file)}
        log(f"{name}: in-process C++")
        res["inprocess"] = self.bench_run(["--target=inprocess", f"--model_file={model_file}", "--intra_op_threads=1",
                                           f"--concurrency={','.join(map(str, sweep))}", *extra,
                                           *bench_args(profile, window, max_windows)], cpus=self.args.server_cpu)
        log(f"{name}: in-process Python")
        res["ort_python"] = self.ort_python(model_file, profile, extra)
        log(f"{name}: in-process TensorFlow")
        res["tensorflow"] = self.tensorflow(model_file, profile, extra)
        server = self.start_serval(server_name, base)
        try:
            res["serval"] = {}
            for proto in PROTOCOLS:
                log(f"{name}: Serval {proto}")
                port = server.grpc_port if proto.endswith("grpc") else server.rest_port
                res["serval"][proto] = self.bench_run(
                    [f"--target={proto}", f"--port={port}", f"--model_name={server_name}",
                     f"--model_file={model_file}", f"--server_pid={server.pid}",
                     f"--concurrency={','.join(map(str, sweep))}", *extra, *bench_args(profile, window, max_windows)])
            if name == "tiny":
                # Cross-check before the open loop (whose overload points leave the server busy). Both clients'
                # throughput wanders by 10 % or more over minutes on this VM, so one pair compares noise:
                # pairs run back to back in ABBA order (PA SB, SB PA, ...), which cancels a linear drift, and
                # the goal lines compare the means. At c=1 throughput is 1 / round trip, client stacks
                # included (perf_analyzer's sync gRPC client adds ~20 µs per call over serval-bench's); at
                # c=4 the server's one core is saturated, so both clients measure the server itself.
                res["cross_check"] = {}
                for concurrency in profile["cross_check_concurrency"]:
                    pa_runs, sb_runs = [], []
                    for pair in range(profile["cross_check_pairs"]):
                        order = ("pa", "sb") if pair % 2 == 0 else ("sb", "pa")
                        for who in order:
                            if who == "pa":
                                pa_runs.append(self.perf_analyzer(server, profile, concurrency))
                                continue
                            log(f"tiny: serval-bench kserve-grpc c={concurrency}, next to perf_analyzer")
                            sb_runs.append(self.bench_run(
                                ["--target=kserve-grpc", f"--port={server.grpc_port}", f"--model_name={server_name}",
                                 f"--model_file={model_file}", f"--server_pid={server.pid}",
                                 f"--concurrency={concurrency}", *bench_args(profile, profile["perf_analyzer_ms"] / 1000)]))
                    sb_points = [run[0] for run in sb_runs if run]
                    res["cross_check"][str(concurrency)] = {
                        "perf_analyzer": mean_of_runs(pa_runs), "perf_analyzer_runs": pa_runs,
                        "serval_bench_runs": sb_points,
                        "serval_bench_mean": (sum(p["throughput"] for p in sb_points) / len(sb_points)
                                              if sb_points else None)}
                res["open_loop"] = self.open_loop(server, model_file, res["serval"]["kserve-grpc"], profile)
        finally:
            server.stop()
        return res

    # ---- paired rounds: each goal line's two sides measured minutes apart compare the VM's drift, not the
    # servers; here every side runs once per round, rounds alternate their order (ABBA), and the goal lines
    # take the median of the per-round ratios ----
    def interleaved(self, entries: dict[str, list[str]], rounds: int,
                    cpus: dict[str, str] | None = None) -> dict[str, list[dict | None]]:
        """entries: label → serval-bench args (one point each), run on the client CPU unless `cpus` names
        another. Runs them `rounds` times, forward then backward order; returns label → one point per round
        (None for a failed run)."""
        out: dict[str, list[dict | None]] = {label: [] for label in entries}
        labels = list(entries)
        for r in range(rounds):
            for label in (labels if r % 2 == 0 else labels[::-1]):
                points = self.bench_run(entries[label], cpus=(cpus or {}).get(label))
                out[label].append(points[0] if points else None)
        return out

    def paired(self, tiny_spec: tuple, profile: dict) -> dict:
        """The c=1 goal lines (tiny model over every protocol against nginx and the gRPC echo) and the gRPC best
        req/s lines, with nginx, the echo and Serval all up on the server CPU and measured in turn."""
        server_name, base, model_file, _ = tiny_spec
        seconds = profile["paired_seconds"]
        timing = [f"--warmup_s={min(profile['warmup'], 0.5)}", f"--window_s={seconds / 3:.3f}",
                  f"--duration_s={seconds}"]
        nginx = harness.start_nginx(self.work, cpus=self.args.server_cpu)
        echo = harness.start_grpc_echo(self.echo, self.work, cpus=self.args.server_cpu)
        server = self.start_serval(server_name, base)
        try:
            def entry(proto: str, concurrency: int) -> list[str]:
                if proto == "nginx":
                    return ["--target=http-get", f"--port={nginx.rest_port}", "--http_path=/static",
                            f"--server_pid={nginx.pid}", f"--concurrency={concurrency}", *timing]
                if proto == "grpc-echo":
                    return ["--target=grpc-echo", f"--port={echo.grpc_port}", f"--server_pid={echo.pid}",
                            f"--concurrency={concurrency}", *timing]
                port = server.grpc_port if proto.endswith("grpc") else server.rest_port
                return [f"--target={proto}", f"--port={port}", f"--model_name={server_name}",
                        f"--model_file={model_file}", f"--server_pid={server.pid}", f"--concurrency={concurrency}",
                        *timing]

            log(f"paired rounds: c=1, every protocol and both floors, {profile['paired_rounds']} rounds")
            c1 = self.interleaved({p: entry(p, 1) for p in ["nginx", "grpc-echo", *PROTOCOLS]},
                                  profile["paired_rounds"])
            best_runs = {}
            for concurrency in profile["paired_best_concurrency"]:
                log(f"paired rounds: gRPC c={concurrency}, {profile['paired_rounds']} rounds")
                best_runs[str(concurrency)] = self.interleaved(
                    {p: entry(p, concurrency) for p in ["grpc-echo", "tfs-grpc", "kserve-grpc"]},
                    profile["paired_rounds"])
        finally:
            server.stop()
            echo.stop()
            nginx.stop()
        return {"rounds": profile["paired_rounds"], "seconds": seconds, "c1": c1, "grpc_best": best_runs}

    def paired_resnet(self, spec: tuple, profile: dict) -> dict:
        """ResNet-50 at c=2: the in-process harness and Serval over every protocol, in turn, per round."""
        server_name, base, model_file, extra = spec
        rounds = profile["paired_resnet_rounds"]
        timing = [f"--warmup_s={profile['warmup']}", "--window_s=2", "--duration_s=4"]
        server = self.start_serval(server_name, base)
        try:
            entries = {"inprocess": ["--target=inprocess", f"--model_file={model_file}", "--intra_op_threads=1",
                                     "--concurrency=2", *extra, *timing]}
            for proto in PROTOCOLS:
                port = server.grpc_port if proto.endswith("grpc") else server.rest_port
                entries[proto] = [f"--target={proto}", f"--port={port}", f"--model_name={server_name}",
                                  f"--model_file={model_file}", f"--server_pid={server.pid}", "--concurrency=2",
                                  *extra, *timing]
            log(f"paired rounds: ResNet-50 c=2, in-process and every protocol, {rounds} rounds")
            # The in-process harness runs where the server does; the clients on the client CPU.
            out = self.interleaved(entries, rounds, cpus={"inprocess": self.args.server_cpu})
        finally:
            server.stop()
        return {"rounds": rounds, "c2": out}

    def json_cost(self, spec: tuple, profile: dict) -> dict:
        """REST-JSON and gRPC c=1 points on the wide-input model (150,528 floats in, one out, next to no
        compute): the p50 difference per input float is docs/benchmarking.md §6's JSON cost, measured where the
        model's own run cannot hide it. Two rounds, protocols interleaved; each keeps its lower-p50 round."""
        server_name, base, model_file, _ = spec
        server = self.start_serval(server_name, base)
        res: dict[str, list[dict]] = {}
        try:
            for _round in range(2):
                for proto in ("tfs-rest", "tfs-grpc", "kserve-rest", "kserve-grpc"):
                    port = server.grpc_port if proto.endswith("grpc") else server.rest_port
                    res.setdefault(proto, []).extend(self.bench_run(
                        [f"--target={proto}", f"--port={port}", f"--model_name={server_name}",
                         f"--model_file={model_file}", f"--server_pid={server.pid}", "--concurrency=1",
                         *bench_args(profile, self.floor_window(profile))]))
        finally:
            server.stop()
        return {proto: min(points, key=lambda p: p["latency_us"]["p50"]) for proto, points in res.items() if points}

    def codec(self, profile: dict) -> dict:
        """serval-codec-bench on the server CPU: every decoder and encoder, repeated; min and median CPU ns per
        float (report.codec_summary). Empty, with a failure noted, when the binary is missing (sanitizer builds)."""
        if not self.codec_bench.is_file():
            self.failures.append(f"{self.codec_bench} missing: no codec micro-benchmark in this run")
            return {}
        out = self.work / "codec-bench.json"
        cmd = ["taskset", "-c", self.args.server_cpu, str(self.codec_bench),
               f"--benchmark_repetitions={profile['codec_repetitions']}",
               f"--benchmark_min_time={profile['codec_min_time']}", "--benchmark_report_aggregates_only=true",
               f"--benchmark_out={out}", "--benchmark_out_format=json"]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
        if proc.returncode != 0 or not out.is_file():
            self.failures.append(f"serval-codec-bench failed ({proc.returncode}):\n{proc.stderr[-1500:]}")
            return {}
        return report.codec_summary(json.loads(out.read_text()))

    def ort_python(self, model_file: Path, profile: dict, extra: list[str]) -> dict:
        ranges = next((e.split("=", 1)[1] for e in extra if e.startswith("--input_ranges=")), "")
        cmd = harness.pinned([PYTHON, str(REPO / "bench" / "ort_inprocess.py"), "--model", str(model_file),
                              "--seconds", str(profile["ort_python_seconds"]), "--warmup", str(profile["warmup"]),
                              "--input-ranges", ranges], self.args.server_cpu)
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        if proc.returncode != 0:
            self.failures.append(f"ort_inprocess.py: {proc.stderr[-1500:]}")
            return {}
        data = json.loads(proc.stdout.strip().splitlines()[-1])
        print(f"ort-python         {data['throughput']:10.1f} req/s  p50 {data['latency_us']['p50']:8.1f} us  "
              f"rss {data['vm_rss_kb']} kB", flush=True)
        return data

    def tensorflow(self, model_file: Path, profile: dict, extra: list[str]) -> dict:
        ranges = next((e.split("=", 1)[1] for e in extra if e.startswith("--input_ranges=")), "")
        cmd = harness.pinned([PYTHON, str(REPO / "bench" / "tf_inprocess.py"), "--model", str(model_file),
                              "--seconds", str(profile["ort_python_seconds"]), "--warmup", str(profile["warmup"]),
                              "--input-ranges", ranges], self.args.server_cpu)
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
        if proc.returncode != 0:
            self.failures.append(f"tf_inprocess.py: {proc.stderr[-1500:]}")
            return {"missing": (proc.stderr.strip().splitlines() or ["failed"])[-1]}
        data = json.loads(proc.stdout.strip().splitlines()[-1])
        print(f"tensorflow         {data['throughput']:10.1f} req/s  p50 {data['latency_us']['p50']:8.1f} us  "
              f"rss {data['vm_rss_kb']} kB", flush=True)
        return data

    def open_loop(self, server, model_file: Path, closed: list[dict], profile: dict) -> list[dict]:
        best = max((p["throughput"] for p in closed if p["errors"] == 0), default=0)
        points = []
        for fraction in profile["open_fractions"]:
            rate = int(best * fraction)
            if rate <= 0:
                continue
            log(f"tiny: open loop Poisson {fraction:.0%} of {best:.0f} = {rate} req/s")
            pts = self.bench_run(["--target=kserve-grpc", f"--port={server.grpc_port}", "--model_name=add",
                                  f"--model_file={model_file}", f"--server_pid={server.pid}", "--concurrency=64",
                                  f"--rate={rate}", "--distribution=poisson", f"--warmup_s={profile['warmup']}",
                                  "--window_s=1", f"--duration_s={profile['open_seconds']}"])
            for p in pts:
                p["fraction"] = fraction
            points += pts
        return points

    def perf_analyzer(self, server, profile: dict, concurrency: int) -> dict:
        exe = REPO / ".venv" / "bin" / "perf_analyzer"
        report_csv = self.work / "perf_analyzer.csv"
        cmd = harness.pinned([str(exe), "-m", "add", "--service-kind=triton", "-i", "grpc", "-u",
                              f"127.0.0.1:{server.grpc_port}", "--measurement-interval", str(profile["perf_analyzer_ms"]),
                              "--concurrency-range", f"{concurrency}:{concurrency}", "-f", str(report_csv)], self.args.client_cpu)
        log(f"tiny: perf_analyzer (KServe gRPC, c={concurrency})")
        for attempt in range(3):  # perf_analyzer writes no report when its windows disagree: measure again
            try:
                proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
            except (OSError, subprocess.TimeoutExpired) as e:
                self.failures.append(f"perf_analyzer: {e}")
                return {"error": str(e)}
            if proc.returncode == 0 and report_csv.is_file():
                break
            if "Failed to obtain stable measurement" not in proc.stdout + proc.stderr:
                break
            log(f"perf_analyzer: no stable measurement (attempt {attempt + 1} of 3)")
        if proc.returncode != 0 or not report_csv.is_file():
            self.failures.append(f"perf_analyzer: {proc.stdout[-1500:]}{proc.stderr[-500:]}")
            return {"error": (proc.stdout + proc.stderr)[-300:]}
        row = next(csv.DictReader(report_csv.open()))
        out = {"throughput": float(row["Inferences/Second"]), "p50_us": float(row["p50 latency"]),
               "p99_us": float(row["p99 latency"])}
        print(f"perf_analyzer      {out['throughput']:10.1f} req/s  p50 {out['p50_us']:8.1f} us", flush=True)
        return out


def mean_of_runs(runs: list[dict]) -> dict:
    """The mean throughput and p50 of perf_analyzer runs that produced a report (else the first error)."""
    good = [r for r in runs if "throughput" in r]
    if not good:
        return runs[0] if runs else {"error": "not run"}
    return {"throughput": sum(r["throughput"] for r in good) / len(good),
            "p50_us": sum(r["p50_us"] for r in good) / len(good),
            "p99_us": sum(r["p99_us"] for r in good) / len(good), "runs": len(good)}


def environment(args) -> dict:
    def run(cmd: list[str]) -> str:
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return ""
    return {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "machine": machine_name(), "kernel": platform.release(), "lscpu": run(["lscpu"]),
            "git_sha": run(["git", "-C", str(REPO), "rev-parse", "HEAD"]),
            "git_dirty": bool(run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"])),
            "nginx": run(["nginx", "-v"]) or subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip(),
            "wrk": run(["wrk", "-v"]).split(" [")[0] if run(["wrk", "-v"]) else "",
            "profile": args.profile, "server_cpu": args.server_cpu, "client_cpu": args.client_cpu,
            "loadavg_start": open("/proc/loadavg").read().strip()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", dest="profile", action="store_const", const="quick", default="full",
                    help="a ~2 minute run: tiny model only, short windows (numbers are indicative only)")
    ap.add_argument("--build-dir", default=os.environ.get("SERVAL_BUILD_DIR", "build"))
    ap.add_argument("--models-dir", default=None, help="default <build-dir>/bench-models")
    ap.add_argument("--out", default=str(REPO / "bench" / "results"))
    ap.add_argument("--server-cpu", default="1")
    ap.add_argument("--client-cpu", default="0")
    ap.add_argument("--only", default="", help="comma list of models to run (tiny,resnet50,bert)")
    args = ap.parse_args()

    profile = dict(PROFILES[args.profile])
    if args.only:
        profile["models"] = [m for m in args.only.split(",") if m]
    models_dir = Path(args.models_dir) if args.models_dir else REPO / args.build_dir / "bench-models"
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)

    def on_signal(signum, _frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    started = time.monotonic()
    results = {"env": environment(args)}
    with tempfile.TemporaryDirectory(prefix="serval-compare-") as tmp:
        runner = Runner(args, Path(tmp))
        try:
            log("models")
            specs = models(profile, models_dir)
            log("transport floors")
            results["floors"] = runner.floors(profile)
            results["models"] = {}
            log("JSON cost: the wide-input model over REST-JSON and gRPC")
            results["json_cost"] = runner.json_cost(specs.pop("wide"), profile)
            log("codec micro-benchmark (serval-codec-bench)")
            results["codec_bench"] = runner.codec(profile)
            for name, spec in specs.items():
                results["models"][name] = runner.model(name, spec, profile)
            if "tiny" in specs and profile["paired_rounds"] > 0:
                results["paired"] = runner.paired(specs["tiny"], profile)
            if "resnet50" in specs and profile["paired_resnet_rounds"] > 0:
                results["paired_resnet"] = runner.paired_resnet(specs["resnet50"], profile)
        finally:
            harness.stop_all()
    results["env"]["seconds"] = round(time.monotonic() - started, 1)
    results["failures"] = runner.failures
    stem = f"{datetime.date.today().isoformat()}-{machine_name()}" + ("-quick" if args.profile == "quick" else "")
    json_path = out_dir / f"{stem}.json"
    json_path.write_text(json.dumps(results, indent=1))
    md_path = report.render(results, out_dir, stem)
    log(f"wrote {json_path} and {md_path} in {results['env']['seconds']} s")
    if runner.failures:
        log(f"{len(runner.failures)} run(s) failed:\n" + "\n---\n".join(runner.failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
