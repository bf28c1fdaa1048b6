"""What the TensorFlow engine costs a server that serves only ONNX models: start-up time and RSS.

Runs two serval binaries (the one to judge and a baseline built without the TensorFlow engine) in
alternating order (ABBA pairs), each serving the same ONNX model; for each run measures the time from
exec to a 200 on /v2/health/ready, the RSS once ready, and the RSS after 200 predict requests; checks that no
serval-tf-worker was started and that nothing of TensorFlow is mapped. Prints a Markdown table.

  .venv/bin/python bench/onnx_only_overhead.py --binary build/src/server/serval --baseline /tmp/serval-old \
      --model-base build/models/add --pairs 4
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import time
from pathlib import Path

import requests


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def one_run(binary: str, base: str) -> dict:
    rest, grpc_port = free_port(), free_port()
    cmd = [binary, f"--rest_api_port={rest}", f"--port={grpc_port}", "--rest_api_address=127.0.0.1",
           "--model_name=add", f"--model_base_path={base}", "--file_system_poll_wait_seconds=0"]
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{rest}"
    try:
        deadline = start + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(url + "/v2/health/ready", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.002)
        ready_s = time.monotonic() - start
        rss_ready = rss_kib(proc.pid)
        body = {"instances": [{"a": [1.0] * 16, "b": [2.0] * 16}]}
        with requests.Session() as session:
            for _ in range(200):
                assert session.post(url + "/v1/models/add:predict", json=body, timeout=10).status_code == 200
        rss_used = rss_kib(proc.pid)
        children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
        tf_mapped = "tensorflow" in Path(f"/proc/{proc.pid}/maps").read_text()
        return {"ready_s": ready_s, "rss_ready_kib": rss_ready, "rss_used_kib": rss_used,
                "children": len(children), "tf_mapped": tf_mapped}
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", required=True)
    parser.add_argument("--baseline", required=True)
    parser.add_argument("--model-base", required=True)
    parser.add_argument("--pairs", type=int, default=4)
    args = parser.parse_args()
    args.model_base = str(Path(args.model_base).resolve())
    runs = {"new": [], "baseline": []}
    for i in range(args.pairs):
        order = ["new", "baseline"] if i % 2 == 0 else ["baseline", "new"]
        for which in order:
            runs[which].append(one_run(args.binary if which == "new" else args.baseline, args.model_base))
    print("| binary | start to ready (median ms) | RSS ready (median MiB) | RSS after 200 requests (median MiB) "
          "| worker processes | TensorFlow mapped |")
    print("|---|---|---|---|---|---|")
    for which, label in (("new", "with the TensorFlow engine"), ("baseline", "baseline (no TensorFlow engine)")):
        r = runs[which]
        print(f"| {label} | {statistics.median(x['ready_s'] for x in r) * 1000:.1f} "
              f"| {statistics.median(x['rss_ready_kib'] for x in r) / 1024:.2f} "
              f"| {statistics.median(x['rss_used_kib'] for x in r) / 1024:.2f} "
              f"| {max(x['children'] for x in r)} | {any(x['tf_mapped'] for x in r)} |")
    d_ready = statistics.median(x["ready_s"] for x in runs["new"]) - statistics.median(x["ready_s"] for x in runs["baseline"])
    d_rss = (statistics.median(x["rss_used_kib"] for x in runs["new"])
             - statistics.median(x["rss_used_kib"] for x in runs["baseline"])) / 1024
    print(f"\ndifference (new - baseline): start {d_ready * 1000:+.1f} ms, RSS {d_rss:+.2f} MiB "
          f"({args.pairs} ABBA pairs)")
    return 0 if abs(d_ready) <= 0.050 and abs(d_rss) <= 2.0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
