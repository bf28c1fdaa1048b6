#!/usr/bin/env python3
"""Rapid-reset run against the real serval binary, once per allocator setting: how much memory a flood of
gRPC calls that are opened and cancelled at once makes the server take (peak) and keep (after the flood).

Each client task loops: start a Predict (--rows x 16 floats per input), yield once, cancel it — the client sends
HEADERS+DATA then RST_STREAM, the pattern of CVE-2023-44487. Bounded in time (--seconds) and count
(--max-calls per variant). Loopback only.

  .venv/bin/python bench/rapid_reset.py --binary build/src/server/serval --models build/models [--seconds 20]

Prints one row per variant: calls, VmRSS before, VmHWM (peak), VmRSS 2 s and 10 s after the flood.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import grpc
import numpy as np
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

VARIANTS = {
    "glibc (default)": {},
    "glibc MALLOC_ARENA_MAX=2": {"MALLOC_ARENA_MAX": "2"},
    "glibc MALLOC_ARENA_MAX=1": {"MALLOC_ARENA_MAX": "1"},
    "glibc + malloc_trim(0) at 2 s": {"_trim": "1"},
    "jemalloc 5.3 (LD_PRELOAD)": {"LD_PRELOAD": "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"},
    "mimalloc 2.0 (LD_PRELOAD)": {"LD_PRELOAD": "/usr/lib/x86_64-linux-gnu/libmimalloc.so.2"},
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def request(rows: int) -> predict_pb2.PredictRequest:
    r = predict_pb2.PredictRequest()
    r.model_spec.name = "add"
    data = np.ones((rows, 16), dtype=np.float32)
    for name in ("a", "b"):
        t = r.inputs[name]
        t.dtype = 1
        t.tensor_shape.dim.add().size = rows
        t.tensor_shape.dim.add().size = 16
        t.tensor_content = data.tobytes()
    return r


async def flood(port: int, seconds: float, max_calls: int, tasks: int, rows: int) -> tuple[int, int]:
    """Returns (calls started, channel failures seen)."""
    req = request(rows)
    done = 0
    failures = 0
    deadline = time.monotonic() + seconds
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)

        async def loop():
            nonlocal done, failures
            while time.monotonic() < deadline and done < max_calls:
                call = stub.Predict(req, timeout=10)
                done += 1
                await asyncio.sleep(0)
                call.cancel()
                try:
                    await call
                except asyncio.CancelledError:
                    pass
                except grpc.aio.AioRpcError as e:
                    if e.code() != grpc.StatusCode.CANCELLED:
                        failures += 1

        await asyncio.gather(*(loop() for _ in range(tasks)))
    return done, failures


def run_variant(binary: str, models: str, env_extra: dict, seconds: float, max_calls: int, tasks: int, rows: int):
    port, rest = free_port(), free_port()
    trim = env_extra.get("_trim") == "1"
    env = dict(os.environ, **{k: v for k, v in env_extra.items() if not k.startswith("_")})
    log = tempfile.NamedTemporaryFile(prefix="serval-reset-", suffix=".log", delete=False)
    proc = subprocess.Popen([binary, f"--port={port}", f"--rest_api_port={rest}", "--rest_api_address=127.0.0.1",
                             "--model_name=add", f"--model_base_path={models}/add"], env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", rest), timeout=1) as s:
                    s.sendall(b"GET /v2/health/ready HTTP/1.1\r\nHost: x\r\n\r\n")
                    if b" 200 " in s.recv(200):
                        break
            except OSError:
                pass
            time.sleep(0.2)
        time.sleep(1)
        before = status_kb(proc.pid, "VmRSS")
        calls, failures = asyncio.run(flood(port, seconds, max_calls, tasks, rows))
        alive = proc.poll() is None
        time.sleep(2)
        after2 = status_kb(proc.pid, "VmRSS")
        if trim:  # what a malloc_trim(0) in the server would give back (called from outside, through gdb)
            subprocess.run(["gdb", "-p", str(proc.pid), "-batch", "-ex", "call (int)malloc_trim(0)"],
                           capture_output=True, timeout=60)
        time.sleep(8)
        after10 = status_kb(proc.pid, "VmRSS")
        peak = status_kb(proc.pid, "VmHWM")
        return calls, failures, alive, before, peak, after2, after10
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            print(f"  (server did not stop within 60 s of SIGTERM: killed; log {log.name})", flush=True)
            proc.kill()
            proc.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default="build/src/server/serval")
    parser.add_argument("--models", default="build/models")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--max-calls", type=int, default=200_000)
    parser.add_argument("--tasks", type=int, default=64)
    parser.add_argument("--rows", type=int, default=1024, help="rows of 16 floats per input (x2 inputs)")
    parser.add_argument("--only", default="", help="comma-separated substrings of variant names")
    args = parser.parse_args()
    print(f"{'variant':28} {'calls':>7} {'fail':>5} {'RSS before':>10} {'peak':>8} {'after 2s':>9} {'after 10s':>9}")
    for name, env in VARIANTS.items():
        if args.only and not any(s in name for s in args.only.split(",")):
            continue
        calls, failures, alive, before, peak, after2, after10 = run_variant(
            args.binary, args.models, env, args.seconds, args.max_calls, args.tasks, args.rows)
        mb = lambda kb: f"{kb / 1024:.0f} MB"  # noqa: E731
        print(f"{name:28} {calls:7d} {failures:5d} {mb(before):>10} {mb(peak):>8} {mb(after2):>9} {mb(after10):>9}"
              + ("" if alive else "  SERVER DIED"), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
