"""What a Triton user sees around the inference call, against `serval --model_repository=<repo>` (the repository
of models/make_triton_repository.py), with tritonclient HTTP and gRPC and raw HTTP:

- the classification extension (`class_count` / parameters.classification): top-N "score:index[:label]" BYTES,
  batch-aware, compared with onnxruntime run in-process on the same model file and the model's label file;
- Triton's status codes and texts on the KServe v2 surfaces (unknown model / version, unknown or duplicate
  outputs, missing inputs, data type and shape mismatches, JSON syntax errors);
- the server metadata's extension list, the same on both transports;
- `binary_data_output: true` with an output listed without its own binary_data (Triton answers it in JSON);
- statistics after a known number of batched and unbatched requests, equal over HTTP, gRPC and Prometheus;
- a request framed with both Content-Length and chunked on a /v2 route (chunked wins, the connection closes);
- perf_analyzer against a dynamic-batching model of the repository, HTTP and gRPC.
"""

from __future__ import annotations

import csv
import json
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import requests
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from conftest import HTTP_TIMEOUT_S, ServerProcess, jloads
from test_triton_repository import add_sub_inputs, copy_repository, grpc_client, http_client, make_repository

FLOAT_MODEL = "onnx_float32_float32_float32"
DYNA_MODEL = "onnx_dyna_float32"


@pytest.fixture(scope="module")
def repository(tmp_path_factory) -> Path:
    return make_repository(tmp_path_factory.mktemp("triton-compat") / "repo")


@pytest.fixture(scope="module")
def triton(repository):
    srv = ServerProcess(
        "triton-compat",
        [f"--model_repository={repository}"],
        ready_models=[FLOAT_MODEL, "classifier", DYNA_MODEL, "onnx_nobatch_float32_float32_float32"],
    )
    srv.start()
    yield srv
    srv.stop()


# ----------------------------------------------------------------------------------------------------------
# classification
# ----------------------------------------------------------------------------------------------------------


def top_n(row: np.ndarray, n: int, labels: list[str] | None) -> list[bytes]:
    """Triton's format: std::to_string(score) ("%f"), ':', index, then ':' label when the label file has one."""
    order = sorted(range(len(row)), key=lambda i: (-float(row[i]), i))[:n]
    out = []
    for i in order:
        text = "%f:%d" % (float(row[i]), i)
        if labels is not None and i < len(labels):
            text += ":" + labels[i]
        out.append(text.encode())
    return out


def as_bytes(values) -> list[bytes]:
    """BYTES elements as tritonclient gives them: bytes (binary data) or str (JSON data)."""
    return [v if isinstance(v, bytes) else str(v).encode() for v in values]


def reference_outputs(repository: Path, model: str, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    session = ort.InferenceSession(str(repository / model / "1" / "model.onnx"), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, feeds)))


@pytest.mark.parametrize("transport", ["http-binary", "http-json", "grpc"])
def test_classification_top_n_with_labels(triton, repository, transport):
    labels = (repository / "classifier" / "labels.txt").read_text().splitlines()
    rng = np.random.default_rng(7)
    x = rng.standard_normal((3, 4)).astype(np.float32)
    want = reference_outputs(repository, "classifier", {"INPUT0": x})["OUTPUT0"]
    module = grpcclient if transport == "grpc" else httpclient
    client = grpc_client(triton) if transport == "grpc" else http_client(triton)
    tensor = module.InferInput("INPUT0", [3, 4], "FP32")
    tensor.set_data_from_numpy(x, **({} if transport == "grpc" else {"binary_data": transport == "http-binary"}))
    for count in (2, 10):  # 10 > the 4 classes: every class, as Triton
        if transport == "grpc":
            output = grpcclient.InferRequestedOutput("OUTPUT0", class_count=count)
        else:
            output = httpclient.InferRequestedOutput("OUTPUT0", binary_data=transport == "http-binary", class_count=count)
        result = client.infer("classifier", [tensor], outputs=[output])
        got = result.as_numpy("OUTPUT0")
        n = min(count, 4)
        assert got.shape == (3, n), got.shape  # batch-aware: one row of top-N per batch entry
        for row in range(3):
            assert as_bytes(got[row]) == top_n(want[row], n, labels), (row, got[row])
        datatype = result.get_output("OUTPUT0")
        datatype = datatype.datatype if transport == "grpc" else datatype["datatype"]
        assert datatype == "BYTES"


@pytest.mark.parametrize("transport", ["http", "grpc"])
def test_classification_of_a_non_batching_model_and_beside_a_plain_output(triton, repository, transport):
    a, b, inputs = add_sub_inputs(grpcclient if transport == "grpc" else httpclient, np.float32, (16,), seed=3)
    want = reference_outputs(repository, "onnx_nobatch_float32_float32_float32", {"INPUT0": a, "INPUT1": b})
    module = grpcclient if transport == "grpc" else httpclient
    client = grpc_client(triton) if transport == "grpc" else http_client(triton)
    outputs = [module.InferRequestedOutput("OUTPUT0", class_count=3), module.InferRequestedOutput("OUTPUT1")]
    result = client.infer("onnx_nobatch_float32_float32_float32", inputs, outputs=outputs)
    got = result.as_numpy("OUTPUT0")
    assert got.shape == (3,)  # no batch dim: the whole output is one row
    assert as_bytes(got) == top_n(want["OUTPUT0"], 3, None)  # no label file: "score:index"
    np.testing.assert_array_equal(result.as_numpy("OUTPUT1"), want["OUTPUT1"])


def test_classification_of_a_bytes_output_is_refused_with_tritons_text(triton):
    body = {
        "inputs": [{"name": n, "shape": [1, 1], "datatype": "BYTES", "data": ["x"]} for n in ("INPUT0", "INPUT1")],
        "outputs": [{"name": "OUTPUT0", "parameters": {"classification": 1}}],
    }
    r = requests.post(f"{triton.url}/v2/models/onnx_object/infer", json=body, timeout=HTTP_TIMEOUT_S)
    assert r.status_code == 400, r.text
    assert jloads(r.content)["error"] == "class result not available for output due to unsupported type 'BYTES'"


def test_classification_parameter_of_the_wrong_type_over_grpc(triton):
    import grpc
    import tritonclient.grpc.service_pb2 as pb
    import tritonclient.grpc.service_pb2_grpc as pb_grpc

    request = pb.ModelInferRequest(model_name="classifier")
    request.inputs.add(name="INPUT0", datatype="FP32", shape=[1, 4])
    request.raw_input_contents.append(np.zeros((1, 4), np.float32).tobytes())
    request.outputs.add(name="OUTPUT0").parameters["classification"].string_param = "2"
    with grpc.insecure_channel(f"127.0.0.1:{triton.grpc_port}") as channel:
        with pytest.raises(grpc.RpcError) as err:
            pb_grpc.GRPCInferenceServiceStub(channel).ModelInfer(request, timeout=30)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert err.value.details() == "invalid value type for 'classification' parameter, expected int64_param"


# ----------------------------------------------------------------------------------------------------------
# Triton's status codes and texts
# ----------------------------------------------------------------------------------------------------------


def test_unknown_model_is_invalid_argument_with_tritons_text(triton):
    text = "Request for unknown model: 'nope' is not found"
    _, _, inputs = add_sub_inputs(httpclient, np.float32, (1, 16))
    for call in (
        lambda c: c.infer("nope", inputs),
        lambda c: c.get_model_metadata("nope"),
        lambda c: c.get_model_config("nope"),
        lambda c: c.get_inference_statistics("nope"),
    ):
        with pytest.raises(InferenceServerException) as err:
            call(http_client(triton))
        assert err.value.status() == "400" and err.value.message() == text, (err.value.status(), err.value.message())
    _, _, inputs = add_sub_inputs(grpcclient, np.float32, (1, 16))
    for call in (
        lambda c: c.infer("nope", inputs),
        lambda c: c.get_model_metadata("nope"),
        lambda c: c.get_model_config("nope"),
        lambda c: c.get_inference_statistics("nope"),
        lambda c: c.is_model_ready("nope"),
    ):
        with pytest.raises(InferenceServerException) as err:
            call(grpc_client(triton))
        assert err.value.status() == "StatusCode.INVALID_ARGUMENT", err.value.status()
        assert err.value.message() == text, err.value.message()
    r = requests.get(f"{triton.url}/v2/models/nope/ready", timeout=HTTP_TIMEOUT_S)
    assert r.status_code == 400 and jloads(r.content)["error"] == text, r.text
    # tritonclient.http's is_model_ready reads the status: not ready.
    assert http_client(triton).is_model_ready("nope") is False


def test_unknown_version_is_not_found_with_tritons_text(triton):
    text = f"Request for unknown model: '{FLOAT_MODEL}' version 7 is not found"
    _, _, inputs = add_sub_inputs(httpclient, np.float32, (1, 16))
    with pytest.raises(InferenceServerException) as err:
        http_client(triton).infer(FLOAT_MODEL, inputs, model_version="7")
    assert (err.value.status(), err.value.message()) == ("404", text)
    _, _, inputs = add_sub_inputs(grpcclient, np.float32, (1, 16))
    with pytest.raises(InferenceServerException) as err:
        grpc_client(triton).infer(FLOAT_MODEL, inputs, model_version="7")
    assert (err.value.status(), err.value.message()) == ("StatusCode.NOT_FOUND", text)


def infer_error(triton, transport: str, model: str, inputs, outputs=None, request_id: str = "") -> tuple[str, str]:
    client = grpc_client(triton) if transport == "grpc" else http_client(triton)
    with pytest.raises(InferenceServerException) as err:
        client.infer(model, inputs, outputs=outputs, request_id=request_id)
    return err.value.status(), err.value.message()


@pytest.mark.parametrize("transport", ["http", "grpc"])
def test_request_errors_have_tritons_texts(triton, transport):
    module = grpcclient if transport == "grpc" else httpclient
    bad = "StatusCode.INVALID_ARGUMENT" if transport == "grpc" else "400"
    m = FLOAT_MODEL
    _, _, inputs = add_sub_inputs(module, np.float32, (2, 16))

    outputs = [module.InferRequestedOutput("OUTPUT9")]
    assert infer_error(triton, transport, m, inputs, outputs) == (
        bad, f"unexpected inference output 'OUTPUT9' for model '{m}'")
    outputs = [module.InferRequestedOutput("OUTPUT0"), module.InferRequestedOutput("OUTPUT0")]
    assert infer_error(triton, transport, m, inputs, outputs, request_id="r1") == (
        bad, "[request id: r1] output 'OUTPUT0' already exists in request")
    assert infer_error(triton, transport, m, inputs[:1]) == (
        bad, f"expected 2 inputs but got 1 inputs for model '{m}'. Got input(s) ['INPUT0'], but missing required "
        "input(s) ['INPUT1']. Please provide all required input(s).")

    wrong = module.InferInput("INPUT1", [2, 16], "FP64")
    wrong.set_data_from_numpy(np.zeros((2, 16), np.float64))
    assert infer_error(triton, transport, m, [inputs[0], wrong]) == (
        bad, f"inference input 'INPUT1' data-type is 'FP64', but model '{m}' expects 'FP32'")

    _, _, short = add_sub_inputs(module, np.float32, (2, 15))
    status, message = infer_error(triton, transport, m, short)
    assert status == bad
    assert message.startswith(f"unexpected shape for input 'INPUT0' for model '{m}'. Expected [-1,16], got [2,15]. "
                              "NOTE: Setting a non-zero max_batch_size in the model config requires a batch "
                              "dimension to be prepended to each input shape."), message

    _, _, many = add_sub_inputs(module, np.float32, (9, 16))
    assert infer_error(triton, transport, m, many) == (bad, f"inference request batch-size must be <= 8 for '{m}'")


def test_json_syntax_error_has_tritons_text(triton):
    r = requests.post(f"{triton.url}/v2/models/{FLOAT_MODEL}/infer", data=b'{"inputs":[', timeout=HTTP_TIMEOUT_S)
    assert r.status_code == 400, r.text
    assert jloads(r.content)["error"] == "failed to parse the request JSON buffer: Invalid value. at 11"


# ----------------------------------------------------------------------------------------------------------
# server metadata, binary_data_output
# ----------------------------------------------------------------------------------------------------------


def test_server_metadata_extensions_are_the_same_on_both_transports(triton):
    http_meta = http_client(triton).get_server_metadata()
    grpc_meta = grpc_client(triton).get_server_metadata(as_json=True)
    assert http_meta["extensions"] == grpc_meta["extensions"]
    # What Serval implements, by Triton's names (no model control here: no model_repository).
    assert set(http_meta["extensions"]) == {"classification", "model_configuration", "binary_tensor_data",
                                             "statistics"}


def test_binary_data_output_covers_only_outputs_the_request_does_not_list(triton):
    a, b, _ = add_sub_inputs(httpclient, np.float32, (1, 16))
    inputs = [{"name": n, "shape": [1, 16], "datatype": "FP32", "data": v.ravel().tolist()}
              for n, v in (("INPUT0", a), ("INPUT1", b))]
    url = f"{triton.url}/v2/models/{FLOAT_MODEL}/infer"
    # Listed without binary_data: JSON, as Triton (binary_data_output is only the default for unlisted ones).
    body = {"inputs": inputs, "outputs": [{"name": "OUTPUT0"}], "parameters": {"binary_data_output": True}}
    r = requests.post(url, json=body, timeout=HTTP_TIMEOUT_S)
    assert r.status_code == 200, r.text
    assert "Inference-Header-Content-Length" not in r.headers
    out = jloads(r.content)["outputs"]
    assert [o["name"] for o in out] == ["OUTPUT0"]
    np.testing.assert_allclose(out[0]["data"], (a + b).ravel(), rtol=1e-6)
    # Listed with binary_data true: binary.
    body["outputs"] = [{"name": "OUTPUT0", "parameters": {"binary_data": True}}]
    r = requests.post(url, json=body, timeout=HTTP_TIMEOUT_S)
    header = int(r.headers["Inference-Header-Content-Length"])
    meta = json.loads(r.content[:header])
    assert meta["outputs"][0]["parameters"]["binary_data_size"] == 64
    np.testing.assert_allclose(np.frombuffer(r.content[header:], np.float32), (a + b).ravel(), rtol=1e-6)
    # Nothing listed: every output follows binary_data_output.
    del body["outputs"]
    r = requests.post(url, json=body, timeout=HTTP_TIMEOUT_S)
    header = int(r.headers["Inference-Header-Content-Length"])
    meta = json.loads(r.content[:header])
    assert all("data" not in o and o["parameters"]["binary_data_size"] == 64 for o in meta["outputs"]), meta


# ----------------------------------------------------------------------------------------------------------
# statistics: HTTP, gRPC and Prometheus agree
# ----------------------------------------------------------------------------------------------------------


def prometheus_value(text: str, name: str, model: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + "{") and f'model="{model}"' in line and 'version="1"' in line:
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no {name} for {model} in\n" + "\n".join(l for l in text.splitlines() if l.startswith("nv_")))


def test_statistics_of_batched_and_unbatched_requests(repository, tmp_path):
    repo = copy_repository(repository, tmp_path / "repo", [DYNA_MODEL, "onnx_int32_int32_int32"])
    monitoring = tmp_path / "monitoring.config"
    monitoring.write_text('prometheus_config { enable: true path: "/monitoring/prometheus/metrics" }\n')
    srv = ServerProcess("triton-stats", [f"--model_repository={repo}", f"--monitoring_config_file={monitoring}"],
                        ready_models=[DYNA_MODEL, "onnx_int32_int32_int32"])
    srv.start()
    try:
        http = http_client(srv)
        # Unbatched: 3 requests of 1, 2 and 3 rows (HTTP) + 1 of 4 rows (gRPC) + 1 refused (9 rows > 8).
        for rows in (1, 2, 3):
            _, _, inputs = add_sub_inputs(httpclient, np.int32, (rows, 16))
            http.infer("onnx_int32_int32_int32", inputs)
        _, _, inputs = add_sub_inputs(grpcclient, np.int32, (4, 16))
        grpc_client(srv).infer("onnx_int32_int32_int32", inputs)
        _, _, inputs = add_sub_inputs(httpclient, np.int32, (9, 16))
        with pytest.raises(InferenceServerException):
            http.infer("onnx_int32_int32_int32", inputs)

        # Batched: 12 concurrent requests of 2 rows into the dynamic batcher (max_batch_size 8, so at least
        # 3 runs; a 2 ms queue delay merges what arrives together).
        a, b, inputs = add_sub_inputs(httpclient, np.float32, (2, 16))
        barrier = threading.Barrier(12)
        errors: list[BaseException] = []

        def one():
            try:
                client = http_client(srv)
                barrier.wait(timeout=30)
                np.testing.assert_allclose(client.infer(DYNA_MODEL, inputs).as_numpy("OUTPUT0"), a + b, rtol=1e-6)
            except BaseException as e:  # noqa: BLE001 - reported below
                errors.append(e)

        threads = [threading.Thread(target=one) for _ in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert not errors, errors

        def stats_of(model):
            h = http.get_inference_statistics(model)["model_stats"][0]
            g = grpc_client(srv).get_inference_statistics(model, as_json=True)["model_stats"][0]
            return h, g

        def n(stats, key, part=None):
            # (protobuf's JSON leaves out fields that are 0)
            return int(stats["inference_stats"].get(key, {}).get(part, 0)) if part else int(stats.get(key, 0))

        prom = requests.get(f"{srv.url}/metrics", timeout=HTTP_TIMEOUT_S).text
        for model, inferences, successes, failures in (("onnx_int32_int32_int32", 10, 4, 1), (DYNA_MODEL, 24, 12, 0)):
            h, g = stats_of(model)
            for key in ("inference_count", "execution_count"):
                assert n(h, key) == n(g, key), (key, h, g)
            for key in ("success", "fail", "queue", "compute_input", "compute_infer", "compute_output"):
                for part in ("count", "ns"):
                    assert n(h, key, part) == n(g, key, part), (key, part, h, g)
            assert n(h, "inference_count") == inferences, h  # batch elements
            assert n(h, "success", "count") == successes and n(h, "fail", "count") == failures, h
            for key in ("queue", "compute_input", "compute_infer", "compute_output"):
                assert n(h, key, "count") == successes, (key, h)  # per request, as Triton
            assert n(h, "compute_infer", "ns") > 0 and n(h, "compute_input", "ns") > 0, h
            assert n(h, "compute_output", "ns") > 0, h
            # Plausible: no part of a request takes longer than the whole request.
            assert n(h, "compute_infer", "ns") <= n(h, "success", "ns") + n(h, "queue", "ns"), h
            # Prometheus: Triton's series, the same numbers (durations in microseconds).
            assert prometheus_value(prom, "nv_inference_count", model) == inferences
            assert prometheus_value(prom, "nv_inference_exec_count", model) == n(h, "execution_count")
            assert prometheus_value(prom, "nv_inference_request_success", model) == successes
            assert prometheus_value(prom, "nv_inference_request_failure", model) == failures
            for key in ("queue", "compute_input", "compute_infer", "compute_output"):
                assert prometheus_value(prom, f"nv_inference_{key}_duration_us", model) == n(h, key, "ns") // 1000
            assert prometheus_value(prom, "nv_inference_request_duration_us", model) == n(h, "success", "ns") // 1000
        h, _ = stats_of("onnx_int32_int32_int32")
        assert n(h, "execution_count") == 4  # unbatched: one run per successful request
        h, _ = stats_of(DYNA_MODEL)
        assert 3 <= n(h, "execution_count") <= 12, h  # merged runs count once
        assert n(h, "queue", "ns") > 0, h  # requests waited in the batcher's queue
        print(f"\ndynamic batching: 12 requests in {n(h, 'execution_count')} runs")
    finally:
        srv.stop()


# ----------------------------------------------------------------------------------------------------------
# model_warmup and execution_accelerators
# ----------------------------------------------------------------------------------------------------------


def test_model_warmup_runs_at_load_and_counts_nowhere(triton):
    log = triton.log_since(0, max_bytes=1 << 20)
    assert "model onnx_warmup_float32 version 1: model_warmup ran 3 times" in log, log[-3000:]
    stats = http_client(triton).get_inference_statistics("onnx_warmup_float32")["model_stats"][0]
    assert int(stats["execution_count"]) == 0 and int(stats["inference_count"]) == 0, stats
    # The config routes report the samples as config.pbtxt has them.
    http_config = http_client(triton).get_model_config("onnx_warmup_float32")
    grpc_config = grpc_client(triton).get_model_config("onnx_warmup_float32", as_json=True)["config"]
    for warmups in (http_config["model_warmup"], grpc_config["model_warmup"]):
        assert [w["name"] for w in warmups] == ["zeros_and_random", "from_file"], warmups
        assert int(warmups[1]["count"]) == 2 and int(warmups[0]["batch_size"]) == 2, warmups
        assert warmups[1]["inputs"]["INPUT0"]["input_data_file"] == "input0", warmups
        assert warmups[0]["inputs"]["INPUT1"]["random_data"] is True, warmups


def test_a_failing_warmup_or_an_accelerator_refuses_the_model_by_name(repository, tmp_path):
    from test_triton_repository import wait_model_ready

    repo = copy_repository(repository, tmp_path / "repo", [FLOAT_MODEL, "onnx_warmup_float32", "onnx_int32_int32_int32"])
    (repo / "onnx_warmup_float32" / "warmup" / "input0").write_bytes(b"\0" * 60)  # 15 floats, not 16
    config = repo / "onnx_int32_int32_int32" / "config.pbtxt"
    config.write_text(config.read_text() +
                      'optimization { execution_accelerators { gpu_execution_accelerator [ { name: "tensorrt" } ] } }\n')
    srv = ServerProcess("triton-refused", [f"--model_repository={repo}"])
    srv._wait_ready = lambda: wait_model_ready(srv, FLOAT_MODEL)  # the server is not ready: two models failed
    srv.start()
    try:
        client = http_client(srv)
        assert not client.is_model_ready("onnx_warmup_float32")
        assert not client.is_model_ready("onnx_int32_int32_int32")
        log = srv.log_since(0, max_bytes=1 << 20)
        assert "model_warmup 'from_file': input 'INPUT0'" in log and "has 60 bytes but shape [1,16] needs 64" in log, \
            log[-3000:]
        assert "optimization.execution_accelerators.gpu_execution_accelerator 'tensorrt' is not available" in log, \
            log[-3000:]
    finally:
        srv.stop()


# ----------------------------------------------------------------------------------------------------------
# framing: Content-Length and chunked on a /v2 route
# ----------------------------------------------------------------------------------------------------------


def test_content_length_and_chunked_on_v2_chunked_wins_then_close(triton):
    a, b, _ = add_sub_inputs(httpclient, np.float32, (1, 16))
    body = json.dumps({"inputs": [{"name": n, "shape": [1, 16], "datatype": "FP32", "data": v.ravel().tolist()}
                                  for n, v in (("INPUT0", a), ("INPUT1", b))]}).encode()
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 100]), body[i:i + 100]) for i in range(0, len(body), 100))
    chunked += b"0\r\n\r\n"
    head = (f"POST /v2/models/{FLOAT_MODEL}/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
            "Transfer-Encoding: chunked\r\n\r\n").encode()
    live = b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n"
    with socket.create_connection(("127.0.0.1", triton.rest_port), timeout=30) as s:
        s.sendall(head + chunked + live)
        data = b""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            chunk = s.recv(65536)
            if not chunk:
                break  # the server closed the connection
            data += chunk
        else:
            pytest.fail("the connection stayed open")
    assert data.startswith(b"HTTP/1.1 200"), data[:300]
    assert data.count(b"HTTP/1.1 ") == 1, data  # the pipelined request after it is not answered
    payload = jloads(data.split(b"\r\n\r\n", 1)[1])
    np.testing.assert_allclose(payload["outputs"][0]["data"], (a + b).ravel(), rtol=1e-6)


# ----------------------------------------------------------------------------------------------------------
# perf_analyzer on a dynamic-batching model of the repository
# ----------------------------------------------------------------------------------------------------------


def run_perf(args: list[str], levels: int, attempts: int = 3) -> list[dict]:
    """perf_analyzer's CSV rows (one per concurrency level), every request having succeeded. A level that did not
    settle within --max-trials windows on this shared box is measured again (up to `attempts` runs)."""
    from test_perf_analyzer import UNSTABLE, require_perf_analyzer

    exe = require_perf_analyzer()
    out = ""
    for _ in range(attempts):
        with tempfile.TemporaryDirectory(prefix="serval-pa-") as tmp:
            report = Path(tmp) / "latency.csv"
            cmd = [str(exe), *args, "-f", str(report)]
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240)
            out = f"$ {' '.join(cmd)}\n{proc.stdout}\n{proc.stderr}"
            if proc.returncode != 0 and UNSTABLE in out and "error" not in out.lower():
                continue  # every request succeeded but the windows disagreed on a shared box: measure again
            assert proc.returncode == 0, out
            assert "error" not in out.lower(), out
            rows = list(csv.DictReader(report.open()))
            if len(rows) < levels and UNSTABLE in out:
                continue
            return rows
    pytest.fail(f"perf_analyzer never obtained a stable measurement\n{out}")


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_perf_analyzer_on_a_dynamic_batching_model(triton, protocol):
    port = triton.grpc_port if protocol == "grpc" else triton.rest_port
    rows = run_perf(["-m", DYNA_MODEL, "-i", protocol, "-u", f"127.0.0.1:{port}", "--measurement-interval", "500",
                     "--concurrency-range", "1:4:3", "--max-trials", "10",
                     "--stability-percentage", "50"], levels=2)  # a shared box: compatibility, not precision
    assert [int(r["Concurrency"]) for r in rows] == [1, 4], rows
    for r in rows:
        assert float(r["Inferences/Second"]) > 0, r
        print(f"\nperf_analyzer {protocol} {DYNA_MODEL} concurrency {r['Concurrency']}: "
              f"{float(r['Inferences/Second']):.0f} infer/s, p50 {int(r['p50 latency'])} us")
    stats = http_client(triton).get_inference_statistics(DYNA_MODEL)["model_stats"][0]
    assert int(stats["inference_stats"]["fail"]["count"]) == 0, stats
