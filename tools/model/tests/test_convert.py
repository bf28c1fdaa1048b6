"""convert + compare on TF Serving-style SavedModels: every signature, tf.Example cut, TF1 export, refusals."""

from __future__ import annotations

import shutil

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from conftest import in_process, read_json


def test_convert_base_path_every_signature(converted_hp2):
    version = converted_hp2 / "123"  # source dir 00000123: written as the plain number Serval looks up
    assert version.is_dir()
    doc = read_json(version / "signatures.json")
    assert doc["format"] == "serval.signatures.v1"
    assert doc["source"]["kind"] == "saved_model" and doc["source"]["tags"] == ["serve"]
    assert doc["source"]["converter"] == "tf2onnx 1.16.1" and doc["source"]["opset"] == 17
    sigs = doc["signatures"]
    assert set(sigs) == {"serving_default", "classify_x_to_y", "regress_x_to_y", "regress_x2_to_y3",
                         "classify_x2_to_y3", "times_two"}
    sd = sigs["serving_default"]
    assert sd["method_name"] == "tensorflow/serving/predict" and sd["graph"] == "model.onnx"
    assert sd["inputs"]["x"]["onnx_name"] == "x" and sd["inputs"]["x"]["dtype"] == "DT_FLOAT"
    assert sd["inputs"]["x"]["shape"] == [-1, 1] and sd["inputs"]["x"]["tf_name"].startswith("serving_default_x")
    assert sd["outputs"]["y"]["onnx_name"] == "y" and sd["outputs"]["y"]["shape"] == [-1, 1]
    cl = sigs["classify_x_to_y"]
    assert cl["method_name"] == "tensorflow/serving/classify" and cl["graph"] == "classify_x_to_y.onnx"
    (alias, item), = cl["inputs"].items()
    assert item["dtype"] == "DT_STRING" and item["shape"] == [-1]
    assert item["parse_example"] == {"x": {"onnx_name": "x", "kind": "fixed_len", "dtype": "DT_FLOAT",
                                           "shape": [1], "default": [0.0]}}
    assert sigs["regress_x2_to_y3"]["method_name"] == "tensorflow/serving/regress"
    assert set(sigs["regress_x2_to_y3"]["inputs"][alias]["parse_example"]) == {"x2"}
    # every graph file exists and runs; serving_default computes 0.5x + 2, the cut graph takes parsed features
    for entry in sigs.values():
        assert (version / entry["graph"]).exists()
    x = np.array([[1.0], [4.0]], np.float32)
    y = ort.InferenceSession(str(version / "model.onnx")).run(["y"], {"x": x})[0]
    np.testing.assert_allclose(y, 0.5 * x + 2)
    s = ort.InferenceSession(str(version / "regress_x2_to_y3.onnx"))
    assert [i.name for i in s.get_inputs()] == ["x2"]
    np.testing.assert_allclose(s.run(None, {"x2": x})[0], 0.5 * x + 3)
    assert (version / "assets.extra" / "tf_serving_warmup_requests").exists()
    report = read_json(converted_hp2 / "convert-report.json")
    assert report["opset"] == 17
    assert report["versions"][0]["warmup_carried"]["records_by_signature"] == {"serving_default": 1}


def test_compare_every_signature_passes(models, converted_hp2, tmp_path):
    report_path = tmp_path / "r.json"
    assert in_process("compare", str(models / "half_plus_two" / "00000123"), str(converted_hp2 / "123"),
                      "--report", str(report_path), "--runs", "3") == 0
    report = read_json(report_path)
    assert report["ok"] and len(report["signatures"]) == 6
    cl = report["signatures"]["classify_x_to_y"]
    assert cl["compared_on"].startswith("parsed features") and cl["outputs"]["scores"]["max_abs_error"] < 1e-6
    assert report["signatures"]["serving_default"]["speed"]["b_runtime"] == "onnxruntime"


def test_compare_with_warmup_records(models, converted_hp2, tmp_path):
    src = models / "half_plus_two" / "00000123"
    assert in_process("compare", str(src), str(converted_hp2 / "123"), "--signature", "serving_default",
                      "--warmup", str(src / "assets.extra" / "tf_serving_warmup_requests"), "--runs", "0",
                      "--report", str(tmp_path / "r.json")) == 0
    assert "warm-up file" in read_json(tmp_path / "r.json")["signatures"]["serving_default"]["inputs"]


def test_compare_fails_on_a_changed_model(models, converted_hp2, tmp_path):
    """An ONNX graph whose weight differs from the SavedModel's: compare exits 1 and names the output."""
    broken = tmp_path / "broken"
    shutil.copytree(converted_hp2 / "123", broken)
    model = onnx.load(str(broken / "model.onnx"))
    changed = 0
    for init in model.graph.initializer:
        value = onnx.numpy_helper.to_array(init)
        if value.size == 1 and float(value.reshape(-1)[0]) == 2.0:
            init.CopyFrom(onnx.numpy_helper.from_array(np.full_like(value, 2.01), init.name))
            changed += 1
    assert changed
    onnx.save(model, str(broken / "model.onnx"))
    assert in_process("compare", str(models / "half_plus_two" / "00000123"), str(broken), "--signature",
                      "serving_default", "--runs", "0", "--report", str(tmp_path / "r.json")) == 1
    y = read_json(tmp_path / "r.json")["signatures"]["serving_default"]["outputs"]["y"]
    assert not y["ok"] and y["max_abs_error"] == pytest.approx(0.01, rel=1e-3)


def test_tf1_savedmodelbuilder_export(models, tmp_path):
    out = tmp_path / "tf1"
    assert in_process("convert", str(models / "half_plus_two_tf1" / "1"), "--out", str(out)) == 0
    doc = read_json(out / "1" / "signatures.json")
    assert doc["signatures"]["classify_x_to_y"]["inputs"]["inputs"]["parse_example"]["x"]["kind"] == "fixed_len"
    assert in_process("compare", str(models / "half_plus_two_tf1" / "1"), str(out / "1"), "--runs", "0",
                      "--report", str(tmp_path / "r.json")) == 0
    assert set(read_json(tmp_path / "r.json")["signatures"]) == {"serving_default", "classify_x_to_y",
                                                                  "regress_x_to_y"}


def test_custom_op_is_refused_by_name(models, tmp_path, capsys):
    assert in_process("convert", str(models / "custom_op" / "1"), "--out", str(tmp_path / "out")) == 2
    err = capsys.readouterr().err
    assert "SentencepieceTokenizeOp" in err and "no ONNX conversion" in err
    assert not (tmp_path / "out" / "1").exists()


def test_unconvertible_core_op_is_refused_by_name(models, tmp_path, capsys):
    assert in_process("convert", str(models / "string_op" / "1"), "--out", str(tmp_path / "out")) == 2
    err = capsys.readouterr().err
    assert "'StringLength'" in err and "no ONNX conversion" in err
    assert not (tmp_path / "out" / "1").exists()


def test_unknown_signature_and_bad_source(models, tmp_path, capsys):
    assert in_process("convert", str(models / "half_plus_two" / "00000123"), "--out", str(tmp_path / "o"),
                      "--signatures", "nope") == 2
    assert "no signature(s) ['nope']" in capsys.readouterr().err
    assert in_process("convert", str(tmp_path), "--out", str(tmp_path / "o")) == 2
    assert "neither a SavedModel nor a base path" in capsys.readouterr().err


def test_var_len_feature_cut_and_compared(models, tmp_path):
    out = tmp_path / "vl"
    assert in_process("convert", str(models / "var_len" / "1"), "--out", str(out)) == 0
    sig = read_json(out / "1" / "signatures.json")["signatures"]["serving_default"]
    assert sig["method_name"] == "tensorflow/serving/regress"
    features = sig["inputs"]["examples"]["parse_example"]
    assert features["ids"] == {"onnx_name": "ids", "kind": "var_len", "dtype": "DT_INT64", "shape": [-1],
                               "default": None, "onnx_indices": "ids_indices", "onnx_dense_shape": "ids_dense_shape"}
    assert features["w"]["default"] == [1.0, 0.5] and features["w"]["shape"] == [2]
    assert in_process("compare", str(models / "var_len" / "1"), str(out / "1"), "--batch", "6", "--runs", "0",
                      "--report", str(tmp_path / "r.json")) == 0
    outputs = read_json(tmp_path / "r.json")["signatures"]["serving_default"]["outputs"]["outputs"]
    assert outputs["ok"] and outputs["max_abs_reference"] > 0  # real values compared, not zeros


def test_keras_model_file(models, tmp_path):
    out = tmp_path / "k"
    assert in_process("convert", str(models / "digits" / "digits.keras"), "--out", str(out), "--version", "5") == 0
    doc = read_json(out / "5" / "signatures.json")
    (entry,) = doc["signatures"].values()
    x = np.load(models / "digits" / "digits_holdout.npz")["image"][:16]
    import tensorflow as tf

    ref = tf.keras.models.load_model(str(models / "digits" / "digits.keras")).predict(x, verbose=0)
    (inp,) = entry["inputs"].values()
    (outp,) = entry["outputs"].values()
    got = ort.InferenceSession(str(out / "5" / entry["graph"])).run([outp["onnx_name"]], {inp["onnx_name"]: x})[0]
    np.testing.assert_allclose(got, ref, atol=1e-5)
