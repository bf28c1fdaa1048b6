"""TF Serving gRPC API (docs/protocols.md §2.2, §2.9, §2.10) through the OFFICIAL Python stubs of the
`tensorflow-serving-api` package: Predict in every TensorProto encoding, versions and labels, output_filter,
GetModelMetadata, GetModelStatus, Classify / Regress / MultiInference on tf.Example input (and the REST
:classify / :regress routes that share the mapping), and hostile requests.

Two servers: the session's main `server` (add v1+v2 with labels, multitype, mlp, resnet50) and a module
`extra` server (add, mlp, multitype, regressor) started with --enable_serialization_as_tensor_content and
--grpc_max_message_size_bytes=1 MiB.
"""

from __future__ import annotations

import base64
import subprocess

import grpc
import ml_dtypes
import numpy as np
import pytest
import tensorflow as tf  # slow (~5 s), once per module
from google.protobuf import wrappers_pb2
from tensorflow.core.example import example_pb2, feature_pb2
from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    inference_pb2,
    input_pb2,
    model_management_pb2,
    model_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
    regression_pb2,
)

from conftest import (
    ADD_A,
    ADD_B,
    MULTITYPE,
    PYTHON,
    REPO,
    SKIP_LARGE,
    ServerProcess,
    assert_alive,
    assert_bitwise_equal,
    assert_close,
    assert_error,
    get,
    jloads,
    multitype_arrays,
    multitype_random_bits,
    post_json,
    tail,
)

RPC_TIMEOUT_S = 30
SMALL_GRPC_MESSAGE = 1 << 20
REGRESSOR_W = np.array([0.5, -1.25, 2.0, 0.75], dtype=np.float32).reshape(4, 1)
REGRESSOR_B = np.float32(0.125)

NP_OF_TF = {
    types_pb2.DT_FLOAT: np.dtype(np.float32),
    types_pb2.DT_DOUBLE: np.dtype(np.float64),
    types_pb2.DT_INT32: np.dtype(np.int32),
    types_pb2.DT_UINT8: np.dtype(np.uint8),
    types_pb2.DT_INT16: np.dtype(np.int16),
    types_pb2.DT_INT8: np.dtype(np.int8),
    types_pb2.DT_STRING: np.dtype(object),
    types_pb2.DT_INT64: np.dtype(np.int64),
    types_pb2.DT_BOOL: np.dtype(np.bool_),
    types_pb2.DT_BFLOAT16: np.dtype(ml_dtypes.bfloat16),
    types_pb2.DT_UINT16: np.dtype(np.uint16),
    types_pb2.DT_HALF: np.dtype(np.float16),
    types_pb2.DT_UINT32: np.dtype(np.uint32),
    types_pb2.DT_UINT64: np.dtype(np.uint64),
}
FIELD_OF_TF = {
    types_pb2.DT_FLOAT: "float_val",
    types_pb2.DT_DOUBLE: "double_val",
    types_pb2.DT_INT32: "int_val",
    types_pb2.DT_UINT8: "int_val",
    types_pb2.DT_INT16: "int_val",
    types_pb2.DT_INT8: "int_val",
    types_pb2.DT_UINT16: "int_val",
    types_pb2.DT_STRING: "string_val",
    types_pb2.DT_INT64: "int64_val",
    types_pb2.DT_BOOL: "bool_val",
    types_pb2.DT_HALF: "half_val",
    types_pb2.DT_BFLOAT16: "half_val",
    types_pb2.DT_UINT32: "uint32_val",
    types_pb2.DT_UINT64: "uint64_val",
}
TYPED_FIELDS = sorted(set(FIELD_OF_TF.values()) | {"scomplex_val", "dcomplex_val"})


def tf_enum(name: str) -> int:
    return types_pb2.DataType.Value(name)


# ----------------------------------------------------------------------------------------------------------
# fixtures and helpers
# ----------------------------------------------------------------------------------------------------------


def channel_to(srv: ServerProcess) -> grpc.Channel:
    return grpc.insecure_channel(
        f"127.0.0.1:{srv.grpc_port}",
        options=[("grpc.max_receive_message_length", -1), ("grpc.max_send_message_length", -1)],
    )


@pytest.fixture(scope="module")
def channel(server):
    ch = channel_to(server)
    yield ch
    ch.close()


@pytest.fixture(scope="module")
def stub(channel):
    return prediction_service_pb2_grpc.PredictionServiceStub(channel)


@pytest.fixture(scope="module")
def model_stub(channel):
    return model_service_pb2_grpc.ModelServiceStub(channel)


@pytest.fixture(scope="module")
def extra(models_dir, tmp_path_factory):
    """add, mlp, multitype, regressor; tensor_content outputs; 1 MiB gRPC message cap."""
    proc = subprocess.run(
        [PYTHON, str(REPO / "models" / "make_models.py"), "--out", str(models_dir), "--only", "regressor"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    cfg = tmp_path_factory.mktemp("tfsgrpc") / "models.config"
    entries = "".join(
        f"  config {{ name: '{m}' base_path: '{models_dir / m}' model_platform: 'onnx' }}\n"
        for m in ("add", "mlp", "multitype", "regressor")
    )
    cfg.write_text("model_config_list {\n" + entries + "}\n")
    srv = ServerProcess(
        "tfsgrpc-extra",
        [
            f"--model_config_file={cfg}",
            "--file_system_poll_wait_seconds=0",
            "--enable_serialization_as_tensor_content",
            f"--grpc_max_message_size_bytes={SMALL_GRPC_MESSAGE}",
        ],
        ready_models=["add", "mlp", "multitype", "regressor"],
    )
    srv.start()
    yield srv
    rc = srv.stop()
    assert rc == 0, f"tfsgrpc-extra server exited with {rc} on SIGTERM\n{tail(srv.log_path)}"


@pytest.fixture(scope="module")
def extra_channel(extra):
    ch = channel_to(extra)
    yield ch
    ch.close()


@pytest.fixture(scope="module")
def extra_stub(extra_channel):
    return prediction_service_pb2_grpc.PredictionServiceStub(extra_channel)


def spec(name: str, version: int | None = None, label: str | None = None, signature: str | None = None):
    s = model_pb2.ModelSpec(name=name)
    if version is not None:
        s.version.CopyFrom(wrappers_pb2.Int64Value(value=version))
    if label is not None:
        s.version_label = label
    if signature is not None:
        s.signature_name = signature
    return s


def predict_request(model: str, inputs: dict, output_filter=(), **spec_args) -> predict_pb2.PredictRequest:
    req = predict_pb2.PredictRequest(model_spec=spec(model, **spec_args))
    for name, tp in inputs.items():
        req.inputs[name].CopyFrom(tp)
    req.output_filter.extend(output_filter)
    return req


def rpc_error(call, request) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        call(request, timeout=RPC_TIMEOUT_S)
    return info.value


def assert_rpc_error(call, request, code: grpc.StatusCode, needle: str = "") -> str:
    err = rpc_error(call, request)
    assert err.code() == code, f"expected {code}, got {err.code()}: {err.details()}"
    if needle:
        assert needle in err.details(), err.details()
    return err.details()


def shape_proto(shape) -> tensor_shape_pb2.TensorShapeProto:
    return tensor_shape_pb2.TensorShapeProto(dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=d) for d in shape])


def typed_proto(arr: np.ndarray, tf_dtype: int) -> tensor_pb2.TensorProto:
    """A hand-built TensorProto with the typed value field TF Serving defines for the dtype."""
    tp = tensor_pb2.TensorProto(dtype=tf_dtype, tensor_shape=shape_proto(arr.shape))
    field = getattr(tp, FIELD_OF_TF[tf_dtype])
    flat = arr.ravel()
    if tf_dtype == types_pb2.DT_STRING:
        field.extend([v.encode() if isinstance(v, str) else bytes(v) for v in flat])
    elif FIELD_OF_TF[tf_dtype] == "half_val":
        field.extend(np.ascontiguousarray(flat).view(np.uint16).tolist())
    else:
        field.extend(flat.tolist())
    return tp


def content_proto(arr: np.ndarray, tf_dtype: int) -> tensor_pb2.TensorProto:
    return tensor_pb2.TensorProto(
        dtype=tf_dtype, tensor_shape=shape_proto(arr.shape), tensor_content=np.ascontiguousarray(arr).tobytes()
    )


def decode(tp: tensor_pb2.TensorProto, content: bool | None = None) -> np.ndarray:
    """A TensorProto as numpy, read independently of TF; `content` asserts which encoding carries it."""
    shape = [d.size for d in tp.tensor_shape.dim]
    dt = NP_OF_TF[tp.dtype]
    if tp.dtype == types_pb2.DT_STRING:
        assert not tp.tensor_content, "DT_STRING must use string_val"
        return np.array(list(tp.string_val), dtype=object).reshape(shape)
    if content is not None and int(np.prod(shape)) > 0:
        assert bool(tp.tensor_content) == content, f"tensor_content {'expected' if content else 'unexpected'}"
    if tp.tensor_content:
        for f in TYPED_FIELDS:
            assert len(getattr(tp, f)) == 0, f"{f} set together with tensor_content"
        return np.frombuffer(tp.tensor_content, dtype=dt).reshape(shape)
    field = FIELD_OF_TF[tp.dtype]
    for f in TYPED_FIELDS:
        if f != field:
            assert len(getattr(tp, f)) == 0, f"{f} set for {types_pb2.DataType.Name(tp.dtype)}"
    values = list(getattr(tp, field))
    if field == "half_val":
        return np.array(values, dtype=np.uint16).view(dt).reshape(shape)
    return np.array(values, dtype=dt).reshape(shape)


def grpc_add_ok(stub_) -> None:
    """The gRPC side answers a valid add Predict correctly."""
    resp = stub_.Predict(
        predict_request("add", {"a": tf.make_tensor_proto(ADD_A), "b": tf.make_tensor_proto(ADD_B)}),
        timeout=RPC_TIMEOUT_S,
    )
    np.testing.assert_array_equal(tf.make_ndarray(resp.outputs["sum"]), ADD_A + ADD_B)


def example(**features) -> example_pb2.Example:
    ex = example_pb2.Example()
    for name, values in features.items():
        f = ex.features.feature[name]
        values = list(np.atleast_1d(np.asarray(values, dtype=object)))
        if isinstance(values[0], (bytes, str)):
            f.bytes_list.value.extend([v.encode() if isinstance(v, str) else v for v in values])
        elif isinstance(values[0], (float, np.floating)):
            f.float_list.value.extend([float(v) for v in values])
        else:
            f.int64_list.value.extend([int(v) for v in values])
    return ex


def example_input(rows, context: example_pb2.Example | None = None) -> input_pb2.Input:
    examples = [example(features=np.asarray(r, dtype=np.float32).astype(float).tolist()) for r in rows]
    inp = input_pb2.Input()
    if context is None:
        inp.example_list.examples.extend(examples)
    else:
        inp.example_list_with_context.examples.extend(examples)
        inp.example_list_with_context.context.CopyFrom(context)
    return inp


FEATURES = np.random.default_rng(21).standard_normal((5, 4), dtype=np.float32) * np.float32(2)


# ----------------------------------------------------------------------------------------------------------
# Predict: add
# ----------------------------------------------------------------------------------------------------------


def test_predict_add_make_tensor_proto_typed_response(stub):
    req = predict_request("add", {"a": tf.make_tensor_proto(ADD_A), "b": tf.make_tensor_proto(ADD_B)})
    assert req.inputs["a"].tensor_content  # tf.make_tensor_proto packs a numeric array as tensor_content
    resp = stub.Predict(req, timeout=RPC_TIMEOUT_S)
    assert list(resp.outputs) == ["sum"]
    out = resp.outputs["sum"]
    assert out.dtype == types_pb2.DT_FLOAT
    # TF Serving's default: typed fields (clients read float_val directly)
    got = decode(out, content=False)
    assert len(out.float_val) == ADD_A.size
    np.testing.assert_array_equal(got, ADD_A + ADD_B)
    np.testing.assert_array_equal(tf.make_ndarray(out), ADD_A + ADD_B)
    # model_spec echoed in full: the newest version (policy all → 2), default signature name
    assert resp.model_spec.name == "add"
    assert resp.model_spec.HasField("version") and resp.model_spec.version.value == 2
    assert resp.model_spec.signature_name == "serving_default"


def test_predict_add_typed_values(stub):
    req = predict_request("add", {"a": typed_proto(ADD_A, types_pb2.DT_FLOAT), "b": typed_proto(ADD_B, types_pb2.DT_FLOAT)})
    resp = stub.Predict(req, timeout=RPC_TIMEOUT_S)
    np.testing.assert_array_equal(decode(resp.outputs["sum"], content=False), ADD_A + ADD_B)


def test_predict_add_tensor_content_hand_built(stub):
    req = predict_request(
        "add", {"a": content_proto(ADD_A, types_pb2.DT_FLOAT), "b": content_proto(ADD_B, types_pb2.DT_FLOAT)}
    )
    resp = stub.Predict(req, timeout=RPC_TIMEOUT_S)
    np.testing.assert_array_equal(decode(resp.outputs["sum"]), ADD_A + ADD_B)


def test_predict_add_single_value_broadcast(stub):
    a = tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, tensor_shape=shape_proto([2, 16]))
    a.float_val.append(7.5)
    resp = stub.Predict(
        predict_request("add", {"a": a, "b": typed_proto(ADD_B, types_pb2.DT_FLOAT)}), timeout=RPC_TIMEOUT_S
    )
    np.testing.assert_array_equal(decode(resp.outputs["sum"]), np.float32(7.5) + ADD_B)
    # the same rule through TF's own helper: a scalar with a shape becomes one float_val
    b = tf.make_tensor_proto(0.25, dtype=tf.float32, shape=[2, 16])
    assert len(b.float_val) == 1 and not b.tensor_content
    resp = stub.Predict(predict_request("add", {"a": a, "b": b}), timeout=RPC_TIMEOUT_S)
    np.testing.assert_array_equal(decode(resp.outputs["sum"]), np.full((2, 16), 7.75, np.float32))


@pytest.mark.parametrize(
    "spec_args,want",
    [
        ({}, 2),
        ({"version": 1}, 1),
        ({"version": 2}, 2),
        ({"label": "stable"}, 1),
        ({"label": "canary"}, 2),
        ({"version": 1, "signature": "serving_default"}, 1),
    ],
)
def test_predict_add_version_routing_and_spec_echo(stub, spec_args, want):
    req = predict_request("add", {"a": tf.make_tensor_proto(ADD_A), "b": tf.make_tensor_proto(ADD_B)}, **spec_args)
    resp = stub.Predict(req, timeout=RPC_TIMEOUT_S)
    assert resp.model_spec.name == "add"
    assert resp.model_spec.version.value == want
    assert resp.model_spec.signature_name == "serving_default"
    assert resp.model_spec.version_label == ""  # TF Serving echoes the resolved version, not the label
    np.testing.assert_array_equal(tf.make_ndarray(resp.outputs["sum"]), ADD_A + ADD_B)


def test_predict_version_errors(stub):
    ok_inputs = {"a": tf.make_tensor_proto(ADD_A), "b": tf.make_tensor_proto(ADD_B)}
    assert_rpc_error(stub.Predict, predict_request("add", ok_inputs, version=7), grpc.StatusCode.NOT_FOUND, "Servable")
    assert_rpc_error(
        stub.Predict, predict_request("add", ok_inputs, label="nope"), grpc.StatusCode.NOT_FOUND, "label"
    )
    assert_rpc_error(
        stub.Predict,
        predict_request("add", ok_inputs, signature="classify_x"),
        grpc.StatusCode.FAILED_PRECONDITION,
        'Serving signature name: "classify_x" not found in signature def',
    )


def test_predict_missing_model_is_not_found_with_tf_serving_text(stub):
    details = assert_rpc_error(
        stub.Predict, predict_request("nope", {"a": tf.make_tensor_proto(ADD_A)}), grpc.StatusCode.NOT_FOUND
    )
    assert details == "Servable not found for request: Latest(nope)"
    grpc_add_ok(stub)


# ----------------------------------------------------------------------------------------------------------
# Predict: mlp, output_filter, multitype, resnet50
# ----------------------------------------------------------------------------------------------------------


def test_predict_mlp(stub, ref):
    resp = stub.Predict(predict_request("mlp", {"features": tf.make_tensor_proto(FEATURES)}), timeout=RPC_TIMEOUT_S)
    want = ref.run("mlp", {"features": FEATURES})
    assert sorted(resp.outputs) == ["class_ids", "scores"]
    assert_close(decode(resp.outputs["scores"], content=False), want["scores"], rtol=1e-5, atol=1e-7)
    ids = resp.outputs["class_ids"]
    assert ids.dtype == types_pb2.DT_INT64 and len(ids.int64_val) == 5
    np.testing.assert_array_equal(decode(ids), want["class_ids"])


def test_predict_output_filter(stub, ref):
    req = predict_request("mlp", {"features": tf.make_tensor_proto(FEATURES)}, output_filter=["class_ids"])
    resp = stub.Predict(req, timeout=RPC_TIMEOUT_S)
    assert list(resp.outputs) == ["class_ids"]
    np.testing.assert_array_equal(decode(resp.outputs["class_ids"]), ref.run("mlp", {"features": FEATURES})["class_ids"])

    bad = predict_request("mlp", {"features": tf.make_tensor_proto(FEATURES)}, output_filter=["scores", "nope"])
    details = assert_rpc_error(stub.Predict, bad, grpc.StatusCode.INVALID_ARGUMENT, "nope")
    assert "output tensor alias not found in signature" in details
    dup = predict_request("mlp", {"features": tf.make_tensor_proto(FEATURES)}, output_filter=["scores", "scores"])
    assert_rpc_error(stub.Predict, dup, grpc.StatusCode.INVALID_ARGUMENT, "duplicate")


def multitype_feeds(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {f"in_{t}": v for t, v in arrays.items()}


def test_predict_multitype_every_dtype_typed_fields(stub, ref):
    arrays = multitype_arrays(rows=2)
    inputs = {f"in_{t}": typed_proto(v, tf_enum(MULTITYPE[t][2])) for t, v in arrays.items()}
    assert inputs["in_fp16"].half_val and inputs["in_bf16"].half_val and inputs["in_int8"].int_val
    resp = stub.Predict(predict_request("multitype", inputs), timeout=RPC_TIMEOUT_S)
    want = ref.run("multitype", multitype_feeds(arrays))
    assert sorted(resp.outputs) == sorted(want)
    for name, w in want.items():
        out = resp.outputs[name]
        t = name.removeprefix("out_")
        if t in MULTITYPE:
            assert out.dtype == tf_enum(MULTITYPE[t][2]), name
        got = decode(out, content=False)
        assert_bitwise_equal(got, w, what=name)
    # typed output fields as TF Serving writes them
    assert len(resp.outputs["out_fp16"].half_val) == arrays["fp16"].size
    assert len(resp.outputs["out_bf16"].half_val) == arrays["bf16"].size
    assert len(resp.outputs["out_uint8"].int_val) == arrays["uint8"].size
    assert len(resp.outputs["out_uint32"].uint32_val) == arrays["uint32"].size
    assert len(resp.outputs["out_bool"].bool_val) == arrays["bool"].size
    assert len(resp.outputs["out_string"].string_val) == arrays["string"].size


def quiet_nans(a: np.ndarray) -> np.ndarray:
    """FP32 with every NaN's quiet bit set: a float_val read into Python (a double) quiets signalling NaNs
    on the client side, so typed FP32 values can be compared bitwise only up to that bit."""
    bits = np.ascontiguousarray(a).view(np.uint32).copy()
    bits[np.isnan(a.ravel()).reshape(a.shape)] |= 0x00400000
    return bits.view(np.float32)


@pytest.mark.parametrize("outputs", ["typed", "tensor_content"])
def test_predict_multitype_every_dtype_tensor_content_bitwise(stub, extra_stub, outputs):
    # random bit patterns (NaN payloads, infinities, subnormals; strings with NUL and non-UTF-8 bytes) in
    # tensor_content in; out_<t> is an identity, so the outputs must be the inputs bit for bit
    arrays = multitype_random_bits(seed=7, rows=3)
    inputs = {}
    for t, v in arrays.items():
        tf_dtype = tf_enum(MULTITYPE[t][2])
        inputs[f"in_{t}"] = typed_proto(v, tf_dtype) if t == "string" else content_proto(v, tf_dtype)
    call = stub.Predict if outputs == "typed" else extra_stub.Predict
    resp = call(predict_request("multitype", inputs), timeout=RPC_TIMEOUT_S)
    for t, want in arrays.items():
        name = f"out_{t}"
        got = decode(resp.outputs[name], content=None if t == "string" else outputs == "tensor_content")
        if t == "fp32" and outputs == "typed":
            got, want = quiet_nans(got), quiet_nans(want)
        assert_bitwise_equal(got, want, what=name)


def test_predict_multitype_make_tensor_proto(stub, ref):
    arrays = multitype_arrays(rows=2)
    arrays["string"] = np.array([s.encode() for s in arrays["string"].ravel()], dtype=object).reshape(
        arrays["string"].shape
    )
    inputs = {}
    for t, v in arrays.items():
        dtype = tf.dtypes.as_dtype(types_pb2.DataType.Value(MULTITYPE[t][2]))
        inputs[f"in_{t}"] = tf.make_tensor_proto(v, dtype=dtype)
    resp = stub.Predict(predict_request("multitype", inputs), timeout=RPC_TIMEOUT_S)
    want = ref.run("multitype", multitype_feeds(arrays))
    for name, w in want.items():
        got = tf.make_ndarray(resp.outputs[name])
        if w.dtype == np.dtype(ml_dtypes.bfloat16):
            got = np.asarray(got).view(np.uint16).view(ml_dtypes.bfloat16)
        assert_bitwise_equal(got, w, what=name)


def test_predict_multitype_tensor_content_outputs_when_enabled(extra_stub, ref):
    arrays = multitype_arrays(rows=2)
    inputs = {f"in_{t}": typed_proto(v, tf_enum(MULTITYPE[t][2])) for t, v in arrays.items()}
    resp = extra_stub.Predict(predict_request("multitype", inputs), timeout=RPC_TIMEOUT_S)
    want = ref.run("multitype", multitype_feeds(arrays))
    for name, w in want.items():
        # --enable_serialization_as_tensor_content: every numeric output (FP16/BF16 too) in tensor_content;
        # STRING keeps string_val
        got = decode(resp.outputs[name], content=None if name == "out_string" else True)
        assert_bitwise_equal(got, w, what=name)
    assert resp.outputs["out_string"].string_val


def test_predict_resnet50_one_image(stub, ref):
    assert not SKIP_LARGE, "SERVAL_SKIP_LARGE=1: resnet50 was not built, so this test cannot pass"
    img = np.random.default_rng(5).standard_normal((1, 3, 224, 224), dtype=np.float32)
    resp = stub.Predict(predict_request("resnet50", {"input": tf.make_tensor_proto(img)}), timeout=RPC_TIMEOUT_S)
    got = decode(resp.outputs["logits"], content=False)
    want = ref.run("resnet50", {"input": img})["logits"]
    assert got.shape == (1, 1000)
    assert_close(got, want, rtol=1e-4, atol=1e-5, what="resnet50 logits")
    assert int(got.argmax()) == int(want.argmax())


# ----------------------------------------------------------------------------------------------------------
# GetModelMetadata, GetModelStatus, ReloadConfig
# ----------------------------------------------------------------------------------------------------------


def metadata_request(model: str, fields=("signature_def",), **spec_args):
    return get_model_metadata_pb2.GetModelMetadataRequest(model_spec=spec(model, **spec_args), metadata_field=fields)


def signature_of(resp) -> dict:
    any_ = resp.metadata["signature_def"]
    assert any_.type_url == "type.googleapis.com/tensorflow.serving.SignatureDefMap"
    sdm = get_model_metadata_pb2.SignatureDefMap()
    assert any_.Unpack(sdm)
    assert list(sdm.signature_def) == ["serving_default"]
    sig = sdm.signature_def["serving_default"]
    assert sig.method_name == "tensorflow/serving/predict"

    def infos(m):
        return {
            k: (v.name, types_pb2.DataType.Name(v.dtype), [d.size for d in v.tensor_shape.dim]) for k, v in m.items()
        }

    return {"inputs": infos(sig.inputs), "outputs": infos(sig.outputs)}


def test_get_model_metadata_add(stub):
    resp = stub.GetModelMetadata(metadata_request("add"), timeout=RPC_TIMEOUT_S)
    assert resp.model_spec.name == "add" and resp.model_spec.version.value == 2
    assert signature_of(resp) == {
        "inputs": {"a": ("a", "DT_FLOAT", [-1, 16]), "b": ("b", "DT_FLOAT", [-1, 16])},
        "outputs": {"sum": ("sum", "DT_FLOAT", [-1, 16])},
    }
    resp = stub.GetModelMetadata(metadata_request("add", label="stable"), timeout=RPC_TIMEOUT_S)
    assert resp.model_spec.version.value == 1


def test_get_model_metadata_matches_rest(stub, server):
    for model in ("multitype", "mlp"):
        resp = stub.GetModelMetadata(metadata_request(model), timeout=RPC_TIMEOUT_S)
        got = signature_of(resp)
        rest = get(server, f"/v1/models/{model}/metadata").json()
        rest_sig = rest["metadata"]["signature_def"]["signature_def"]["serving_default"]
        want = {
            kind: {
                k: (v["name"], v["dtype"], [int(d["size"]) for d in v["tensor_shape"]["dim"]])
                for k, v in rest_sig[kind].items()
            }
            for kind in ("inputs", "outputs")
        }
        assert got == want, model
    got = signature_of(stub.GetModelMetadata(metadata_request("multitype"), timeout=RPC_TIMEOUT_S))
    for t, (_, _, tf_name) in MULTITYPE.items():
        assert got["inputs"][f"in_{t}"][1] == tf_name


def test_get_model_metadata_errors(stub):
    assert_rpc_error(
        stub.GetModelMetadata, metadata_request("add", fields=()), grpc.StatusCode.INVALID_ARGUMENT, "metadata_field"
    )
    assert_rpc_error(
        stub.GetModelMetadata,
        metadata_request("add", fields=("signature_def", "graph_def")),
        grpc.StatusCode.INVALID_ARGUMENT,
        "graph_def is not supported",
    )
    details = assert_rpc_error(stub.GetModelMetadata, metadata_request("nope"), grpc.StatusCode.NOT_FOUND)
    assert "Servable not found for request" in details


def test_get_model_status(model_stub):
    resp = model_stub.GetModelStatus(
        get_model_status_pb2.GetModelStatusRequest(model_spec=spec("add")), timeout=RPC_TIMEOUT_S
    )
    entries = sorted((s.version, s.state, s.status.error_code, s.status.error_message) for s in resp.model_version_status)
    available = get_model_status_pb2.ModelVersionStatus.AVAILABLE
    assert entries == [(1, available, 0, ""), (2, available, 0, "")]
    for spec_args, want in (({"version": 1}, 1), ({"label": "canary"}, 2)):
        resp = model_stub.GetModelStatus(
            get_model_status_pb2.GetModelStatusRequest(model_spec=spec("add", **spec_args)), timeout=RPC_TIMEOUT_S
        )
        assert [s.version for s in resp.model_version_status] == [want]
    assert_rpc_error(
        model_stub.GetModelStatus,
        get_model_status_pb2.GetModelStatusRequest(model_spec=spec("nope")),
        grpc.StatusCode.NOT_FOUND,
        "nope",
    )
    assert_rpc_error(
        model_stub.GetModelStatus,
        get_model_status_pb2.GetModelStatusRequest(model_spec=spec("add", version=9)),
        grpc.StatusCode.NOT_FOUND,
    )


def test_reload_config_refused_by_default(model_stub):
    assert_rpc_error(
        model_stub.HandleReloadConfigRequest,
        model_management_pb2.ReloadConfigRequest(),
        grpc.StatusCode.PERMISSION_DENIED,
        "--enable_model_control",
    )


# ----------------------------------------------------------------------------------------------------------
# Classify / Regress / MultiInference (tf.Example)
# ----------------------------------------------------------------------------------------------------------


def test_classify_mlp(stub, ref):
    req = classification_pb2.ClassificationRequest(model_spec=spec("mlp"), input=example_input(FEATURES))
    resp = stub.Classify(req, timeout=RPC_TIMEOUT_S)
    want = ref.run("mlp", {"features": FEATURES})["scores"]
    assert len(resp.result.classifications) == 5
    got = np.array([[c.score for c in row.classes] for row in resp.result.classifications], dtype=np.float32)
    assert_close(got, want, rtol=1e-5, atol=1e-7, what="classify scores")
    # mlp has no STRING `classes` output: labels are empty, as in TF Serving
    assert all(c.label == "" for row in resp.result.classifications for c in row.classes)
    assert resp.model_spec.name == "mlp"
    assert resp.model_spec.version.value == 1
    assert resp.model_spec.signature_name == "serving_default"


def test_classify_with_context_and_int64_features(stub, ref):
    # context supplies `features` to examples that lack it; an example's own feature wins
    ctx = example(features=[1.0, 2.0, 3.0, 4.0])
    inp = input_pb2.Input()
    inp.example_list_with_context.context.CopyFrom(ctx)
    inp.example_list_with_context.examples.extend([example(), example(features=[4, -3, 2, 1]), example(other=[1.0])])
    resp = stub.Classify(classification_pb2.ClassificationRequest(model_spec=spec("mlp"), input=inp), timeout=RPC_TIMEOUT_S)
    rows = np.array([[1, 2, 3, 4], [4, -3, 2, 1], [1, 2, 3, 4]], dtype=np.float32)
    want = ref.run("mlp", {"features": rows})["scores"]
    got = np.array([[c.score for c in row.classes] for row in resp.result.classifications], dtype=np.float32)
    assert_close(got, want, rtol=1e-5, atol=1e-7)


def test_regress_regressor(extra_stub, ref):
    req = regression_pb2.RegressionRequest(model_spec=spec("regressor"), input=example_input(FEATURES))
    resp = extra_stub.Regress(req, timeout=RPC_TIMEOUT_S)
    want = ref.run("regressor", {"features": FEATURES})["outputs"].ravel()
    got = np.array([r.value for r in resp.result.regressions], dtype=np.float32)
    assert_close(got, want, rtol=1e-5, atol=1e-6)
    assert_close(got, (FEATURES @ REGRESSOR_W).ravel() + REGRESSOR_B, rtol=1e-5, atol=1e-5)
    assert resp.model_spec.name == "regressor" and resp.model_spec.version.value == 1


def test_multi_inference(stub, extra_stub, ref):
    inp = example_input(FEATURES)
    req = inference_pb2.MultiInferenceRequest(
        tasks=[inference_pb2.InferenceTask(model_spec=spec("mlp"), method_name="tensorflow/serving/classify")],
        input=inp,
    )
    resp = stub.MultiInference(req, timeout=RPC_TIMEOUT_S)
    assert len(resp.results) == 1
    result = resp.results[0]
    assert result.model_spec.name == "mlp" and result.model_spec.signature_name == "serving_default"
    assert result.WhichOneof("result") == "classification_result"
    classify = stub.Classify(classification_pb2.ClassificationRequest(model_spec=spec("mlp"), input=inp), timeout=RPC_TIMEOUT_S)
    assert result.classification_result == classify.result

    req = inference_pb2.MultiInferenceRequest(
        tasks=[inference_pb2.InferenceTask(model_spec=spec("regressor"), method_name="tensorflow/serving/regress")],
        input=inp,
    )
    resp = extra_stub.MultiInference(req, timeout=RPC_TIMEOUT_S)
    got = np.array([r.value for r in resp.results[0].regression_result.regressions], dtype=np.float32)
    assert_close(got, ref.run("regressor", {"features": FEATURES})["outputs"].ravel(), rtol=1e-5, atol=1e-6)


def test_multi_inference_errors(stub, extra_stub):
    inp = example_input(FEATURES[:2])

    def multi(*tasks):
        return inference_pb2.MultiInferenceRequest(
            tasks=[inference_pb2.InferenceTask(model_spec=s, method_name=m) for s, m in tasks], input=inp
        )

    classify, regress = "tensorflow/serving/classify", "tensorflow/serving/regress"
    assert_rpc_error(stub.MultiInference, multi(), grpc.StatusCode.INVALID_ARGUMENT, "at least one task")
    assert_rpc_error(
        extra_stub.MultiInference,
        multi((spec("mlp"), classify), (spec("regressor"), regress)),
        grpc.StatusCode.INVALID_ARGUMENT,
        "same model name",
    )
    assert_rpc_error(
        stub.MultiInference, multi((spec("mlp"), "tensorflow/serving/predict")), grpc.StatusCode.INVALID_ARGUMENT,
        "method_name",
    )
    assert_rpc_error(
        stub.MultiInference,
        multi((spec("mlp"), classify), (spec("mlp", signature="serving_default"), classify)),
        grpc.StatusCode.INVALID_ARGUMENT,
        "Duplicate evaluation of signature",
    )
    assert_rpc_error(
        extra_stub.MultiInference, multi((spec("regressor"), classify)), grpc.StatusCode.FAILED_PRECONDITION, "scores"
    )
    # mlp's only FP32 output is scores [batch, 3]: not a regression output
    assert_rpc_error(
        stub.MultiInference, multi((spec("mlp"), classify), (spec("mlp"), regress)), grpc.StatusCode.FAILED_PRECONDITION,
        "'scores' FP32 [-1,3]",
    )
    grpc_add_ok(stub)


def test_classify_regress_errors(stub, extra_stub):
    def classify(model, inp, s=None):
        return classification_pb2.ClassificationRequest(model_spec=s or spec(model), input=inp)

    # a model without scores/classes cannot classify; one without a regression output cannot regress
    details = assert_rpc_error(stub.Classify, classify("add", example_input(FEATURES)), grpc.StatusCode.FAILED_PRECONDITION)
    assert "'scores'" in details and "'sum'" in details, details
    details = assert_rpc_error(
        stub.Regress,
        regression_pb2.RegressionRequest(model_spec=spec("add"), input=example_input(FEATURES)),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    assert "'outputs'" in details and "'sum' FP32 [-1,16]" in details, details
    # input problems
    assert_rpc_error(stub.Classify, classify("mlp", input_pb2.Input()), grpc.StatusCode.INVALID_ARGUMENT, "Input is empty")
    empty = input_pb2.Input()
    empty.example_list.SetInParent()
    assert_rpc_error(stub.Classify, classify("mlp", empty), grpc.StatusCode.INVALID_ARGUMENT, "no examples")
    missing = input_pb2.Input()
    missing.example_list.examples.extend([example(features=[1.0, 2.0, 3.0, 4.0]), example(other=[1.0])])
    assert_rpc_error(
        stub.Classify, classify("mlp", missing), grpc.StatusCode.INVALID_ARGUMENT, "example 1 has no feature 'features'"
    )
    short = input_pb2.Input()
    short.example_list.examples.extend([example(features=[1.0, 2.0, 3.0])])
    assert_rpc_error(stub.Classify, classify("mlp", short), grpc.StatusCode.INVALID_ARGUMENT, "needs 4")
    wrong_kind = input_pb2.Input()
    wrong_kind.example_list.examples.extend([example(features=["a", "b", "c", "d"])])
    assert_rpc_error(stub.Classify, classify("mlp", wrong_kind), grpc.StatusCode.INVALID_ARGUMENT, "bytes_list")
    # spec problems
    assert_rpc_error(
        stub.Classify, classify("nope", example_input(FEATURES)), grpc.StatusCode.NOT_FOUND,
        "Servable not found for request: Latest(nope)",
    )
    assert_rpc_error(
        stub.Classify,
        classify("mlp", example_input(FEATURES), spec("mlp", signature="classify_x_to_y")),
        grpc.StatusCode.FAILED_PRECONDITION,
        "not found in signature def",
    )
    grpc_add_ok(stub)
    grpc_add_ok(extra_stub)


# ----------------------------------------------------------------------------------------------------------
# REST :classify / :regress (the same mapping)
# ----------------------------------------------------------------------------------------------------------


def test_rest_classify_mlp(server, ref):
    body = {"examples": [{"features": row.tolist()} for row in FEATURES]}
    r = post_json(server, "/v1/models/mlp:classify", body)
    assert r.status_code == 200, r.text
    results = jloads(r.content)
    assert list(results) == ["results"]
    assert len(results["results"]) == 5
    for row in results["results"]:
        assert len(row) == 3 and all(label == "" and isinstance(score, float) for label, score in row)
    got = np.array([[score for _, score in row] for row in results["results"]], dtype=np.float32)
    assert_close(got, ref.run("mlp", {"features": FEATURES})["scores"], rtol=1e-5, atol=1e-7)


def test_rest_classify_context_and_versions(server, ref):
    body = {
        "signature_name": "serving_default",
        "context": {"features": [1, 2, 3, 4]},
        "examples": [{}, {"features": [0.5, -1, 2, 0]}],
    }
    r = post_json(server, "/v1/models/mlp/versions/1:classify", body)
    assert r.status_code == 200, r.text
    got = np.array([[s for _, s in row] for row in jloads(r.content)["results"]], dtype=np.float32)
    rows = np.array([[1, 2, 3, 4], [0.5, -1, 2, 0]], dtype=np.float32)
    assert_close(got, ref.run("mlp", {"features": rows})["scores"], rtol=1e-5, atol=1e-7)


def test_rest_regress_regressor(extra, ref):
    body = {"examples": [{"features": row.tolist()} for row in FEATURES]}
    r = post_json(extra, "/v1/models/regressor:regress", body)
    assert r.status_code == 200, r.text
    results = jloads(r.content)
    assert list(results) == ["results"]
    got = np.array(results["results"], dtype=np.float32)
    assert got.shape == (5,)
    assert_close(got, ref.run("regressor", {"features": FEATURES})["outputs"].ravel(), rtol=1e-5, atol=1e-6)


def test_rest_classify_regress_errors(server, extra):
    ok = {"examples": [{"features": [1.0, 2.0, 3.0, 4.0]}]}
    assert_error(post_json(server, "/v1/models/add:classify", ok), 400)
    assert_error(post_json(server, "/v1/models/mlp:regress", ok), 400)  # scores is [batch, 3]
    assert_error(post_json(server, "/v1/models/nope:classify", ok), 404)
    assert_error(post_json(server, "/v1/models/mlp:classify", {"examples": [{"features": [1.0, 2.0]}]}), 400)
    assert_error(post_json(server, "/v1/models/mlp:classify", {"examples": [{"features": [[1.0]]}]}), 400)
    assert_error(post_json(server, "/v1/models/mlp:classify", {"instances": [[1, 2, 3, 4]]}), 400)
    assert_error(post_json(server, "/v1/models/mlp:classify", b"{not json"), 400)
    assert_error(post_json(server, "/v1/models/mlp:classify", {**ok, "signature_name": "other"}), 400)
    b64 = {"examples": [{"features": {"b64": base64.b64encode(b"abcd").decode()}}]}
    assert "bytes_list" in assert_error(post_json(extra, "/v1/models/regressor:regress", b64), 400)
    assert_alive(server)


# ----------------------------------------------------------------------------------------------------------
# hostile requests
# ----------------------------------------------------------------------------------------------------------


def hostile_requests():
    good_b = typed_proto(ADD_B, types_pb2.DT_FLOAT)

    def add_with(a):
        return predict_request("add", {"a": a, "b": good_b})

    short = content_proto(ADD_A, types_pb2.DT_FLOAT)
    short.tensor_content = short.tensor_content[:-4]
    both = content_proto(ADD_A, types_pb2.DT_FLOAT)
    both.float_val.append(1.0)
    declared = tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, tensor_shape=shape_proto([1 << 27, 16]))  # 8 GiB
    declared_one = tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, tensor_shape=shape_proto([1 << 25, 16]))  # 2 GiB
    declared_one.float_val.append(1.0)
    overflow = tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, tensor_shape=shape_proto([1 << 62, 1 << 62, 16]))
    unknown_dtype = content_proto(ADD_A, types_pb2.DT_FLOAT)
    unknown_dtype.dtype = 99
    complex_dtype = content_proto(ADD_A, types_pb2.DT_FLOAT)
    complex_dtype.dtype = types_pb2.DT_COMPLEX64
    ref_dtype = content_proto(ADD_A, types_pb2.DT_FLOAT)
    ref_dtype.dtype = types_pb2.DT_FLOAT_REF
    mismatch = content_proto(ADD_A.astype(np.float64), types_pb2.DT_DOUBLE)
    negative = content_proto(ADD_A, types_pb2.DT_FLOAT)
    negative.tensor_shape.dim[0].size = -2
    wrong_field = tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, tensor_shape=shape_proto([2, 16]))
    wrong_field.int_val.extend(range(32))
    too_few = tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, tensor_shape=shape_proto([2, 16]))
    too_few.float_val.extend([1.0] * 31)
    string_content = tensor_pb2.TensorProto(dtype=types_pb2.DT_STRING, tensor_shape=shape_proto([1]))
    string_content.tensor_content = b"abcd"
    return {
        "tensor_content length mismatch": (add_with(short), "tensor_content has 124 bytes"),
        "typed values and tensor_content": (add_with(both), "both tensor_content and typed values"),
        "8 GiB declared without bytes": (add_with(declared), "carries no values"),
        "2 GiB from one broadcast value": (add_with(declared_one), "broadcast limit"),
        "overflowing shape": (add_with(overflow), "input 'a'"),
        "unknown dtype 99": (add_with(unknown_dtype), "dtype 99 is not a supported dtype"),
        "DT_COMPLEX64": (add_with(complex_dtype), "DT_COMPLEX64"),
        "DT_FLOAT_REF": (add_with(ref_dtype), "DT_FLOAT_REF"),
        "dtype mismatch": (add_with(mismatch), "has dtype DT_DOUBLE but the model expects DT_FLOAT"),
        "negative dim": (add_with(negative), "must be fully known"),
        "values in the wrong typed field": (add_with(wrong_field), "float_val"),
        "value count mismatch": (add_with(too_few), "31 values in float_val"),
        "unknown input": (
            predict_request("add", {"a": typed_proto(ADD_A, types_pb2.DT_FLOAT), "b": good_b, "zz": good_b}),
            "input tensor alias not found in signature: zz",
        ),
        "missing input": (predict_request("add", {"a": good_b}), "missing input 'b'"),
        "string tensor_content": (
            predict_request("multitype", {"in_string": string_content}),
            "string_val",
        ),
        "no model_spec": (predict_pb2.PredictRequest(), "Missing ModelSpec"),
    }


HOSTILE = hostile_requests()


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_predict_is_invalid_argument(server, stub, case):
    request, needle = HOSTILE[case]
    assert_rpc_error(stub.Predict, request, grpc.StatusCode.INVALID_ARGUMENT, needle)
    grpc_add_ok(stub)
    assert_alive(server)


def test_hostile_oversize_message_is_resource_exhausted(extra, extra_stub):
    big = np.zeros((SMALL_GRPC_MESSAGE // 64 + 16, 16), dtype=np.float32)  # just over 1 MiB
    req = predict_request("add", {"a": tf.make_tensor_proto(big), "b": tf.make_tensor_proto(big)})
    assert req.ByteSize() > SMALL_GRPC_MESSAGE
    assert_rpc_error(extra_stub.Predict, req, grpc.StatusCode.RESOURCE_EXHAUSTED)
    # a small request whose response is over the cap (one value broadcast to 1.25 MiB) fails the same way
    one = tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, tensor_shape=shape_proto([20480, 16]))
    one.float_val.append(1.0)
    assert_rpc_error(extra_stub.Predict, predict_request("add", {"a": one, "b": one}), grpc.StatusCode.RESOURCE_EXHAUSTED)
    # a request and response just under the cap pass
    fits = np.zeros((SMALL_GRPC_MESSAGE // 64 // 2 - 64, 16), dtype=np.float32)
    resp = extra_stub.Predict(
        predict_request("add", {"a": tf.make_tensor_proto(fits), "b": tf.make_tensor_proto(fits)}),
        timeout=RPC_TIMEOUT_S,
    )
    assert resp.outputs["sum"].tensor_content  # this server serializes as tensor_content
    grpc_add_ok(extra_stub)
    assert_alive(extra)
