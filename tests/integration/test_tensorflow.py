"""TensorFlow SavedModels served by the TensorFlow engine (a worker process running TensorFlow's C API),
beside ONNX models, on every surface: TF Serving REST and gRPC (the official `tensorflow-serving-api`
stubs), KServe v2 REST and gRPC (`tritonclient`). Every answer is compared with TensorFlow itself, in
process, on the same SavedModel and input.

Models come from `models/make_tf_models.py` (TF Serving's half_plus_two with every signature kind and
zero-padded version dirs, a TF1 SavedModelBuilder export, one identity signature per dtype, an
unknown-rank input, a slow model), built once into build/tf-models.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import grpc
import numpy as np
import pytest
import requests
import tensorflow as tf
import tritonclient.grpc as triton_grpc
import tritonclient.http as triton_http
from google.protobuf import wrappers_pb2
from tensorflow.core.example import example_pb2, feature_pb2
from tensorflow.core.framework import types_pb2
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    inference_pb2,
    input_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_log_pb2,
    prediction_service_pb2_grpc,
    regression_pb2,
)

from conftest import PYTHON, REPO, ServerProcess, assert_close, tail

TF_MODELS = Path(os.environ.get("SERVAL_TF_MODELS_DIR", str(REPO / "build" / "tf-models")))
RPC_TIMEOUT_S = 30


@pytest.fixture(scope="session")
def tf_models() -> Path:
    proc = subprocess.run(
        [PYTHON, str(REPO / "models" / "make_tf_models.py"), "--out", str(TF_MODELS)],
        capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 0, f"make_tf_models.py failed:\n{proc.stdout}\n{proc.stderr}"
    return TF_MODELS


class TfReference:
    """In-process TensorFlow on the same SavedModels: the ground truth."""

    def __init__(self, root: Path):
        self.root = root
        self._loaded: dict[Path, object] = {}

    def signature(self, model: str, version: str, name: str):
        path = self.root / model / version
        if path not in self._loaded:
            self._loaded[path] = tf.saved_model.load(str(path))
        return self._loaded[path].signatures[name]

    def run(self, model: str, version: str, name: str, **feeds) -> dict[str, np.ndarray]:
        fn = self.signature(model, version, name)
        out = fn(**{k: tf.constant(v) for k, v in feeds.items()})
        return {k: v.numpy() for k, v in out.items()}

    def meta_graph(self, model: str, version: str):
        sm = saved_model_pb2.SavedModel()
        sm.ParseFromString((self.root / model / version / "saved_model.pb").read_bytes())
        return sm.meta_graphs[0]


@pytest.fixture(scope="session")
def tf_ref(tf_models) -> TfReference:
    return TfReference(tf_models)


def onnx_half_plus_two(path: Path) -> None:
    """half_plus_two's serving_default as ONNX (x [-1,1] -> y = 0.5x + 2): what tf2onnx makes of it."""
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Mul", ["x", "a"], ["ax"]), helper.make_node("Add", ["ax", "b"], ["y"])],
        "half_plus_two",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 1])],
        [helper.make_tensor("a", TensorProto.FLOAT, [], [0.5]), helper.make_tensor("b", TensorProto.FLOAT, [], [2.0])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))


@pytest.fixture(scope="module")
def tfserver(tf_models, models_dir, tmp_path_factory) -> ServerProcess:
    """TF models beside an ONNX model, from a TF Serving config file as TF Serving users write it; plus a
    model whose v1 is a SavedModel and v2 its ONNX conversion, with a label on each."""
    root = tmp_path_factory.mktemp("tfserver")
    mixed = root / "mixed"
    shutil.copytree(tf_models / "half_plus_two" / "00000123", mixed / "1")
    onnx_half_plus_two(mixed / "2" / "model.onnx")
    cfg = root / "models.config"
    cfg.write_text(
        f"""model_config_list {{
  config {{ name: 'half_plus_two' base_path: '{tf_models / "half_plus_two"}' model_platform: 'tensorflow'
           model_version_policy {{ all {{}} }} }}
  config {{ name: 'tf1' base_path: '{tf_models / "half_plus_three_tf1"}' model_platform: 'tensorflow' }}
  config {{ name: 'tf_multitype' base_path: '{tf_models / "tf_multitype"}' model_platform: 'tensorflow' }}
  config {{ name: 'anyrank' base_path: '{tf_models / "tf_anyrank"}' }}
  config {{ name: 'slow' base_path: '{tf_models / "tf_slow"}' model_platform: 'tensorflow' }}
  config {{ name: 'add' base_path: '{models_dir / "add"}' model_platform: 'onnx' }}
  config {{ name: 'mixed' base_path: '{mixed}' model_platform: 'tensorflow'
           model_version_policy {{ all {{}} }}
           version_labels {{ key: 'stable' value: 1 }} version_labels {{ key: 'canary' value: 2 }} }}
}}
"""
    )
    srv = ServerProcess(
        "tf", [f"--model_config_file={cfg}", "--file_system_poll_wait_seconds=1"],
        ready_models=["half_plus_two", "tf1", "tf_multitype", "anyrank", "slow", "add", "mixed"],
    )
    srv.start()
    yield srv
    assert srv.stop() == 0, tail(srv.log_path)


def stub(srv: ServerProcess):
    channel = grpc.insecure_channel(f"127.0.0.1:{srv.grpc_port}")
    return prediction_service_pb2_grpc.PredictionServiceStub(channel)


def example(**features) -> example_pb2.Example:
    feature = {}
    for name, values in features.items():
        values = list(np.atleast_1d(values))
        if isinstance(values[0], (bytes, str)):
            feature[name] = feature_pb2.Feature(bytes_list=feature_pb2.BytesList(value=[v if isinstance(v, bytes) else v.encode() for v in values]))
        elif isinstance(values[0], (int, np.integer)):
            feature[name] = feature_pb2.Feature(int64_list=feature_pb2.Int64List(value=values))
        else:
            feature[name] = feature_pb2.Feature(float_list=feature_pb2.FloatList(value=values))
    return example_pb2.Example(features=feature_pb2.Features(feature=feature))


def serialized(examples) -> np.ndarray:
    return np.array([e.SerializeToString() for e in examples], dtype=object)


# ----------------------------------------------------------------------------------------------------------
# status and metadata
# ----------------------------------------------------------------------------------------------------------


def test_zero_padded_versions_load_from_their_own_directories(tfserver):
    r = requests.get(f"{tfserver.url}/v1/models/half_plus_two", timeout=10)
    assert r.status_code == 200, r.text
    states = {s["version"]: s["state"] for s in r.json()["model_version_status"]}
    assert states == {"124": "AVAILABLE", "123": "AVAILABLE"}, r.text
    for version in ("123", "124"):
        r = requests.post(f"{tfserver.url}/v1/models/half_plus_two/versions/{version}:predict",
                          json={"instances": [[1.0]]}, timeout=10)
        assert r.status_code == 200 and r.json() == {"predictions": [[2.5]]}, r.text


def test_rest_metadata_lists_every_signature_as_the_saved_model_declares_it(tfserver, tf_ref):
    r = requests.get(f"{tfserver.url}/v1/models/half_plus_two/versions/123/metadata", timeout=10)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model_spec"] == {"name": "half_plus_two", "signature_name": "", "version": "123"}
    served = body["metadata"]["signature_def"]["signature_def"]
    want = tf_ref.meta_graph("half_plus_two", "00000123").signature_def
    assert set(served) == set(want) - {"__saved_model_init_op"}
    for name, sig in served.items():
        assert sig["method_name"] == want[name].method_name, name
        for kind in ("inputs", "outputs"):
            expected = getattr(want[name], kind)
            assert set(sig[kind]) == set(expected), (name, kind)
            for alias, info in sig[kind].items():
                assert info["name"] == expected[alias].name, (name, alias)
                assert info["dtype"] == types_pb2.DataType.Name(expected[alias].dtype), (name, alias, info)
                dims = [int(d["size"]) for d in info["tensor_shape"]["dim"]]
                assert dims == [d.size for d in expected[alias].tensor_shape.dim], (name, alias)
    assert served["classify_x_to_y"]["method_name"] == "tensorflow/serving/classify"
    assert served["regress_x2_to_y3"]["method_name"] == "tensorflow/serving/regress"


def test_grpc_metadata_and_status(tfserver, tf_ref):
    channel = grpc.insecure_channel(f"127.0.0.1:{tfserver.grpc_port}")
    req = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
    req.model_spec.name = "tf1"
    resp = prediction_service_pb2_grpc.PredictionServiceStub(channel).GetModelMetadata(req, timeout=RPC_TIMEOUT_S)
    sigmap = get_model_metadata_pb2.SignatureDefMap()
    resp.metadata["signature_def"].Unpack(sigmap)
    want = tf_ref.meta_graph("half_plus_three_tf1", "1").signature_def
    assert set(sigmap.signature_def) == set(want)
    for name in want:
        got, exp = sigmap.signature_def[name], want[name]
        assert got.method_name == exp.method_name
        assert {k: (v.name, v.dtype) for k, v in got.inputs.items()} == {k: (v.name, v.dtype) for k, v in exp.inputs.items()}
        assert {k: (v.name, v.dtype) for k, v in got.outputs.items()} == {k: (v.name, v.dtype) for k, v in exp.outputs.items()}
    status_req = get_model_status_pb2.GetModelStatusRequest()
    status_req.model_spec.name = "half_plus_two"
    status = model_service_pb2_grpc.ModelServiceStub(channel).GetModelStatus(status_req, timeout=RPC_TIMEOUT_S)
    assert sorted(s.version for s in status.model_version_status) == [123, 124]
    assert all(s.state == 30 for s in status.model_version_status)  # AVAILABLE


# ----------------------------------------------------------------------------------------------------------
# predict
# ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("signature,inp,out", [("serving_default", "x", "y"), ("custom_key", "x", "out")])
def test_rest_predict_row_and_columnar_equal_tensorflow(tfserver, tf_ref, signature, inp, out):
    x = np.array([[1.0], [-2.5], [7.25]], dtype=np.float32)
    want = tf_ref.run("half_plus_two", "00000124", signature, **{inp: x})[out]
    body = {"instances": x.tolist()}
    if signature != "serving_default":
        body["signature_name"] = signature
    r = requests.post(f"{tfserver.url}/v1/models/half_plus_two:predict", json=body, timeout=10)
    assert r.status_code == 200, r.text
    assert_close(np.array(r.json()["predictions"], dtype=np.float32), want, rtol=0)
    columnar = {"inputs": {inp: x.tolist()}, "signature_name": signature}
    r = requests.post(f"{tfserver.url}/v1/models/half_plus_two/versions/124:predict", json=columnar, timeout=10)
    assert r.status_code == 200, r.text
    assert_close(np.array(r.json()["outputs"], dtype=np.float32), want, rtol=0)


def test_grpc_predict_by_signature_name_equals_tensorflow(tfserver, tf_ref):
    for signature, inp, out in (("serving_default", "x", "y"), ("custom_key", "x", "out"), ("", "x", "y")):
        x = np.array([[0.5], [3.0]], dtype=np.float32)
        req = predict_pb2.PredictRequest()
        req.model_spec.name = "half_plus_two"
        req.model_spec.signature_name = signature
        req.inputs[inp].CopyFrom(tf.make_tensor_proto(x))
        resp = stub(tfserver).Predict(req, timeout=RPC_TIMEOUT_S)
        want = tf_ref.run("half_plus_two", "00000124", signature or "serving_default", **{inp: x})[out]
        assert_close(tf.make_ndarray(resp.outputs[out]), want, rtol=0)
        assert resp.model_spec.version.value == 124
        assert resp.model_spec.signature_name == (signature or "serving_default")


def test_tf1_export_predicts_and_classifies(tfserver, tf_ref):
    x = np.array([[1.0], [4.0]], dtype=np.float32)
    r = requests.post(f"{tfserver.url}/v1/models/tf1:predict", json={"instances": x.tolist()}, timeout=10)
    assert r.status_code == 200, r.text
    want = tf_ref.run("half_plus_three_tf1", "1", "serving_default", x=x)["y"]
    assert_close(np.array(r.json()["predictions"], dtype=np.float32), want, rtol=0)
    req = classification_pb2.ClassificationRequest()
    req.model_spec.name = "tf1"
    req.model_spec.signature_name = "classify"
    req.input.example_list.examples.extend([example(x=[1.0]), example(x=[4.0])])
    resp = stub(tfserver).Classify(req, timeout=RPC_TIMEOUT_S)
    scores = [[c.score for c in cl.classes] for cl in resp.result.classifications]
    want = tf_ref.run("half_plus_three_tf1", "1", "classify",
                      inputs=serialized([example(x=[1.0]), example(x=[4.0])]))["scores"]
    assert_close(np.array(scores, dtype=np.float32), want, rtol=0)


def test_every_dtype_round_trips_through_the_worker(tfserver):
    cases = {
        "float": np.array([[1.5, -2.0]], np.float32), "double": np.array([[1e-300, 2.5]], np.float64),
        "int32": np.array([[-7, 2**31 - 1]], np.int32), "int64": np.array([[-(2**62), 5]], np.int64),
        "string": np.array([[b"a\x00b", b""]], dtype=object), "bool": np.array([[True, False]]),
        "half": np.array([[0.5, 65504]], np.float16), "uint8": np.array([[0, 255]], np.uint8),
        "int8": np.array([[-128, 127]], np.int8), "int16": np.array([[-32768, 32767]], np.int16),
    }
    for name, value in cases.items():
        req = predict_pb2.PredictRequest()
        req.model_spec.name = "tf_multitype"
        req.model_spec.signature_name = name
        req.inputs[f"in_{name}"].CopyFrom(tf.make_tensor_proto(value))
        resp = stub(tfserver).Predict(req, timeout=RPC_TIMEOUT_S)
        got = tf.make_ndarray(resp.outputs[f"out_{name}"])
        assert got.shape == value.shape and (got == value).all(), (name, got, value)


def test_unknown_rank_input_takes_any_rank(tfserver):
    for value in ([3.0], [[1.0, 2.0]], [[[1.0], [2.0]], [[3.0], [4.0]]]):
        r = requests.post(f"{tfserver.url}/v1/models/anyrank:predict", json={"inputs": {"x": value}}, timeout=10)
        assert r.status_code == 200, r.text
        assert_close(np.array(r.json()["outputs"], np.float32), np.array(value, np.float32) * 2, rtol=0)


def test_unknown_signature_is_refused_as_tf_serving_does(tfserver):
    r = requests.post(f"{tfserver.url}/v1/models/half_plus_two:predict",
                      json={"signature_name": "nope", "instances": [[1.0]]}, timeout=10)
    assert r.status_code == 400, r.text
    assert r.json()["error"] == 'Serving signature name: "nope" not found in signature def'
    req = predict_pb2.PredictRequest()
    req.model_spec.name = "half_plus_two"
    req.model_spec.signature_name = "nope"
    req.inputs["x"].CopyFrom(tf.make_tensor_proto(np.ones((1, 1), np.float32)))
    with pytest.raises(grpc.RpcError) as err:
        stub(tfserver).Predict(req, timeout=RPC_TIMEOUT_S)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_tensorflow_errors_reach_the_client_and_the_server_lives(tfserver):
    # a string where TensorFlow wants floats: refused with INVALID_ARGUMENT, the server keeps serving
    r = requests.post(f"{tfserver.url}/v1/models/half_plus_two:predict", json={"instances": [["a"]]}, timeout=10)
    assert r.status_code == 400, r.text
    # another rank than the signature declares: no shape check of Serval's own for TF models; TensorFlow's
    # runtime does not check a feed against its placeholder's shape either, so TF Serving answers it too
    req = predict_pb2.PredictRequest()
    req.model_spec.name = "half_plus_two"
    req.inputs["x"].CopyFrom(tf.make_tensor_proto(np.ones((2, 1, 1), np.float32)))
    resp = stub(tfserver).Predict(req, timeout=RPC_TIMEOUT_S)
    assert tf.make_ndarray(resp.outputs["y"]).tolist() == [[[2.5]], [[2.5]]]
    # a feed TensorFlow cannot take: TensorFlow's own error, INVALID_ARGUMENT
    req.inputs["x"].CopyFrom(tf.make_tensor_proto(np.ones((2, 3), np.float32)))
    req.model_spec.signature_name = "classify_x_to_y"
    req.inputs["inputs"].CopyFrom(tf.make_tensor_proto(np.array([b"not an example"], dtype=object)))
    del req.inputs["x"]
    with pytest.raises(grpc.RpcError) as err:
        stub(tfserver).Predict(req, timeout=RPC_TIMEOUT_S)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, err.value
    r = requests.post(f"{tfserver.url}/v1/models/half_plus_two:predict", json={"instances": [[2.0]]}, timeout=10)
    assert r.status_code == 200 and r.json() == {"predictions": [[3.0]]}


# ----------------------------------------------------------------------------------------------------------
# classify / regress / multi-inference on tf.Example
# ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("signature,feature", [("classify_x_to_y", "x"), ("classify_x2_to_y3", "x2")])
def test_grpc_and_rest_classify_equal_tensorflow(tfserver, tf_ref, signature, feature):
    examples = [example(**{feature: [v]}) for v in (1.0, 2.0, -3.0)]
    want = tf_ref.run("half_plus_two", "00000124", signature, inputs=serialized(examples))["scores"]
    req = classification_pb2.ClassificationRequest()
    req.model_spec.name = "half_plus_two"
    req.model_spec.signature_name = signature
    req.input.example_list.examples.extend(examples)
    resp = stub(tfserver).Classify(req, timeout=RPC_TIMEOUT_S)
    got = np.array([[c.score for c in cl.classes] for cl in resp.result.classifications], np.float32)
    assert_close(got, want, rtol=0)
    assert all(c.label == "" for cl in resp.result.classifications for c in cl.classes)  # no classes output
    assert resp.model_spec.signature_name == signature and resp.model_spec.version.value == 124
    body = {"signature_name": signature, "examples": [{feature: v} for v in (1.0, 2.0, -3.0)]}
    r = requests.post(f"{tfserver.url}/v1/models/half_plus_two:classify", json=body, timeout=10)
    assert r.status_code == 200, r.text
    assert_close(np.array([[s for _, s in row] for row in r.json()["results"]], np.float32), want, rtol=0)


def test_classify_with_string_classes_and_context(tfserver, tf_ref):
    # ExampleListWithContext: the context's feature is used where the example has none (TF Serving merges)
    context = example(x=[0.25])
    examples = [example(x=[1.0]), example_pb2.Example()]
    merged = [example(x=[1.0]), example(x=[0.25])]
    want = tf_ref.run("half_plus_two", "00000124", "classify_with_classes", inputs=serialized(merged))
    req = classification_pb2.ClassificationRequest()
    req.model_spec.name = "half_plus_two"
    req.model_spec.signature_name = "classify_with_classes"
    req.input.example_list_with_context.context.CopyFrom(context)
    req.input.example_list_with_context.examples.extend(examples)
    resp = stub(tfserver).Classify(req, timeout=RPC_TIMEOUT_S)
    labels = [[c.label for c in cl.classes] for cl in resp.result.classifications]
    scores = np.array([[c.score for c in cl.classes] for cl in resp.result.classifications], np.float32)
    assert labels == [[b.decode() for b in row] for row in want["classes"]]
    assert_close(scores, want["scores"], rtol=0)
    body = {"signature_name": "classify_with_classes", "context": {"x": 0.25}, "examples": [{"x": 1.0}, {}]}
    r = requests.post(f"{tfserver.url}/v1/models/half_plus_two:classify", json=body, timeout=10)
    assert r.status_code == 200, r.text
    assert [[label for label, _ in row] for row in r.json()["results"]] == labels


@pytest.mark.parametrize("signature,feature", [("regress_x_to_y", "x"), ("regress_x2_to_y3", "x2")])
def test_grpc_and_rest_regress_equal_tensorflow(tfserver, tf_ref, signature, feature):
    values = (1.0, 10.0, -0.5)
    examples = [example(**{feature: [v]}) for v in values]
    want = tf_ref.run("half_plus_two", "00000124", signature, inputs=serialized(examples))["outputs"].reshape(-1)
    req = regression_pb2.RegressionRequest()
    req.model_spec.name = "half_plus_two"
    req.model_spec.signature_name = signature
    req.input.example_list.examples.extend(examples)
    resp = stub(tfserver).Regress(req, timeout=RPC_TIMEOUT_S)
    assert_close(np.array([r.value for r in resp.result.regressions], np.float32), want, rtol=0)
    body = {"signature_name": signature, "examples": [{feature: v} for v in values]}
    r = requests.post(f"{tfserver.url}/v1/models/half_plus_two:regress", json=body, timeout=10)
    assert r.status_code == 200, r.text
    assert_close(np.array(r.json()["results"], np.float32), want, rtol=0)


def test_method_name_is_checked_as_tf_serving_does(tfserver):
    req = regression_pb2.RegressionRequest()
    req.model_spec.name = "half_plus_two"
    req.model_spec.signature_name = "classify_x_to_y"
    req.input.example_list.examples.extend([example(x=[1.0])])
    with pytest.raises(grpc.RpcError) as err:
        stub(tfserver).Regress(req, timeout=RPC_TIMEOUT_S)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "Expected regression signature method_name to be tensorflow/serving/regress" in err.value.details()


def test_multi_inference_runs_every_task(tfserver, tf_ref):
    examples = [example(x=[2.0], x2=[4.0]), example(x=[6.0], x2=[-1.0])]
    req = inference_pb2.MultiInferenceRequest()
    for signature, method in (("classify_x_to_y", "tensorflow/serving/classify"),
                              ("regress_x2_to_y3", "tensorflow/serving/regress")):
        task = req.tasks.add()
        task.model_spec.name = "half_plus_two"
        task.model_spec.signature_name = signature
        task.method_name = method
    req.input.example_list.examples.extend(examples)
    resp = stub(tfserver).MultiInference(req, timeout=RPC_TIMEOUT_S)
    assert len(resp.results) == 2
    want_scores = tf_ref.run("half_plus_two", "00000124", "classify_x_to_y", inputs=serialized(examples))["scores"]
    want_reg = tf_ref.run("half_plus_two", "00000124", "regress_x2_to_y3", inputs=serialized(examples))["outputs"]
    got_scores = np.array([[c.score for c in cl.classes] for cl in resp.results[0].classification_result.classifications])
    assert_close(got_scores.astype(np.float32), want_scores, rtol=0)
    got_reg = np.array([r.value for r in resp.results[1].regression_result.regressions], np.float32)
    assert_close(got_reg, want_reg.reshape(-1), rtol=0)
    assert [r.model_spec.signature_name for r in resp.results] == ["classify_x_to_y", "regress_x2_to_y3"]


# ----------------------------------------------------------------------------------------------------------
# KServe v2 on a SavedModel, and TF beside ONNX
# ----------------------------------------------------------------------------------------------------------


def test_kserve_http_and_grpc_serve_the_default_signature(tfserver, tf_ref):
    x = np.array([[1.0], [2.0]], dtype=np.float32)
    want = tf_ref.run("half_plus_two", "00000124", "serving_default", x=x)["y"]
    http = triton_http.InferenceServerClient(f"127.0.0.1:{tfserver.rest_port}")
    meta = http.get_model_metadata("half_plus_two")
    assert meta["platform"] == "tensorflow_savedmodel"
    inp = triton_http.InferInput("x", [2, 1], "FP32")
    inp.set_data_from_numpy(x, binary_data=True)
    res = http.infer("half_plus_two", [inp])
    assert_close(res.as_numpy("y"), want, rtol=0)
    grpc_client = triton_grpc.InferenceServerClient(f"127.0.0.1:{tfserver.grpc_port}")
    ginp = triton_grpc.InferInput("x", [2, 1], "FP32")
    ginp.set_data_from_numpy(x)
    gres = grpc_client.infer("half_plus_two", [ginp], model_version="123")
    assert_close(gres.as_numpy("y"), want, rtol=0)
    assert grpc_client.get_model_metadata("add").platform == "onnxruntime_onnx"


def test_one_model_savedmodel_v1_and_onnx_v2_with_labels(tfserver):
    x = [[1.0], [3.0]]
    answers = {}
    for label in ("stable", "canary"):
        r = requests.post(f"{tfserver.url}/v1/models/mixed/labels/{label}:predict", json={"instances": x}, timeout=10)
        assert r.status_code == 200, r.text
        answers[label] = np.array(r.json()["predictions"], np.float32)
    assert_close(answers["canary"], answers["stable"], rtol=1e-6)
    assert_close(answers["stable"], np.array(x, np.float32) * 0.5 + 2, rtol=0)
    meta1 = requests.get(f"{tfserver.url}/v2/models/mixed/versions/stable", timeout=10).json()
    meta2 = requests.get(f"{tfserver.url}/v2/models/mixed/versions/canary", timeout=10).json()
    assert meta1["platform"] == "tensorflow_savedmodel" and meta2["platform"] == "onnxruntime_onnx"
    # the ONNX model beside the SavedModels answers as before
    r = requests.post(f"{tfserver.url}/v1/models/add:predict",
                      json={"instances": [{"a": [1.0] * 16, "b": [2.0] * 16}]}, timeout=10)
    assert r.status_code == 200 and r.json() == {"predictions": [[3.0] * 16]}, r.text


# ----------------------------------------------------------------------------------------------------------
# deadlines, worker restarts, drain
# ----------------------------------------------------------------------------------------------------------


def test_grpc_deadline_stops_a_long_tensorflow_step(tfserver):
    req = predict_pb2.PredictRequest()
    req.model_spec.name = "slow"
    req.inputs["x"].CopyFrom(tf.make_tensor_proto(np.array([20.0], np.float32)))
    start = time.monotonic()
    with pytest.raises(grpc.RpcError) as err:
        stub(tfserver).Predict(req, timeout=1.0)
    elapsed = time.monotonic() - start
    assert err.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert elapsed < 3.0, elapsed
    # TensorFlow stopped the step (RunOptions.timeout_in_ms): the next call is answered at once
    req.inputs["x"].CopyFrom(tf.make_tensor_proto(np.array([0.0], np.float32)))
    start = time.monotonic()
    resp = stub(tfserver).Predict(req, timeout=10)
    assert tf.make_ndarray(resp.outputs["y"]).tolist() == [0.0]
    assert time.monotonic() - start < 2.0


def worker_pids(server_pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(server_pid), "-f", "serval-tf-worker"], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def test_a_killed_worker_is_restarted_and_models_reload(tfserver):
    pids = worker_pids(tfserver.proc.pid)
    assert len(pids) == 1, pids
    os.kill(pids[0], signal.SIGKILL)
    deadline = time.monotonic() + 30
    answered = None
    while time.monotonic() < deadline:
        r = requests.post(f"{tfserver.url}/v1/models/half_plus_two:predict", json={"instances": [[4.0]]}, timeout=30)
        if r.status_code == 200:
            answered = r.json()
            break
        assert r.status_code == 503, r.text  # UNAVAILABLE while the worker restarts, never a crash
        time.sleep(0.2)
    assert answered == {"predictions": [[4.0]]}
    new_pids = worker_pids(tfserver.proc.pid)
    assert len(new_pids) == 1 and new_pids != pids
    status = requests.get(f"{tfserver.url}/v1/models/half_plus_two", timeout=10).json()
    assert all(s["state"] == "AVAILABLE" for s in status["model_version_status"])


def test_onnx_only_server_starts_no_tensorflow_worker(models_dir):
    srv = ServerProcess("onnx-only", [f"--model_base_path={models_dir / 'add'}", "--model_name=add"],
                        ready_models=["add"])
    srv.start()
    try:
        assert worker_pids(srv.proc.pid) == []
        maps = Path(f"/proc/{srv.proc.pid}/maps").read_text()
        assert "tensorflow" not in maps
    finally:
        assert srv.stop() == 0


def test_new_savedmodel_version_published_under_load_loses_no_request(tf_models, tmp_path):
    base = tmp_path / "hpt"
    shutil.copytree(tf_models / "half_plus_two" / "00000123", base / "1")
    srv = ServerProcess("tf-publish", ["--model_name=hpt", f"--model_base_path={base}",
                                        "--file_system_poll_wait_seconds=1"], ready_models=["hpt"])
    srv.start()
    counts = {"ok": 0, "failed": 0, "versions": set()}
    stop = threading.Event()
    lock = threading.Lock()
    failures: list[str] = []

    def client():
        session = requests.Session()
        for _ in range(20000):  # bounded; the stop event ends it after the 20 s window
            if stop.is_set():
                return
            try:
                r = session.post(f"{srv.url}/v1/models/hpt:predict", json={"instances": [[2.0]]}, timeout=10)
                ok = r.status_code == 200 and r.json() == {"predictions": [[3.0]]}
            except requests.RequestException as e:
                ok, r = False, e
            with lock:
                counts["ok" if ok else "failed"] += 1
                if not ok and len(failures) < 5:
                    failures.append(str(getattr(r, "text", r)))

    try:
        threads = [threading.Thread(target=client) for _ in range(4)]
        start = time.monotonic()
        for t in threads:
            t.start()
        time.sleep(5)
        # publish v2 the safe way: copy to a hidden name, then rename into place
        shutil.copytree(tf_models / "half_plus_two" / "00000124", base / ".v2")
        os.rename(base / ".v2", base / "2")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            st = requests.get(f"{srv.url}/v1/models/hpt", timeout=10).json()["model_version_status"]
            if any(s["version"] == "2" and s["state"] == "AVAILABLE" for s in st):
                break
            time.sleep(0.2)
        time.sleep(max(0.0, 20 - (time.monotonic() - start)))
        stop.set()
        for t in threads:
            t.join(timeout=30)
        elapsed = time.monotonic() - start
        st = {s["version"]: s["state"] for s in requests.get(f"{srv.url}/v1/models/hpt", timeout=10).json()["model_version_status"]}
    finally:
        stop.set()
        rc = srv.stop()
    assert counts["failed"] == 0, failures
    rate = counts["ok"] / elapsed
    print(f"published v2 under load: {counts['ok']} requests in {elapsed:.1f}s = {rate:.0f}/s, {counts['failed']} failed")
    assert rate >= 200, f"{counts['ok']} requests in {elapsed:.1f}s = {rate:.0f}/s"
    assert st.get("2") == "AVAILABLE" and st.get("1") == "END", st
    assert rc == 0


def test_sigterm_drains_a_running_tensorflow_request(tf_models):
    srv = ServerProcess("tf-drain", ["--model_name=slow", f"--model_base_path={tf_models / 'tf_slow'}",
                                      "--drain_timeout_secs=20"], ready_models=["slow"])
    srv.start()
    result = {}

    def slow_call():
        r = requests.post(f"{srv.url}/v1/models/slow:predict", json={"instances": [2.0]}, timeout=30)
        result["status"], result["body"] = r.status_code, r.json()

    t = threading.Thread(target=slow_call)
    t.start()
    time.sleep(0.7)
    ServerProcess._all.remove(srv)  # it is meant to exit: not a crash for conftest's watcher
    srv.proc.send_signal(signal.SIGTERM)
    t.join(timeout=30)
    rc = srv.proc.wait(timeout=30)
    assert result == {"status": 200, "body": {"predictions": [2.0]}}, result
    assert rc == 0, tail(srv.log_path)


def test_warmup_file_replays_classify_and_predict_records(tf_models, tmp_path):
    base = tmp_path / "warm"
    version = base / "1"
    shutil.copytree(tf_models / "half_plus_two" / "00000123", version)
    (version / "assets.extra").mkdir()
    with tf.io.TFRecordWriter(str(version / "assets.extra" / "tf_serving_warmup_requests")) as writer:
        predict = predict_pb2.PredictRequest()
        predict.model_spec.name = "warm"
        predict.model_spec.signature_name = "custom_key"
        predict.inputs["x"].CopyFrom(tf.make_tensor_proto(np.ones((3, 1), np.float32)))
        writer.write(prediction_log_pb2.PredictionLog(
            predict_log=prediction_log_pb2.PredictLog(request=predict)).SerializeToString())
        classify = classification_pb2.ClassificationRequest()
        classify.model_spec.signature_name = "classify_x_to_y"
        classify.input.example_list.examples.extend([example(x=[1.0])])
        writer.write(prediction_log_pb2.PredictionLog(
            classify_log=prediction_log_pb2.ClassifyLog(request=classify)).SerializeToString())
    srv = ServerProcess("tf-warm", ["--model_name=warm", f"--model_base_path={base}"], ready_models=["warm"])
    srv.start()
    try:
        log = srv.log_since(0)
        assert "warm-up ran 2 requests" in log, log
    finally:
        assert srv.stop() == 0


def test_batching_serves_tensorflow_versions(tf_models, tmp_path):
    params = tmp_path / "batching.config"
    params.write_text("max_batch_size { value: 8 } batch_timeout_micros { value: 2000 } num_batch_threads { value: 2 }\n")
    srv = ServerProcess("tf-batch", ["--model_name=hpt", f"--model_base_path={tf_models / 'half_plus_two'}",
                                      "--enable_batching", f"--batching_parameters_file={params}"],
                        ready_models=["hpt"])
    srv.start()
    try:
        results = []

        def call(v):
            r = requests.post(f"{srv.url}/v1/models/hpt:predict", json={"instances": [[v]]}, timeout=30)
            results.append((v, r.status_code, r.json()))

        threads = [threading.Thread(target=call, args=(float(i),)) for i in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert len(results) == 16
        for v, code, body in results:
            assert code == 200 and body == {"predictions": [[v * 0.5 + 2]]}, (v, code, body)
        # a second signature is not batched but still served
        r = requests.post(f"{srv.url}/v1/models/hpt:predict",
                          json={"signature_name": "custom_key", "instances": [[2.0]]}, timeout=30)
        assert r.status_code == 200 and r.json() == {"predictions": [[4.0]]}, r.text
    finally:
        assert srv.stop() == 0


def test_onnx_input_of_unknown_rank_takes_any_rank(tmp_path):
    """An ONNX input declared without a shape accepts every rank (ONNX Runtime's API reports it like a
    scalar; Serval reads the model file to tell them apart)."""
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"]), helper.make_node("Identity", ["s"], ["t"])], "anyrank",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, None),
         helper.make_tensor_value_info("s", TensorProto.FLOAT, [])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None),
         helper.make_tensor_value_info("t", TensorProto.FLOAT, [])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    (tmp_path / "m" / "1").mkdir(parents=True)
    onnx.save(model, str(tmp_path / "m" / "1" / "model.onnx"))
    srv = ServerProcess("onnx-anyrank", ["--model_name=m", f"--model_base_path={tmp_path / 'm'}"], ready_models=["m"])
    srv.start()
    try:
        for value in ([1.0, 2.0], [[1.0], [2.0]], [[[5.0]]]):
            r = requests.post(f"{srv.url}/v1/models/m:predict", json={"inputs": {"x": value, "s": 3.0}}, timeout=10)
            assert r.status_code == 200, r.text
            assert r.json()["outputs"] == {"y": value, "t": 3.0}
        # the declared scalar stays a scalar
        r = requests.post(f"{srv.url}/v1/models/m:predict", json={"inputs": {"x": [1.0], "s": [3.0]}}, timeout=10)
        assert r.status_code == 400, r.text
        meta = requests.get(f"{srv.url}/v1/models/m/metadata", timeout=10).json()
        inputs = meta["metadata"]["signature_def"]["signature_def"]["serving_default"]["inputs"]
        assert inputs["x"]["tensor_shape"] == {"dim": [], "unknown_rank": True}
        assert inputs["s"]["tensor_shape"] == {"dim": [], "unknown_rank": False}
    finally:
        assert srv.stop() == 0
