"""KServe v2 / Open Inference Protocol REST (docs/protocols.md §2.6): raw `requests` (JSON and hand-built binary
bodies) and tritonclient.http (JSON and binary tensor data)."""

from __future__ import annotations

import json

import requests

import ml_dtypes
import numpy as np
import pytest
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from conftest import (
    MULTITYPE,
    SKIP_LARGE,
    assert_bitwise_equal,
    assert_close,
    assert_error,
    get,
    jloads,
    kserve_binary_request,
    multitype_arrays,
    multitype_random_bits,
    parse_kserve_response,
    post_json,
    tensor_to_raw,
)

RNG = np.random.default_rng(4242)
A = RNG.standard_normal((3, 16), dtype=np.float32)
B = RNG.standard_normal((3, 16), dtype=np.float32)
FEATURES = (np.random.default_rng(11).standard_normal((5, 4), dtype=np.float32) * 3).astype(np.float32)
MLP_RTOL, MLP_ATOL = 1e-5, 1e-6  # see test_tfs_rest.py: softmax probabilities, possibly reordered sums


@pytest.fixture(scope="module")
def client(server):
    c = httpclient.InferenceServerClient(url=f"127.0.0.1:{server.rest_port}", network_timeout=60.0)
    yield c
    c.close()


def json_tensor(name: str, arr: np.ndarray, nested: bool = False) -> dict:
    dt = MULTITYPE_BY_NP[arr.dtype]
    if arr.dtype == object:
        data = [v.decode() if isinstance(v, bytes) else v for v in arr.ravel()]
        data = np.array(data, dtype=object).reshape(arr.shape).tolist() if nested else data
    else:
        data = arr.tolist() if nested else arr.ravel().tolist()
    return {"name": name, "shape": list(arr.shape), "datatype": dt, "data": data}


MULTITYPE_BY_NP = {v[0]: v[1] for v in MULTITYPE.values()}


def add_inputs(a=A, b=B) -> list[dict]:
    return [json_tensor("a", a), json_tensor("b", b)]


# ----------------------------------------------------------------------------------------------------------
# server and model metadata, health
# ----------------------------------------------------------------------------------------------------------


def test_server_metadata(server, client):
    r = get(server, "/v2")
    assert r.status_code == 200, r.text
    body = r.json()
    assert isinstance(body.get("name"), str) and body["name"], body
    assert isinstance(body.get("version"), str) and body["version"], body
    assert isinstance(body.get("extensions"), list) and "binary_tensor_data" in body["extensions"], body
    assert client.get_server_metadata() == body


@pytest.mark.parametrize("path", ["/v2/health/live", "/v2/health/ready"])
def test_health(server, path):
    r = get(server, path)
    assert r.status_code == 200, r.text


def test_health_tritonclient(client):
    assert client.is_server_live() is True
    assert client.is_server_ready() is True


def io(name, datatype, shape):
    return {"name": name, "datatype": datatype, "shape": shape}


@pytest.mark.parametrize("path", ["/v2/models/add", "/v2/models/add/versions/1", "/v2/models/add/versions/2"])
def test_model_metadata_add(server, path):
    r = get(server, path)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["name"] == "add"
    assert body["platform"] == "onnxruntime_onnx"
    if path == "/v2/models/add":
        assert sorted(body.get("versions", [])) == ["1", "2"], body
    elif "versions" in body:  # for one version, either all versions or just that one is reasonable
        assert sorted(body["versions"]) in (["1", "2"], [path.rsplit("/", 1)[-1]]), body
    assert body["inputs"] == [io("a", "FP32", [-1, 16]), io("b", "FP32", [-1, 16])]
    assert body["outputs"] == [io("sum", "FP32", [-1, 16])]


def test_model_metadata_multitype(server, client):
    r = get(server, "/v2/models/multitype")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["name"] == "multitype" and body["platform"] == "onnxruntime_onnx"
    assert body["inputs"] == [io(f"in_{t}", v[1], [-1, -1]) for t, v in MULTITYPE.items()]
    want_out = {f"out_{t}": io(f"out_{t}", v[1], [-1, -1]) for t, v in MULTITYPE.items()}
    want_out["scaled_fp32"] = io("scaled_fp32", "FP32", [-1, -1])
    assert {o["name"]: o for o in body["outputs"]} == want_out
    assert len(body["outputs"]) == len(want_out)
    assert client.get_model_metadata("multitype") == body


def test_model_metadata_mlp(server):
    body = get(server, "/v2/models/mlp").json()
    assert body["inputs"] == [io("features", "FP32", [-1, 4])]
    assert body["outputs"] == [io("scores", "FP32", [-1, 3]), io("class_ids", "INT64", [-1])]


@pytest.mark.parametrize(
    "path", ["/v2/models/add/ready", "/v2/models/add/versions/1/ready", "/v2/models/add/versions/2/ready"]
)
def test_model_ready(server, path):
    assert get(server, path).status_code == 200


def test_model_ready_tritonclient(client):
    assert client.is_model_ready("add") is True
    assert client.is_model_ready("add", "1") is True
    assert client.is_model_ready("mlp") is True
    assert client.is_model_ready("nope") is False
    assert client.is_model_ready("add", "9") is False


@pytest.mark.parametrize(
    "path,status,text",
    [
        ("/v2/models/nope", 400, "Request for unknown model: 'nope' is not found"),
        ("/v2/models/nope/ready", 400, "Request for unknown model: 'nope' is not found"),
        ("/v2/models/add/versions/9", 404, "Request for unknown model: 'add' version 9 is not found"),
        ("/v2/models/add/versions/9/ready", 404, "Request for unknown model: 'add' version 9 is not found"),
    ],
)
def test_unknown_model_or_version_get_tritons_answer(server, path, status, text):
    """Triton's codes and texts: an unknown model is 400, an unknown version of a known model 404."""
    r = get(server, path)
    assert r.status_code == status, r.text
    assert jloads(r.content)["error"] == text


# ----------------------------------------------------------------------------------------------------------
# infer: JSON with requests
# ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("nested", [False, True], ids=["flat-data", "nested-data"])
def test_infer_add_json(server, ref, nested):
    body = {"id": "req-42", "inputs": [json_tensor("a", A, nested), json_tensor("b", B, nested)]}
    r = post_json(server, "/v2/models/add/infer", body)
    assert r.status_code == 200, r.text
    assert "Inference-Header-Content-Length" not in r.headers  # nothing binary was asked for
    header, tensors = parse_kserve_response(r)
    assert header["model_name"] == "add"
    assert header["model_version"] == "2"  # no version: the latest
    assert header["id"] == "req-42"
    assert [o["name"] for o in header["outputs"]] == ["sum"]
    out = header["outputs"][0]
    assert out["datatype"] == "FP32" and out["shape"] == [3, 16]
    assert isinstance(out["data"], list) and len(out["data"]) == 48  # flat, row-major
    # exact: one IEEE add per element, same ORT (see test_tfs_rest.py)
    assert_close(tensors["sum"], ref.run("add", {"a": A, "b": B}, 2)["sum"], rtol=0)


@pytest.mark.parametrize("version", ["1", "2"])
def test_infer_add_version_routing(server, version):
    r = post_json(server, f"/v2/models/add/versions/{version}/infer", {"inputs": add_inputs()})
    assert r.status_code == 200, r.text
    header, tensors = parse_kserve_response(r)
    assert header["model_version"] == version
    np.testing.assert_array_equal(tensors["sum"], A + B)


@pytest.mark.parametrize("label,version", [("stable", "1"), ("canary", "2")])
def test_infer_add_label_routing(server, label, version):
    """docs/protocols.md §2.9.6: Serval resolves TF Serving version labels in KServe's (string) version too."""
    r = post_json(server, f"/v2/models/add/versions/{label}/infer", {"inputs": add_inputs()})
    assert r.status_code == 200, r.text
    header, tensors = parse_kserve_response(r)
    assert header["model_version"] == version
    np.testing.assert_array_equal(tensors["sum"], A + B)
    assert get(server, f"/v2/models/add/versions/{label}/ready").status_code == 200


def test_infer_unknown_label_404(server):
    assert_error(post_json(server, "/v2/models/add/versions/nolabel/infer", {"inputs": add_inputs()}), 404)


def test_infer_mlp_json(server, ref):
    r = post_json(server, "/v2/models/mlp/infer", {"inputs": [json_tensor("features", FEATURES)]})
    assert r.status_code == 200, r.text
    header, tensors = parse_kserve_response(r)
    outs = {o["name"]: o for o in header["outputs"]}
    assert set(outs) == {"scores", "class_ids"}
    assert outs["scores"]["datatype"] == "FP32" and outs["scores"]["shape"] == [5, 3]
    assert outs["class_ids"]["datatype"] == "INT64" and outs["class_ids"]["shape"] == [5]
    want = ref.run("mlp", {"features": FEATURES})
    assert_close(tensors["scores"], want["scores"], MLP_RTOL, MLP_ATOL)
    np.testing.assert_array_equal(tensors["class_ids"], want["class_ids"])


def test_infer_outputs_filtering(server, ref):
    arrays = multitype_arrays(rows=2)
    inputs, blobs = multitype_mixed_inputs(arrays)
    wanted = ["scaled_fp32", "out_int8", "out_string"]
    header = {"id": "filter", "inputs": inputs, "outputs": [{"name": n} for n in wanted]}
    body, headers = kserve_binary_request(header, blobs)
    r = post_json(server, "/v2/models/multitype/infer", body, headers)
    assert r.status_code == 200, r.text[:500]
    head, tensors = parse_kserve_response(r)
    assert sorted(o["name"] for o in head["outputs"]) == sorted(wanted), head["outputs"]
    assert head["id"] == "filter"
    assert_bitwise_equal(tensors["out_int8"], arrays["int8"], "out_int8")
    assert_bitwise_equal(tensors["out_string"], arrays["string"], "out_string")
    with np.errstate(over="ignore"):  # float32 max × 2 = inf, as in the model
        want_scaled = arrays["fp32"] * np.float32(2)
    assert_bitwise_equal(tensors["scaled_fp32"], want_scaled, "scaled_fp32")


def test_infer_mlp_outputs_filtering_json(server, ref):
    body = {"inputs": [json_tensor("features", FEATURES)], "outputs": [{"name": "class_ids"}]}
    r = post_json(server, "/v2/models/mlp/infer", body)
    assert r.status_code == 200, r.text
    header, tensors = parse_kserve_response(r)
    assert [o["name"] for o in header["outputs"]] == ["class_ids"]
    np.testing.assert_array_equal(tensors["class_ids"], ref.run("mlp", {"features": FEATURES})["class_ids"])


def multitype_mixed_inputs(arrays):
    """JSON for every input but FP16/BF16, which OIP says must travel binary: a mixed request."""
    inputs, blobs = [], []
    for t, arr in arrays.items():
        name = f"in_{t}"
        if t in ("fp16", "bf16"):
            raw = tensor_to_raw(arr)
            inputs.append(
                {
                    "name": name,
                    "shape": list(arr.shape),
                    "datatype": MULTITYPE[t][1],
                    "parameters": {"binary_data_size": len(raw)},
                }
            )
            blobs.append(raw)
        else:
            inputs.append(json_tensor(name, arr))
    return inputs, blobs


def test_infer_multitype_json_mixed(server, ref):
    """Every dtype in JSON (FP16/BF16 binary), every output JSON except FP16/BF16 (binary per output)."""
    arrays = multitype_arrays(rows=2)
    inputs, blobs = multitype_mixed_inputs(arrays)
    outputs = [
        {"name": f"out_{t}", "parameters": {"binary_data": t in ("fp16", "bf16")}} for t in MULTITYPE
    ] + [{"name": "scaled_fp32"}]
    body, headers = kserve_binary_request({"id": "mixed", "inputs": inputs, "outputs": outputs}, blobs)
    r = post_json(server, "/v2/models/multitype/infer", body, headers)
    assert r.status_code == 200, r.text[:500]
    head, tensors = parse_kserve_response(r)
    assert head["id"] == "mixed"
    outs = {o["name"]: o for o in head["outputs"]}
    assert set(outs) == {f"out_{t}" for t in MULTITYPE} | {"scaled_fp32"}
    for t in MULTITYPE:
        o = outs[f"out_{t}"]
        assert o["datatype"] == MULTITYPE[t][1] and o["shape"] == list(arrays[t].shape), o
        is_binary = "binary_data_size" in (o.get("parameters") or {})
        assert is_binary == (t in ("fp16", "bf16")), o
        if not is_binary:
            flat = o["data"]
            if t == "bool":
                assert all(isinstance(x, bool) for x in flat), flat
            elif t == "string":
                assert all(isinstance(x, str) for x in flat), flat
            elif MULTITYPE[t][0].kind in "iu":
                assert all(isinstance(x, int) and not isinstance(x, bool) for x in flat), flat
    want = ref.run("multitype", {f"in_{t}": a for t, a in arrays.items()})
    for t, arr in arrays.items():
        assert_bitwise_equal(tensors[f"out_{t}"], arr, f"out_{t}")
        assert_bitwise_equal(tensors[f"out_{t}"], want[f"out_{t}"], f"out_{t} vs onnxruntime")
    assert_bitwise_equal(tensors["scaled_fp32"], want["scaled_fp32"], "scaled_fp32")


def test_infer_multitype_binary_raw_bits(server):
    """Hand-built binary body: raw bit patterns (NaN payloads, inf) and BYTES with NUL / non-UTF-8,
    every output binary (request-wide binary_data_output). Identity must be bitwise."""
    arrays = multitype_random_bits(seed=5)
    inputs, blobs = [], []
    for t, arr in arrays.items():
        raw = tensor_to_raw(arr)
        inputs.append(
            {
                "name": f"in_{t}",
                "shape": list(arr.shape),
                "datatype": MULTITYPE[t][1],
                "parameters": {"binary_data_size": len(raw)},
            }
        )
        blobs.append(raw)
    header = {"id": "bits", "inputs": inputs, "parameters": {"binary_data_output": True}}
    body, headers = kserve_binary_request(header, blobs)
    r = post_json(server, "/v2/models/multitype/infer", body, headers)
    assert r.status_code == 200, r.text[:500]
    assert "Inference-Header-Content-Length" in r.headers, r.headers
    head, tensors = parse_kserve_response(r)
    for o in head["outputs"]:
        assert "data" not in o and "binary_data_size" in o.get("parameters", {}), o
    for t, arr in arrays.items():
        assert_bitwise_equal(tensors[f"out_{t}"], arr, f"out_{t}")
    # x*2 is exact for finite values and keeps NaN/inf; NaN payload bits may be quieted, so compare values
    with np.errstate(all="ignore"):
        want_scaled = arrays["fp32"] * np.float32(2)
    assert_close(tensors["scaled_fp32"], want_scaled, rtol=0, what="scaled_fp32")


def test_infer_binary_data_output_json_inputs(server):
    """JSON-only request with request-wide binary_data_output: the response is binary."""
    body = {"inputs": add_inputs(), "parameters": {"binary_data_output": True}}
    r = post_json(server, "/v2/models/add/infer", body)
    assert r.status_code == 200, r.text
    assert "Inference-Header-Content-Length" in r.headers, r.headers
    head, tensors = parse_kserve_response(r)
    (out,) = head["outputs"]
    assert out["parameters"]["binary_data_size"] == 3 * 16 * 4 and "data" not in out
    np.testing.assert_array_equal(tensors["sum"], A + B)


def test_infer_per_output_binary_data(server, ref):
    body = {
        "inputs": [json_tensor("features", FEATURES)],
        "outputs": [{"name": "scores", "parameters": {"binary_data": True}}, {"name": "class_ids"}],
    }
    r = post_json(server, "/v2/models/mlp/infer", body)
    assert r.status_code == 200, r.text
    head, tensors = parse_kserve_response(r)
    outs = {o["name"]: o for o in head["outputs"]}
    assert outs["scores"]["parameters"]["binary_data_size"] == 5 * 3 * 4 and "data" not in outs["scores"]
    assert "data" in outs["class_ids"] and "binary_data_size" not in (outs["class_ids"].get("parameters") or {})
    want = ref.run("mlp", {"features": FEATURES})
    assert_close(tensors["scores"], want["scores"], MLP_RTOL, MLP_ATOL)
    np.testing.assert_array_equal(tensors["class_ids"], want["class_ids"])


def test_infer_binary_input_add(server):
    a_raw, b_raw = tensor_to_raw(A), tensor_to_raw(B)
    header = {
        "inputs": [
            {"name": "a", "shape": [3, 16], "datatype": "FP32", "parameters": {"binary_data_size": len(a_raw)}},
            {"name": "b", "shape": [3, 16], "datatype": "FP32", "parameters": {"binary_data_size": len(b_raw)}},
        ]
    }
    body, headers = kserve_binary_request(header, [a_raw, b_raw])
    r = post_json(server, "/v2/models/add/infer", body, headers)
    assert r.status_code == 200, r.text
    _, tensors = parse_kserve_response(r)
    np.testing.assert_array_equal(tensors["sum"], A + B)


def test_infer_raw_binary_request(server, ref):
    """`Inference-Header-Content-Length: 0`: the body is the single input (mlp: [-1,4] → batch 1)."""
    x = FEATURES[:1]
    r = post_json(
        server,
        "/v2/models/mlp/infer",
        x.tobytes(),
        {"Inference-Header-Content-Length": "0", "Content-Type": "application/octet-stream"},
    )
    assert r.status_code == 200, r.text[:500]
    assert "Inference-Header-Content-Length" in r.headers, r.headers  # every output comes back binary
    head, tensors = parse_kserve_response(r)
    outs = {o["name"]: o for o in head["outputs"]}
    assert outs["scores"]["shape"] == [1, 3] and outs["class_ids"]["shape"] == [1]
    want = ref.run("mlp", {"features": x})
    assert_close(tensors["scores"], want["scores"], MLP_RTOL, MLP_ATOL)
    np.testing.assert_array_equal(tensors["class_ids"], want["class_ids"])


def test_infer_gzip_request_body(server):
    import gzip

    body = gzip.compress(json.dumps({"inputs": add_inputs()}).encode())
    r = post_json(server, "/v2/models/add/infer", body, {"Content-Encoding": "gzip"})
    assert r.status_code == 200, r.text
    _, tensors = parse_kserve_response(r)
    np.testing.assert_array_equal(tensors["sum"], A + B)


# ----------------------------------------------------------------------------------------------------------
# infer: tritonclient
# ----------------------------------------------------------------------------------------------------------


def triton_inputs(arrays: dict[str, np.ndarray], binary) -> list:
    inputs = []
    for t, arr in arrays.items():
        dt = MULTITYPE[t][1]
        inp = httpclient.InferInput(f"in_{t}", list(arr.shape), dt)
        inp.set_data_from_numpy(arr, binary_data=binary(t))
        inputs.append(inp)
    return inputs


def test_tritonclient_add_json(client, ref):
    ins = [httpclient.InferInput("a", [3, 16], "FP32"), httpclient.InferInput("b", [3, 16], "FP32")]
    ins[0].set_data_from_numpy(A, binary_data=False)
    ins[1].set_data_from_numpy(B, binary_data=False)
    res = client.infer("add", ins, outputs=[httpclient.InferRequestedOutput("sum", binary_data=False)], request_id="7")
    resp = res.get_response()
    assert resp["id"] == "7" and resp["model_name"] == "add" and resp["model_version"] == "2"
    assert "data" in resp["outputs"][0]
    assert_close(res.as_numpy("sum"), ref.run("add", {"a": A, "b": B}, 2)["sum"], rtol=0)


def test_tritonclient_add_binary_version_1(client):
    ins = [httpclient.InferInput("a", [3, 16], "FP32"), httpclient.InferInput("b", [3, 16], "FP32")]
    ins[0].set_data_from_numpy(A, binary_data=True)
    ins[1].set_data_from_numpy(B, binary_data=True)
    res = client.infer("add", ins, model_version="1")
    assert res.get_response()["model_version"] == "1"
    np.testing.assert_array_equal(res.as_numpy("sum"), A + B)


def test_tritonclient_multitype_json(client, ref):
    """JSON inputs and outputs for every dtype tritonclient allows in JSON; BF16 (and FP16, per OIP)
    travel binary, since JSON cannot carry them."""
    arrays = multitype_arrays(rows=2)
    arrays["string"] = np.array([s.encode() for s in arrays["string"].ravel()], dtype=object).reshape(
        arrays["string"].shape
    )
    binary = {"fp16", "bf16"}
    outputs = [httpclient.InferRequestedOutput(f"out_{t}", binary_data=t in binary) for t in MULTITYPE]
    outputs.append(httpclient.InferRequestedOutput("scaled_fp32", binary_data=False))
    res = client.infer(
        "multitype", triton_inputs(arrays, lambda t: t in binary), outputs=outputs, request_id="tc-json"
    )
    resp = res.get_response()
    assert resp["id"] == "tc-json"
    for o in resp["outputs"]:
        assert ("data" in o) == (o["name"] not in ("out_fp16", "out_bf16")), o
    want = ref.run("multitype", {f"in_{t}": a for t, a in arrays.items()})
    for t, arr in arrays.items():
        got = res.as_numpy(f"out_{t}")
        if t == "string":  # JSON BYTES come back as str
            got = np.array([g.encode() if isinstance(g, str) else g for g in got.ravel()], dtype=object).reshape(
                got.shape
            )
        elif got.dtype == np.float64 and t != "fp64":
            got = got.astype(MULTITYPE[t][0])
        assert_bitwise_equal(got, arr, f"out_{t}")
        assert_bitwise_equal(got, want[f"out_{t}"] if t != "string" else arr, f"out_{t} vs onnxruntime")
    assert_bitwise_equal(res.as_numpy("scaled_fp32"), want["scaled_fp32"], "scaled_fp32")


def test_tritonclient_multitype_binary(client, ref):
    arrays = multitype_random_bits(seed=9, rows=3)
    arrays["string"] = np.array(
        [b"plain", b"", b"n\x00ul", "\u00e9t\u00e9".encode(), b"\xff", b"x" * 70000] * 2, dtype=object
    ).reshape(3, 4)[:, : arrays["string"].shape[1]]
    res = client.infer("multitype", triton_inputs(arrays, lambda t: True))  # outputs=None → all binary
    for t, arr in arrays.items():
        assert_bitwise_equal(res.as_numpy(f"out_{t}"), arr, f"out_{t}")
    with np.errstate(all="ignore"):
        want_scaled = arrays["fp32"] * np.float32(2)
    assert_close(res.as_numpy("scaled_fp32"), want_scaled, rtol=0, what="scaled_fp32")


def test_tritonclient_bf16_fp16_values(client):
    """BF16 via tritonclient (ml_dtypes) and FP16, with ordinary values, compared against numpy."""
    arrays = multitype_arrays(rows=1)
    arrays["bf16"] = np.array([[1.0, -0.5, 3.0e38, 1.0e-38]], dtype=ml_dtypes.bfloat16)
    arrays["fp16"] = np.array([[0.0, -1.0, 65504.0, 6.0e-8]], dtype=np.float16)
    outputs = [
        httpclient.InferRequestedOutput("out_bf16", binary_data=True),
        httpclient.InferRequestedOutput("out_fp16", binary_data=True),
    ]
    res = client.infer("multitype", triton_inputs(arrays, lambda t: True), outputs=outputs)
    assert sorted(o["name"] for o in res.get_response()["outputs"]) == ["out_bf16", "out_fp16"]
    assert res.as_numpy("out_bf16").dtype == np.dtype(ml_dtypes.bfloat16)
    assert_bitwise_equal(res.as_numpy("out_bf16"), arrays["bf16"], "out_bf16")
    assert_bitwise_equal(res.as_numpy("out_fp16"), arrays["fp16"], "out_fp16")


def test_tritonclient_mlp_gzip(client, ref):
    inp = httpclient.InferInput("features", list(FEATURES.shape), "FP32")
    inp.set_data_from_numpy(FEATURES, binary_data=True)
    res = client.infer("mlp", [inp], request_compression_algorithm="gzip", response_compression_algorithm="gzip")
    want = ref.run("mlp", {"features": FEATURES})
    assert_close(res.as_numpy("scores"), want["scores"], MLP_RTOL, MLP_ATOL)
    np.testing.assert_array_equal(res.as_numpy("class_ids"), want["class_ids"])


def test_tritonclient_resnet50_binary(client, ref):
    assert not SKIP_LARGE, "SERVAL_SKIP_LARGE=1: resnet50 was not built, so this test cannot pass"
    x = np.random.default_rng(8).standard_normal((2, 3, 224, 224), dtype=np.float32)
    inp = httpclient.InferInput("input", list(x.shape), "FP32")
    inp.set_data_from_numpy(x, binary_data=True)
    res = client.infer("resnet50", [inp], outputs=[httpclient.InferRequestedOutput("logits", binary_data=True)])
    got = res.as_numpy("logits")
    want = ref.run("resnet50", {"input": x})["logits"]
    assert got.shape == (2, 1000)
    # see test_tfs_rest.py::test_predict_resnet50_one_image for the tolerance
    assert_close(got, want, rtol=1e-4, atol=1e-5, what="resnet50 logits")
    np.testing.assert_array_equal(got.argmax(axis=1), want.argmax(axis=1))


def test_tritonclient_errors(client):
    ins = [httpclient.InferInput("a", [1, 16], "FP32"), httpclient.InferInput("b", [1, 16], "FP32")]
    for i in ins:
        i.set_data_from_numpy(A[:1], binary_data=True)
    with pytest.raises(InferenceServerException) as e:
        client.infer("nope", ins)
    assert e.value.status() == "400", (e.value.status(), e.value.message())  # Triton's code for an unknown model
    with pytest.raises(InferenceServerException) as e:
        client.infer("add", ins, model_version="9")
    assert e.value.status() == "404", (e.value.status(), e.value.message())
    with pytest.raises(InferenceServerException) as e:
        client.infer("add", ins[:1])
    assert e.value.status() == "400", (e.value.status(), e.value.message())
    with pytest.raises(InferenceServerException):
        client.get_model_metadata("nope")


# ----------------------------------------------------------------------------------------------------------
# errors (raw)
# ----------------------------------------------------------------------------------------------------------


def test_error_unknown_model(server):
    error = assert_error(post_json(server, "/v2/models/nope/infer", {"inputs": add_inputs()}), 400)
    assert error == "Request for unknown model: 'nope' is not found"


def test_error_unknown_version(server):
    assert_error(post_json(server, "/v2/models/add/versions/9/infer", {"inputs": add_inputs()}), 404)


def _tensor(name="a", shape=(1, 16), datatype="FP32", data=None):
    return {"name": name, "shape": list(shape), "datatype": datatype, "data": data if data is not None else [1.0] * 16}


@pytest.mark.parametrize(
    "body",
    [
        {"inputs": [_tensor("a")]},  # b missing
        {"inputs": [_tensor("a"), _tensor("b"), _tensor("c")]},  # unknown input
        {"inputs": [_tensor("a"), _tensor("a")]},  # duplicate input, b missing
        {"inputs": [_tensor("a", datatype="FP64"), _tensor("b", datatype="FP64")]},  # wrong dtype
        {"inputs": [_tensor("a", datatype="FOO"), _tensor("b")]},  # unknown dtype
        {"inputs": [_tensor("a", (1, 15), data=[1.0] * 15), _tensor("b", (1, 15), data=[1.0] * 15)]},
        {"inputs": [_tensor("a", (16,)), _tensor("b", (16,))]},  # rank 1, the model says rank 2
        {"inputs": [_tensor("a", data=["x"] * 16), _tensor("b")]},  # strings for FP32
        {"inputs": [_tensor("a", data=[True] * 16), _tensor("b")]},  # bools for FP32
        {"inputs": [_tensor("a"), _tensor("b")], "outputs": [{"name": "nope"}]},  # unknown output
        {"inputs": [{"name": "a", "shape": [1, 16], "datatype": "FP32"}, _tensor("b")]},  # no data
        {"inputs": [{"shape": [1, 16], "datatype": "FP32", "data": [1.0] * 16}, _tensor("b")]},  # no name
        {"inputs": [{"name": "a", "datatype": "FP32", "data": [1.0] * 16}, _tensor("b")]},  # no shape
        {"inputs": [{"name": "a", "shape": [1, 16], "data": [1.0] * 16}, _tensor("b")]},  # no datatype
        {"inputs": {"a": [1.0]}},  # inputs not a list
        {},  # no inputs
    ],
    ids=[
        "missing-input", "unknown-input", "duplicate-input", "wrong-dtype", "unknown-dtype", "wrong-inner-dim",
        "wrong-rank", "string-for-fp32", "bool-for-fp32", "unknown-output", "no-data", "no-name", "no-shape",
        "no-datatype", "inputs-not-list", "empty-object",
    ],
)
def test_error_bad_request(server, body):
    assert_error(post_json(server, "/v2/models/add/infer", body), 400)


@pytest.mark.parametrize("data", [b"{", b"garbage", b"[]", b""], ids=["truncated", "garbage", "array", "empty"])
def test_error_malformed_json(server, data):
    assert_error(post_json(server, "/v2/models/add/infer", data), 400)


def test_error_binary_size_mismatch(server):
    a_raw = tensor_to_raw(A[:1])
    header = {
        "inputs": [
            {"name": "a", "shape": [1, 16], "datatype": "FP32", "parameters": {"binary_data_size": 60}},
            {"name": "b", "shape": [1, 16], "datatype": "FP32", "parameters": {"binary_data_size": 64}},
        ]
    }
    body, headers = kserve_binary_request(header, [a_raw[:60], a_raw])
    assert_error(post_json(server, "/v2/models/add/infer", body, headers), 400)


def test_error_binary_sizes_do_not_add_up(server):
    a_raw = tensor_to_raw(A[:1])
    header = {
        "inputs": [
            {"name": "a", "shape": [1, 16], "datatype": "FP32", "parameters": {"binary_data_size": 64}},
            {"name": "b", "shape": [1, 16], "datatype": "FP32", "parameters": {"binary_data_size": 64}},
        ]
    }
    body, headers = kserve_binary_request(header, [a_raw, a_raw, b"extra"])  # 5 bytes nobody claims
    assert_error(post_json(server, "/v2/models/add/infer", body, headers), 400)


def test_error_bytes_element_length_past_end(server):
    """A BYTES element whose 4-byte length points past the tensor's binary_data_size."""
    arrays = multitype_arrays(rows=1)
    inputs, blobs = multitype_mixed_inputs(arrays)
    s_index = next(i for i, x in enumerate(inputs) if x["name"] == "in_string")
    bad = (1000).to_bytes(4, "little") + b"abc"
    shape = [1, 1]
    inputs[s_index] = {"name": "in_string", "shape": shape, "datatype": "BYTES", "parameters": {"binary_data_size": len(bad)}}
    # the binary blobs must follow the inputs' order: in_fp16, in_bf16 come before in_string
    body, headers = kserve_binary_request({"inputs": inputs}, blobs + [bad])
    assert_error(post_json(server, "/v2/models/multitype/infer", body, headers), 400)


def test_non_utf8_bytes_in_json_output_is_refused_not_altered(server):
    """BYTES that are not valid UTF-8 cannot travel in JSON: the server must refuse with a message that
    points at binary_data, and the same request with binary_data must return the exact bytes."""
    from conftest import kserve_binary_request, multitype_arrays, tensor_to_raw, MULTITYPE, parse_kserve_response
    arrays = multitype_arrays(rows=1)
    arrays["string"] = np.array([[b"\xff\xfe"]], dtype=object)
    inputs, blobs = [], []
    for t, a in arrays.items():
        raw = tensor_to_raw(a)
        blobs.append(raw)
        inputs.append({"name": f"in_{t}", "shape": list(a.shape), "datatype": MULTITYPE[t][1],
                       "parameters": {"binary_data_size": len(raw)}})
    body, headers = kserve_binary_request({"inputs": inputs, "outputs": [{"name": "out_string"}]}, blobs)
    resp = requests.post(server.url + "/v2/models/multitype/infer", data=body, headers=headers, timeout=30)
    assert resp.status_code == 400
    assert "binary_data" in resp.json()["error"]
    body, headers = kserve_binary_request(
        {"inputs": inputs, "outputs": [{"name": "out_string", "parameters": {"binary_data": True}}]}, blobs)
    resp = requests.post(server.url + "/v2/models/multitype/infer", data=body, headers=headers, timeout=30)
    assert resp.status_code == 200
    _, outputs = parse_kserve_response(resp)
    assert outputs["out_string"].ravel().tolist() == [b"\xff\xfe"]


def test_model_config_route_reports_the_batch_dimension(server):
    """GET /v2/models/{m}/config: Triton's model configuration, as perf_analyzer reads it. The leading -1 that
    every input and output of add shares is the batch: max_batch_size > 0 and dims without it (Triton's
    convention; the gRPC ModelConfig says the same)."""
    resp = requests.get(server.url + "/v2/models/add/config", timeout=30)
    assert resp.status_code == 200
    config = resp.json()
    assert config["name"] == "add"
    assert config["platform"] == "onnxruntime_onnx"
    assert config["max_batch_size"] > 0
    assert config["input"] == [{"name": "a", "data_type": "TYPE_FP32", "dims": [16]},
                               {"name": "b", "data_type": "TYPE_FP32", "dims": [16]}]
    assert config["output"] == [{"name": "sum", "data_type": "TYPE_FP32", "dims": [16]}]
    strings = requests.get(server.url + "/v2/models/multitype/config", timeout=30).json()
    types = {t["name"]: t["data_type"] for t in strings["input"]}
    assert types["in_string"] == "TYPE_STRING" and types["in_bf16"] == "TYPE_BF16"
    assert requests.get(server.url + "/v2/models/nope/config", timeout=30).status_code == 400  # as Triton
