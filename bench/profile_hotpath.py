#!/usr/bin/env python3
"""Where a request's server CPU goes, per surface, next to the transport floors (issue 16's "the profile
that says why").

For each target (nginx static, the gRPC callback echo, then Serval's five protocols on the tiny `add` model)
at each concurrency: the server runs alone on --server-cpu, serval-bench loads it from --client-cpu for
--seconds, and `perf record -e cpu-clock -a` samples meanwhile (the server process's samples are kept). Every sample's self time is
put in one category (kernel scheduling / kernel network and other / gRPC core / HTTP (Beast, Asio) / JSON /
protobuf / ONNX Runtime / allocator / C++ and libc / Serval other), by the shared object it ran in and the
symbol's name. A category's share times serval-bench's server CPU per request (utime+stime from /proc over
the same window) gives its µs per request, so each surface reads as "the floor's cost + what Serval adds".
A second, one-second run counts the server threads' context switches per request (/proc/PID/task/*/status):
on one core every switch is a few µs, and a hand-off between threads shows up here first.

Needs root (perf) and a build (scripts/build). Loopback only; every run is bounded by --seconds.

  bench/profile_hotpath.py [--build-dir build] [--seconds 3] [--out bench/results] [--json PATH]
"""

from __future__ import annotations

import argparse
import datetime
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402

REPO = harness.REPO
PYTHON = str(REPO / ".venv" / "bin" / "python")
SERVAL_PROTOCOLS = ["tfs-rest", "kserve-rest", "kserve-rest-binary", "tfs-grpc", "kserve-grpc"]

# Category rules, first match wins: (category, shared-object pattern, symbol pattern). Patterns are regular
# expressions searched in the DSO's base name and the demangled symbol.
KERNEL_SCHED = (r"schedule|switch_to|task_switch|futex|wake_up|try_to_wake|enqueue_task|dequeue_task|"
                r"pick_next|update_curr|ttwu|select_task_rq|hrtimer|raw_spin_unlock_irq|do_idle")
RULES: list[tuple[str, str, str]] = [
    ("kernel: scheduling, futex, timers", r"kernel", KERNEL_SCHED),
    ("kernel: network, epoll, syscalls", r"kernel", r""),
    ("ONNX Runtime", r"onnxruntime", r""),
    ("gRPC core (+absl, ssl)", r"grpc|gpr|absl|ssl|crypto|address_sorting|upb|re2|cares", r""),
    ("protobuf", r"protobuf", r""),
    ("allocator", r"libc\.so|ld-linux|libstdc", r"^(malloc|free|_int_malloc|_int_free|calloc|realloc|cfree|"
                                               r"malloc_consolidate|tcache|operator new|operator delete|_int_realloc|"
                                               r"__libc_malloc|__libc_free|__libc_calloc|unlink_chunk|"
                                               r"aligned_alloc|posix_memalign|_mid_memalign)"),
    ("JSON (simdjson, RapidJSON, codecs)", r"", r"simdjson|rapidjson|[Jj]son|fast_float|to_chars|from_chars"),
    ("HTTP (Beast, Asio)", r"", r"boost::beast|boost::asio|beast::|asio::|HttpServer|http_server|HttpSession"),
    ("protobuf", r"", r"google::protobuf|_InternalParse|_InternalSerialize|ByteSizeLong|::Clear\(|Arena"),
    ("C++ runtime and libc", r"libc\.so|libstdc|libm\.so|libgcc|ld-linux|libpthread", r""),
    ("Serval (routing, frontend, metrics, other)", r"", r""),
]
CATEGORIES = list(dict.fromkeys(c for c, _, _ in RULES))


def categorize(dso: str, symbol: str) -> str:
    base = Path(dso.strip("[]")).name if dso else ""
    if dso.startswith("[kernel") or dso.startswith("[vdso") or dso == "[unknown]" and symbol.startswith("0xffff"):
        base = "kernel"
    for category, dso_re, sym_re in RULES:
        if dso_re and not re.search(dso_re, base):
            continue
        if sym_re and not re.search(sym_re, symbol):
            continue
        return category
    return CATEGORIES[-1]


def perf_shares(data: Path, pid: int) -> tuple[dict[str, float], list[tuple[float, str, str]]]:
    """(category → share of `pid`'s samples in [0, 1], the top symbols as (share, dso, symbol))."""
    out = subprocess.run(["perf", "report", "-i", str(data), f"--pid={pid}", "--no-children", "--sort", "dso,sym",
                          "--stdio", "-q", "--percent-limit", "0", "-F", "overhead,dso,sym"],
                         capture_output=True, text=True, timeout=300).stdout
    shares = {c: 0.0 for c in CATEGORIES}
    top: list[tuple[float, str, str]] = []
    for line in out.splitlines():
        m = re.match(r"\s*([\d.]+)%\s+(\S+)\s+\[[.k]\]\s+(.*)$", line)
        if not m:
            continue
        share, dso, symbol = float(m.group(1)) / 100, m.group(2), m.group(3).strip()
        shares[categorize(dso, symbol)] += share
        top.append((share, dso, symbol))
    total = sum(shares.values())  # the pid's samples, as a share of every process's
    if total > 0:
        shares = {c: v / total for c, v in shares.items()}
    top = sorted(((share / total, dso, symbol) for share, dso, symbol in top), reverse=True) if total > 0 else []
    return shares, top[:25]


def context_switches(pid: int) -> int:
    """Voluntary and involuntary context switches of every thread of `pid` so far."""
    total = 0
    for status in Path(f"/proc/{pid}/task").glob("*/status"):
        try:
            text = status.read_text()
        except OSError:  # a thread that ended meanwhile
            continue
        total += sum(int(line.split()[1]) for line in text.splitlines() if "ctxt_switches:" in line)
    return total


def profile(build: Path, work: Path, pid: int, bench_args: list[str], seconds: float, client_cpu: str) -> dict:
    data = work / f"perf-{time.monotonic_ns()}.data"
    # Every CPU is sampled, not the process or its CPU: on this VM (Firecracker), `perf record -p PID` and
    # `-C CPU` tripled nginx's CPU per request and cut its req/s to a third, while `-a` left both as without
    # perf (measured 2026-12-04). The report keeps the server process's samples.
    perf = subprocess.Popen(["perf", "record", "-q", "-e", "cpu-clock", "-F", "1000", "-a", "-o", str(data)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)  # perf attaches
    try:
        code, result, out = harness.run_bench(build / "tools" / "bench" / "serval-bench",
                                              [*bench_args, "--warmup_s=0.5", f"--window_s={seconds / 3:.3f}",
                                               f"--duration_s={seconds}"],
                                              work / "point.json", cpus=client_cpu, timeout_s=seconds * 10 + 60)
    finally:
        perf.send_signal(2)
        perf.wait(timeout=60)
    if code != 0 or not result.get("points"):
        raise RuntimeError(f"serval-bench failed:\n{out[-2000:]}")
    point = result["points"][0]
    # Context switches per request, over a second short run without warm-up (the server is warm by now), so
    # that every request the counters saw is counted.
    before = context_switches(pid)
    code, counted, out = harness.run_bench(build / "tools" / "bench" / "serval-bench",
                                           [*bench_args, "--warmup_s=0", "--window_s=1", "--duration_s=1",
                                            "--max_windows=1"], work / "count.json", cpus=client_cpu, timeout_s=60)
    switches = context_switches(pid) - before
    if code != 0 or not counted.get("points") or not counted["points"][0]["completed"]:
        raise RuntimeError(f"serval-bench failed:\n{out[-2000:]}")
    shares, top = perf_shares(data, pid)
    data.unlink(missing_ok=True)
    cpu_us = point.get("server_cpu_us_per_request") or 0.0
    return {"throughput": point["throughput"], "p50_us": point["latency_us"]["p50"], "cpu_us_per_request": cpu_us,
            "errors": point.get("errors", 0),
            "context_switches_per_request": switches / counted["points"][0]["completed"],
            "us_per_request": {c: shares[c] * cpu_us for c in CATEGORIES},
            "top_symbols": [{"share": s, "dso": d, "symbol": sym[:160]} for s, d, sym in top]}


def median_run(runs: list[dict]) -> dict:
    """The round with the median CPU per request, whole (its categories add up to its total), plus every
    round's totals so the spread shows."""
    ordered = sorted(runs, key=lambda run: run["cpu_us_per_request"])
    chosen = dict(ordered[(len(ordered) - 1) // 2])
    chosen["rounds"] = [{k: run[k] for k in ("cpu_us_per_request", "throughput", "p50_us")} for run in runs]
    return chosen


def markdown(results: dict, meta: dict) -> str:
    lines = [f"# Hot-path CPU profile, {meta['date']} ({meta['machine']})", "",
             f"`bench/profile_hotpath.py --seconds {meta['seconds']} --rounds {meta['rounds']}` at HEAD `{meta['commit']}`: server on CPU "
             f"{meta['server_cpu']}, serval-bench on CPU {meta['client_cpu']}, tiny model `add` (2 × FP32[1,16]); "
             "`perf record -e cpu-clock -a`, the server process's samples, self time per category × the server's CPU per "
             f"request (µs), for the round with the median CPU per request of {meta['rounds']} interleaved rounds. Categories: "
             "see the script's RULES.", ""]
    for concurrency, targets in results.items():
        names = list(targets)
        lines += [f"## c={concurrency}", "",
                  "| µs of server CPU per request | " + " | ".join(names) + " |",
                  "|---|" + "---:|" * len(names)]
        for c in CATEGORIES:
            lines.append(f"| {c} | " + " | ".join(f"{targets[n]['us_per_request'][c]:.1f}" for n in names) + " |")
        lines.append("| **total CPU per request** | " +
                     " | ".join(f"**{targets[n]['cpu_us_per_request']:.1f}**" for n in names) + " |")
        lines.append("| req/s | " + " | ".join(f"{targets[n]['throughput']:,.0f}" for n in names) + " |")
        lines.append("| p50 latency µs | " + " | ".join(f"{targets[n]['p50_us']:.0f}" for n in names) + " |")
        lines.append("| context switches per request | " + " | ".join(
            f"{targets[n]['context_switches_per_request']:.2f}" for n in names) + " |")
        lines.append("| CPU per request, every round | " + " | ".join(
            " ".join(f"{r['cpu_us_per_request']:.0f}" for r in targets[n]["rounds"]) for n in names) + " |")
        lines.append("")
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", default="build")
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--concurrency", default="1,4", help="comma list; gRPC targets only above 1")
    ap.add_argument("--rounds", type=int, default=3, help="rounds per target; the median round is reported")
    ap.add_argument("--server-cpu", default="1")
    ap.add_argument("--client-cpu", default="0")
    ap.add_argument("--out", default=str(REPO / "bench" / "results"))
    ap.add_argument("--json", default="")
    args = ap.parse_args()
    build = REPO / args.build_dir
    models_dir = build / "bench-models"
    if not (models_dir / "add" / "2" / "model.onnx").is_file():
        subprocess.run([PYTHON, str(REPO / "models" / "make_models.py"), "--out", str(models_dir), "--only", "add"],
                       check=True, timeout=900)
    model_file = models_dir / "add" / "2" / "model.onnx"
    work = Path(tempfile.mkdtemp(prefix="serval-profile-"))
    nginx = harness.start_nginx(work, cpus=args.server_cpu)
    echo = harness.start_grpc_echo(build / "tools" / "bench" / "serval-grpc-echo", work, cpus=args.server_cpu)
    server = harness.start_serval(build / "src" / "server" / "serval", work,
                                  ["--model_name=add", f"--model_base_path={models_dir / 'add'}",
                                   "--intra_op_threads=1", "--rest_api_num_threads=1",
                                   "--file_system_poll_wait_seconds=0"],
                                  cpus=args.server_cpu, ready_models=("add",))
    results: dict[str, dict] = {}
    try:
        for concurrency in [int(c) for c in args.concurrency.split(",")]:
            row: dict[str, dict] = {}
            targets = ["nginx", "grpc-echo", *SERVAL_PROTOCOLS] if concurrency == 1 else \
                ["grpc-echo", "tfs-grpc", "kserve-grpc"]
            runs: dict[str, list[dict]] = {t: [] for t in targets}
            for r in range(args.rounds):  # interleaved, ABBA: the VM drifts over minutes
                for target in (targets if r % 2 == 0 else targets[::-1]):
                    if target == "nginx":
                        pid, a = nginx.pid, ["--target=http-get", f"--port={nginx.rest_port}", "--http_path=/static"]
                    elif target == "grpc-echo":
                        pid, a = echo.pid, ["--target=grpc-echo", f"--port={echo.grpc_port}"]
                    else:
                        port = server.grpc_port if target.endswith("grpc") else server.rest_port
                        pid, a = server.pid, [f"--target={target}", f"--port={port}", "--model_name=add",
                                              f"--model_file={model_file}"]
                    print(f"[profile] c={concurrency} {target} round {r + 1}/{args.rounds}", flush=True)
                    runs[target].append(profile(build, work, pid,
                                                [*a, f"--server_pid={pid}", f"--concurrency={concurrency}"],
                                                args.seconds, args.client_cpu))
            for target in targets:
                row[target] = median_run(runs[target])
            results[str(concurrency)] = row
    finally:
        server.stop()
        echo.stop()
        nginx.stop()
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    meta = {"date": datetime.date.today().isoformat(), "commit": commit, "seconds": args.seconds, "rounds": args.rounds,
            "server_cpu": args.server_cpu, "client_cpu": args.client_cpu,
            "machine": subprocess.run(["uname", "-r"], capture_output=True, text=True).stdout.strip()}
    stem = Path(args.out) / f"{meta['date']}-hotpath-profile"
    Path(args.json or f"{stem}.json").write_text(json.dumps({"meta": meta, "results": results}, indent=1) + "\n")
    Path(f"{stem}.md").write_text(markdown(results, meta))
    print(markdown(results, meta))
    return 0


if __name__ == "__main__":
    sys.exit(main())
