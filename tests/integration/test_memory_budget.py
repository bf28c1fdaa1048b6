"""The request memory budget against the real binary: small requests that decode into far more memory than
they take on the wire are refused before the memory is allocated (RSS peak measured from /proc), with the
right status, while the server keeps answering other clients.

Each case resets the process's peak RSS (/proc/<pid>/clear_refs), sends its request, and reads VmHWM: the
growth is bounded by what the server holds by design (the body or message itself) plus the 64 MiB per-request
cap. Run as a script to print the same numbers for any binary (e.g. one without the budget):

  .venv/bin/python tests/integration/test_memory_budget.py --binary build/src/server/serval --models build/models
"""

from __future__ import annotations

import argparse
import gzip
import json
import struct
import sys
import threading
import time
from pathlib import Path

import grpc
import numpy as np
import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conftest import ServerProcess  # noqa: E402

MIB = 1 << 20
PER_REQUEST = 64 * MIB
BUDGET_ARGS = [
    f"--max_request_memory_bytes={PER_REQUEST}",
    f"--request_memory_budget_bytes={256 * MIB}",
    f"--max_response_bytes={1 * MIB}",
]
# What the server may hold by design while refusing a case: the (inflated) body or message, a copy of it,
# and at most the per-request cap of decoded data.
MAX_GROWTH = 384 * MIB


def peak_growth(pid: int, action) -> tuple[int, object]:
    """Runs action(); returns (VmHWM after - VmRSS before, action's result), the peak reset first."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")
    before = _status_kb(pid, "VmRSS")
    result = action()
    return (_status_kb(pid, "VmHWM") - before) * 1024, result


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


class Others:
    """While a case runs, another client keeps asking for small predictions: they must keep succeeding."""

    def __init__(self, url: str):
        self.url = url
        self.ok = 0
        self.failed: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        body = {"inputs": {"a": [[1.0] * 16], "b": [[1.0] * 16]}}
        while not self._stop.is_set():
            try:
                r = requests.post(self.url + "/v1/models/add:predict", json=body, timeout=30)
                if r.status_code == 200:
                    self.ok += 1
                else:
                    self.failed.append(f"{r.status_code} {r.text[:100]}")
            except requests.RequestException as e:
                self.failed.append(type(e).__name__)
            time.sleep(0.05)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=60)


# --- the cases: each returns (what it sent, the status it got) -----------------------------------------


def kserve_json_empty_strings(srv) -> tuple[str, int]:
    n = 20_000_000  # '"",' x 20M = 60 MB of JSON; each element decodes to a std::string (~48 bytes)
    header = b'{"inputs":[{"name":"in_string","shape":[%d,1],"datatype":"BYTES","data":[' % n
    body = gzip.compress(header + b'"",' * (n - 1) + b'""]}]}', compresslevel=6)
    r = requests.post(srv.url + "/v2/models/multitype/infer", data=body, timeout=120,
                      headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})
    return f"KServe JSON BYTES, {n} empty strings, {len(body) // 1024} KB gzip", r.status_code


def tfs_json_empty_strings(srv) -> tuple[str, int]:
    n = 20_000_000
    body = gzip.compress(b'{"inputs":{"in_string":[[' + b'"",' * (n - 1) + b'""]]}}', compresslevel=6)
    r = requests.post(srv.url + "/v1/models/multitype:predict", data=body, timeout=120,
                      headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})
    return f"TF Serving JSON, {n} empty strings, {len(body) // 1024} KB gzip", r.status_code


def kserve_binary_empty_bytes(srv) -> tuple[str, int]:
    n = 15_000_000  # 4-byte zero lengths: 60 MB of binary data, 15M empty elements
    header = json.dumps({"inputs": [{"name": "in_string", "shape": [n, 1], "datatype": "BYTES",
                                     "parameters": {"binary_data_size": 4 * n}}]}).encode()
    body = gzip.compress(header + bytes(4 * n), compresslevel=6)
    r = requests.post(srv.url + "/v2/models/multitype/infer", data=body, timeout=120,
                      headers={"Content-Type": "application/octet-stream", "Content-Encoding": "gzip",
                               "Inference-Header-Content-Length": str(len(header))})
    return f"KServe binary BYTES, {n} empty elements, {len(body) // 1024} KB gzip", r.status_code


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _varint(value: int) -> bytes:
    out = b""
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out += bytes([byte | 0x80])
        else:
            return out + bytes([byte])


def grpc_empty_string_val(srv) -> tuple[str, str]:
    n = 30_000_000  # 2 wire bytes each: a 60 MB PredictRequest (under the 64 MiB limit), gzip on the wire
    shape = _field(2, _field(2, b"\x08" + _varint(n)))  # tensor_shape { dim { size: n } }
    tensor = b"\x08\x07" + shape + b"\x42\x00" * n  # dtype DT_STRING, string_val "" x n
    entry = _field(1, b"in_string") + _field(2, tensor)
    request = _field(1, _field(1, b"multitype")) + _field(2, entry)
    with grpc.insecure_channel(f"127.0.0.1:{srv.grpc_port}",
                               options=[("grpc.max_send_message_length", 1 << 30)]) as channel:
        predict = channel.unary_unary("/tensorflow.serving.PredictionService/Predict")
        try:
            predict(request, timeout=120, compression=grpc.Compression.Gzip)
            code = "OK"
        except grpc.RpcError as e:
            code = e.code().name
    return f"gRPC Predict, {n} empty string_val, {len(request) // MIB} MB message (gzip)", code


def kserve_grpc_empty_bytes_contents(srv) -> tuple[str, str]:
    n = 30_000_000  # 2 wire bytes each: a 60 MB ModelInferRequest, gzip on the wire
    shape = _field(3, _varint(n) + _varint(1))  # packed shape [n, 1]
    tensor = _field(1, b"in_string") + _field(2, b"BYTES") + shape + _field(5, b"\x42\x00" * n)
    request = _field(1, b"multitype") + _field(5, tensor)
    with grpc.insecure_channel(f"127.0.0.1:{srv.grpc_port}",
                               options=[("grpc.max_send_message_length", 1 << 30)]) as channel:
        infer = channel.unary_unary("/inference.GRPCInferenceService/ModelInfer")
        try:
            infer(request, timeout=120, compression=grpc.Compression.Gzip)
            code = "OK"
        except grpc.RpcError as e:
            code = e.code().name
    return f"KServe gRPC ModelInfer, {n} empty bytes_contents, {len(request) // MIB} MB message (gzip)", code


def rest_response_over_cap(srv) -> tuple[str, int]:
    rows = 8192  # 8192 x 16 floats: 512 KB in, ~2 MB of JSON out (the cap here is 1 MiB)
    a = np.ones((rows, 16), dtype=np.float32)
    header = json.dumps({"inputs": [{"name": n, "shape": [rows, 16], "datatype": "FP32",
                                     "parameters": {"binary_data_size": a.nbytes}} for n in ("a", "b")]}).encode()
    r = requests.post(srv.url + "/v2/models/add/infer", data=header + a.tobytes() * 2, timeout=60,
                      headers={"Content-Type": "application/octet-stream",
                               "Inference-Header-Content-Length": str(len(header))})
    return f"KServe response of {rows}x16 floats as JSON (cap 1 MiB)", r.status_code


# --- the tests --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def budget_server(models_dir):
    config = _config(models_dir)
    monitoring = config.parent / "monitoring.config"
    monitoring.write_text("prometheus_config { enable: true }\n")
    srv = ServerProcess("memory-budget",
                        [f"--model_config_file={config}", f"--monitoring_config_file={monitoring}", *BUDGET_ARGS],
                        ready_models=["add", "multitype"])
    srv.start()
    yield srv
    assert srv.stop() == 0


def _config(models_dir: Path) -> Path:
    import tempfile

    path = Path(tempfile.mkdtemp(prefix="serval-budget-")) / "models.config"
    path.write_text("model_config_list {\n" + "".join(
        f"  config {{ name: '{m}' base_path: '{models_dir / m}' model_platform: 'onnx' }}\n"
        for m in ("add", "multitype")) + "}\n")
    return path


def metric(srv, name: str, labels: str = "") -> float:
    r = requests.get(srv.url + "/metrics", timeout=10)
    assert r.status_code == 200, r.text
    text = r.text
    for line in text.splitlines():
        if line.startswith(name + labels + " ") or (not labels and line.startswith(name + " ")):
            return float(line.split()[-1])
    return 0.0


@pytest.mark.parametrize("case,want", [
    (kserve_json_empty_strings, 429),
    (tfs_json_empty_strings, 429),
    (kserve_binary_empty_bytes, 429),
    (grpc_empty_string_val, "RESOURCE_EXHAUSTED"),
    (kserve_grpc_empty_bytes_contents, "RESOURCE_EXHAUSTED"),
])
def test_decoding_stops_at_the_request_cap(budget_server, case, want):
    refused = metric(budget_server, "serval_request_memory_refused_total", '{reason="request"}')
    with Others(budget_server.url) as others:
        growth, (what, got) = peak_growth(budget_server.proc.pid, lambda: case(budget_server))
    print(f"\n{what}: {got}, peak RSS growth {growth / MIB:.0f} MiB")
    assert got == want, what
    assert growth < MAX_GROWTH, f"{what}: RSS grew {growth / MIB:.0f} MiB"
    assert others.ok > 0 and not others.failed, others.failed[:5]
    assert metric(budget_server, "serval_request_memory_refused_total", '{reason="request"}') == refused + 1
    assert_alive_budget(budget_server)


def test_response_cap_is_checked_before_encoding(budget_server):
    refused = metric(budget_server, "serval_request_memory_refused_total", '{reason="response"}')
    what, got = rest_response_over_cap(budget_server)
    assert got == 429, what
    assert metric(budget_server, "serval_request_memory_refused_total", '{reason="response"}') == refused + 1
    assert_alive_budget(budget_server)


def assert_alive_budget(srv):
    assert srv.alive()
    r = requests.post(srv.url + "/v1/models/add:predict", json={"inputs": {"a": [[1.0] * 16], "b": [[2.0] * 16]}},
                      timeout=30)
    assert r.status_code == 200, r.text
    assert metric(srv, "serval_request_memory_bytes") == 0  # every charge came back


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--models", required=True)
    parser.add_argument("--no-budget-flags", action="store_true", help="for a binary without the budget flags")
    args = parser.parse_args()
    import conftest

    conftest.BINARY = Path(args.binary)
    extra = [] if args.no_budget_flags else BUDGET_ARGS
    srv = ServerProcess("memory-cases", ["--model_config_file=" + str(_config(Path(args.models))), *extra],
                        ready_models=["add", "multitype"])
    srv.start()
    try:
        for case in (kserve_json_empty_strings, tfs_json_empty_strings, kserve_binary_empty_bytes,
                     grpc_empty_string_val, kserve_grpc_empty_bytes_contents, rest_response_over_cap):
            t0 = time.monotonic()
            growth, (what, got) = peak_growth(srv.proc.pid, lambda: case(srv))
            print(f"{what}: {got} in {time.monotonic() - t0:.1f} s, peak RSS growth {growth / MIB:.0f} MiB, "
                  f"RSS after {_status_kb(srv.proc.pid, 'VmRSS') // 1024} MiB", flush=True)
            if not srv.alive():
                print("server died")
                return 1
    finally:
        srv.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
