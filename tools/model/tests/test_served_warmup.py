"""warmup files and served-mode compare against the real serval binary on loopback."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from conftest import in_process, read_json, run_tool, write_config

from serval_model import samples


def test_warmup_predict_records_round_trip(converted_hp2, tmp_path):
    version = tmp_path / "hp2" / "7"
    shutil.copytree(converted_hp2 / "123", version)
    (version / "assets.extra" / "tf_serving_warmup_requests").unlink()
    x = np.arange(6, dtype=np.float32).reshape(6, 1)
    np.savez(tmp_path / "x.npz", x=x)
    assert in_process("warmup", str(version), "--npz", str(tmp_path / "x.npz"), "--batch", "2",
                      "--num-records", "3", "--model-name", "hp2") == 0
    records = list(samples.read_warmup(version / "assets.extra" / "tf_serving_warmup_requests"))
    assert len(records) == 3 and all(r.WhichOneof("log_type") == "predict_log" for r in records)
    import tensorflow as tf

    got = np.concatenate([tf.make_ndarray(r.predict_log.request.inputs["x"]) for r in records])
    np.testing.assert_array_equal(got, x)
    assert records[0].predict_log.request.model_spec.signature_name == "serving_default"
    assert read_json(version / "warmup-report.json")["records"] == 3


def test_warmup_example_signature_writes_classify_and_regress_logs(converted_hp2, tmp_path):
    version = tmp_path / "hp2" / "7"
    shutil.copytree(converted_hp2 / "123", version)
    assert in_process("warmup", str(version), "--signature", "classify_x_to_y", "--batch", "3",
                      "--report", str(tmp_path / "w.json")) == 0
    records = list(samples.read_warmup(version / "assets.extra" / "tf_serving_warmup_requests"))
    assert records[0].WhichOneof("log_type") == "classify_log"
    examples = records[0].classify_log.request.input.example_list.examples
    assert len(examples) == 3 and len(examples[0].features.feature["x"].float_list.value) == 1
    assert in_process("warmup", str(version), "--signature", "regress_x2_to_y3", "--report",
                      str(tmp_path / "w2.json")) == 0
    records = list(samples.read_warmup(version / "assets.extra" / "tf_serving_warmup_requests"))
    assert records[0].WhichOneof("log_type") == "regress_log"
    assert "x2" in records[0].regress_log.request.input.example_list.examples[0].features.feature


@pytest.fixture
def served_hp2(converted_hp2, tmp_path):
    """half_plus_two as converted, with a warm-up file written by the tool (Serval replays it at load: a record
    it could not run would fail the load), plus a copy whose bias differs."""
    import onnx

    good = tmp_path / "good"
    shutil.copytree(converted_hp2, good)
    version = good / "123"
    run_tool("warmup", str(version), "--num-records", "2", "--batch", "3")
    off = tmp_path / "off"
    shutil.copytree(converted_hp2, off)
    model = onnx.load(str(off / "123" / "model.onnx"))
    for init in model.graph.initializer:
        value = onnx.numpy_helper.to_array(init)
        if value.size == 1 and float(value.reshape(-1)[0]) == 2.0:
            init.CopyFrom(onnx.numpy_helper.from_array(np.full_like(value, 2.5), init.name))
    onnx.save(model, str(off / "123" / "model.onnx"))
    return good, off


def test_served_compare_two_models(served_hp2, serval_server, tmp_path):
    good, off = served_hp2
    cfg = tmp_path / "models.config"
    write_config(cfg, [("hp2", good, ""), ("hp2_copy", good, ""), ("hp2_off", off, "")])
    server = serval_server(f"--model_config_file={cfg}")
    for name in ("hp2", "hp2_copy", "hp2_off"):
        server.wait_available(name)
    assert "model hp2 version 123: warm-up ran 2 requests" in server.log()
    assert in_process("compare", "hp2", "hp2_copy:123", "--served", server.url, "--report",
                      str(tmp_path / "s.json")) == 0
    report = read_json(tmp_path / "s.json")["signatures"]["serving_default"]
    assert report["ok"] and report["b_route"].endswith("/v1/models/hp2_copy/versions/123")
    assert report["outputs"]["y"]["max_abs_error"] == 0.0
    assert in_process("compare", "hp2", "hp2_off", "--served", server.url, "--report",
                      str(tmp_path / "s2.json")) == 1
    y = read_json(tmp_path / "s2.json")["signatures"]["serving_default"]["outputs"]["y"]
    assert y["max_abs_error"] == pytest.approx(0.5, rel=1e-5)
    proc = run_tool("compare", "hp2", "nope", "--served", server.url, "--report", str(tmp_path / "s3.json"),
                    expect=2)
    assert "HTTP 404" in proc.stderr
