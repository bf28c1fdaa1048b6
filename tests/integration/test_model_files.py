"""Hostile model files: external data that points outside the version directory must fail that version's
load with an error naming the file, while the working version keeps serving."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
import requests
from onnx import TensorProto, helper, numpy_helper

from conftest import ServerProcess


def external_data_model(version_dir: Path, location: str) -> None:
    """y = x + w, with w (16 floats) stored as external data at `location` (not checked here)."""
    version_dir.mkdir(parents=True, exist_ok=True)
    weights = numpy_helper.from_array(np.arange(16, dtype=np.float32).reshape(1, 16), "w")
    weights.ClearField("raw_data")
    weights.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", "64")):
        entry = weights.external_data.add()
        entry.key, entry.value = key, value
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "w"], ["y"])], "ext",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [-1, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [-1, 16])], initializer=[weights])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    (version_dir / "model.onnx").write_bytes(model.SerializeToString())


@pytest.mark.parametrize("location", ["../../outside.bin", "/etc/passwd", "sub/../../outside.bin", "link.bin"])
def test_external_data_escape_fails_that_version_only(tmp_path, models_dir, location):
    base = tmp_path / "ext"
    shutil.copytree(models_dir / "add" / "1", base / "1")  # a working version 1 (the add model)
    (tmp_path / "outside.bin").write_bytes(np.zeros(16, dtype=np.float32).tobytes())
    external_data_model(base / "2", location)
    if location == "link.bin":
        os.symlink(tmp_path / "outside.bin", base / "2" / "link.bin")
    srv = ServerProcess("model-files", [f"--model_name=ext", f"--model_base_path={base}",
                                        "--file_system_poll_wait_seconds=0"], ready_models=["ext"])
    srv.start()
    try:
        status = requests.get(srv.url + "/v1/models/ext", timeout=30).json()["model_version_status"]
        by_version = {s["version"]: s for s in status}
        assert by_version["2"]["state"] == "END"
        message = by_version["2"]["status"]["error_message"]
        assert "2/model.onnx" in message and "external data" in message, message
        assert by_version["1"]["state"] == "AVAILABLE"
        body = {"instances": [{"a": [1.0] * 16, "b": [2.0] * 16}]}
        resp = requests.post(srv.url + "/v1/models/ext:predict", json=body, timeout=30)
        assert resp.status_code == 200 and resp.json()["predictions"] == [[3.0] * 16]
    finally:
        assert srv.stop() == 0


def test_valid_external_data_loads(tmp_path):
    base = tmp_path / "ext"
    external_data_model(base / "1", "weights.bin")
    (base / "1" / "weights.bin").write_bytes(np.arange(16, dtype=np.float32).tobytes())
    srv = ServerProcess("model-files-ok", [f"--model_name=ext", f"--model_base_path={base}",
                                           "--file_system_poll_wait_seconds=0"], ready_models=["ext"])
    srv.start()
    try:
        resp = requests.post(srv.url + "/v1/models/ext:predict", json={"instances": [[1.0] * 16]}, timeout=30)
        assert resp.status_code == 200, resp.text
        assert resp.json()["predictions"] == [[1.0 + i for i in range(16)]]
    finally:
        assert srv.stop() == 0
