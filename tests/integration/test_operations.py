"""Operations: Prometheus metrics (TF Serving's series names and Serval's), KServe statistics from the
same counters, bounded label cardinality, and graceful shutdown on SIGTERM (readiness false at once, accepted
requests finish, exit 0; a second signal exits at once)."""
from __future__ import annotations

import http.client
import json
import re
import signal
import socket
import subprocess
import threading
import time

import grpc
import numpy as np
import pytest
import requests

from conftest import ADD_A, ADD_B, ServerProcess, require_binary

PROM_PATH = "/monitoring/prometheus/metrics"


def kserve_body() -> bytes:
    return json.dumps({"inputs": [
        {"name": "a", "shape": [2, 16], "datatype": "FP32", "data": ADD_A.ravel().tolist()},
        {"name": "b", "shape": [2, 16], "datatype": "FP32", "data": ADD_B.ravel().tolist()},
    ]}).encode()


def series(text: str) -> dict[str, float]:
    """Prometheus text -> {'name{labels}': value} (comments skipped)."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        out[key] = float(value)
    return out


def value(text: str, name: str, **labels) -> float:
    """Sum of the series of `name` whose labels include `labels`."""
    total = 0.0
    for key, v in series(text).items():
        base, _, rest = key.partition("{")
        if base != name:
            continue
        if all(f'{k}="{val}"' in rest for k, val in labels.items()):
            total += v
    return total


@pytest.fixture(scope="module")
def metrics_server(models_dir, tmp_path_factory) -> ServerProcess:
    tmp = tmp_path_factory.mktemp("monitoring")
    (tmp / "monitoring.config").write_text(f'prometheus_config {{ enable: true path: "{PROM_PATH}" }}\n')
    srv = ServerProcess("metrics", [f"--model_name=add", f"--model_base_path={models_dir / 'add'}",
                                    f"--monitoring_config_file={tmp / 'monitoring.config'}"], ready_models=["add"])
    srv.start()
    yield srv
    assert srv.stop() == 0


def scrape(srv: ServerProcess, path: str = PROM_PATH) -> str:
    r = requests.get(srv.url + path, timeout=30)
    assert r.status_code == 200, r.text[:300]
    assert r.headers["Content-Type"].startswith("text/plain"), r.headers
    return r.text


def test_series_present_and_moving(metrics_server):
    srv = metrics_server
    before = scrape(srv)
    for _ in range(5):
        assert requests.post(f"{srv.url}/v2/models/add/infer", data=kserve_body(), timeout=30).status_code == 200
        r = requests.post(f"{srv.url}/v1/models/add:predict", json={"inputs": {"a": ADD_A.tolist(), "b": ADD_B.tolist()}},
                          timeout=30)
        assert r.status_code == 200
    assert requests.post(f"{srv.url}/v1/models/add:predict", json={"inputs": {"a": [[1.0]]}}, timeout=30).status_code == 400
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc
    import tensorflow as tf
    with grpc.insecure_channel(f"127.0.0.1:{srv.grpc_port}") as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        req = predict_pb2.PredictRequest()
        req.model_spec.name = "add"
        req.inputs["a"].CopyFrom(tf.make_tensor_proto(ADD_A))
        req.inputs["b"].CopyFrom(tf.make_tensor_proto(ADD_B))
        for _ in range(3):
            stub.Predict(req, timeout=30)
    after = scrape(srv)
    # TF Serving's names, as its dashboards query them
    count = ":tensorflow:serving:request_count"
    assert value(after, count, model_name="add", status="OK") - value(before, count, model_name="add", status="OK") == 13
    assert value(after, count, model_name="add") - value(before, count, model_name="add") == 14  # + the 400
    latency = ":tensorflow:serving:request_latency_count"
    assert value(after, latency, model_name="add", API="Predict", entrypoint="GRPC") - \
        value(before, latency, model_name="add", API="Predict", entrypoint="GRPC") == 3
    assert value(after, latency, model_name="add", entrypoint="REST") - \
        value(before, latency, model_name="add", entrypoint="REST") == 11
    # Serval's own: process figures and the model's state and load
    assert value(after, "serval_process_resident_memory_bytes") > 10 * 2**20
    assert value(after, "serval_process_threads") >= 2
    assert "serval_model_load_duration_seconds" in after
    assert value(after, "serval_engine_runs_started_total") - value(before, "serval_engine_runs_started_total") >= 13
    # /metrics is the same text
    assert ":tensorflow:serving:request_count" in scrape(srv, "/metrics")


def test_kserve_statistics_compute_counts_stay_equal_when_runs_fail_after(models_dir):
    """A run that finished but whose request then failed (here: the answer is over --max_response_bytes)
    adds run time, not a compute record: the three compute counts stay equal to each other and to the
    success count, which perf_analyzer requires (it aborts on "compute counts must be the same")."""
    srv = ServerProcess("stats-cap", ["--model_name=add", f"--model_base_path={models_dir / 'add'}",
                                      "--max_response_bytes=4096"], ready_models=["add"])
    srv.start()
    try:
        def body(rows: int) -> bytes:
            data = np.arange(rows * 16, dtype=np.float32).tolist()
            return json.dumps({"inputs": [{"name": n, "shape": [rows, 16], "datatype": "FP32", "data": data}
                                          for n in ("a", "b")]}).encode()

        for rows, status in ((1, 200), (64, 429), (1, 200), (64, 429), (1, 200)):
            r = requests.post(f"{srv.url}/v2/models/add/infer", data=body(rows), timeout=30)
            assert r.status_code == status, (rows, r.status_code, r.text[:200])
        stats = requests.get(f"{srv.url}/v2/models/add/stats", timeout=30).json()["model_stats"][0]["inference_stats"]
        assert stats["success"]["count"] == 3 and stats["fail"]["count"] == 2, stats
        for part in ("queue", "compute_input", "compute_infer", "compute_output"):
            assert stats[part]["count"] == 3, (part, stats)
    finally:
        assert srv.stop() == 0


def test_kserve_statistics_from_the_same_counters(metrics_server):
    srv = metrics_server
    before = requests.get(f"{srv.url}/v2/models/add/stats", timeout=30).json()["model_stats"][0]
    for _ in range(4):
        assert requests.post(f"{srv.url}/v2/models/add/infer", data=kserve_body(), timeout=30).status_code == 200
    after = requests.get(f"{srv.url}/v2/models/add/stats", timeout=30).json()["model_stats"][0]
    assert after["name"] == "add" and after["version"] == "2"
    assert after["inference_stats"]["success"]["count"] - before["inference_stats"]["success"]["count"] == 4
    assert after["inference_stats"]["success"]["ns"] > before["inference_stats"]["success"]["ns"]
    # As Triton: one queue and compute record per successful request (perf_analyzer finds the version that ran
    # by its queue count), and the model runs' time in compute_infer.
    for part in ("queue", "compute_input", "compute_infer", "compute_output"):
        assert after["inference_stats"][part]["count"] - before["inference_stats"][part]["count"] == 4, part
    assert after["inference_stats"]["compute_infer"]["ns"] > before["inference_stats"]["compute_infer"]["ns"]
    assert after["last_inference"] >= before["last_inference"] > 0 or after["last_inference"] > 0
    import tritonclient.grpc as tgrpc
    client = tgrpc.InferenceServerClient(f"127.0.0.1:{srv.grpc_port}")
    try:
        stats = client.get_inference_statistics("add").model_stats[0]
        assert stats.inference_stats.success.count >= after["inference_stats"]["success"]["count"]
    finally:
        client.close()


def test_unknown_model_names_add_at_most_one_series(metrics_server):
    srv = metrics_server
    before = series(scrape(srv))
    conn = http.client.HTTPConnection("127.0.0.1", srv.rest_port, timeout=30)
    try:
        for i in range(10_000):
            conn.request("POST", f"/v1/models/bogus{i}:predict", body=b'{"instances":[1]}',
                         headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            resp.read()
            assert resp.status == 404
    finally:
        conn.close()
    after = series(scrape(srv))
    assert not any("bogus" in key for key in after), "a request's model name became a label value"

    def families(keys):  # histogram buckets of one series count once
        return {re.sub(r',?le="[^"]*"', "", k).replace("_bucket{", "{").replace("_sum{", "{").replace("_count{", "{")
                for k in keys}

    new = families(after.keys()) - families(before.keys())
    by_family: dict[str, int] = {}
    for key in new:
        by_family[key.partition("{")[0]] = by_family.get(key.partition("{")[0], 0) + 1
    assert all(n <= 1 for n in by_family.values()), by_family
    assert value("\n".join(f"{k} {v}" for k, v in after.items()), ":tensorflow:serving:request_count",
                 model_name="__unknown__") >= 10_000


def test_no_metrics_route_without_monitoring_config(models_dir):
    srv = ServerProcess("nometrics", [f"--model_name=add", f"--model_base_path={models_dir / 'add'}"],
                        ready_models=["add"]).start()
    try:
        assert requests.get(srv.url + "/metrics", timeout=10).status_code == 404
        assert requests.get(srv.url + "/v1/health/ready", timeout=10).status_code == 200
    finally:
        assert srv.stop() == 0


def test_bad_monitoring_config_stops_startup(models_dir, tmp_path):
    (tmp_path / "bad.config").write_text("prometheus_config { enable: maybe }\n")
    from conftest import BINARY
    proc = subprocess.run([str(BINARY), f"--model_name=add", f"--model_base_path={models_dir / 'add'}", "--rest_api_port=0",
                           "--port=0", f"--monitoring_config_file={tmp_path / 'bad.config'}"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "bad.config" in proc.stderr, proc.stderr


# ----------------------------------------------------------------------------------------------------------
# graceful shutdown
# ----------------------------------------------------------------------------------------------------------


def detach(srv: ServerProcess) -> None:
    """The test ends this server itself: its exit is not a crash for conftest's watcher."""
    if srv in ServerProcess._all:
        ServerProcess._all.remove(srv)


def start_slow_requests(srv: ServerProcess, n: int) -> tuple[list, list[threading.Thread], threading.Barrier]:
    x = np.random.default_rng(3).standard_normal((4, 256)).astype(np.float32)
    body = json.dumps({"instances": x.tolist()}).encode()
    results: list = []
    sent = threading.Barrier(n + 1, timeout=30)

    def one():
        conn = http.client.HTTPConnection("127.0.0.1", srv.rest_port, timeout=120)
        try:
            conn.request("POST", "/v1/models/slow:predict", body=body, headers={"Content-Type": "application/json"})
            sent.wait()
            resp = conn.getresponse()
            results.append(resp.status)
            resp.read()
        except Exception as e:  # noqa: BLE001 — recorded and asserted on
            results.append(repr(e))
        finally:
            conn.close()

    threads = [threading.Thread(target=one, daemon=True) for _ in range(n)]
    for t in threads:
        t.start()
    sent.wait()
    time.sleep(0.3)  # read and running on the server
    return results, threads, sent


def test_sigterm_drains_accepted_requests_and_exits_zero(slow_dir):
    srv = ServerProcess("drain", [f"--model_name=slow", f"--model_base_path={slow_dir}", "--rest_api_num_threads=12",
                                  "--drain_timeout_secs=60"], ready_models=["slow"]).start()
    keepalive = http.client.HTTPConnection("127.0.0.1", srv.rest_port, timeout=30)
    keepalive.request("GET", "/v2/health/ready")
    assert keepalive.getresponse().read() is not None
    results, threads, _ = start_slow_requests(srv, 8)
    from conftest import kserve_slow_request
    from tritonclient.grpc import service_pb2_grpc
    channel = grpc.insecure_channel(f"127.0.0.1:{srv.grpc_port}")
    grpc_calls = [service_pb2_grpc.GRPCInferenceServiceStub(channel).ModelInfer.future(kserve_slow_request(), timeout=120)
                  for _ in range(4)]
    time.sleep(0.3)  # the gRPC calls are running too
    detach(srv)
    signalled = time.monotonic()
    srv.proc.send_signal(signal.SIGTERM)
    # readiness turns false within 1 s: on a connection opened before the signal, and for new connections
    ready_false_at = None
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        keepalive.request("GET", "/v2/health/ready")
        resp = keepalive.getresponse()
        resp.read()
        if resp.status == 503:
            ready_false_at = time.monotonic()
            break
        time.sleep(0.02)
    assert ready_false_at is not None and ready_false_at - signalled < 1.0
    with pytest.raises(requests.ConnectionError):
        requests.get(srv.url + "/v2/health/ready", timeout=5)
    for t in threads:
        t.join(timeout=120)
    assert results == [200] * 8, results
    for call in grpc_calls:
        assert len(call.result().raw_output_contents[0]) == 256 * 4  # accepted before the signal: answered
    channel.close()
    assert srv.proc.wait(timeout=60) == 0
    log = srv.log_since(0, 1 << 20)
    assert "drained: 0 requests left unfinished" in log, log[-2000:]
    keepalive.close()


def test_second_sigterm_exits_at_once(slow_dir):
    srv = ServerProcess("drain2", [f"--model_name=slow", f"--model_base_path={slow_dir}", "--rest_api_num_threads=12",
                                   "--drain_timeout_secs=120"], ready_models=["slow"]).start()
    results, threads, _ = start_slow_requests(srv, 10)
    detach(srv)
    srv.proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    assert srv.proc.poll() is None, "the first signal must drain, not exit"
    second = time.monotonic()
    srv.proc.send_signal(signal.SIGTERM)
    code = srv.proc.wait(timeout=10)
    assert time.monotonic() - second < 2.0
    assert code == 1
    for t in threads:
        t.join(timeout=30)


def health_check(channel) -> bytes:
    """grpc.health.v1.Health/Check with an empty request; the raw HealthCheckResponse bytes (status 1 SERVING is
    b"\\x08\\x01", 2 NOT_SERVING is b"\\x08\\x02")."""
    check = channel.unary_unary("/grpc.health.v1.Health/Check")
    return check(b"", timeout=5)


def test_grpc_health_not_serving_after_sigterm(slow_dir):
    import tritonclient.grpc as tgrpc
    srv = ServerProcess("drain3", [f"--model_name=slow", f"--model_base_path={slow_dir}", "--rest_api_num_threads=12",
                                   "--drain_timeout_secs=60"], ready_models=["slow"]).start()
    channel = grpc.insecure_channel(f"127.0.0.1:{srv.grpc_port}")
    client = tgrpc.InferenceServerClient(f"127.0.0.1:{srv.grpc_port}")
    assert health_check(channel) == b"\x08\x01"
    assert client.is_server_ready()
    results, threads, _ = start_slow_requests(srv, 4)
    detach(srv)
    srv.proc.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    try:  # on the channel opened before the signal
        assert health_check(channel) == b"\x08\x02"
    except grpc.RpcError as e:  # gRPC refuses new calls once it shuts down: also "not ready"
        assert e.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED), e
    try:
        assert not client.is_server_ready()
    except Exception:  # noqa: BLE001 — refused: also "not ready"
        pass
    client.close()
    for t in threads:
        t.join(timeout=120)
    assert results == [200] * 4, results
    assert srv.proc.wait(timeout=60) == 0
    channel.close()


def test_grpc_lame_duck_refuses_new_connections_and_serves_open_ones(models_dir):
    """--grpc_lame_duck_secs: after SIGTERM a new gRPC connection is refused at once, a call on a connection opened
    before the signal is still answered (after gRPC's shutdown it would be cancelled), and the lame duck ends as
    soon as that connection is closed, well before its limit."""
    import tritonclient.grpc as tgrpc
    srv = ServerProcess("lameduck", [f"--model_name=add", f"--model_base_path={models_dir / 'add'}",
                                     "--grpc_lame_duck_secs=20", "--drain_timeout_secs=40",
                                     "--grpc_channel_arguments=grpc.max_connection_age_ms=600000"],
                        ready_models=["add"]).start()
    client = tgrpc.InferenceServerClient(f"127.0.0.1:{srv.grpc_port}")
    inputs = [tgrpc.InferInput("a", [2, 16], "FP32"), tgrpc.InferInput("b", [2, 16], "FP32")]
    inputs[0].set_data_from_numpy(ADD_A)
    inputs[1].set_data_from_numpy(ADD_B)
    assert np.allclose(client.infer("add", inputs, client_timeout=10).as_numpy("sum"), ADD_A + ADD_B)
    detach(srv)
    srv.proc.send_signal(signal.SIGTERM)
    refused = None
    deadline = time.monotonic() + 2.0
    while refused is None and time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", srv.grpc_port), timeout=1).close()
            time.sleep(0.02)
        except ConnectionRefusedError:
            refused = time.monotonic()
    assert refused is not None, "the gRPC port still accepts connections 2 s after SIGTERM"
    # the open connection is still served, several times over (nothing is cancelled)
    for _ in range(5):
        assert np.allclose(client.infer("add", inputs, client_timeout=10).as_numpy("sum"), ADD_A + ADD_B)
    assert srv.proc.poll() is None
    closed = time.monotonic()
    client.close()
    assert srv.proc.wait(timeout=30) == 0
    assert time.monotonic() - closed < 10, "the lame duck did not end when its last connection closed"
    log = srv.log_since(0, 1 << 20)
    assert "gRPC lame duck over: 1 listener(s) had been closed, 0 connection(s) still open" in log, log[-2000:]


def test_grpc_lame_duck_must_fit_in_the_drain(models_dir):
    proc = subprocess.run([str(require_binary()), f"--model_name=add", f"--model_base_path={models_dir / 'add'}", "--port=0",
                           "--rest_api_port=0", "--grpc_lame_duck_secs=30", "--drain_timeout_secs=30"],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode != 0
    assert "--grpc_lame_duck_secs must be at least 0 and less than --drain_timeout_secs" in proc.stderr + proc.stdout


# ----------------------------------------------------------------------------------------------------------
# logs
# ----------------------------------------------------------------------------------------------------------


def test_access_log_escapes_request_strings(models_dir):
    from conftest import raw_request
    srv = ServerProcess("access", [f"--model_name=add", f"--model_base_path={models_dir / 'add'}", "--access_log"],
                        ready_models=["add"]).start()
    try:
        start = srv.log_size()
        status, _ = raw_request(srv, "GET", "/v1/models/a%22b%0Ainjected%5Cline")
        assert status in (400, 404)
        assert requests.post(f"{srv.url}/v2/models/add/infer", data=kserve_body(), timeout=30).status_code == 200
        import tritonclient.grpc as tgrpc
        client = tgrpc.InferenceServerClient(f"127.0.0.1:{srv.grpc_port}")
        inputs = [tgrpc.InferInput("a", [2, 16], "FP32"), tgrpc.InferInput("b", [2, 16], "FP32")]
        inputs[0].set_data_from_numpy(ADD_A)
        inputs[1].set_data_from_numpy(ADD_B)
        client.infer("add", inputs)
        client.close()
        time.sleep(0.2)
        log = srv.log_since(start, 1 << 20)
        assert f'access rest GET "/v1/models/a\\"b\\x0ainjected\\\\line" {status}' in log, log
        assert not any(line.startswith("injected") for line in log.splitlines()), "a request string broke a log line"
        assert 'access rest POST "/v2/models/add/infer" 200' in log, log
        assert "access grpc kserve_infer model=add version=2 status=OK" in log, log
    finally:
        assert srv.stop() == 0


def test_log_level_flag(models_dir):
    srv = ServerProcess("quiet", [f"--model_name=add", f"--model_base_path={models_dir / 'add'}", "--log_level=warn"],
                        ready_models=["add"]).start()
    try:
        assert "AVAILABLE" not in srv.log_since(0, 1 << 20)  # info lines are below warn
    finally:
        assert srv.stop() == 0
    from conftest import BINARY
    proc = subprocess.run([str(BINARY), f"--model_base_path={models_dir / 'add'}", "--log_level=chatty"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "--log_level" in proc.stderr, proc.stderr
