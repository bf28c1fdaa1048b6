"""TF Serving REST API (docs/protocols.md §2.1, §2.9, §2.10): status, metadata, predict (row and columnar), errors."""

from __future__ import annotations

import base64
import json

import ml_dtypes
import numpy as np
import pytest

from conftest import (
    MULTITYPE,
    from_json_value,
    multitype_arrays,
    SKIP_LARGE,
    assert_bitwise_equal,
    assert_close,
    assert_error,
    get,
    jloads,
    post_json,
)

STATUS_OK = {"error_code": "OK", "error_message": ""}


def status_entry(version: str) -> dict:
    return {"version": version, "state": "AVAILABLE", "status": dict(STATUS_OK)}


# ----------------------------------------------------------------------------------------------------------
# model status
# ----------------------------------------------------------------------------------------------------------


def test_status_all_versions(server):
    r = get(server, "/v1/models/add")
    assert r.status_code == 200, r.text
    body = r.json()
    assert list(body) == ["model_version_status"], body
    entries = sorted(body["model_version_status"], key=lambda e: int(e["version"]))
    assert entries == [status_entry("1"), status_entry("2")]


@pytest.mark.parametrize("path,version", [("/v1/models/add/versions/1", "1"), ("/v1/models/add/versions/2", "2")])
def test_status_specific_version_exact(server, path, version):
    r = get(server, path)
    assert r.status_code == 200, r.text
    assert r.json() == {"model_version_status": [status_entry(version)]}


@pytest.mark.parametrize("label,version", [("stable", "1"), ("canary", "2")])
def test_status_by_label(server, label, version):
    r = get(server, f"/v1/models/add/labels/{label}")
    assert r.status_code == 200, r.text
    assert r.json() == {"model_version_status": [status_entry(version)]}


def test_status_single_version_model_exact(server):
    r = get(server, "/v1/models/mlp")
    assert r.status_code == 200, r.text
    assert r.json() == {"model_version_status": [status_entry("1")]}


def test_status_route_prefix_is_case_insensitive(server):
    # TF Serving matches its routes with (?i)/v1/.* (docs/protocols.md §2.1)
    r = get(server, "/V1/models/mlp")
    assert r.status_code == 200, r.text
    assert r.json() == {"model_version_status": [status_entry("1")]}


# ----------------------------------------------------------------------------------------------------------
# metadata
# ----------------------------------------------------------------------------------------------------------


def tensor_info(dtype: str, dims: list[int], name: str) -> dict:
    return {
        "dtype": dtype,
        "tensor_shape": {"dim": [{"size": str(d), "name": ""} for d in dims], "unknown_rank": False},
        "name": name,
    }


def signature(body: dict) -> dict:
    assert set(body) == {"model_spec", "metadata"}, body
    assert set(body["metadata"]) == {"signature_def"}, body["metadata"]
    sig_map = body["metadata"]["signature_def"]
    assert set(sig_map) == {"signature_def"}, sig_map
    assert set(sig_map["signature_def"]) == {"serving_default"}, sig_map["signature_def"].keys()
    sig = sig_map["signature_def"]["serving_default"]
    assert set(sig) == {"inputs", "outputs", "method_name"}, sig.keys()
    assert sig["method_name"] == "tensorflow/serving/predict"
    return sig


def normalise_names(infos: dict) -> dict:
    """TensorInfo.name is the graph tensor name; TF writes 'a:0', an ONNX graph has 'a'. Accept either."""
    out = {}
    for key, info in infos.items():
        assert info.get("name") in (key, f"{key}:0"), f"TensorInfo name {info.get('name')!r} for {key}"
        out[key] = dict(info, name=key)
    return out


@pytest.mark.parametrize(
    "path,version",
    [
        ("/v1/models/add/metadata", "2"),  # no version: the latest AVAILABLE
        ("/v1/models/add/versions/1/metadata", "1"),
        ("/v1/models/add/labels/canary/metadata", "2"),
        ("/v1/models/add/labels/stable/metadata", "1"),
    ],
)
def test_metadata_add_exact(server, path, version):
    r = get(server, path)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model_spec"] == {"name": "add", "signature_name": "", "version": version}
    sig = signature(body)
    assert normalise_names(sig["inputs"]) == {
        "a": tensor_info("DT_FLOAT", [-1, 16], "a"),
        "b": tensor_info("DT_FLOAT", [-1, 16], "b"),
    }
    assert normalise_names(sig["outputs"]) == {"sum": tensor_info("DT_FLOAT", [-1, 16], "sum")}


def test_metadata_multitype_dtypes(server):
    r = get(server, "/v1/models/multitype/metadata")
    assert r.status_code == 200, r.text
    sig = signature(r.json())
    inputs, outputs = normalise_names(sig["inputs"]), normalise_names(sig["outputs"])
    assert set(inputs) == {f"in_{t}" for t in MULTITYPE}
    assert set(outputs) == {f"out_{t}" for t in MULTITYPE} | {"scaled_fp32"}
    for t, (_, _, tf_dtype) in MULTITYPE.items():
        assert inputs[f"in_{t}"] == tensor_info(tf_dtype, [-1, -1], f"in_{t}"), t
        assert outputs[f"out_{t}"] == tensor_info(tf_dtype, [-1, -1], f"out_{t}"), t
    assert outputs["scaled_fp32"] == tensor_info("DT_FLOAT", [-1, -1], "scaled_fp32")
    # the types TF Serving clients most often check by name
    assert inputs["in_fp16"]["dtype"] == "DT_HALF"
    assert inputs["in_bf16"]["dtype"] == "DT_BFLOAT16"
    assert inputs["in_string"]["dtype"] == "DT_STRING"
    assert inputs["in_bool"]["dtype"] == "DT_BOOL"


def test_metadata_mlp(server):
    r = get(server, "/v1/models/mlp/metadata")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model_spec"] == {"name": "mlp", "signature_name": "", "version": "1"}
    sig = signature(body)
    assert normalise_names(sig["inputs"]) == {"features": tensor_info("DT_FLOAT", [-1, 4], "features")}
    assert normalise_names(sig["outputs"]) == {
        "scores": tensor_info("DT_FLOAT", [-1, 3], "scores"),
        "class_ids": tensor_info("DT_INT64", [-1], "class_ids"),
    }


# ----------------------------------------------------------------------------------------------------------
# predict: add
# ----------------------------------------------------------------------------------------------------------

RNG = np.random.default_rng(2024)
A3 = RNG.standard_normal((3, 16), dtype=np.float32)
B3 = RNG.standard_normal((3, 16), dtype=np.float32)


def add_ref(ref, a, b, version=2):
    return ref.run("add", {"a": a, "b": b}, version=version)["sum"]


def test_predict_add_row(server, ref):
    body = {"instances": [{"a": A3[i].tolist(), "b": B3[i].tolist()} for i in range(3)]}
    r = post_json(server, "/v1/models/add:predict", body)
    assert r.status_code == 200, r.text
    out = jloads(r.content)
    assert list(out) == ["predictions"], out.keys()
    # one output: a plain list of per-instance values, not objects
    assert isinstance(out["predictions"], list) and all(isinstance(p, list) for p in out["predictions"])
    got = np.array(out["predictions"], dtype=np.float32)
    # Add is one IEEE operation per element: the server's ORT and ours agree exactly, and a shortest
    # round-trip float printer loses nothing, so this is exact (rtol 0), stricter than the 1e-5 default.
    assert_close(got, add_ref(ref, A3, B3), rtol=0)


def test_predict_add_columnar(server, ref):
    body = {"inputs": {"a": A3.tolist(), "b": B3.tolist()}}
    r = post_json(server, "/v1/models/add:predict", body)
    assert r.status_code == 200, r.text
    out = jloads(r.content)
    assert list(out) == ["outputs"], out.keys()
    # one output: the bare tensor, not {"sum": ...}
    assert isinstance(out["outputs"], list)
    assert_close(np.array(out["outputs"], dtype=np.float32), add_ref(ref, A3, B3), rtol=0)


def test_predict_signature_name_serving_default(server, ref):
    body = {"signature_name": "serving_default", "inputs": {"a": A3.tolist(), "b": B3.tolist()}}
    r = post_json(server, "/v1/models/add:predict", body)
    assert r.status_code == 200, r.text
    assert_close(np.array(jloads(r.content)["outputs"], dtype=np.float32), add_ref(ref, A3, B3), rtol=0)


@pytest.mark.parametrize(
    "path,version",
    [
        ("/v1/models/add/versions/1:predict", 1),
        ("/v1/models/add/versions/2:predict", 2),
        ("/v1/models/add/labels/stable:predict", 1),
        ("/v1/models/add/labels/canary:predict", 2),
    ],
)
def test_predict_version_and_label_routing(server, ref, path, version):
    body = {"instances": [{"a": A3[i].tolist(), "b": B3[i].tolist()} for i in range(3)]}
    r = post_json(server, path, body)
    assert r.status_code == 200, r.text
    assert_close(np.array(jloads(r.content)["predictions"], dtype=np.float32), add_ref(ref, A3, B3, version), rtol=0)


def test_predict_nan_infinity_round_trip(server):
    fmax = float(np.finfo(np.float32).max)
    a = [float("nan"), float("inf"), float("-inf"), float("inf"), fmax, 1.0] + [0.5] * 10
    b = [0.0, 1.0, 1.0, float("-inf"), fmax, float("nan")] + [0.25] * 10
    body = json.dumps({"instances": [{"a": a, "b": b}]})
    assert "NaN" in body and "Infinity" in body  # Python emits the bare tokens
    r = post_json(server, "/v1/models/add:predict", body)
    assert r.status_code == 200, r.text
    text = r.text
    # the bare tokens TF Serving writes (not strings, not null, not nan/inf)
    assert "NaN" in text and "-Infinity" in text and "Infinity" in text, text
    for bad in ('"NaN"', '"Infinity"', "null", "nan,", "inf,"):
        assert bad not in text, text
    got = np.array(jloads(r.content)["predictions"], dtype=np.float32)[0]
    assert np.isnan(got[0])
    assert got[1] == np.inf and got[2] == -np.inf
    assert np.isnan(got[3])  # inf + -inf
    assert got[4] == np.inf  # float32 overflow
    assert np.isnan(got[5])
    np.testing.assert_array_equal(got[6:], np.full(10, 0.75, np.float32))


# ----------------------------------------------------------------------------------------------------------
# predict: mlp (one input, two outputs)
# ----------------------------------------------------------------------------------------------------------

FEATURES = (np.random.default_rng(77).standard_normal((6, 4), dtype=np.float32) * 3).astype(np.float32)
# scores are softmax probabilities computed by Gemm+Relu+Gemm+Softmax. The server runs the same
# onnxruntime, but its graph optimisation level / thread count may differ from ours, which can reorder a
# few float32 sums: rtol 1e-5 plus atol 1e-6 for probabilities close to 0, where rtol alone means nothing.
MLP_RTOL, MLP_ATOL = 1e-5, 1e-6


def test_predict_mlp_row(server, ref):
    r = post_json(server, "/v1/models/mlp:predict", {"instances": FEATURES.tolist()})
    assert r.status_code == 200, r.text
    out = jloads(r.content)
    preds = out["predictions"]
    assert isinstance(preds, list) and len(preds) == 6
    # several outputs: one object per instance
    for p in preds:
        assert isinstance(p, dict) and set(p) == {"scores", "class_ids"}, p
        assert isinstance(p["class_ids"], int), p  # a [-1] output gives one scalar per instance
    want = ref.run("mlp", {"features": FEATURES})
    assert_close(np.array([p["scores"] for p in preds], np.float32), want["scores"], MLP_RTOL, MLP_ATOL)
    np.testing.assert_array_equal(np.array([p["class_ids"] for p in preds], np.int64), want["class_ids"])
    assert len(set(want["class_ids"].tolist())) > 1  # the check can tell classes apart


def test_predict_mlp_row_named_objects(server, ref):
    body = {"instances": [{"features": f} for f in FEATURES.tolist()]}
    r = post_json(server, "/v1/models/mlp:predict", body)
    assert r.status_code == 200, r.text
    preds = jloads(r.content)["predictions"]
    want = ref.run("mlp", {"features": FEATURES})
    np.testing.assert_array_equal(np.array([p["class_ids"] for p in preds], np.int64), want["class_ids"])


@pytest.mark.parametrize("named", [False, True], ids=["bare", "named"])
def test_predict_mlp_columnar(server, ref, named):
    inputs = {"features": FEATURES.tolist()} if named else FEATURES.tolist()
    r = post_json(server, "/v1/models/mlp:predict", {"inputs": inputs})
    assert r.status_code == 200, r.text
    out = jloads(r.content)["outputs"]
    assert isinstance(out, dict) and set(out) == {"scores", "class_ids"}, out
    want = ref.run("mlp", {"features": FEATURES})
    assert_close(np.array(out["scores"], np.float32), want["scores"], MLP_RTOL, MLP_ATOL)
    assert out["class_ids"] == want["class_ids"].tolist()


# ----------------------------------------------------------------------------------------------------------
# predict: multitype (every dtype; fp16/bf16 as JSON numbers are a Serval extension; uint16 is not in
# TF Serving's JSON list either, but the model needs all 14 inputs on every request, so it rides along)
# ----------------------------------------------------------------------------------------------------------

def to_json_value(arr: np.ndarray, b64: bool = False):
    if arr.dtype == object:
        if b64:
            return np.vectorize(lambda s: {"b64": base64.b64encode(s.encode()).decode()}, otypes=[object])(
                arr
            ).tolist()
        return arr.tolist()
    if arr.dtype == np.dtype(ml_dtypes.bfloat16):
        return arr.astype(np.float32).tolist()
    return arr.tolist()


def check_multitype(got: dict[str, np.ndarray], arrays: dict[str, np.ndarray], ref) -> None:
    want = ref.run("multitype", {f"in_{t}": a for t, a in arrays.items()})
    for t, a in arrays.items():
        assert_bitwise_equal(got[f"out_{t}"], a, f"out_{t} vs input")
        assert_bitwise_equal(got[f"out_{t}"], want[f"out_{t}"], f"out_{t} vs onnxruntime")
    assert_bitwise_equal(got["scaled_fp32"], want["scaled_fp32"], "scaled_fp32")  # x*2 is exact


@pytest.mark.parametrize("b64", [False, True], ids=["plain-strings", "b64-strings"])
def test_predict_multitype_row(server, ref, b64):
    arrays = multitype_arrays(rows=2)
    instances = [
        {f"in_{t}": to_json_value(a[i], b64) for t, a in arrays.items()} for i in range(2)
    ]
    r = post_json(server, "/v1/models/multitype:predict", {"instances": instances})
    assert r.status_code == 200, r.text
    preds = jloads(r.content)["predictions"]
    assert len(preds) == 2 and all(set(p) == {f"out_{t}" for t in MULTITYPE} | {"scaled_fp32"} for p in preds)
    got = {}
    for name in preds[0]:
        like = arrays[name[4:]] if name.startswith("out_") else arrays["fp32"]
        # `out_string` does not end in `_bytes`: it comes back as plain strings, never {"b64": ...}
        got[name] = from_json_value([p[name] for p in preds], like)
    check_multitype(got, arrays, ref)


@pytest.mark.parametrize("b64", [False, True], ids=["plain-strings", "b64-strings"])
def test_predict_multitype_columnar(server, ref, b64):
    arrays = multitype_arrays(rows=1, vary_rows=True)  # columnar: dimension 0 may differ per input
    inputs = {f"in_{t}": to_json_value(a, b64) for t, a in arrays.items()}
    r = post_json(server, "/v1/models/multitype:predict", {"inputs": inputs})
    assert r.status_code == 200, r.text
    outs = jloads(r.content)["outputs"]
    assert set(outs) == {f"out_{t}" for t in MULTITYPE} | {"scaled_fp32"}
    got = {
        name: from_json_value(v, arrays[name[4:]] if name.startswith("out_") else arrays["fp32"])
        for name, v in outs.items()
    }
    check_multitype(got, arrays, ref)


def test_predict_multitype_integer_text_is_exact(server):
    """The int64/uint64 extremes must be written as exact integers (not through a double)."""
    arrays = multitype_arrays(rows=1)
    inputs = {f"in_{t}": to_json_value(a) for t, a in arrays.items()}
    r = post_json(server, "/v1/models/multitype:predict", {"inputs": inputs})
    assert r.status_code == 200, r.text
    for token in ("18446744073709551615", "-9223372036854775808", "9223372036854775807", str(2**53 + 1)):
        assert token in r.text, f"{token} missing from {r.text[:2000]}"


# ----------------------------------------------------------------------------------------------------------
# predict: resnet50
# ----------------------------------------------------------------------------------------------------------


def test_predict_resnet50_one_image(server, ref):
    assert not SKIP_LARGE, "SERVAL_SKIP_LARGE=1: resnet50 was not built, so this test cannot pass"
    img = np.random.default_rng(5).standard_normal((1, 3, 224, 224), dtype=np.float32)
    r = post_json(server, "/v1/models/resnet50:predict", {"instances": img.tolist()})
    assert r.status_code == 200, r.text[:500]
    got = np.array(jloads(r.content)["predictions"], dtype=np.float32)
    want = ref.run("resnet50", {"input": img})["logits"]
    assert got.shape == (1, 1000)
    # 25M MACs through ~50 conv layers: a different graph optimisation level (fusions) in the server
    # changes float32 summation order. Measured: max |diff| 7e-7 on logits of magnitude ~1 between ORT
    # "all" and "disabled"; rtol 1e-4 / atol 1e-5 leaves an order of magnitude of headroom.
    assert_close(got, want, rtol=1e-4, atol=1e-5, what="resnet50 logits")
    assert int(got.argmax()) == int(want.argmax())


# ----------------------------------------------------------------------------------------------------------
# errors
# ----------------------------------------------------------------------------------------------------------

ADD_OK = {"inputs": {"a": A3.tolist(), "b": B3.tolist()}}


def test_error_unknown_model_predict(server):
    r = post_json(server, "/v1/models/nope:predict", ADD_OK)
    err = assert_error(r, 404)
    assert err == "Servable not found for request: Latest(nope)", err


@pytest.mark.parametrize("path", ["/v1/models/nope", "/v1/models/nope/metadata"])
def test_error_unknown_model_get(server, path):
    assert_error(get(server, path), 404)


def test_error_unknown_version_predict(server):
    r = post_json(server, "/v1/models/add/versions/7:predict", ADD_OK)
    err = assert_error(r, 404)
    assert "Servable not found for request: Specific(add, 7)" in err, err


@pytest.mark.parametrize("path", ["/v1/models/add/versions/7", "/v1/models/add/versions/7/metadata"])
def test_error_unknown_version_get(server, path):
    assert_error(get(server, path), 404)


def test_error_unknown_label(server):
    # TF Serving answers an unknown label with INVALID_ARGUMENT ("Unrecognized servable version label");
    # NOT_FOUND is as reasonable. Never 200 or 5xx.
    assert_error(post_json(server, "/v1/models/add/labels/nolabel:predict", ADD_OK), (400, 404))
    assert_error(get(server, "/v1/models/add/labels/nolabel"), (400, 404))


def test_error_bad_signature_name(server):
    body = dict(ADD_OK, signature_name="nope")
    assert_error(post_json(server, "/v1/models/add:predict", body), 400)


def test_error_both_instances_and_inputs(server):
    body = {"instances": [{"a": A3[0].tolist(), "b": B3[0].tolist()}], "inputs": ADD_OK["inputs"]}
    assert_error(post_json(server, "/v1/models/add:predict", body), 400)


def test_error_neither_instances_nor_inputs(server):
    assert_error(post_json(server, "/v1/models/add:predict", {"signature_name": "serving_default"}), 400)


@pytest.mark.parametrize(
    "body",
    [
        # columnar: rows of different lengths
        {"inputs": {"a": [[1.0] * 16, [1.0] * 15], "b": [[1.0] * 16, [1.0] * 16]}},
        # row: instances whose tensors differ in shape
        {"instances": [{"a": [1.0] * 16, "b": [1.0] * 16}, {"a": [1.0] * 15, "b": [1.0] * 16}]},
        # a scalar next to a list
        {"inputs": {"a": [[1.0] * 16, 2.0], "b": [[1.0] * 16, [1.0] * 16]}},
        # row: instances with different input sets
        {"instances": [{"a": [1.0] * 16, "b": [1.0] * 16}, {"a": [1.0] * 16}]},
    ],
    ids=["columnar-ragged", "row-ragged", "scalar-vs-list", "row-missing-key"],
)
def test_error_ragged(server, body):
    assert_error(post_json(server, "/v1/models/add:predict", body), 400)


@pytest.mark.parametrize(
    "a",
    [["x"] * 16, [{"b64": "AAAAAA=="}] * 16, [True] * 16, [[1.0]] * 16, [None] * 16],
    ids=["string", "b64", "bool", "nested", "null"],
)
def test_error_wrong_dtype_for_fp32(server, a):
    body = {"instances": [{"a": a, "b": [1.0] * 16}]}
    assert_error(post_json(server, "/v1/models/add:predict", body), 400)


def test_error_fraction_for_int32(server):
    arrays = multitype_arrays(rows=1)
    inputs = {f"in_{t}": to_json_value(a) for t, a in arrays.items()}
    inputs["in_int32"] = [[1.5] * arrays["int32"].shape[1]]
    assert_error(post_json(server, "/v1/models/multitype:predict", {"inputs": inputs}), 400)


@pytest.mark.parametrize(
    "name,value",
    [("int8", 128), ("int8", -129), ("uint8", -1), ("uint8", 256), ("uint16", 65536), ("int32", 2**31),
     ("uint32", -1), ("int64", 2**63), ("int64", -(2**63) - 1), ("uint64", 2**64), ("uint64", -1)],
)
def test_error_integer_out_of_range(server, name, value):
    """Out-of-range integers are rejected, never wrapped or clamped into a different value."""
    arrays = multitype_arrays(rows=1)
    inputs = {f"in_{t}": to_json_value(a) for t, a in arrays.items()}
    inputs[f"in_{name}"] = [[value] * arrays[name].shape[1]]
    assert_error(post_json(server, "/v1/models/multitype:predict", {"inputs": inputs}), 400)


def test_error_string_for_int64(server):
    inputs = {f"in_{t}": to_json_value(a) for t, a in multitype_arrays(rows=1).items()}
    inputs["in_int64"] = [["12", "13"]]
    assert_error(post_json(server, "/v1/models/multitype:predict", {"inputs": inputs}), 400)


@pytest.mark.parametrize(
    "inputs",
    [
        {"a": [[1.0] * 16]},  # b missing
        {"a": [[1.0] * 16], "b": [[1.0] * 16], "c": [[1.0] * 16]},  # unknown input
        {"a": [[1.0] * 15], "b": [[1.0] * 15]},  # inner dim 15, the model says 16
        {"a": [1.0] * 16, "b": [1.0] * 16},  # rank 1, the model says rank 2
    ],
    ids=["missing-input", "unknown-input", "wrong-inner-dim", "wrong-rank"],
)
def test_error_shape_and_names(server, inputs):
    # all caller errors: 400, never a 500 from onnxruntime
    assert_error(post_json(server, "/v1/models/add:predict", {"inputs": inputs}), 400)


@pytest.mark.parametrize(
    "data",
    [b"{", b"not json", b"[1,2,3]", b'{"instances": [1,2,]}', b'"string"', b"", b'{"instances": 5}'],
    ids=["truncated", "garbage", "array-root", "trailing-comma", "string-root", "empty", "scalar-instances"],
)
def test_error_malformed_json(server, data):
    assert_error(post_json(server, "/v1/models/add:predict", data), 400)
