"""Errors tell the client what went wrong, not where the server's files live: no absolute model paths or
ONNX Runtime source locations in any protocol's error text (the server log keeps them), echoed names cut
to a sane length; version directories are digits only; versions a `latest` policy will not load are not
listed."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import grpc
import pytest
import requests
from onnx import TensorProto, helper
from tensorflow_serving.apis import get_model_status_pb2, model_service_pb2_grpc, predict_pb2, prediction_service_pb2_grpc

from conftest import ServerProcess


def too_new_model(path: Path) -> None:
    """A valid graph with an IR version ONNX Runtime refuses (its error names its own source file)."""
    path.mkdir(parents=True, exist_ok=True)
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [-1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [-1, 4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 99
    (path / "model.onnx").write_bytes(model.SerializeToString())


def assert_no_server_paths(text: str, tmp_path: Path) -> None:
    assert str(tmp_path) not in text, text
    assert "onnxruntime_src" not in text and ".cc:" not in text, text
    assert not any(word.startswith("/") and word.count("/") > 1 for word in text.replace("'", " ").split()), text


@pytest.fixture(scope="module")
def broken(models_dir, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("errors")
    base = tmp / "m"
    shutil.copytree(models_dir / "add" / "1", base / "1")
    too_new_model(base / "2")
    (base / "3").mkdir()
    (base / "3" / "model.onnx").write_bytes(b"not an onnx file")
    srv = ServerProcess("errors", [f"--model_config_file={write_all_policy(tmp, base)}"], ready_models=["m"]).start()
    yield srv, tmp
    assert srv.stop() == 0


def write_all_policy(tmp: Path, base: Path) -> Path:
    cfg = tmp / "models.config"
    cfg.write_text("model_config_list {\n  config {\n    name: 'm'\n    base_path: '%s'\n    model_platform: 'onnx'\n"
                   "    model_version_policy { all {} }\n  }\n}\n" % base)
    return cfg


def test_load_errors_carry_no_paths_rest(broken):
    srv, tmp = broken
    status = requests.get(srv.url + "/v1/models/m", timeout=30).json()["model_version_status"]
    by_version = {s["version"]: s for s in status}
    assert by_version["1"]["state"] == "AVAILABLE"
    for version in ("2", "3"):
        assert by_version[version]["state"] == "END", status
        message = by_version[version]["status"]["error_message"]
        assert message, status
        assert_no_server_paths(message, tmp)
    assert "IR version" in by_version["2"]["status"]["error_message"]
    # the server log still has the whole text
    assert str(tmp) in srv.log_path.read_text(errors="replace")


def test_load_errors_carry_no_paths_grpc(broken):
    srv, tmp = broken
    with grpc.insecure_channel(f"127.0.0.1:{srv.grpc_port}") as channel:
        stub = model_service_pb2_grpc.ModelServiceStub(channel)
        request = get_model_status_pb2.GetModelStatusRequest()
        request.model_spec.name = "m"
        response = stub.GetModelStatus(request, timeout=30)
    messages = [v.status.error_message for v in response.model_version_status if v.version in (2, 3)]
    assert len(messages) == 2 and all(messages), response
    for message in messages:
        assert_no_server_paths(message, tmp)


def test_echoed_names_are_cut(broken):
    srv, _ = broken
    name = "n" * (1 << 20)
    with grpc.insecure_channel(f"127.0.0.1:{srv.grpc_port}",
                               options=[("grpc.max_send_message_length", 8 << 20)]) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        request = predict_pb2.PredictRequest()
        request.model_spec.name = name
        with pytest.raises(grpc.RpcError) as info:
            stub.Predict(request, timeout=30)
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    details = info.value.details()
    assert len(details) < 600 and "nnnn..." in details, (len(details), details[:100])
    r = requests.get(srv.url + "/v2/models/" + "k" * 30000, timeout=30)
    assert r.status_code in (400, 404) and len(r.text) < 600, (r.status_code, len(r.text))


def version_list(srv: ServerProcess, model: str) -> dict[str, str]:
    status = requests.get(srv.url + f"/v1/models/{model}", timeout=30).json()["model_version_status"]
    return {s["version"]: s["state"] for s in status}


def test_signed_version_dirs_are_not_versions(models_dir, tmp_path):
    base = tmp_path / "signed"
    shutil.copytree(models_dir / "add" / "1", base / "1")
    for name in ("-0", "+5", " 7", "0x9"):
        shutil.copytree(models_dir / "add" / "1", base / name)
    cfg = write_all_policy(tmp_path, base)
    srv = ServerProcess("signed", [f"--model_config_file={cfg}", "--file_system_poll_wait_seconds=1"],
                        ready_models=["m"]).start()
    try:
        time.sleep(1.5)
        assert version_list(srv, "m") == {"1": "AVAILABLE"}
    finally:
        assert srv.stop() == 0


def test_versions_latest_will_not_load_are_not_listed(models_dir, tmp_path):
    """An older version appearing next to the served one goes through START for one scan at most."""
    base = tmp_path / "latest"
    shutil.copytree(models_dir / "add" / "2", base / "5")
    srv = ServerProcess("latest", ["--model_name=m", f"--model_base_path={base}", "--file_system_poll_wait_seconds=1"],
                        ready_models=["m"]).start()
    try:
        shutil.copytree(models_dir / "add" / "1", base / "3")
        deadline = time.monotonic() + 10
        versions = version_list(srv, "m")
        while time.monotonic() < deadline and "3" in versions:
            time.sleep(0.3)
            versions = version_list(srv, "m")
        assert versions == {"5": "AVAILABLE"}, versions
    finally:
        assert srv.stop() == 0
