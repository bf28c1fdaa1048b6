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


def _regress_with_context(context_floats: list[float], examples: int) -> bytes:
    """A RegressionRequest for `wide` (hand-encoded: the tensorflow protos would import TensorFlow): `examples`
    empty tf.Examples that all take the context's feature x."""
    x = _field(2, _field(1, struct.pack(f"<{len(context_floats)}f", *context_floats)))  # float_list, packed
    context = _field(1, _field(1, _field(1, b"x") + _field(2, x)))  # features { feature { key: x value } }
    with_context = _field(1, b"") * examples + _field(2, context)
    return _field(1, _field(1, b"wide")) + _field(2, _field(2, with_context))


def grpc_regress_context_broadcast(srv) -> tuple[str, str]:
    n, examples = 16384, 32768  # a 64 KB context, 32k empty examples: 2 GiB once broadcast
    request = _regress_with_context([1.0] * n, examples)
    with grpc.insecure_channel(f"127.0.0.1:{srv.grpc_port}") as channel:
        regress = channel.unary_unary("/tensorflow.serving.PredictionService/Regress")
        try:
            regress(request, timeout=120)
            code = "OK"
        except grpc.RpcError as e:
            code = e.code().name
    return f"gRPC Regress, a {n}-float context feature and {examples} empty examples, {len(request) // 1024} KB", code


def tfs_output_follows_request(rows: int, cols: int):
    def case(srv) -> tuple[str, int]:
        body = json.dumps({"inputs": {"shape": [rows, cols]}}).encode()
        r = requests.post(srv.url + "/v1/models/shaped:predict", data=body, timeout=120)
        return f"TF Serving REST, a {len(body)}-byte request for a [{rows}, {cols}] output (cap 1 MiB)", r.status_code
    return case


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
def wide_dir(tmp_path_factory) -> Path:
    return make_wide(tmp_path_factory.mktemp("wide") / "wide")


def make_wide(base: Path) -> Path:
    """`wide`: y[b, 0] = sum over n of x[b, n], x FLOAT [batch, n] with n free, so tf.Example features of any
    length map onto it (a regression signature: one [batch, 1] float output)."""
    import onnx
    from onnx import TensorProto, helper

    axes = helper.make_tensor("axes", TensorProto.INT64, [1], [1])
    graph = helper.make_graph(
        [helper.make_node("ReduceSum", ["x", "axes"], ["y"], keepdims=1)], "wide",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "n"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 1])], initializer=[axes])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    (base / "1").mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(base / "1" / "model.onnx"))
    return base


def make_shaped(base: Path) -> Path:
    """`shaped`: zeros = ConstantOfShape(shape), shape INT64 [2]: the output's size follows the request's values."""
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("ConstantOfShape", ["shape"], ["zeros"])], "shaped",
        [helper.make_tensor_value_info("shape", TensorProto.INT64, [2])],
        [helper.make_tensor_value_info("zeros", TensorProto.FLOAT, ["rows", "cols"])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    (base / "1").mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(base / "1" / "model.onnx"))
    return base


@pytest.fixture(scope="module")
def budget_server(models_dir, wide_dir, tmp_path_factory):
    shaped = make_shaped(tmp_path_factory.mktemp("shaped") / "shaped")
    config = _config(models_dir, {"wide": wide_dir, "shaped": shaped})
    monitoring = config.parent / "monitoring.config"
    monitoring.write_text("prometheus_config { enable: true }\n")
    srv = ServerProcess("memory-budget",
                        [f"--model_config_file={config}", f"--monitoring_config_file={monitoring}", *BUDGET_ARGS],
                        ready_models=["add", "multitype", "wide", "shaped"])
    srv.start()
    yield srv
    assert srv.stop() == 0


def _config(models_dir: Path, extra: dict[str, Path] | None = None) -> Path:
    import tempfile

    models = {m: models_dir / m for m in ("add", "multitype")} | (extra or {})
    path = Path(tempfile.mkdtemp(prefix="serval-budget-")) / "models.config"
    path.write_text("model_config_list {\n" + "".join(
        f"  config {{ name: '{m}' base_path: '{base}' model_platform: 'onnx' }}\n"
        for m, base in models.items()) + "}\n")
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
    (grpc_regress_context_broadcast, "RESOURCE_EXHAUSTED"),
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


def test_context_broadcast_within_the_budget_is_answered(budget_server):
    # The same shape of request, small: every empty example takes the context's values.
    request = _regress_with_context([1.0, 2.5, -0.5], 3)
    with grpc.insecure_channel(f"127.0.0.1:{budget_server.grpc_port}") as channel:
        reply = channel.unary_unary("/tensorflow.serving.PredictionService/Regress")(request, timeout=30)
    # RegressionResponse { result (1) { regressions (1) { value (1): float } } }: three values of 3.0
    assert reply.count(b"\x0d" + struct.pack("<f", 3.0)) == 3, reply.hex()


@pytest.mark.parametrize("case", [rest_response_over_cap, tfs_output_follows_request(1 << 26, 0),
                                  tfs_output_follows_request(4096, 4096)], ids=["kserve", "empty_lists", "zeros"])
def test_response_cap_is_checked_before_encoding(budget_server, case):
    refused = metric(budget_server, "serval_request_memory_refused_total", '{reason="response"}')
    t0 = time.monotonic()
    growth, (what, got) = peak_growth(budget_server.proc.pid, lambda: case(budget_server))
    print(f"\n{what}: {got} in {time.monotonic() - t0:.2f} s, peak RSS growth {growth / MIB:.0f} MiB")
    assert got == 429, what
    # [4096, 4096] zeros: the model's own 64 MiB output exists before the cap can look at it; nothing more.
    assert growth < 96 * MIB, f"{what}: RSS grew {growth / MIB:.0f} MiB"
    assert metric(budget_server, "serval_request_memory_refused_total", '{reason="response"}') == refused + 1
    assert_alive_budget(budget_server)


def assert_alive_budget(srv):
    assert srv.alive()
    r = requests.post(srv.url + "/v1/models/add:predict", json={"inputs": {"a": [[1.0] * 16], "b": [[2.0] * 16]}},
                      timeout=30)
    assert r.status_code == 200, r.text
    assert metric(srv, "serval_request_memory_bytes") == 0  # every charge came back


# --- the process-wide budget: requests in flight share it ----------------------------------------------
# A request holds what it charged until it ends. One slow KServe gRPC request carrying a 20 MiB unknown field
# (protobuf keeps unknown fields, so the parse charges them, and the wire bytes joined for it) holds about
# 40 MiB of a 48 MiB budget for seconds;
# meanwhile a request that alone fits is refused as "busy" (503 + Retry-After on REST,
# RESOURCE_EXHAUSTED on gRPC), and answered once the slow one has finished.

SHARED_BUDGET = 48 * MIB
HOLD_BYTES = 20 * MIB
ADD_ROWS = 8 * MIB // 64  # two FP32 inputs of 8 MiB (rows x 16 floats), an 8 MiB output and its encoding: 32 MiB


def _start_shared_budget_server(name: str, models_dir: Path, slow_dir: Path, tmp: Path) -> ServerProcess:
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "monitoring.config").write_text("prometheus_config { enable: true }\n")
    (tmp / "models.config").write_text(
        "model_config_list {\n"
        f"  config {{ name: 'add' base_path: '{models_dir / 'add'}' model_platform: 'onnx' }}\n"
        f"  config {{ name: 'slow' base_path: '{slow_dir}' model_platform: 'onnx' }}\n}}\n")
    srv = ServerProcess(name, [
        f"--model_config_file={tmp / 'models.config'}", f"--monitoring_config_file={tmp / 'monitoring.config'}",
        f"--request_memory_budget_bytes={SHARED_BUDGET}", f"--max_request_memory_bytes={SHARED_BUDGET}",
        f"--max_response_bytes={64 * MIB}", f"--grpc_max_message_size_bytes={64 * MIB}"],
        ready_models=["add", "slow"])
    srv.start()
    return srv


@pytest.fixture(scope="module")
def shared_budget_server(models_dir, slow_dir, tmp_path_factory):
    srv = _start_shared_budget_server("shared-budget", models_dir, slow_dir, tmp_path_factory.mktemp("shared-budget"))
    yield srv
    assert srv.stop() == 0


def _hold_budget(srv, done: dict) -> threading.Thread:
    from conftest import kserve_slow_request

    message = kserve_slow_request(rows=256).SerializeToString() + _field(99, bytes(HOLD_BYTES))

    def run():
        with grpc.insecure_channel(f"127.0.0.1:{srv.grpc_port}",
                                   options=[("grpc.max_send_message_length", 1 << 30),
                                            ("grpc.max_receive_message_length", 1 << 30)]) as channel:
            infer = channel.unary_unary("/inference.GRPCInferenceService/ModelInfer")
            try:
                infer(message, timeout=300)
                done["code"] = "OK"
            except grpc.RpcError as e:
                done["code"] = e.code().name

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while metric(srv, "serval_request_memory_bytes") < HOLD_BYTES:
        assert time.monotonic() < deadline and thread.is_alive(), f"the slow request never held the budget: {done}"
        time.sleep(0.05)
    time.sleep(0.3)  # the parse's own charge follows the wire bytes'
    return thread


def _add_binary_request() -> tuple[bytes, dict]:
    a = np.full((ADD_ROWS, 16), 1.5, dtype=np.float32)
    header = json.dumps({"inputs": [{"name": n, "shape": [ADD_ROWS, 16], "datatype": "FP32",
                                     "parameters": {"binary_data_size": a.nbytes}} for n in ("a", "b")],
                         "outputs": [{"name": "sum", "parameters": {"binary_data": True}}]}).encode()
    return header + a.tobytes() * 2, {"Content-Type": "application/octet-stream",
                                      "Inference-Header-Content-Length": str(len(header))}


def _add_grpc_request() -> bytes:
    from tritonclient.grpc import service_pb2

    a = np.full((ADD_ROWS, 16), 1.5, dtype=np.float32)
    req = service_pb2.ModelInferRequest(model_name="add")
    for name in ("a", "b"):
        req.inputs.add(name=name, datatype="FP32", shape=[ADD_ROWS, 16])
        req.raw_input_contents.append(a.tobytes())
    return req.SerializeToString()


def _grpc_add(srv) -> str:
    with grpc.insecure_channel(f"127.0.0.1:{srv.grpc_port}",
                               options=[("grpc.max_send_message_length", 1 << 30),
                                        ("grpc.max_receive_message_length", 1 << 30)]) as channel:
        try:
            channel.unary_unary("/inference.GRPCInferenceService/ModelInfer")(_add_grpc_request(), timeout=60)
            return "OK"
        except grpc.RpcError as e:
            return f"{e.code().name}: {e.details()}"


def test_requests_in_flight_share_the_budget(shared_budget_server):
    srv = shared_budget_server
    body, headers = _add_binary_request()
    # Alone, each request fits: the cap is per request, the budget is shared.
    r = requests.post(srv.url + "/v2/models/add/infer", data=body, headers=headers, timeout=60)
    assert r.status_code == 200, r.text[:300]
    assert _grpc_add(srv) == "OK"
    refused = metric(srv, "serval_request_memory_refused_total", '{reason="budget"}')

    tfs_body = json.dumps({"inputs": {"a": np.ones((ADD_ROWS, 16)).tolist(), "b": np.ones((ADD_ROWS, 16)).tolist()}})
    done: dict = {}
    holder = _hold_budget(srv, done)
    held = metric(srv, "serval_request_memory_bytes")
    busy = {}
    growth, _ = peak_growth(srv.proc.pid, lambda: busy.update(
        rest=requests.post(srv.url + "/v2/models/add/infer", data=body, headers=headers, timeout=60),
        tfs=requests.post(srv.url + "/v1/models/add:predict", timeout=60, data=tfs_body),
        grpc=_grpc_add(srv)))
    still_holding = holder.is_alive()
    holder.join(timeout=300)

    print(f"\nbusy: KServe REST {busy['rest'].status_code}, TF Serving REST {busy['tfs'].status_code}, "
          f"gRPC {busy['grpc'][:60]}; held {held / MIB:.0f} MiB; peak RSS growth {growth / MIB:.0f} MiB; "
          f"holder {done.get('code')}")
    assert still_holding, "the slow request ended before the busy requests were sent: the test proves nothing"
    assert busy["rest"].status_code == 503, busy["rest"].text[:300]
    assert busy["rest"].headers.get("Retry-After") == "1"
    assert "in use" in busy["rest"].json()["error"]
    assert busy["tfs"].status_code == 503, busy["tfs"].text[:300]
    assert busy["grpc"].startswith("RESOURCE_EXHAUSTED:"), busy["grpc"]
    assert done.get("code") == "OK", done
    assert metric(srv, "serval_request_memory_refused_total", '{reason="budget"}') >= refused + 3
    # The refused requests allocate nothing decoded; under ASan, quarantine and redzones keep more around.
    bound = (4 if "libasan" in Path(f"/proc/{srv.proc.pid}/maps").read_text() else 2) * SHARED_BUDGET
    assert growth < bound, f"RSS grew {growth / MIB:.0f} MiB"
    # Once the slow request has ended, its memory is back and the same requests are answered.
    assert metric(srv, "serval_request_memory_bytes") == 0
    r = requests.post(srv.url + "/v2/models/add/infer", data=body, headers=headers, timeout=60)
    assert r.status_code == 200, r.text[:300]
    assert _grpc_add(srv) == "OK"


def test_stop_after_grpc_traffic_is_prompt(models_dir, slow_dir, tmp_path):
    """SIGTERM after gRPC traffic (a held budget, a refused call, answered calls) ends the server at once.

    gRPC's library shutdown, run by the last grpc::Server's destructor, joins its executor threads, and one of
    them could sit in a 10 s epoll_wait: the server above took 10 s to stop in 3 of 9 ASan runs (gdb named the
    join). Serval now holds the library for the life of the process, so no stop waits on that join."""
    for cycle in range(3):
        srv = _start_shared_budget_server(f"grpc-stop-{cycle}", models_dir, slow_dir, tmp_path / str(cycle))
        try:
            done: dict = {}
            holder = _hold_budget(srv, done)
            refused = _grpc_add(srv)
            holder.join(timeout=300)
            assert refused.startswith("RESOURCE_EXHAUSTED:"), refused
            assert done.get("code") == "OK", done
            assert _grpc_add(srv) == "OK"
        finally:
            log_from = srv.log_size()
            start = time.monotonic()
            code = srv.stop()
            took = time.monotonic() - start
        assert code == 0
        assert took < 5, f"cycle {cycle}: the server took {took:.1f} s to stop:\n{srv.log_since(log_from)}"
        assert "stopping: gRPC server took" not in srv.log_since(log_from)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--models", required=True)
    parser.add_argument("--no-budget-flags", action="store_true", help="for a binary without the budget flags")
    args = parser.parse_args()
    import conftest

    conftest.BINARY = Path(args.binary)
    extra = [] if args.no_budget_flags else BUDGET_ARGS
    import tempfile

    scratch = Path(tempfile.mkdtemp(prefix="serval-cases-"))
    config = _config(Path(args.models), {"wide": make_wide(scratch / "wide"), "shaped": make_shaped(scratch / "shaped")})
    srv = ServerProcess("memory-cases", ["--model_config_file=" + str(config), *extra],
                        ready_models=["add", "multitype", "wide", "shaped"])
    srv.start()
    try:
        for case in (kserve_json_empty_strings, tfs_json_empty_strings, kserve_binary_empty_bytes,
                     grpc_empty_string_val, kserve_grpc_empty_bytes_contents, grpc_regress_context_broadcast,
                     rest_response_over_cap, tfs_output_follows_request(1 << 26, 0),
                     tfs_output_follows_request(4096, 4096)):
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
