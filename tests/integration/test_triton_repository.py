"""A Triton model repository served as-is: `serval --model_repository=<repo>` alone, talked to with tritonclient
(HTTP and gRPC) as a Triton user would. The repository is made by models/make_triton_repository.py (Triton
QA-style add/sub models across dtypes, batching and not, variable dims, dynamic batching, a classifier with a
label file, models without config.pbtxt).

Covered: metadata and config (as config.pbtxt says, or as auto-complete makes it), inference on every
dtype, a batch over max_batch_size refused (400 / INVALID_ARGUMENT), statistics after a known number of
requests, an unknown config field refusing the model by name, explicit load/unload, poll mode picking up a
new model, perf_analyzer reading max_batch_size from the config route.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import requests
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException, np_to_triton_dtype

from conftest import HTTP_TIMEOUT_S, PYTHON, REPO, ServerProcess, jloads, require_binary

MAKE_REPO = REPO / "models" / "make_triton_repository.py"
DTYPES = {
    "float32": np.float32,
    "float16": np.float16,
    "int8": np.int8,
    "int16": np.int16,
    "int32": np.int32,
    "int64": np.int64,
}
NO_TOKEN = "--model_control_without_token_i_understand_the_risk"
JSON = {"Content-Type": "application/json"}


def make_repository(path: Path) -> Path:
    subprocess.run([PYTHON, str(MAKE_REPO), "--out", str(path)], check=True, timeout=300)
    return path


@pytest.fixture(scope="module")
def repository(tmp_path_factory) -> Path:
    return make_repository(tmp_path_factory.mktemp("triton") / "repo")


@pytest.fixture(scope="module")
def triton(repository):
    srv = ServerProcess(
        "triton-repo",
        [f"--model-repository={repository}"],  # Triton's spelling, and nothing else
        ready_models=["onnx_float32_float32_float32", "classifier", "noconfig_add_sub", "onnx_object"],
    )
    srv.start()
    yield srv
    srv.stop()


def wait_model_ready(srv: ServerProcess, model: str, timeout_s: float = 60.0) -> tuple[bool, str]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if srv.proc.poll() is not None:
            return False, f"exited with status {srv.proc.returncode}"
        try:
            if requests.get(f"{srv.url}/v2/models/{model}/ready", timeout=2).status_code == 200:
                return True, ""
        except requests.RequestException:
            pass
        time.sleep(0.1)
    return False, f"{model} not ready after {timeout_s:.0f}s"


def http_client(srv: ServerProcess) -> httpclient.InferenceServerClient:
    return httpclient.InferenceServerClient(f"127.0.0.1:{srv.rest_port}", network_timeout=HTTP_TIMEOUT_S)


def grpc_client(srv: ServerProcess) -> grpcclient.InferenceServerClient:
    return grpcclient.InferenceServerClient(f"127.0.0.1:{srv.grpc_port}")


def add_sub_inputs(module, dtype, shape, seed: int = 0):
    rng = np.random.default_rng(seed)
    if dtype == np.bool_:
        a, b = rng.integers(0, 2, shape).astype(bool), rng.integers(0, 2, shape).astype(bool)
    elif np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        lo, hi = max(info.min, -100), min(info.max, 100)
        a, b = rng.integers(lo, hi, shape).astype(dtype), rng.integers(lo, hi, shape).astype(dtype)
    else:
        a, b = rng.standard_normal(shape).astype(dtype), rng.standard_normal(shape).astype(dtype)
    inputs = []
    for name, value in (("INPUT0", a), ("INPUT1", b)):
        tensor = module.InferInput(name, list(value.shape), np_to_triton_dtype(value.dtype))
        tensor.set_data_from_numpy(value)
        inputs.append(tensor)
    return a, b, inputs


# ----------------------------------------------------------------------------------------------------------
# metadata and config
# ----------------------------------------------------------------------------------------------------------


def test_every_model_of_the_repository_is_ready(triton, repository):
    client = http_client(triton)
    names = sorted(p.name for p in repository.iterdir() if p.is_dir())
    for name in names:
        assert client.is_model_ready(name), name


def test_config_is_the_config_pbtxt(triton):
    for client in (http_client(triton), grpc_client(triton)):
        config = client.get_model_config("onnx_float32_float32_float32")
        config = config["config"] if isinstance(config, dict) and "config" in config else config
        if not isinstance(config, dict):
            from google.protobuf.json_format import MessageToDict

            config = MessageToDict(config.config, preserving_proto_field_name=True)
        assert config["name"] == "onnx_float32_float32_float32"
        assert int(config["max_batch_size"]) == 8
        assert config["platform"] == "onnxruntime_onnx"
        assert [i["name"] for i in config["input"]] == ["INPUT0", "INPUT1"]
        assert [int(d) for d in config["input"][0]["dims"]] == [16]
        assert config["input"][0]["data_type"] == "TYPE_FP32"


def test_metadata_has_the_batch_dim_in_front(triton):
    meta = http_client(triton).get_model_metadata("onnx_float32_float32_float32")
    assert meta["inputs"][0]["shape"] == [-1, 16]
    meta = http_client(triton).get_model_metadata("onnx_nobatch_float32_float32_float32")
    assert meta["inputs"][0]["shape"] == [16]


def test_auto_complete_without_config_pbtxt(triton):
    config = http_client(triton).get_model_config("noconfig_add_sub")
    assert config["max_batch_size"] == 4  # Triton's default for a model whose first dims are all variable
    assert config["input"][0]["dims"] == [16]
    assert config["backend"] == "onnxruntime"
    fixed = http_client(triton).get_model_config("noconfig_nobatch")
    assert fixed["max_batch_size"] == 0
    assert fixed["input"][0]["dims"] == [16]


def test_label_file_is_part_of_the_config(triton):
    config = grpc_client(triton).get_model_config("classifier", as_json=True)["config"]
    assert config["output"][0]["label_filename"] == "labels.txt"


# ----------------------------------------------------------------------------------------------------------
# inference
# ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("type_name", sorted(DTYPES))
@pytest.mark.parametrize("transport", ["http", "grpc"])
def test_add_sub_every_dtype(triton, type_name, transport):
    dtype = DTYPES[type_name]
    module = httpclient if transport == "http" else grpcclient
    client = http_client(triton) if transport == "http" else grpc_client(triton)
    a, b, inputs = add_sub_inputs(module, dtype, (3, 16), seed=len(type_name))
    result = client.infer(f"onnx_{type_name}_{type_name}_{type_name}", inputs)
    want_sum = (a.astype(np.float64) + b).astype(dtype) if dtype == np.float16 else (a + b).astype(dtype)
    want_diff = (a.astype(np.float64) - b).astype(dtype) if dtype == np.float16 else (a - b).astype(dtype)
    np.testing.assert_array_equal(result.as_numpy("OUTPUT0"), want_sum)
    np.testing.assert_array_equal(result.as_numpy("OUTPUT1"), want_diff)


def test_bool_bytes_variable_and_nobatch(triton):
    client = http_client(triton)
    a, b, inputs = add_sub_inputs(httpclient, np.bool_, (2, 16))
    result = client.infer("onnx_bool", inputs)
    np.testing.assert_array_equal(result.as_numpy("OUTPUT0"), a | b)
    np.testing.assert_array_equal(result.as_numpy("OUTPUT1"), a ^ b)

    words = np.array([[b"alpha", b"beta", b"gamma"]], dtype=np.object_)
    inputs = []
    for name in ("INPUT0", "INPUT1"):
        tensor = httpclient.InferInput(name, [1, 3], "BYTES")
        tensor.set_data_from_numpy(words)
        inputs.append(tensor)
    result = client.infer("onnx_object", inputs)
    assert result.as_numpy("OUTPUT0").tolist() == words.tolist()

    a, b, inputs = add_sub_inputs(grpcclient, np.float32, (2, 3, 5))
    result = grpc_client(triton).infer("onnx_variable_float32", inputs)
    np.testing.assert_allclose(result.as_numpy("OUTPUT0"), a + b, rtol=1e-6)

    a, b, inputs = add_sub_inputs(httpclient, np.float32, (16,))
    result = client.infer("onnx_nobatch_float32_float32_float32", inputs)
    np.testing.assert_allclose(result.as_numpy("OUTPUT1"), a - b, rtol=1e-6)


def test_batch_over_max_batch_size_is_refused(triton):
    _, _, inputs = add_sub_inputs(httpclient, np.float32, (9, 16))
    with pytest.raises(InferenceServerException) as err:
        http_client(triton).infer("onnx_float32_float32_float32", inputs)
    assert "batch-size must be <= 8" in str(err.value)
    assert err.value.status() == "400"
    _, _, inputs = add_sub_inputs(grpcclient, np.float32, (9, 16))
    with pytest.raises(InferenceServerException) as err:
        grpc_client(triton).infer("onnx_float32_float32_float32", inputs)
    assert "batch-size must be <= 8" in str(err.value)
    assert err.value.status() == "StatusCode.INVALID_ARGUMENT"
    # The largest allowed batch runs.
    _, _, inputs = add_sub_inputs(httpclient, np.float32, (8, 16))
    assert http_client(triton).infer("onnx_float32_float32_float32", inputs).as_numpy("OUTPUT0").shape == (8, 16)


def test_dynamic_batching_model_answers_concurrent_requests(triton):
    client = http_client(triton)
    a, b, inputs = add_sub_inputs(httpclient, np.float32, (2, 16))
    pending = [client.async_infer("onnx_dyna_float32", inputs) for _ in range(8)]
    for request in pending:
        np.testing.assert_allclose(request.get_result().as_numpy("OUTPUT0"), a + b, rtol=1e-6)
    stats = client.get_inference_statistics("onnx_dyna_float32")["model_stats"][0]
    assert stats["inference_count"] == 16  # batch elements
    assert 1 <= stats["execution_count"] <= 8  # merged runs count once


# ----------------------------------------------------------------------------------------------------------
# statistics
# ----------------------------------------------------------------------------------------------------------


def test_statistics_count_batch_elements_and_runs(triton):
    model = "onnx_int32_int32_int32"
    client = http_client(triton)
    before = client.get_inference_statistics(model)["model_stats"][0]
    for rows in (1, 2, 3):
        _, _, inputs = add_sub_inputs(httpclient, np.int32, (rows, 16))
        client.infer(model, inputs)
    _, _, inputs = add_sub_inputs(grpcclient, np.int32, (4, 16))
    grpc_client(triton).infer(model, inputs)
    _, _, inputs = add_sub_inputs(httpclient, np.int32, (9, 16))
    with pytest.raises(InferenceServerException):
        client.infer(model, inputs)

    for stats in (
        client.get_inference_statistics(model)["model_stats"][0],
        grpc_client(triton).get_inference_statistics(model, as_json=True)["model_stats"][0],
    ):
        def n(key, part=None):
            value = stats["inference_stats"][key][part] if part else stats[key]
            return int(value)

        assert n("inference_count") - int(before["inference_count"]) == 1 + 2 + 3 + 4
        assert n("execution_count") - int(before["execution_count"]) == 4
        assert n("success", "count") - int(before["inference_stats"]["success"]["count"]) == 4
        assert n("fail", "count") - int(before["inference_stats"]["fail"]["count"]) == 1
        assert n("compute_infer", "ns") > int(before["inference_stats"]["compute_infer"]["ns"])
        assert int(stats["last_inference"]) > 0


def test_all_models_statistics_route(triton, repository):
    r = requests.get(f"{triton.url}/v2/models/stats", timeout=HTTP_TIMEOUT_S)
    assert r.status_code == 200, r.text
    names = {entry["name"] for entry in jloads(r.content)["model_stats"]}
    assert names == {p.name for p in repository.iterdir() if p.is_dir()}


# ----------------------------------------------------------------------------------------------------------
# refused configs, control modes
# ----------------------------------------------------------------------------------------------------------


def copy_repository(src: Path, dst: Path, names: list[str]) -> Path:
    dst.mkdir(parents=True)
    for name in names:
        shutil.copytree(src / name, dst / name)
    return dst


def test_unknown_config_field_refuses_the_model_by_name(repository, tmp_path):
    repo = copy_repository(repository, tmp_path / "repo", ["onnx_float32_float32_float32", "onnx_int64_int64_int64"])
    config = repo / "onnx_int64_int64_int64" / "config.pbtxt"
    config.write_text(config.read_text() + "sequence_batching { }\n")
    srv = ServerProcess("triton-bad", [f"--model_repository={repo}"])
    # The server is not ready (a model failed); wait for the good model instead.
    srv._wait_ready = lambda: wait_model_ready(srv, "onnx_float32_float32_float32")
    srv.start()
    try:
        client = http_client(srv)
        assert not client.is_model_ready("onnx_int64_int64_int64")
        assert requests.get(f"{srv.url}/v2/health/ready", timeout=HTTP_TIMEOUT_S).status_code == 503
        log = srv.log_since(0)
        assert 'no field named "sequence_batching"' in log, log
    finally:
        srv.stop()


def test_explicit_mode_loads_only_what_it_is_told(repository, tmp_path):
    repo = copy_repository(
        repository, tmp_path / "repo", ["onnx_float32_float32_float32", "onnx_int64_int64_int64", "classifier"]
    )
    (repo / "broken").mkdir()
    (repo / "broken" / "config.pbtxt").write_text('name: "broken"\nbogus_knob: 3\n')
    srv = ServerProcess(
        "triton-explicit",
        [f"--model_repository={repo}", "--model-control-mode=explicit", "--load-model=classifier", NO_TOKEN],
        ready_models=["classifier"],
    )
    srv.start()
    try:
        http = http_client(srv)
        grpc = grpc_client(srv)
        assert not http.is_model_ready("onnx_int64_int64_int64")
        http.load_model("onnx_int64_int64_int64", headers=JSON)
        assert http.is_model_ready("onnx_int64_int64_int64")
        grpc.load_model("onnx_float32_float32_float32")
        assert grpc.is_model_ready("onnx_float32_float32_float32")
        assert http.get_model_config("onnx_float32_float32_float32")["max_batch_size"] == 8
        http.unload_model("onnx_int64_int64_int64", headers=JSON)
        deadline = time.monotonic() + 10
        while http.is_model_ready("onnx_int64_int64_int64") and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not http.is_model_ready("onnx_int64_int64_int64")
        with pytest.raises(InferenceServerException) as err:
            http.load_model("broken", headers=JSON)
        assert "bogus_knob" in str(err.value)
        assert err.value.status() == "400"
    finally:
        srv.stop()


def test_poll_mode_picks_up_a_new_model(repository, tmp_path):
    repo = copy_repository(repository, tmp_path / "repo", ["onnx_float32_float32_float32"])
    srv = ServerProcess(
        "triton-poll",
        [f"--model_repository={repo}", "--model_control_mode=poll", "--repository_poll_secs=1"],
        ready_models=["onnx_float32_float32_float32"],
    )
    srv.start()
    try:
        client = http_client(srv)
        shutil.copytree(repository / "onnx_int32_int32_int32", repo / "onnx_int32_int32_int32")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not client.is_model_ready("onnx_int32_int32_int32"):
            time.sleep(0.2)
        assert client.is_model_ready("onnx_int32_int32_int32")
        shutil.rmtree(repo / "onnx_float32_float32_float32")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and client.is_model_ready("onnx_float32_float32_float32"):
            time.sleep(0.2)
        assert not client.is_model_ready("onnx_float32_float32_float32")
    finally:
        srv.stop()


def test_perf_analyzer_reads_the_config(triton):
    from test_perf_analyzer import require_perf_analyzer

    exe = require_perf_analyzer()
    cmd = [
        str(exe), "-m", "onnx_float32_float32_float32", "-u", f"127.0.0.1:{triton.grpc_port}", "-i", "grpc",
        "-b", "2", "--measurement-interval", "500", "--concurrency-range", "1:1", "--request-count", "50",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    # perf_analyzer refuses -b above the config's max_batch_size: it read the config.
    over = subprocess.run(cmd[:-8] + ["-b", "9", "--request-count", "5"], capture_output=True, text=True, timeout=180)
    assert over.returncode != 0


def test_repository_beside_a_model_config_file(repository, models_dir, tmp_path):
    cfg = tmp_path / "models.config"
    cfg.write_text(
        f"model_config_list {{ config {{ name: 'add' base_path: '{models_dir / 'add'}' model_platform: 'onnx' }} }}\n"
    )
    repo = copy_repository(repository, tmp_path / "repo", ["onnx_int32_int32_int32"])
    srv = ServerProcess(
        "triton-beside",
        [f"--model_config_file={cfg}", f"--model_repository={repo}"],
        ready_models=["add", "onnx_int32_int32_int32"],
    )
    srv.start()
    try:
        client = http_client(srv)
        assert client.get_model_config("onnx_int32_int32_int32")["max_batch_size"] == 8
        # The TF Serving model keeps its TF Serving behaviour: no Triton limits, its own config route.
        assert client.get_model_config("add")["name"] == "add"
        r = requests.get(f"{srv.url}/v1/models/add", timeout=HTTP_TIMEOUT_S)
        assert r.status_code == 200, r.text
    finally:
        srv.stop()

    # The same name on both sides is refused at start-up.
    clash = tmp_path / "clash.config"
    clash.write_text(
        "model_config_list { config { name: 'onnx_int32_int32_int32' "
        f"base_path: '{models_dir / 'add'}' model_platform: 'onnx' }} }}\n"
    )
    proc = subprocess.run(
        [str(require_binary()), f"--model_config_file={clash}", f"--model_repository={repo}", "--rest_api_port=0", "--port=0"],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode != 0
    assert "both in --model_repository and in the model config" in proc.stdout + proc.stderr
