"""A SavedModel converted by `serval-model convert` (one ONNX graph per signature plus signatures.json) served
by ONNX Runtime beside the same SavedModel served by the TensorFlow engine, in one real `serval`: every
signature answers the same through the official `tensorflow-serving-api` gRPC stubs and REST (`requests`) —
Predict, Classify, Regress and MultiInference by signature name, tf.Example signatures parsed by Serval
itself for the ONNX side (fixed_len with defaults, var_len, context), TensorFlow's errors, metadata. A version
whose signatures.json is hostile fails its load with a clear status and never replaces the working one.

Models: TF Serving's half_plus_two with every signature kind and a TF1 SavedModelBuilder export
(models/make_tf_models.py), and a VarLenFeature model (tools/model/tests/fixtures.py), converted with the
tools venv (.venv-tools) into build/tf-models-onnx (reused while newer than its source).
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import time
from pathlib import Path

import grpc
import numpy as np
import pytest
import requests
import tensorflow as tf
from tensorflow.core.example import example_pb2, feature_pb2
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    inference_pb2,
    predict_pb2,
    prediction_service_pb2_grpc,
    regression_pb2,
)

from conftest import PYTHON, REPO, ServerProcess, tail

TF_MODELS = Path(os.environ.get("SERVAL_TF_MODELS_DIR", str(REPO / "build" / "tf-models")))
CONVERTED = TF_MODELS.parent / "tf-models-onnx"
TOOLS_PY = REPO / ".venv-tools" / "bin" / "python"
TOOL = REPO / ".venv-tools" / "bin" / "serval-model"
RPC_TIMEOUT_S = 30
RTOL = 1e-5
# Largest relative difference seen per check, printed at the end of the module (pytest -s shows it).
MEASURED: dict[str, float] = {}

# (name in the config, TF base path relative to TF_MODELS or CONVERTED/src, version dir, served version)
MODELS = {
    "hp2": ("half_plus_two", "00000123", 123),
    "tf1": ("half_plus_three_tf1", "1", 1),
    "varlen": ("var_len", "1", 1),
}


def _run(cmd: list[str], timeout: int) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(map(str, cmd))} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr[-4000:]}"


def _saved_model(name: str) -> Path:
    folder, version, _ = MODELS[name]
    root = CONVERTED / "src" if folder == "var_len" else TF_MODELS
    return root / folder / version


def _converter_id() -> str:
    """Changes whenever the converter's code does (a cached conversion by older code is made again)."""
    digest = hashlib.sha256()
    for path in sorted((REPO / "tools" / "model" / "serval_model").glob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _convert(name: str) -> Path:
    """CONVERTED/<name>/<version>, converted again when its source is newer or the converter changed."""
    src = _saved_model(name)
    base = CONVERTED / name
    sig_file = base / str(MODELS[name][2]) / "signatures.json"
    stamp = CONVERTED / f"{name}.converter-id"
    if (not sig_file.exists() or sig_file.stat().st_mtime < (src / "saved_model.pb").stat().st_mtime
            or not stamp.exists() or stamp.read_text() != _converter_id()):
        shutil.rmtree(base, ignore_errors=True)
        _run([str(TOOL), "convert", str(src), "--out", str(base), "--report", str(CONVERTED / f"{name}.json")], 600)
        stamp.write_text(_converter_id())
    return base


@pytest.fixture(scope="module")
def converted() -> dict[str, Path]:
    assert TOOL.exists(), f"{TOOL} missing: scripts/setup installs serval-model into .venv-tools"
    _run([PYTHON, str(REPO / "models" / "make_tf_models.py"), "--out", str(TF_MODELS),
          "--only", "half_plus_two,half_plus_three_tf1"], 900)
    if not (_saved_model("varlen") / "saved_model.pb").exists():
        _run([str(TOOLS_PY), str(REPO / "tools" / "model" / "tests" / "fixtures.py"), "--out",
              str(CONVERTED / "src"), "--only", "var_len"], 600)
    return {name: _convert(name) for name in MODELS}


@pytest.fixture(scope="module")
def pair(converted, tmp_path_factory) -> ServerProcess:
    """One server: each model as `<name>_tf` (the SavedModel, TensorFlow engine) and `<name>_onnx` (its
    conversion, ONNX Runtime), plus `hostile`: a copy of hp2's conversion where broken versions get published."""
    root = tmp_path_factory.mktemp("pair")
    hostile = root / "hostile"
    shutil.copytree(converted["hp2"], hostile)
    entries = ""
    for name, (_, version_dir, version) in MODELS.items():
        tf_base = _saved_model(name).parent
        entries += (f"  config {{ name: '{name}_tf' base_path: '{tf_base}' model_platform: 'tensorflow'\n"
                    f"           model_version_policy {{ specific {{ versions: {version} }} }} }}\n"
                    f"  config {{ name: '{name}_onnx' base_path: '{converted[name]}' model_platform: 'onnx' }}\n")
    entries += f"  config {{ name: 'hostile' base_path: '{hostile}' model_platform: 'onnx'\n" \
               f"           model_version_policy {{ all {{}} }} }}\n"
    cfg = root / "models.config"
    cfg.write_text("model_config_list {\n" + entries + "}\n")
    names = [f"{n}_{kind}" for n in MODELS for kind in ("tf", "onnx")] + ["hostile"]
    srv = ServerProcess("sigs", [f"--model_config_file={cfg}", "--file_system_poll_wait_seconds=1"],
                        ready_models=names)
    srv.start()
    srv.hostile_base = hostile
    yield srv
    assert srv.stop() == 0, tail(srv.log_path)
    print("\nlargest relative difference, ONNX vs SavedModel, per check:")
    for what, value in sorted(MEASURED.items()):
        print(f"  {what}: {value:.3g}")


def stub(srv: ServerProcess):
    return prediction_service_pb2_grpc.PredictionServiceStub(grpc.insecure_channel(f"127.0.0.1:{srv.grpc_port}"))


def same(got, want, what: str) -> None:
    """ONNX (`got`) equals the SavedModel (`want`) within RTOL; records the largest relative difference."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    if got.dtype.kind in "OSU":
        assert got.tolist() == want.tolist(), what
        MEASURED[what] = max(MEASURED.get(what, 0.0), 0.0)
        return
    got, want = got.astype(np.float64), want.astype(np.float64)
    rel = float(np.max(np.abs(got - want) / np.maximum(np.abs(want), 1e-30))) if want.size else 0.0
    MEASURED[what] = max(MEASURED.get(what, 0.0), rel)
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=0, err_msg=what)


def example(**features) -> example_pb2.Example:
    out = {}
    for key, values in features.items():
        values = list(np.atleast_1d(values))
        if isinstance(values[0], (bytes, str)):
            out[key] = feature_pb2.Feature(bytes_list=feature_pb2.BytesList(value=[v.encode() if isinstance(v, str) else v for v in values]))
        elif isinstance(values[0], (int, np.integer)):
            out[key] = feature_pb2.Feature(int64_list=feature_pb2.Int64List(value=[int(v) for v in values]))
        else:
            out[key] = feature_pb2.Feature(float_list=feature_pb2.FloatList(value=[float(v) for v in values]))
    return example_pb2.Example(features=feature_pb2.Features(feature=out))


def json_example(ex: example_pb2.Example) -> dict:
    """The REST form of a tf.Example (floats as JSON numbers with a fraction so they stay floats)."""
    out = {}
    for key, feature in ex.features.feature.items():
        kind = feature.WhichOneof("kind")
        if kind == "float_list":
            out[key] = [float(v) for v in feature.float_list.value]
        elif kind == "int64_list":
            out[key] = [int(v) for v in feature.int64_list.value]
        else:
            out[key] = [{"b64": base64.b64encode(v).decode()} for v in feature.bytes_list.value]
    return out


def random_examples(rng, keys: list[str], n: int = 5) -> list[example_pb2.Example]:
    """n examples over `keys`; the last one lacks every key (the signature's default applies)."""
    out = [example(**{k: [float(v)] for k, v in zip(keys, rng.normal(0, 100, len(keys)))}) for _ in range(n - 1)]
    return out + [example(unrelated=[1.0])]


def served_signatures(srv: ServerProcess, model: str) -> dict:
    req = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
    req.model_spec.name = model
    resp = stub(srv).GetModelMetadata(req, timeout=RPC_TIMEOUT_S)
    sigmap = get_model_metadata_pb2.SignatureDefMap()
    resp.metadata["signature_def"].Unpack(sigmap)
    return dict(sigmap.signature_def)


def by_method(srv: ServerProcess, model: str, method: str) -> list[str]:
    return sorted(k for k, v in served_signatures(srv, model).items() if v.method_name == f"tensorflow/serving/{method}")


# ----------------------------------------------------------------------------------------------------------
# metadata
# ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(MODELS))
def test_metadata_lists_the_saved_models_signatures(pair, name):
    tf_sigs = served_signatures(pair, f"{name}_tf")
    onnx_sigs = served_signatures(pair, f"{name}_onnx")
    assert set(onnx_sigs) == set(tf_sigs) and len(onnx_sigs) >= 1
    for key, want in tf_sigs.items():
        got = onnx_sigs[key]
        assert got.method_name == want.method_name, key
        for side in ("inputs", "outputs"):
            g, w = getattr(got, side), getattr(want, side)
            assert set(g) == set(w), (key, side)
            for alias in w:
                assert (g[alias].name, g[alias].dtype) == (w[alias].name, w[alias].dtype), (key, alias)
                assert g[alias].tensor_shape == w[alias].tensor_shape, (key, alias)
    r = requests.get(f"{pair.url}/v1/models/{name}_onnx/metadata", timeout=10)
    assert r.status_code == 200, r.text
    assert set(r.json()["metadata"]["signature_def"]["signature_def"]) == set(tf_sigs)
    if name == "hp2":
        assert set(tf_sigs) == {"serving_default", "custom_key", "classify_x_to_y", "regress_x_to_y", "regress_x2_to_y3",
                                "classify_x2_to_y3", "classify_with_classes"}


# ----------------------------------------------------------------------------------------------------------
# Predict
# ----------------------------------------------------------------------------------------------------------


def grpc_predict(srv, model: str, signature: str, inputs: dict) -> dict[str, np.ndarray]:
    req = predict_pb2.PredictRequest()
    req.model_spec.name = model
    req.model_spec.signature_name = signature
    for alias, value in inputs.items():
        req.inputs[alias].CopyFrom(tf.make_tensor_proto(value))
    resp = stub(srv).Predict(req, timeout=RPC_TIMEOUT_S)
    return {k: tf.make_ndarray(v) for k, v in resp.outputs.items()}


def rest_predict(srv, model: str, signature: str, inputs: dict) -> dict:
    def jsonable(v):
        if v.dtype == object:
            return [{"b64": base64.b64encode(s).decode()} for s in v.tolist()]
        return v.tolist()

    body = {"signature_name": signature, "inputs": {k: jsonable(v) for k, v in inputs.items()}}
    r = requests.post(f"{srv.url}/v1/models/{model}:predict", json=body, timeout=10)
    assert r.status_code == 200, r.text
    out = r.json()["outputs"]
    return out if isinstance(out, dict) else {"": out}


def predict_inputs(srv, name: str, signature: str, rng) -> dict:
    """Inputs for `signature` of `name`: random floats, or serialized tf.Examples for a string input."""
    sig = served_signatures(srv, f"{name}_tf")[signature]
    out = {}
    for alias, info in sig.inputs.items():
        if info.dtype == tf.string.as_datatype_enum:
            if name == "varlen":
                exs = [example(ids=[1, 2, 3], w=[0.5, 2.0]), example(ids=[7]), example(w=[3.0, -1.0]),
                       example(ids=list(range(10)))]
            else:
                exs = random_examples(rng, ["x", "x2"])
            out[alias] = np.array([e.SerializeToString() for e in exs], dtype=object)
        else:
            out[alias] = rng.normal(0, 100, (4, 1)).astype(np.float32)
    return out


@pytest.mark.parametrize("name", list(MODELS))
def test_predict_by_every_signature_name_equals_the_saved_model(pair, name):
    """Every signature through Predict, tf.Example ones fed serialized examples (parsed by Serval for ONNX)."""
    rng = np.random.default_rng(7)
    signatures = sorted(served_signatures(pair, f"{name}_tf"))
    for signature in signatures:
        inputs = predict_inputs(pair, name, signature, rng)
        want = grpc_predict(pair, f"{name}_tf", signature, inputs)
        got = grpc_predict(pair, f"{name}_onnx", signature, inputs)
        assert set(got) == set(want), signature
        for alias in want:
            same(got[alias], want[alias], f"grpc Predict {name}/{signature}/{alias}")
        want_rest = rest_predict(pair, f"{name}_tf", signature, inputs)
        got_rest = rest_predict(pair, f"{name}_onnx", signature, inputs)
        assert set(got_rest) == set(want_rest), signature
        for alias in want_rest:
            w = np.array(want_rest[alias])
            same(np.array(got_rest[alias], dtype=w.dtype), w, f"REST predict {name}/{signature}/{alias or 'output'}")


# ----------------------------------------------------------------------------------------------------------
# Classify / Regress / MultiInference
# ----------------------------------------------------------------------------------------------------------


def grpc_classify(srv, model, signature, examples, context=None):
    req = classification_pb2.ClassificationRequest()
    req.model_spec.name = model
    req.model_spec.signature_name = signature
    if context is None:
        req.input.example_list.examples.extend(examples)
    else:
        req.input.example_list_with_context.examples.extend(examples)
        req.input.example_list_with_context.context.CopyFrom(context)
    resp = stub(srv).Classify(req, timeout=RPC_TIMEOUT_S)
    labels = [[c.label for c in cl.classes] for cl in resp.result.classifications]
    scores = [[c.score for c in cl.classes] for cl in resp.result.classifications]
    return np.array(labels, dtype=object), np.array(scores, np.float32)


def grpc_regress(srv, model, signature, examples, context=None):
    req = regression_pb2.RegressionRequest()
    req.model_spec.name = model
    req.model_spec.signature_name = signature
    if context is None:
        req.input.example_list.examples.extend(examples)
    else:
        req.input.example_list_with_context.examples.extend(examples)
        req.input.example_list_with_context.context.CopyFrom(context)
    resp = stub(srv).Regress(req, timeout=RPC_TIMEOUT_S)
    return np.array([r.value for r in resp.result.regressions], np.float32)


def rest_examples(srv, model, method, signature, examples, context=None):
    body = {"signature_name": signature, "examples": [json_example(e) for e in examples]}
    if context is not None:
        body["context"] = json_example(context)
    r = requests.post(f"{srv.url}/v1/models/{model}:{method}", json=body, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["results"]


@pytest.mark.parametrize("name", ["hp2", "tf1"])
def test_classify_by_every_signature_name_equals_the_saved_model(pair, name):
    rng = np.random.default_rng(11)
    signatures = by_method(pair, f"{name}_tf", "classify")
    assert signatures
    for signature in signatures:
        for context in (None, example(x2=[float(rng.normal())])):
            exs = random_examples(rng, ["x"] if context is not None else ["x", "x2"])
            want_labels, want_scores = grpc_classify(pair, f"{name}_tf", signature, exs, context)
            got_labels, got_scores = grpc_classify(pair, f"{name}_onnx", signature, exs, context)
            same(got_labels, want_labels, f"grpc Classify {name}/{signature} labels")
            same(got_scores, want_scores, f"grpc Classify {name}/{signature} scores")
            want = rest_examples(pair, f"{name}_tf", "classify", signature, exs, context)
            got = rest_examples(pair, f"{name}_onnx", "classify", signature, exs, context)
            same(np.array([[c[0] for c in row] for row in got], dtype=object),
                 np.array([[c[0] for c in row] for row in want], dtype=object), f"REST classify {name}/{signature} labels")
            same(np.array([[c[1] for c in row] for row in got]), np.array([[c[1] for c in row] for row in want]),
                 f"REST classify {name}/{signature} scores")
    if name == "hp2":
        assert "classify_with_classes" in signatures  # string classes come back from the ONNX graph too
        labels, _ = grpc_classify(pair, "hp2_onnx", "classify_with_classes", [example(x=[1.0])])
        assert labels.tolist() == [["neg", "pos"]]


def test_regress_by_every_signature_name_equals_the_saved_model(pair):
    name = "hp2"  # the TF1 export has no regress signature; var_len's takes no "inputs" (see below)
    rng = np.random.default_rng(13)
    signatures = by_method(pair, f"{name}_tf", "regress")
    assert signatures == ["regress_x2_to_y3", "regress_x_to_y"]
    for signature in signatures:
        for context in (None, example(x=[float(rng.normal())], x2=[float(rng.normal())])):
            exs = random_examples(rng, ["x", "x2"])
            want = grpc_regress(pair, f"{name}_tf", signature, exs, context)
            got = grpc_regress(pair, f"{name}_onnx", signature, exs, context)
            same(got, want, f"grpc Regress {name}/{signature}")
            want = rest_examples(pair, f"{name}_tf", "regress", signature, exs, context)
            got = rest_examples(pair, f"{name}_onnx", "regress", signature, exs, context)
            same(np.array(got), np.array(want), f"REST regress {name}/{signature}")


def test_multi_inference_equals_the_saved_model(pair):
    rng = np.random.default_rng(17)
    exs = random_examples(rng, ["x", "x2"])

    def run(model):
        req = inference_pb2.MultiInferenceRequest()
        for signature, method in (("classify_x_to_y", "classify"), ("regress_x2_to_y3", "regress")):
            task = req.tasks.add()
            task.model_spec.name = model
            task.model_spec.signature_name = signature
            task.method_name = f"tensorflow/serving/{method}"
        req.input.example_list.examples.extend(exs)
        resp = stub(pair).MultiInference(req, timeout=RPC_TIMEOUT_S)
        scores = [[c.score for c in cl.classes] for cl in resp.results[0].classification_result.classifications]
        values = [r.value for r in resp.results[1].regression_result.regressions]
        return np.array(scores, np.float32), np.array(values, np.float32)

    (want_scores, want_values), (got_scores, got_values) = run("hp2_tf"), run("hp2_onnx")
    same(got_scores, want_scores, "grpc MultiInference hp2 classify")
    same(got_values, want_values, "grpc MultiInference hp2 regress")


# ----------------------------------------------------------------------------------------------------------
# TensorFlow's errors
# ----------------------------------------------------------------------------------------------------------


def grpc_error(call) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as err:
        call()
    return err.value


@pytest.mark.parametrize("bad,text", [
    (example(x=[1.0, 2.0]), "Number of float values != expected.  Values size: 2 but output shape: [1]"),
    (example(x=[3]), "Data types don't match. Data type: int64 but expected type: float"),
    (example(x=["a"]), "Data types don't match. Data type: string but expected type: float"),
])
def test_bad_examples_fail_as_tensorflow_fails_them(pair, bad, text):
    for model in ("hp2_tf", "hp2_onnx"):
        err = grpc_error(lambda: grpc_regress(pair, model, "regress_x_to_y", [example(x=[1.0]), bad]))
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, (model, err)
        assert text in err.details() and "Index: 1" in err.details(), (model, err.details())
        r = requests.post(f"{pair.url}/v1/models/{model}:regress",
                          json={"signature_name": "regress_x_to_y", "examples": [json_example(bad)]}, timeout=10)
        assert r.status_code == 400 and text in r.json()["error"], (model, r.text)
    # not a tf.Example at all
    for model in ("hp2_tf", "hp2_onnx"):
        err = grpc_error(lambda: grpc_predict(pair, model, "classify_x_to_y",
                                              {"inputs": np.array([b"\xff\xff not an example"], dtype=object)}))
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "Could not parse example input" in err.details()


def test_signature_rules_are_tf_servings(pair):
    for model in ("hp2_tf", "hp2_onnx"):
        # a predict signature cannot classify; a classify signature cannot regress; an unknown name is refused
        err = grpc_error(lambda: grpc_classify(pair, model, "serving_default", [example(x=[1.0])]))
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "Expected classification signature method_name" in err.details()
        err = grpc_error(lambda: grpc_regress(pair, model, "classify_x_to_y", [example(x=[1.0])]))
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
        err = grpc_error(lambda: grpc_predict(pair, model, "nope", {"x": np.ones((1, 1), np.float32)}))
        assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert 'Serving signature name: "nope" not found in signature def' in err.details()
    # var_len's regress signature names its input "examples", not "inputs": TF Serving's Regress refuses it
    for model in ("varlen_tf", "varlen_onnx"):
        err = grpc_error(lambda: grpc_regress(pair, model, "", [example(ids=[1])]))
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "expected an input named 'inputs'" in err.details()


# ----------------------------------------------------------------------------------------------------------
# hostile signature files
# ----------------------------------------------------------------------------------------------------------


def version_state(srv, model: str, version: int) -> tuple[str, str]:
    r = requests.get(f"{srv.url}/v1/models/{model}/versions/{version}", timeout=10)
    if r.status_code != 200:
        return "", r.text
    (status,) = r.json()["model_version_status"]
    return status["state"], status["status"]["error_message"]


@pytest.mark.parametrize("version,mutate,text", [
    (200, lambda d: (d / "signatures.json").write_text("{\"format\": "), "signatures.json: not valid JSON"),
    (201, lambda d: (d / "signatures.json").write_text((d / "signatures.json").read_text().replace(
        "serval.signatures.v1", "serval.signatures.v9")), "'format' must be"),
    (202, lambda d: (d / "signatures.json").write_text((d / "signatures.json").read_text().replace(
        '"graph": "custom_key.onnx"', '"graph": "../123/custom_key.onnx"')), "must not leave the version directory"),
    (203, lambda d: (d / "regress_x_to_y.onnx").unlink(), "graph 'regress_x_to_y.onnx' cannot be opened"),
    (204, lambda d: (d / "signatures.json").write_text((d / "signatures.json").read_text().replace(
        '"onnx_name": "x2"', '"onnx_name": "nope"')), "names graph input 'nope'"),
])
def test_hostile_signature_file_fails_its_version_only(pair, version, mutate, text):
    base = pair.hostile_base
    staging = base.parent / f".staging-{version}"
    shutil.copytree(base / "123", staging)
    mutate(staging)
    staging.rename(base / str(version))  # published whole, as a converter does
    deadline = time.monotonic() + 30
    state, message = "", ""
    while time.monotonic() < deadline:
        state, message = version_state(pair, "hostile", version)
        if state == "END":
            break
        time.sleep(0.25)
    assert state == "END" and text in message, (state, message, tail(pair.log_path, 20))
    # the working version still serves every signature; the server lives
    r = requests.post(f"{pair.url}/v1/models/hostile:regress",
                      json={"signature_name": "regress_x2_to_y3", "examples": [{"x2": 4.0}]}, timeout=10)
    assert r.status_code == 200 and r.json() == {"results": [5.0]}, r.text
    assert requests.get(f"{pair.url}/v1/models/hostile/versions/123", timeout=10).json()[
        "model_version_status"][0]["state"] == "AVAILABLE"


def test_kserve_serves_serving_default(pair):
    x = np.array([[1.5], [-3.0]], np.float32)
    body = {"inputs": [{"name": "x", "shape": [2, 1], "datatype": "FP32", "data": x.reshape(-1).tolist()}]}
    answers = {}
    for model in ("hp2_tf", "hp2_onnx"):
        r = requests.post(f"{pair.url}/v2/models/{model}/infer", json=body, timeout=10)
        assert r.status_code == 200, r.text
        (out,) = r.json()["outputs"]
        assert out["name"] == "y" and out["shape"] == [2, 1]
        answers[model] = np.array(out["data"], np.float32)
    same(answers["hp2_onnx"], answers["hp2_tf"], "KServe infer hp2/serving_default")
    assert requests.get(f"{pair.url}/v2/models/hp2_onnx", timeout=10).json()["inputs"][0]["name"] == "x"
