#!/usr/bin/env python3
"""Heap allocations per request of the whole server, per surface (tiny model: add of 2×FP32[1,16]).

Counts every call the server process makes to glibc's malloc, calloc, realloc, posix_memalign and
aligned_alloc (operator new goes through malloc) with perf uprobes, while one client sends exactly N
requests one at a time; the same count over an idle period of the same length is subtracted (background
threads: file-system poller, metrics). Clients are the real ones: requests (REST JSON), tritonclient
(KServe REST binary, KServe gRPC), tensorflow-serving-api stubs (TF Serving gRPC).

Needs root (perf probe); the probes it adds are removed at the end. Loopback only; every loop is bounded.

  bench/allocs_per_request.py [--build-dir build] [--requests 2000] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
LIBC = "/lib/x86_64-linux-gnu/libc.so.6"
FUNCTIONS = ["malloc", "calloc", "realloc", "posix_memalign", "aligned_alloc"]
EVENTS = [f"probe_libc:{f}" for f in FUNCTIONS]


def add_probes() -> list[str]:
    have = subprocess.run(["perf", "probe", "-l"], capture_output=True, text=True, timeout=60).stdout
    added = []
    for f in FUNCTIONS:
        if f"probe_libc:{f} " not in have:
            subprocess.run(["perf", "probe", "-q", "-x", LIBC, "--add", f], check=True, timeout=60)
            added.append(f)
    return added


def remove_probes(added: list[str]) -> None:
    for f in added:
        subprocess.run(["perf", "probe", "-q", "--del", f"probe_libc:{f}"], timeout=60)


def count_allocations(pid: int, work) -> tuple[int, float]:
    """Runs work() while perf counts the probes in `pid`; returns (calls, seconds)."""
    with tempfile.NamedTemporaryFile("r", suffix=".txt") as out:
        perf = subprocess.Popen(["perf", "stat", "-x", ",", "-o", out.name, "-e", ",".join(EVENTS), "-p", str(pid)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)  # perf attaches
        start = time.monotonic()
        work()
        seconds = time.monotonic() - start
        perf.send_signal(2)
        perf.wait(timeout=30)
        total = 0
        for line in Path(out.name).read_text().splitlines():
            fields = line.split(",")
            if len(fields) > 2 and fields[2].startswith("probe_libc:") and re.fullmatch(r"\d+", fields[0]):
                total += int(fields[0])
        return total, seconds + 0.5


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", default="build")
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--json", default="")
    args = ap.parse_args()
    build = (REPO / args.build_dir).resolve()
    models = build / "bench-models"
    if not (models / "add" / "1" / "model.onnx").exists():
        subprocess.run([sys.executable, str(REPO / "models" / "make_models.py"), "--out", str(models), "--only", "add"],
                       check=True, timeout=600)

    import grpc
    import numpy as np
    import requests
    import tritonclient.grpc as tgrpc
    import tritonclient.http as thttp
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc
    import tensorflow as tf

    a = np.arange(16, dtype=np.float32).reshape(1, 16)
    b = np.ones((1, 16), dtype=np.float32)
    expected = a + b
    added = add_probes()
    results: dict[str, float] = {}
    work = Path(tempfile.mkdtemp(prefix="serval-allocs-"))
    try:
        server = harness.start_serval(build / "src" / "server" / "serval", work,
                                      ["--model_name=add", f"--model_base_path={models / 'add'}",
                                       "--intra_op_threads=1", "--rest_api_num_threads=1",
                                       "--file_system_poll_wait_seconds=0"], ready_models=("add",))
        rest = f"http://127.0.0.1:{server.rest_port}"
        session = requests.Session()
        tfs_body = json.dumps({"inputs": {"a": a.tolist(), "b": b.tolist()}})
        kserve_body = json.dumps({"inputs": [
            {"name": "a", "shape": [1, 16], "datatype": "FP32", "data": a.ravel().tolist()},
            {"name": "b", "shape": [1, 16], "datatype": "FP32", "data": b.ravel().tolist()}]})

        def tfs_rest():
            r = session.post(f"{rest}/v1/models/add:predict", data=tfs_body, timeout=10)
            assert r.status_code == 200 and np.allclose(r.json()["outputs"], expected), r.text

        def kserve_rest():
            r = session.post(f"{rest}/v2/models/add/infer", data=kserve_body, timeout=10)
            assert r.status_code == 200 and np.allclose(r.json()["outputs"][0]["data"], expected.ravel()), r.text

        http_client = thttp.InferenceServerClient(f"127.0.0.1:{server.rest_port}")
        http_inputs = [thttp.InferInput("a", [1, 16], "FP32"), thttp.InferInput("b", [1, 16], "FP32")]
        http_inputs[0].set_data_from_numpy(a, binary_data=True)
        http_inputs[1].set_data_from_numpy(b, binary_data=True)
        http_outputs = [thttp.InferRequestedOutput("sum", binary_data=True)]

        def kserve_rest_binary():
            r = http_client.infer("add", http_inputs, outputs=http_outputs)
            assert np.array_equal(r.as_numpy("sum"), expected)

        channel = grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}")
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        predict = predict_pb2.PredictRequest()
        predict.model_spec.name = "add"
        predict.inputs["a"].CopyFrom(tf.make_tensor_proto(a))
        predict.inputs["b"].CopyFrom(tf.make_tensor_proto(b))

        def tfs_grpc():
            r = stub.Predict(predict, timeout=10)
            assert np.array_equal(tf.make_ndarray(r.outputs["sum"]), expected)

        grpc_client = tgrpc.InferenceServerClient(f"127.0.0.1:{server.grpc_port}")
        grpc_inputs = [tgrpc.InferInput("a", [1, 16], "FP32"), tgrpc.InferInput("b", [1, 16], "FP32")]
        grpc_inputs[0].set_data_from_numpy(a)
        grpc_inputs[1].set_data_from_numpy(b)

        def kserve_grpc():
            r = grpc_client.infer("add", grpc_inputs)
            assert np.array_equal(r.as_numpy("sum"), expected)

        surfaces = {"tfs-rest": tfs_rest, "kserve-rest": kserve_rest, "kserve-rest-binary": kserve_rest_binary,
                    "tfs-grpc": tfs_grpc, "kserve-grpc": kserve_grpc}
        for name, call in surfaces.items():
            for _ in range(300):  # warm-up: connections, arenas, the model's first runs
                call()

            def loop(call=call):
                for _ in range(args.requests):
                    call()

            calls, seconds = count_allocations(server.pid, loop)
            idle, idle_seconds = count_allocations(server.pid, lambda s=seconds - 0.5: time.sleep(s))
            per_request = (calls - idle * seconds / idle_seconds) / args.requests
            results[name] = round(per_request, 2)
            print(f"{name:20s} {per_request:8.2f} allocations/request  ({calls} calls in {seconds:.1f} s, "
                  f"idle {idle} in {idle_seconds:.1f} s)", flush=True)
        server.stop()
    finally:
        harness.stop_all()
        remove_probes(added)
    if args.json:
        Path(args.json).write_text(json.dumps({"requests": args.requests, "allocations_per_request": results,
                                               "git": subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"],
                                                                     capture_output=True, text=True).stdout.strip()},
                                              indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
