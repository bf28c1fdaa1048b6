"""The serving frontend's rules, the same on all four surfaces (TF Serving REST and gRPC, KServe REST and gRPC),
against the real binary with the official clients:

* a deadline far in the future (two years) is no deadline: the request runs and answers;
* a request whose client cancels or hangs up while it waits for a worker is not run: the engine never starts
  it, and serval_engine_runs_skipped_total{reason="client_disconnected"} counts it.
"""
from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

import grpc
import numpy as np
import pytest
import requests

from conftest import HTTP_TIMEOUT_S, ServerProcess, kserve_slow_request
from test_operations import PROM_PATH, value

TWO_YEARS_S = 2 * 365 * 24 * 3600.0
# The largest --rest_api_timeout_in_ms the flag takes (int32, ~24.8 days). REST has no client deadline: the
# flag is its only one, and the frontend's one-year rule is unit-tested (rest_router_test).
MAX_REST_TIMEOUT_MS = 2**31 - 1


def tfs_predict_request(model: str, inputs: dict[str, np.ndarray]):
    from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2
    from tensorflow_serving.apis import predict_pb2
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    for name, x in inputs.items():
        proto = tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, tensor_content=x.astype(np.float32).tobytes())
        proto.tensor_shape.CopyFrom(tensor_shape_pb2.TensorShapeProto(
            dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=d) for d in x.shape]))
        request.inputs[name].CopyFrom(proto)
    return request


def scrape(srv: ServerProcess) -> str:
    return requests.get(srv.url + PROM_PATH, timeout=HTTP_TIMEOUT_S).text


def slow_server(name: str, tmp: Path, slow_dir: Path, extra=()) -> ServerProcess:
    """The slow model, unbatched, one gRPC worker and one REST worker: a second request waits for the first."""
    (tmp / "monitoring.config").write_text(f'prometheus_config {{ enable: true path: "{PROM_PATH}" }}\n')
    return ServerProcess(name, [f"--model_name=slow", f"--model_base_path={slow_dir}",
                                f"--monitoring_config_file={tmp / 'monitoring.config'}", "--grpc_max_threads=1",
                                "--rest_api_num_threads=1", *extra], ready_models=["slow"]).start()


# ----------------------------------------------------------------------------------------------------------
# a deadline far in the future is no deadline
# ----------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def far_server(models_dir, tmp_path_factory) -> ServerProcess:
    srv = ServerProcess("far-deadline", [f"--model_name=add", f"--model_base_path={models_dir / 'add'}",
                                         f"--rest_api_timeout_in_ms={MAX_REST_TIMEOUT_MS}"],
                        ready_models=["add"]).start()
    yield srv
    assert srv.stop() == 0


def add_inputs():
    rng = np.random.default_rng(5)
    return rng.standard_normal((2, 16)).astype(np.float32), rng.standard_normal((2, 16)).astype(np.float32)


def test_far_deadline_tfs_grpc(far_server):
    from tensorflow_serving.apis import prediction_service_pb2_grpc
    a, b = add_inputs()
    request = tfs_predict_request("add", {"a": a, "b": b})
    with grpc.insecure_channel(f"127.0.0.1:{far_server.grpc_port}") as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        response = stub.Predict(request, timeout=TWO_YEARS_S)
    out = next(iter(response.outputs.values()))
    got = np.frombuffer(out.tensor_content, np.float32) if out.tensor_content else np.asarray(out.float_val)
    assert np.allclose(got.reshape(2, 16), a + b, rtol=1e-6)


def test_far_deadline_kserve_grpc(far_server):
    import tritonclient.grpc as tgrpc
    a, b = add_inputs()
    client = tgrpc.InferenceServerClient(f"127.0.0.1:{far_server.grpc_port}")
    try:
        inputs = [tgrpc.InferInput("a", [2, 16], "FP32"), tgrpc.InferInput("b", [2, 16], "FP32")]
        inputs[0].set_data_from_numpy(a)
        inputs[1].set_data_from_numpy(b)
        result = client.infer("add", inputs, client_timeout=TWO_YEARS_S)
        assert np.allclose(result.as_numpy(result.get_response().outputs[0].name), a + b, rtol=1e-6)
        # Health and metadata under the same far deadline.
        assert client.is_model_ready("add", client_timeout=TWO_YEARS_S)
    finally:
        client.close()


def test_far_rest_timeout_tfs_and_kserve_rest(far_server):
    import tritonclient.http as thttp
    a, b = add_inputs()
    r = requests.post(f"{far_server.url}/v1/models/add:predict",
                      json={"inputs": {"a": a.tolist(), "b": b.tolist()}}, timeout=HTTP_TIMEOUT_S)
    assert r.status_code == 200, r.text
    assert np.allclose(np.asarray(r.json()["outputs"], np.float32), a + b, rtol=1e-6)
    client = thttp.InferenceServerClient(f"127.0.0.1:{far_server.rest_port}")
    try:
        inputs = [thttp.InferInput("a", [2, 16], "FP32"), thttp.InferInput("b", [2, 16], "FP32")]
        inputs[0].set_data_from_numpy(a)
        inputs[1].set_data_from_numpy(b)
        result = client.infer("add", inputs)
        assert np.allclose(result.as_numpy(result.get_response()["outputs"][0]["name"]), a + b, rtol=1e-6)
    finally:
        client.close()


# ----------------------------------------------------------------------------------------------------------
# a request whose client went away while it waited is not run
# ----------------------------------------------------------------------------------------------------------


def skipped(text: str) -> float:
    return value(text, "serval_engine_runs_skipped_total", reason="client_disconnected")


def started(text: str) -> float:
    return value(text, "serval_engine_runs_started_total")


def expect_skipped_not_run(srv: ServerProcess, before: str, busy: threading.Thread) -> None:
    """After the busy request finished: exactly one run started (the busy one) and one was skipped."""
    busy.join(timeout=120)
    assert not busy.is_alive()
    deadline = time.monotonic() + 10
    after = scrape(srv)
    while time.monotonic() < deadline and skipped(after) < skipped(before) + 1:
        time.sleep(0.1)
        after = scrape(srv)
    assert skipped(after) == skipped(before) + 1, after
    assert started(after) == started(before) + 1, "the cancelled request ran"


def raw_post(srv: ServerProcess, path: str, body: bytes, content_type: str = "application/json") -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", srv.rest_port), timeout=10)
    sock.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\n"
                 f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    return sock


@pytest.fixture(scope="module")
def cancel_server(slow_dir, tmp_path_factory) -> ServerProcess:
    srv = slow_server("cancel-before-run", tmp_path_factory.mktemp("cancel"), slow_dir)
    yield srv
    assert srv.stop() == 0


BUSY_ROWS = 64  # seconds of work on the one worker: the second request waits long enough to be cancelled


@pytest.mark.parametrize("surface", ["tfs_grpc", "kserve_grpc"])
def test_grpc_cancelled_while_waiting_is_not_run(cancel_server, surface):
    from tensorflow_serving.apis import prediction_service_pb2_grpc
    from tritonclient.grpc import service_pb2_grpc
    srv = cancel_server
    x = np.random.default_rng(3).standard_normal((1, 256)).astype(np.float32)
    with grpc.insecure_channel(f"127.0.0.1:{srv.grpc_port}") as channel:
        if surface == "tfs_grpc":
            stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
            call = stub.Predict
            busy_request = tfs_predict_request("slow", {"x": np.repeat(x, BUSY_ROWS, axis=0)})
            waiting_request = tfs_predict_request("slow", {"x": x})
        else:
            stub = service_pb2_grpc.GRPCInferenceServiceStub(channel)
            call = stub.ModelInfer
            busy_request = kserve_slow_request(rows=BUSY_ROWS)
            waiting_request = kserve_slow_request(rows=1)
        before = scrape(srv)
        busy_future = call.future(busy_request, timeout=120)
        busy = threading.Thread(target=busy_future.result)
        busy.start()
        time.sleep(0.3)  # the busy call holds the only worker
        waiting = call.future(waiting_request, timeout=120)
        time.sleep(0.2)  # the second call waits in the worker queue
        assert waiting.cancel()
        expect_skipped_not_run(srv, before, busy)


@pytest.mark.parametrize("surface", ["tfs_rest", "kserve_rest"])
def test_rest_disconnected_while_waiting_is_not_run(cancel_server, surface):
    srv = cancel_server
    x = np.random.default_rng(3).standard_normal((1, 256)).astype(np.float32)
    if surface == "tfs_rest":
        path = "/v1/models/slow:predict"
        busy_body = json.dumps({"instances": np.repeat(x, BUSY_ROWS, axis=0).tolist()}).encode()
        waiting_body = json.dumps({"instances": x.tolist()}).encode()
    else:
        path = "/v2/models/slow/infer"

        def body(rows: np.ndarray) -> bytes:
            return json.dumps({"inputs": [{"name": "x", "shape": list(rows.shape), "datatype": "FP32",
                                           "data": rows.flatten().tolist()}]}).encode()
        busy_body, waiting_body = body(np.repeat(x, BUSY_ROWS, axis=0)), body(x)
    before = scrape(srv)
    busy = threading.Thread(target=lambda: requests.post(srv.url + path, data=busy_body, timeout=120,
                                                         headers={"Content-Type": "application/json"}))
    busy.start()
    time.sleep(0.3)  # the busy request holds the only REST worker
    sock = raw_post(srv, path, waiting_body)
    time.sleep(0.2)  # the second request waits for the worker
    sock.close()
    expect_skipped_not_run(srv, before, busy)
