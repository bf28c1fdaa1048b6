"""First honest latency number: one client calling the tiny `add` model over REST, next to a direct
in-process ONNX Runtime call on the same model and input, in the same run.

Usage: .venv/bin/python tools/bench/rest_vs_inprocess.py --port 8501 --model-file build/models/add/2/model.onnx
The REST client is a raw keep-alive socket (no HTTP library) so the client's own cost stays small; it is
still Python, so the REST figure includes ~10 µs of client overhead. serval-bench (C++) replaces this.
"""
import argparse
import json
import socket
import statistics
import time

import numpy as np
import onnxruntime as ort


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p / 100))]


def read_response(sock, buffer):
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        buffer += chunk
    head, _, rest = buffer.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(rest) < length:
        rest += sock.recv(65536)
    status = int(head.split(b" ", 2)[1])
    return status, rest[:length], rest[length:]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8501)
    parser.add_argument("--model-file", required=True)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--protocol", choices=["tfs", "kserve"], default="kserve")
    args = parser.parse_args()

    a = np.arange(16, dtype=np.float32).reshape(1, 16)
    b = np.ones((1, 16), dtype=np.float32)
    if args.protocol == "kserve":
        path = "/v2/models/add/infer"
        body = json.dumps({"inputs": [
            {"name": "a", "shape": [1, 16], "datatype": "FP32", "data": a.ravel().tolist()},
            {"name": "b", "shape": [1, 16], "datatype": "FP32", "data": b.ravel().tolist()}]}).encode()
    else:
        path = "/v1/models/add:predict"
        body = json.dumps({"instances": [{"a": a[0].tolist(), "b": b[0].tolist()}]}).encode()
    request = (f"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
               f"Content-Length: {len(body)}\r\n\r\n").encode() + body

    sock = socket.create_connection((args.host, args.port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buffer = b""
    rest_us = []
    for i in range(args.requests + 200):  # bounded; the first 200 are warm-up
        start = time.perf_counter_ns()
        sock.sendall(request)
        status, payload, buffer = read_response(sock, buffer)
        elapsed = (time.perf_counter_ns() - start) / 1000
        if status != 200:
            raise SystemExit(f"request failed: {status} {payload[:200]!r}")
        if i >= 200:
            rest_us.append(elapsed)
    sock.close()

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(args.model_file, options, providers=["CPUExecutionProvider"])
    feeds = {"a": a, "b": b}
    ort_us = []
    for i in range(args.requests + 200):
        start = time.perf_counter_ns()
        session.run(None, feeds)
        elapsed = (time.perf_counter_ns() - start) / 1000
        if i >= 200:
            ort_us.append(elapsed)

    for name, values in (("REST (" + args.protocol + " JSON, 1 client, keep-alive)", rest_us),
                         ("in-process ORT (Python session.run)", ort_us)):
        print(f"{name:48s} p50 {statistics.median(values):8.1f} µs   p99 {percentile(values, 99):8.1f} µs"
              f"   n={len(values)}")


if __name__ == "__main__":
    main()
