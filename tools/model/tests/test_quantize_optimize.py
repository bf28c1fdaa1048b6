"""quantize (static QDQ with the accuracy guard, dynamic), optimize (offline ORT, FP16), ONNX-vs-ONNX compare."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
from conftest import in_process, read_json, run_tool


def test_static_int8_digits_agrees_with_fp32(models, converted_digits, tmp_path):
    base = tmp_path / "digits"
    import shutil

    shutil.copytree(converted_digits, base)
    data = models / "digits"
    assert in_process("quantize", str(base / "1"), "--mode", "static", "--calibration",
                      str(data / "digits_calib.npz"), "--holdout", str(data / "digits_holdout.npz"),
                      "--runs", "20") == 0
    report = read_json(base / "2" / "quantize-report.json")  # published as the next version, report beside it
    assert report["published"] and report["quantization"]["format"] == "QDQ"
    assert report["quantization"]["per_channel"] is True
    guard = report["accuracy_guard"]
    assert guard["ok"] and guard["held_out_examples"] == 540
    assert guard["outputs"]["probs"]["top1_agreement"] >= 0.99
    assert report["cpu"]["isa"] and report["quantization"]["reduce_range"] == (not report["cpu"]["vnni"])
    assert report["speed"]["fp32_ms"] > 0 and report["speed"]["int8_ms"] > 0 and report["speed"]["speedup"] > 0
    # the INT8 graph really is quantized, and keeps the FP32 version's signature file
    ops = {n.op_type for n in onnx.load(str(base / "2" / "model.onnx")).graph.node}
    assert "QuantizeLinear" in ops and "DequantizeLinear" in ops
    assert (base / "2" / "signatures.json").exists()
    # accuracy against the labels, not only against FP32
    holdout = np.load(data / "digits_holdout.npz")["image"]
    labels = np.load(data / "digits_holdout_labels.npy")
    probs = ort.InferenceSession(str(base / "2" / "model.onnx")).run(["probs"], {"image": holdout})[0]
    assert np.mean(probs.argmax(1) == labels) > 0.9
    # ONNX vs ONNX: fp32 vs int8 by top-1 agreement
    assert in_process("compare", str(base / "1"), str(base / "2"), "--npz", str(data / "digits_holdout.npz"),
                      "--min-top1", "0.99", "--runs", "5", "--report", str(tmp_path / "c.json")) == 0
    c = read_json(tmp_path / "c.json")["signatures"]["serving_default"]
    assert c["outputs"]["probs"]["top1_agreement"] >= 0.99 and c["speed"]["a_runtime"] == "onnxruntime"
    # elementwise at FP32 tolerance the INT8 model does differ: compare says so
    assert in_process("compare", str(base / "1"), str(base / "2"), "--npz", str(data / "digits_holdout.npz"),
                      "--runs", "0", "--report", str(tmp_path / "c2.json")) == 1


def test_guard_refuses_constant_calibration(models, converted_digits, tmp_path):
    import shutil

    base = tmp_path / "digits"
    shutil.copytree(converted_digits, base)
    samples = tmp_path / "calib"
    samples.mkdir()
    np.save(samples / "0.npy", np.zeros((8, 8, 1), np.float32))  # one constant sample: useless ranges
    proc = run_tool("quantize", str(base / "1"), "--mode", "static", "--calibration", str(samples),
                    "--holdout", str(models / "digits" / "digits_holdout.npz"), "--runs", "2", expect=3)
    assert "refusing to publish" in proc.stderr and "top-1 agreement with FP32" in proc.stderr
    assert "--force" in proc.stderr
    assert not (base / "2").exists()
    refused = read_json(base / ".2.quantize-refused.json")
    assert not refused["published"] and not refused["accuracy_guard"]["ok"]
    # --force publishes it anyway, and says so in the report
    run_tool("quantize", str(base / "1"), "--mode", "static", "--calibration", str(samples), "--holdout",
             str(models / "digits" / "digits_holdout.npz"), "--runs", "2", "--force")
    forced = read_json(base / "2" / "quantize-report.json")
    assert forced["published"] and forced["forced"] and not forced["accuracy_guard"]["ok"]


def test_dynamic_int8(models, converted_digits, tmp_path):
    import shutil

    base = tmp_path / "digits"
    shutil.copytree(converted_digits, base)
    assert in_process("quantize", str(base / "1"), "--mode", "dynamic", "--holdout",
                      str(models / "digits" / "digits_holdout.npz"), "--runs", "5") == 0
    report = read_json(base / "2" / "quantize-report.json")
    assert report["quantization"]["op_types"] == ["MatMul", "Gemm"]
    ops = {n.op_type for n in onnx.load(str(base / "2" / "model.onnx")).graph.node}
    assert ops & {"MatMulInteger", "DynamicQuantizeLinear", "DynamicQuantizeMatMul"}
    assert report["accuracy_guard"]["outputs"]["probs"]["top1_agreement"] >= 0.99


def test_optimize_offline_and_fp16(models, converted_digits, tmp_path):
    import shutil

    base = tmp_path / "digits"
    shutil.copytree(converted_digits, base)
    npz = str(models / "digits" / "digits_holdout.npz")
    assert in_process("optimize", str(base / "1"), "--level", "extended") == 0
    report = read_json(base / "2" / "optimize-report.json")
    assert report["level"] == "extended" and report["graphs"][0]["graph"] == "model.onnx"
    assert in_process("compare", str(base / "1"), str(base / "2"), "--npz", npz, "--runs", "0",
                      "--report", str(tmp_path / "c.json")) == 0
    assert in_process("optimize", str(base / "1"), "--level", "none", "--fp16") == 0
    model = onnx.load(str(base / "3" / "model.onnx"))
    assert any(i.data_type == onnx.TensorProto.FLOAT16 for i in model.graph.initializer)
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT  # clients unchanged
    assert in_process("compare", str(base / "1"), str(base / "3"), "--npz", npz, "--atol", "1e-2", "--min-top1",
                      "0.99", "--runs", "0", "--report", str(tmp_path / "c3.json")) == 0
    proc = run_tool("optimize", str(base / "1"), "--provider", "tensorrt", expect=2)
    assert "not available" in proc.stderr


def test_quantize_every_signature_graph_and_serve_them(converted_hp2, serval_server, tmp_path):
    """A version with signatures.json: every graph it lists is quantized (each guarded on its own inputs:
    random tf.Examples parsed with the feature spec for the tf.Example ones), signatures.json is carried over,
    and Serval serves every signature of the result."""
    import shutil

    import requests
    from conftest import write_config

    base = tmp_path / "hp2"
    shutil.copytree(converted_hp2, base)
    assert in_process("quantize", str(base / "123"), "--mode", "dynamic", "--runs", "2") == 0
    doc = read_json(base / "123" / "signatures.json")
    assert read_json(base / "124" / "signatures.json") == doc
    for entry in doc["signatures"].values():
        assert onnx.load(str(base / "124" / entry["graph"])).producer_name == "onnx.quantize", entry["graph"]
    report = read_json(base / "124" / "quantize-report.json")
    others = report["other_signatures"]
    assert set(others) == set(doc["signatures"]) - {"serving_default"}
    for key, entry in others.items():
        assert entry["accuracy_guard"]["ok"], (key, entry)
        assert entry["holdout"].startswith("random tf.Examples" if "parse_example" in
                                           next(iter(doc["signatures"][key]["inputs"].values())) else
                                           "the data given for serving_default")
    cfg = tmp_path / "models.config"
    write_config(cfg, [("hp2", base, "model_version_policy { specific { versions: 124 } }")])
    server = serval_server(f"--model_config_file={cfg}")
    server.wait_available("hp2")
    # the fixture's tf.Example signatures name their input after the function argument, not "inputs", so they
    # are reached through Predict with serialized tf.Examples (Serval parses them with the feature spec)
    import base64

    from tensorflow.core.example import example_pb2

    with_x2 = example_pb2.Example()
    with_x2.features.feature["x2"].float_list.value.append(4.0)
    rows = [{"b64": base64.b64encode(e.SerializeToString()).decode()} for e in (with_x2, example_pb2.Example())]
    for key, want in (("regress_x2_to_y3", [[5.0], [3.0]]), ("classify_x_to_y", [[2.0], [2.0]])):
        (alias,) = doc["signatures"][key]["inputs"]
        r = requests.post(f"{server.url}/v1/models/hp2/versions/124:predict",
                          json={"signature_name": key, "inputs": {alias: rows}}, timeout=10)
        assert r.status_code == 200 and r.json() == {"outputs": want}, (key, r.text)  # a missing feature: default 0


def test_quantize_guards_every_signature(converted_hp2, tmp_path):
    """A signature whose INT8 graph fails the guard refuses the whole version, naming the signature."""
    import shutil

    base = tmp_path / "hp2"
    shutil.copytree(converted_hp2, base)
    np.savez(tmp_path / "x.npz", x=np.linspace(-1, 1, 64, dtype=np.float32).reshape(64, 1))
    # calibrated on [-1, 1], held out on values 1000 times larger: every graph fed "x" saturates
    np.savez(tmp_path / "far.npz", x=np.linspace(-1000, 1000, 64, dtype=np.float32).reshape(64, 1))
    proc = run_tool("quantize", str(base / "123"), "--mode", "static", "--calibration", str(tmp_path / "x.npz"),
                    "--holdout", str(tmp_path / "far.npz"), "--runs", "1", expect=3)
    assert "signature 'times_two'" in proc.stderr, proc.stderr
    assert not (base / "124").exists()
