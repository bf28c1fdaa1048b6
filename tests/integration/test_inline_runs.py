"""Inline runs (core/inline_run.h): a short, unbatched model's calls run on the thread that received them (gRPC
callback thread, REST io thread) instead of being handed to a worker and back. Checked on the real binary:
the answers are the same inline and handed off (both compared with onnxruntime in process), a slow model is
still handed off (health answers at once while it runs), --inline_max_run_micros=0 turns inlining off, and a
passed deadline is still reported DEADLINE_EXCEEDED by the server. serval_inline_calls_total tells which way
each call went."""

from __future__ import annotations

import json
import re
import statistics
import threading
import time

import grpc
import numpy as np
import pytest
import requests
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc
from tritonclient.grpc import service_pb2, service_pb2_grpc

from conftest import ServerProcess, assert_bitwise_equal, parse_kserve_response

PROM_PATH = "/monitoring/prometheus/metrics"
RPC_TIMEOUT_S = 30
CALLS = 40  # per surface and mode: enough for the run-time estimate (3 runs) and many inline runs after it


def start(name: str, args: list[str], tmp_path, model: str, base: str) -> ServerProcess:
    cfg = tmp_path / f"{name}.monitoring.config"
    cfg.write_text(f'prometheus_config {{ enable: true path: "{PROM_PATH}" }}\n')
    return ServerProcess(name, [f"--model_name={model}", f"--model_base_path={base}", "--rest_api_num_threads=2",
                                f"--monitoring_config_file={cfg}", *args], ready_models=[model]).start()


def inline_counts(srv: ServerProcess) -> dict[tuple[str, str], int]:
    text = requests.get(srv.url + PROM_PATH, timeout=30).text
    out = {}
    for protocol, outcome, value in re.findall(
            r'^serval_inline_calls_total\{protocol="(\w+)",outcome="(\w+)"\} (\d+)', text, re.M):
        out[(protocol, outcome)] = int(value)
    return out


def tensor_proto(arr: np.ndarray):
    from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2
    return tensor_pb2.TensorProto(
        dtype=types_pb2.DT_FLOAT,
        tensor_shape=tensor_shape_pb2.TensorShapeProto(dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=d)
                                                            for d in arr.shape]),
        tensor_content=arr.tobytes())


def run_every_surface(srv: ServerProcess, ref, rng) -> None:
    """CALLS calls over each of TF Serving REST, KServe REST, TF Serving gRPC and KServe gRPC, each answer
    compared bit for bit with onnxruntime's."""
    channel = grpc.insecure_channel(f"127.0.0.1:{srv.grpc_port}")
    tfs = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    kserve = service_pb2_grpc.GRPCInferenceServiceStub(channel)
    session = requests.Session()
    try:
        for i in range(CALLS):
            a = rng.standard_normal((2, 16)).astype(np.float32)
            b = rng.standard_normal((2, 16)).astype(np.float32)
            want = ref.run("add", {"a": a, "b": b}, version=2)["sum"]

            r = session.post(srv.url + "/v1/models/add:predict",
                             data=json.dumps({"inputs": {"a": a.tolist(), "b": b.tolist()}}), timeout=30)
            assert r.status_code == 200, r.text
            assert_bitwise_equal(np.asarray(r.json()["outputs"], dtype=np.float32), want, f"tfs-rest {i}")

            body = {"inputs": [{"name": n, "datatype": "FP32", "shape": [2, 16], "data": v.ravel().tolist()}
                               for n, v in (("a", a), ("b", b))]}
            r = session.post(srv.url + "/v2/models/add/infer", data=json.dumps(body), timeout=30)
            assert r.status_code == 200, r.text
            _, outputs = parse_kserve_response(r)
            assert_bitwise_equal(outputs["sum"], want, f"kserve-rest {i}")

            req = predict_pb2.PredictRequest()
            req.model_spec.name = "add"
            req.inputs["a"].CopyFrom(tensor_proto(a))
            req.inputs["b"].CopyFrom(tensor_proto(b))
            resp = tfs.Predict(req, timeout=RPC_TIMEOUT_S)
            got = resp.outputs["sum"]
            values = np.frombuffer(got.tensor_content, dtype=np.float32) if got.tensor_content else np.asarray(
                got.float_val, dtype=np.float32)
            assert_bitwise_equal(values.reshape(2, 16), want, f"tfs-grpc {i}")

            kreq = service_pb2.ModelInferRequest(model_name="add")
            for n, v in (("a", a), ("b", b)):
                kreq.inputs.add(name=n, datatype="FP32", shape=[2, 16])
                kreq.raw_input_contents.append(v.tobytes())
            kresp = kserve.ModelInfer(kreq, timeout=RPC_TIMEOUT_S)
            assert_bitwise_equal(np.frombuffer(kresp.raw_output_contents[0], dtype=np.float32).reshape(2, 16), want,
                                 f"kserve-grpc {i}")
    finally:
        session.close()
        channel.close()


@pytest.mark.parametrize("mode", ["inline", "off"])
def test_answers_identical_inline_and_handed_off(tmp_path, models_dir, ref, mode):
    # Inline: a threshold far above any run of this tiny model, even under ASan on a loaded machine, so the counts
    # check the decision rather than the machine's speed (the default 200 µs is tested by the bench, not here).
    args = ["--inline_max_run_micros=20000"] if mode == "inline" else ["--inline_max_run_micros=0"]
    srv = start(f"inline-{mode}", args, tmp_path, "add", str(models_dir / "add"))
    try:
        run_every_surface(srv, ref, np.random.default_rng(11))
        counts = inline_counts(srv)
        if mode == "inline":
            # The first calls of each surface are handed off (the run time is not known yet); after that the tiny
            # model runs where the call arrived.
            for protocol in ("rest", "grpc"):
                assert counts[(protocol, "inline")] >= 2 * CALLS - 10, counts
                assert counts[(protocol, "handed_off")] >= 1, counts
        else:
            # The flag at 0: nothing is even tried inline.
            assert all(v == 0 for v in counts.values()), counts
    finally:
        assert srv.stop() == 0


def test_slow_model_is_handed_off_and_health_answers_at_once(tmp_path, slow_dir):
    # A threshold far above a tiny model's run but below the slow model's (~150 ms per row).
    srv = start("inline-slow", ["--inline_max_run_micros=50000"], tmp_path, "slow", str(slow_dir))
    try:
        x = np.random.default_rng(3).standard_normal((1, 256)).astype(np.float32)
        body = json.dumps({"instances": x.tolist()})
        channel = grpc.insecure_channel(f"127.0.0.1:{srv.grpc_port}")
        kserve = service_pb2_grpc.GRPCInferenceServiceStub(channel)
        req = service_pb2.ModelInferRequest(model_name="slow")
        req.inputs.add(name="x", datatype="FP32", shape=[1, 256])
        req.raw_input_contents.append(x.tobytes())
        # Enough runs for the run-time estimate to be known (and over the threshold).
        for _ in range(4):
            assert requests.post(srv.url + "/v1/models/slow:predict", data=body, timeout=60).status_code == 200
            kserve.ModelInfer(req, timeout=60)

        results: list = []

        def rest_call():
            results.append(requests.post(srv.url + "/v1/models/slow:predict", data=body, timeout=60).status_code)

        def grpc_call():
            kserve.ModelInfer(req, timeout=60)
            results.append(200)

        threads = [threading.Thread(target=f, daemon=True) for f in (rest_call, rest_call, grpc_call, grpc_call)]
        for t in threads:
            t.start()
        time.sleep(0.1)
        latencies = []
        grpc_live = []
        for _ in range(10):
            t0 = time.monotonic()
            assert requests.get(srv.url + "/v2/health/live", timeout=10).status_code == 200
            latencies.append(time.monotonic() - t0)
            t0 = time.monotonic()
            assert kserve.ServerLive(service_pb2.ServerLiveRequest(), timeout=10).live
            grpc_live.append(time.monotonic() - t0)
        for t in threads:
            t.join(timeout=120)
        channel.close()
        assert results == [200] * 4, results
        for what, values in (("REST live", latencies), ("gRPC ServerLive", grpc_live)):
            median_ms = statistics.median(values) * 1000
            print(f"{what}: median {median_ms:.1f} ms, worst {max(values) * 1000:.1f} ms while slow runs are busy")
            assert median_ms < 50, (what, values)
        counts = inline_counts(srv)
        assert counts[("rest", "inline")] == 0 and counts[("grpc", "inline")] == 0, counts
        assert counts[("rest", "handed_off")] >= 6 and counts[("grpc", "handed_off")] >= 6, counts
    finally:
        assert srv.stop() == 0


def test_passed_deadline_is_reported_inline(tmp_path, slow_dir):
    """A gRPC call run inline on the callback thread whose deadline passes while the model runs is stopped
    by the engine and answered DEADLINE_EXCEEDED, as on a worker. The slow model (~150 ms a row) is made
    eligible by a threshold far above its run time."""
    srv = start("inline-deadline", ["--inline_max_run_micros=10000000"], tmp_path, "slow", str(slow_dir))
    try:
        channel = grpc.insecure_channel(f"127.0.0.1:{srv.grpc_port}")
        kserve = service_pb2_grpc.GRPCInferenceServiceStub(channel)
        x = np.random.default_rng(5).standard_normal((1, 256)).astype(np.float32)
        req = service_pb2.ModelInferRequest(model_name="slow")
        req.inputs.add(name="x", datatype="FP32", shape=[1, 256])
        req.raw_input_contents.append(x.tobytes())
        for _ in range(3):  # no deadline: handed off while the run time is unknown, and recorded
            kserve.ModelInfer(req)
        counts = inline_counts(srv)
        assert counts[("grpc", "inline")] == 0 and counts[("grpc", "handed_off")] == 3, counts
        before = requests.get(srv.url + PROM_PATH, timeout=30).text
        with pytest.raises(grpc.RpcError) as failed:
            kserve.ModelInfer(req, timeout=0.03)
        assert failed.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        # The server ran it inline and its engine stopped the run at the deadline (the client's own timer
        # alone would leave these counters alone).
        def cancelled(text: str) -> int:
            m = re.search(r'^serval_engine_runs_cancelled_total\{reason="deadline_exceeded"\} (\d+)', text, re.M)
            return int(m.group(1)) if m else 0
        deadline = time.monotonic() + 10
        after = requests.get(srv.url + PROM_PATH, timeout=30).text
        while cancelled(after) == cancelled(before) and time.monotonic() < deadline:
            time.sleep(0.05)
            after = requests.get(srv.url + PROM_PATH, timeout=30).text
        assert cancelled(after) == cancelled(before) + 1, [line for line in after.splitlines() if "deadline" in line]
        assert inline_counts(srv)[("grpc", "inline")] == 1
        kserve.ModelInfer(req)  # and the server goes on answering
        channel.close()
    finally:
        assert srv.stop() == 0
