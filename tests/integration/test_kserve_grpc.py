"""KServe v2 / Open Inference Protocol gRPC (docs/protocols.md §2.7): tritonclient.grpc (sync, async_infer callbacks,
streaming), tritonclient.grpc.aio, and hand-built ModelInferRequest messages for typed contents and hostile
requests (docs/reliability.md §6.C 19)."""

from __future__ import annotations

import asyncio
import queue
import shutil
import subprocess
import threading
import time
from pathlib import Path

import grpc
import ml_dtypes
import numpy as np
import pytest
import requests
import tritonclient.grpc as grpcclient
import tritonclient.grpc.aio as aioclient
from google.protobuf import descriptor_pb2
from tritonclient.grpc import model_config_pb2, service_pb2, service_pb2_grpc
from tritonclient.utils import InferenceServerException

from conftest import (
    MULTITYPE,
    REPO,
    SKIP_LARGE,
    assert_alive,
    assert_bitwise_equal,
    assert_close,
    kserve_bytes,
    multitype_arrays,
    multitype_random_bits,
)

RNG = np.random.default_rng(5151)
A = RNG.standard_normal((3, 16), dtype=np.float32)
B = RNG.standard_normal((3, 16), dtype=np.float32)
FEATURES = (np.random.default_rng(12).standard_normal((6, 4), dtype=np.float32) * 3).astype(np.float32)
MLP_RTOL, MLP_ATOL = 1e-5, 1e-6  # see test_tfs_rest.py: softmax probabilities, possibly reordered sums
FAST_S = 5.0  # docs/reliability.md §6.C wants ≤ 1 s; 5 s keeps a loaded 2-core box from flaking
RPC_TIMEOUT_S = 30.0


@pytest.fixture(scope="module")
def client(server):
    c = grpcclient.InferenceServerClient(url=f"127.0.0.1:{server.grpc_port}")
    yield c
    c.close()


@pytest.fixture(scope="module")
def stub(server):
    """The raw generated stub (tritonclient's own pb2 modules), for messages tritonclient would not build."""
    channel = grpc.insecure_channel(
        f"127.0.0.1:{server.grpc_port}",
        options=[("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)],
    )
    yield service_pb2_grpc.GRPCInferenceServiceStub(channel)
    channel.close()


def add_inputs(a=A, b=B) -> list:
    ins = [grpcclient.InferInput("a", list(a.shape), "FP32"), grpcclient.InferInput("b", list(b.shape), "FP32")]
    ins[0].set_data_from_numpy(a)
    ins[1].set_data_from_numpy(b)
    return ins


def multitype_inputs(arrays: dict[str, np.ndarray]) -> list:
    inputs = []
    for t, arr in arrays.items():
        inp = grpcclient.InferInput(f"in_{t}", list(arr.shape), MULTITYPE[t][1])
        inp.set_data_from_numpy(arr)
        inputs.append(inp)
    return inputs


def raw_add_request(a=A[:1], b=B[:1], **fields) -> service_pb2.ModelInferRequest:
    req = service_pb2.ModelInferRequest(model_name="add", **fields)
    for name, arr in (("a", a), ("b", b)):
        req.inputs.add(name=name, datatype="FP32", shape=list(arr.shape))
        req.raw_input_contents.append(np.ascontiguousarray(arr, dtype="<f4").tobytes())
    return req


def raw_output(resp: service_pb2.ModelInferResponse, name: str) -> np.ndarray:
    for i, out in enumerate(resp.outputs):
        if out.name == name:
            raw = resp.raw_output_contents[i]
            if out.datatype == "BYTES":
                vals, pos = [], 0
                while pos < len(raw):
                    n = int.from_bytes(raw[pos : pos + 4], "little")
                    vals.append(raw[pos + 4 : pos + 4 + n])
                    pos += 4 + n
                return np.array(vals, dtype=object).reshape(list(out.shape))
            dt = {v[1]: v[0] for v in MULTITYPE.values()}[out.datatype]
            return np.frombuffer(raw, dtype=dt).reshape(list(out.shape))
    raise AssertionError(f"no output {name!r} in {[o.name for o in resp.outputs]}")


def assert_grpc_alive(server, stub) -> None:
    """Alive as docs/reliability.md §6 defines it (REST live + add), and over gRPC: ServerLive and an add inference."""
    assert_alive(server)
    assert stub.ServerLive(service_pb2.ServerLiveRequest(), timeout=FAST_S).live
    resp = stub.ModelInfer(raw_add_request(), timeout=FAST_S)
    np.testing.assert_array_equal(raw_output(resp, "sum"), A[:1] + B[:1])


# ----------------------------------------------------------------------------------------------------------
# the .proto files: same wire format as Triton's (tritonclient's compiled descriptors are the reference)
# ----------------------------------------------------------------------------------------------------------


def _collect(messages, prefix: str, out: dict) -> None:
    for m in messages:
        name = f"{prefix}.{m.name}"
        out[name] = m
        _collect(m.nested_type, name, out)


def test_proto_wire_compatible_with_triton(tmp_path):
    protoc = shutil.which("protoc")
    assert protoc, "protoc (Debian protobuf-compiler, a build dependency) is needed to check the .proto files"
    out = tmp_path / "desc.pb"
    subprocess.run(
        [protoc, f"-I{REPO / 'proto'}", f"--descriptor_set_out={out}", "--include_imports",
         "inference/grpc_service.proto"],
        check=True, timeout=60,
    )
    ours_set = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())
    theirs_files = []
    for module in (service_pb2, model_config_pb2):
        fdp = descriptor_pb2.FileDescriptorProto()
        module.DESCRIPTOR.CopyToProto(fdp)
        theirs_files.append(fdp)
    ours, theirs = {}, {}
    for f in ours_set.file:
        _collect(f.message_type, f".{f.package}", ours)
    for f in theirs_files:
        _collect(f.message_type, f".{f.package}", theirs)
    assert len(ours) > 70
    for name, msg in ours.items():
        assert name in theirs, f"{name} is not a message of Triton's protocol"
        fields = {f.name: f for f in theirs[name].field}
        for f in msg.field:
            g = fields.get(f.name)
            assert g is not None, f"{name}.{f.name} does not exist in Triton's protocol"
            assert (f.number, f.type, f.label, f.type_name, f.HasField("oneof_index")) == (
                g.number, g.type, g.label, g.type_name, g.HasField("oneof_index")
            ), f"{name}.{f.name} differs on the wire"
    # enums: every value we declare has Triton's number
    ours_enums = {f".{f.package}.{e.name}": e for f in ours_set.file for e in f.enum_type}
    for fdp in theirs_files:
        for e in fdp.enum_type:
            key = f".{fdp.package}.{e.name}"
            if key in ours_enums:
                assert {v.name: v.number for v in ours_enums[key].value}.items() <= {
                    v.name: v.number for v in e.value
                }.items()
    # the service: every Triton method, same types and streaming
    service = [s for f in ours_set.file for s in f.service if s.name == "GRPCInferenceService"][0]
    ours_methods = {m.name: m for m in service.method}
    for m in theirs_files[0].service[0].method:
        assert m.name in ours_methods, f"method {m.name} missing"
        o = ours_methods[m.name]
        assert (o.input_type, o.output_type, o.client_streaming, o.server_streaming) == (
            m.input_type, m.output_type, m.client_streaming, m.server_streaming
        ), m.name
    header = (REPO / "proto" / "inference" / "grpc_service.proto").read_text().splitlines()[0]
    assert "Written for Serval from the public wire specification" in header


# ----------------------------------------------------------------------------------------------------------
# health, metadata, configuration
# ----------------------------------------------------------------------------------------------------------


def test_server_live_ready_metadata(client):
    assert client.is_server_live()
    assert client.is_server_ready()
    meta = client.get_server_metadata(as_json=True)
    assert meta["name"] == "serval"
    assert meta["version"]
    assert "model_configuration" in meta.get("extensions", [])


@pytest.mark.parametrize("version", ["", "1", "2", "stable", "canary"])
def test_model_ready(client, version):
    assert client.is_model_ready("add", version)


@pytest.mark.parametrize("model,version,code", [("add", "9", "NOT_FOUND"), ("add", "nolabel", "NOT_FOUND"),
                                                ("nope", "", "INVALID_ARGUMENT"), ("nope", "1", "INVALID_ARGUMENT"),
                                                ("..", "", "INVALID_ARGUMENT"), ("add\n", "", "INVALID_ARGUMENT")])
def test_model_not_ready(client, model, version, code):
    """As Triton's ModelReady: a model (version) that does not resolve is an error with Triton's code (an unknown
    model INVALID_ARGUMENT, an unknown version NOT_FOUND), which tritonclient raises."""
    with pytest.raises(InferenceServerException) as e:
        client.is_model_ready(model, version)
    assert e.value.status() == f"StatusCode.{code}", e.value
    assert e.value.message().startswith("Request for unknown model: "), e.value


def test_model_metadata_add(client):
    meta = client.get_model_metadata("add", as_json=True)
    assert meta["name"] == "add"
    assert meta["platform"] == "onnxruntime_onnx"
    assert sorted(meta["versions"]) == ["1", "2"]
    assert meta["inputs"] == [
        {"name": "a", "datatype": "FP32", "shape": ["-1", "16"]},  # proto3 JSON prints int64 as strings
        {"name": "b", "datatype": "FP32", "shape": ["-1", "16"]},
    ]
    assert meta["outputs"] == [{"name": "sum", "datatype": "FP32", "shape": ["-1", "16"]}]
    # a version label resolves like a number
    assert client.get_model_metadata("add", "stable", as_json=True)["inputs"] == meta["inputs"]


def test_model_metadata_multitype(client):
    meta = client.get_model_metadata("multitype")
    types = {t.name: t.datatype for t in meta.inputs}
    assert types == {f"in_{t}": MULTITYPE[t][1] for t in MULTITYPE}
    assert all(list(t.shape) == [-1, -1] for t in meta.inputs)
    assert {t.name for t in meta.outputs} == {f"out_{t}" for t in MULTITYPE} | {"scaled_fp32"}


def test_model_metadata_errors(client):
    with pytest.raises(InferenceServerException) as e:
        client.get_model_metadata("nope")
    # Triton's codes and texts on the KServe surfaces: an unknown model is INVALID_ARGUMENT, an unknown
    # version of a known model NOT_FOUND.
    assert e.value.status() == "StatusCode.INVALID_ARGUMENT", e.value
    assert e.value.message() == "Request for unknown model: 'nope' is not found", e.value
    with pytest.raises(InferenceServerException) as e:
        client.get_model_metadata("add", "7")
    assert e.value.status() == "StatusCode.NOT_FOUND", e.value
    assert e.value.message() == "Request for unknown model: 'add' version 7 is not found", e.value


def test_model_config(client):
    config = client.get_model_config("add").config
    assert config.name == "add" and config.platform == "onnxruntime_onnx"
    # the leading -1 is the batch: Triton's convention, which perf_analyzer relies on
    assert config.max_batch_size > 0
    assert [(i.name, i.data_type, list(i.dims)) for i in config.input] == [
        ("a", model_config_pb2.TYPE_FP32, [16]),
        ("b", model_config_pb2.TYPE_FP32, [16]),
    ]
    assert [(o.name, o.data_type, list(o.dims)) for o in config.output] == [("sum", model_config_pb2.TYPE_FP32, [16])]
    multi = client.get_model_config("multitype", as_json=True)["config"]
    types = {i["name"]: i["data_type"] for i in multi["input"]}
    assert types["in_string"] == "TYPE_STRING" and types["in_bf16"] == "TYPE_BF16" and types["in_bool"] == "TYPE_BOOL"
    with pytest.raises(InferenceServerException) as e:
        client.get_model_config("nope")
    assert e.value.status() == "StatusCode.INVALID_ARGUMENT"  # Triton's code for an unknown model


@pytest.mark.parametrize("model", ["add", "multitype", "mlp"])
def test_model_config_agrees_with_rest(server, client, model):
    """One batch rule for both protocols: the REST /config JSON and the gRPC ModelConfig say the same."""
    rest = requests.get(f"{server.url}/v2/models/{model}/config", timeout=RPC_TIMEOUT_S)
    assert rest.status_code == 200, rest.text
    rest = rest.json()
    config = client.get_model_config(model).config
    assert rest["max_batch_size"] == config.max_batch_size
    for key, tensors in (("input", config.input), ("output", config.output)):
        assert [(t["name"], t["data_type"], t["dims"]) for t in rest[key]] == [
            (t.name, model_config_pb2.DataType.Name(t.data_type), list(t.dims)) for t in tensors
        ]


def test_model_statistics_lists_available_versions(client):
    stats = client.get_inference_statistics("add")
    assert sorted((s.name, s.version) for s in stats.model_stats) == [("add", "1"), ("add", "2")]
    stats = client.get_inference_statistics("add", "stable")
    assert [(s.name, s.version) for s in stats.model_stats] == [("add", "1")]
    names = {s.name for s in client.get_inference_statistics().model_stats}
    assert {"add", "multitype", "mlp"} <= names
    with pytest.raises(InferenceServerException) as e:
        client.get_inference_statistics("nope")
    assert e.value.status() == "StatusCode.INVALID_ARGUMENT"  # Triton's code for an unknown model


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.get_system_shared_memory_status(),
        lambda c: c.get_cuda_shared_memory_status(),
        lambda c: c.get_trace_settings(),
        lambda c: c.get_log_settings(),
    ],
    ids=["system_shm", "cuda_shm", "trace", "log"],
)
def test_unimplemented_rpcs(client, call):
    with pytest.raises(InferenceServerException) as e:
        call(client)
    assert e.value.status() == "StatusCode.UNIMPLEMENTED", e.value
    assert client.is_model_ready("add")  # model control is not there: add is untouched


# ----------------------------------------------------------------------------------------------------------
# inference with tritonclient.grpc
# ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version,want", [("", "2"), ("1", "1"), ("2", "2"), ("stable", "1"), ("canary", "2")])
def test_infer_add_versions_and_labels(client, ref, version, want):
    res = client.infer("add", add_inputs(), model_version=version, request_id=f"v-{version}")
    resp = res.get_response()
    assert resp.model_name == "add" and resp.model_version == want and resp.id == f"v-{version}"
    # Triton's layout: data only in raw_output_contents, one entry per output
    assert len(resp.raw_output_contents) == len(resp.outputs) == 1
    assert not resp.outputs[0].HasField("contents")
    assert_bitwise_equal(res.as_numpy("sum"), ref.run("add", {"a": A, "b": B}, int(want))["sum"], "sum")


def test_infer_multitype_every_datatype_bitwise(client, ref):
    """Raw bit patterns (NaN payloads, infinities, subnormals; strings with NUL and non-UTF-8 bytes) for all 14
    datatypes, FP16 and BF16 (ml_dtypes) included: outputs equal the inputs and onnxruntime bit for bit."""
    arrays = multitype_random_bits(seed=21, rows=3)
    res = client.infer("multitype", multitype_inputs(arrays), request_id="mt")
    assert res.get_response().id == "mt"
    # onnxruntime's Python API cannot return non-UTF-8 strings: the reference gets UTF-8 ones (an Identity
    # output equals its input, checked against the input above)
    feeds = {f"in_{t}": a for t, a in arrays.items()}
    feeds["in_string"] = np.full(arrays["string"].shape, "x", dtype=object)
    want = ref.run("multitype", feeds)
    for t, arr in arrays.items():
        got = res.as_numpy(f"out_{t}")
        assert got.dtype == MULTITYPE[t][0], (t, got.dtype)
        assert_bitwise_equal(got, arr, f"out_{t}")
        if t != "string":
            assert_bitwise_equal(got, want[f"out_{t}"], f"out_{t} vs onnxruntime")
    assert_bitwise_equal(res.as_numpy("scaled_fp32"), want["scaled_fp32"], "scaled_fp32")


def test_infer_multitype_ordinary_values(client, ref):
    arrays = multitype_arrays(rows=2)
    arrays["bf16"] = np.array([[1.0, -0.5], [3.0e38, 1.0e-38]], dtype=ml_dtypes.bfloat16)
    res = client.infer("multitype", multitype_inputs(arrays))
    want = ref.run("multitype", {f"in_{t}": a for t, a in arrays.items()})
    for t in arrays:
        assert_bitwise_equal(res.as_numpy(f"out_{t}"), want[f"out_{t}"], f"out_{t}")


def test_infer_typed_contents_every_typed_datatype(stub, ref):
    """InferTensorContents instead of raw bytes: every datatype that has a typed field. FP16 and BF16 have
    none (raw only), so they go as empty [0, 2] tensors, which need no data at all."""
    arrays = multitype_arrays(rows=2)
    req = service_pb2.ModelInferRequest(model_name="multitype", id="typed")
    field = {
        "bool": "bool_contents", "uint8": "uint_contents", "uint16": "uint_contents", "uint32": "uint_contents",
        "uint64": "uint64_contents", "int8": "int_contents", "int16": "int_contents", "int32": "int_contents",
        "int64": "int64_contents", "fp32": "fp32_contents", "fp64": "fp64_contents", "string": "bytes_contents",
    }
    feeds = {}
    for t, arr in arrays.items():
        if t in ("fp16", "bf16"):
            arr = np.zeros((0, 2), dtype=MULTITYPE[t][0])
            req.inputs.add(name=f"in_{t}", datatype=MULTITYPE[t][1], shape=[0, 2])
        else:
            tensor = req.inputs.add(name=f"in_{t}", datatype=MULTITYPE[t][1], shape=list(arr.shape))
            values = [v.encode() for v in arr.ravel()] if t == "string" else arr.ravel().tolist()
            getattr(tensor.contents, field[t]).extend(values)
        feeds[f"in_{t}"] = arr
    resp = stub.ModelInfer(req, timeout=RPC_TIMEOUT_S)
    assert resp.id == "typed" and len(resp.raw_output_contents) == len(resp.outputs) == 15
    want = ref.run("multitype", feeds)
    for name, arr in want.items():
        assert_bitwise_equal(raw_output(resp, name), arr, name)


def test_infer_mlp(client, ref):
    inp = grpcclient.InferInput("features", list(FEATURES.shape), "FP32")
    inp.set_data_from_numpy(FEATURES)
    res = client.infer("mlp", [inp])
    want = ref.run("mlp", {"features": FEATURES})
    assert_close(res.as_numpy("scores"), want["scores"], MLP_RTOL, MLP_ATOL)
    np.testing.assert_array_equal(res.as_numpy("class_ids"), want["class_ids"])


def test_infer_outputs_filtering(client, ref):
    inp = grpcclient.InferInput("features", list(FEATURES.shape), "FP32")
    inp.set_data_from_numpy(FEATURES)
    res = client.infer("mlp", [inp], outputs=[grpcclient.InferRequestedOutput("class_ids")])
    assert [o.name for o in res.get_response().outputs] == ["class_ids"]
    assert res.as_numpy("scores") is None
    np.testing.assert_array_equal(res.as_numpy("class_ids"), ref.run("mlp", {"features": FEATURES})["class_ids"])
    # the requested order, not the model's
    arrays = multitype_arrays(rows=1)
    wanted = ["out_string", "scaled_fp32", "out_bf16", "out_bool"]
    res = client.infer("multitype", multitype_inputs(arrays),
                       outputs=[grpcclient.InferRequestedOutput(n) for n in wanted])
    assert [o.name for o in res.get_response().outputs] == wanted


def test_infer_resnet50(client, ref):
    assert not SKIP_LARGE, "SERVAL_SKIP_LARGE=1: resnet50 was not built, so this test cannot pass"
    x = np.random.default_rng(81).standard_normal((2, 3, 224, 224), dtype=np.float32)
    inp = grpcclient.InferInput("input", list(x.shape), "FP32")
    inp.set_data_from_numpy(x)
    got = client.infer("resnet50", [inp]).as_numpy("logits")
    want = ref.run("resnet50", {"input": x})["logits"]
    assert got.shape == (2, 1000)
    # see test_tfs_rest.py::test_predict_resnet50_one_image for the tolerance
    assert_close(got, want, rtol=1e-4, atol=1e-5, what="resnet50 logits")
    np.testing.assert_array_equal(got.argmax(axis=1), want.argmax(axis=1))


def test_infer_errors(client):
    with pytest.raises(InferenceServerException) as e:
        client.infer("nope", add_inputs())
    assert e.value.status() == "StatusCode.INVALID_ARGUMENT" and "'nope' is not found" in e.value.message()
    with pytest.raises(InferenceServerException) as e:
        client.infer("add", add_inputs(), model_version="9")
    assert e.value.status() == "StatusCode.NOT_FOUND"
    with pytest.raises(InferenceServerException) as e:
        client.infer("add", add_inputs(), model_version="nolabel")
    assert e.value.status() == "StatusCode.NOT_FOUND"
    with pytest.raises(InferenceServerException) as e:
        client.infer("add", add_inputs()[:1])
    assert e.value.status() == "StatusCode.INVALID_ARGUMENT" and "missing required input(s) ['b']" in e.value.message()
    with pytest.raises(InferenceServerException) as e:
        client.infer("add", add_inputs(), outputs=[grpcclient.InferRequestedOutput("nope")])
    assert e.value.status() == "StatusCode.INVALID_ARGUMENT" and "nope" in e.value.message()


def test_infer_with_client_timeout(client):
    res = client.infer("add", add_inputs(), client_timeout=30.0)  # a deadline the server carries and meets
    np.testing.assert_array_equal(res.as_numpy("sum"), A + B)


def test_async_infer_callbacks(client, ref):
    results: queue.Queue = queue.Queue()
    for i in range(8):
        a = A * np.float32(i)
        client.async_infer("add", add_inputs(a=a), partial_callback(results, i), request_id=str(i))
    got = {}
    for _ in range(8):
        i, result, error = results.get(timeout=RPC_TIMEOUT_S)
        assert error is None, error
        assert result.get_response().id == str(i)
        got[i] = result.as_numpy("sum")
    for i in range(8):
        np.testing.assert_array_equal(got[i], A * np.float32(i) + B)


def partial_callback(results: queue.Queue, tag):
    def callback(result, error):
        results.put((tag, result, error))

    return callback


# ----------------------------------------------------------------------------------------------------------
# streaming
# ----------------------------------------------------------------------------------------------------------


def test_stream_50_in_order_with_one_bad_request(server):
    """50 requests on one ModelStreamInfer stream: answered in order; the bad one in the middle gets an
    error_message while the rest succeed."""
    c = grpcclient.InferenceServerClient(url=f"127.0.0.1:{server.grpc_port}")
    results: queue.Queue = queue.Queue()
    try:
        c.start_stream(callback=lambda result, error: results.put((result, error)))
        for i in range(50):
            a = A[:1] + np.float32(i)
            if i == 25:
                bad = grpcclient.InferInput("a", [1, 15], "FP32")  # wrong fixed dim
                bad.set_data_from_numpy(np.zeros((1, 15), np.float32))
                ins = [bad, add_inputs(b=B[:1])[1]]
            else:
                ins = add_inputs(a=a, b=B[:1])
            c.async_stream_infer("add", ins, request_id=str(i), model_version="stable" if i % 2 else "")
        answers = [results.get(timeout=RPC_TIMEOUT_S) for _ in range(50)]
    finally:
        c.stop_stream()
        c.close()
    for i, (result, error) in enumerate(answers):
        if i == 25:
            assert result is None and error is not None
            assert "unexpected shape for input 'a' for model 'add'. Expected [-1,16], got [1,15]" in error.message(), \
                error.message()
            continue
        assert error is None, (i, error)
        resp = result.get_response()
        assert resp.id == str(i), f"answer {i} is for request {resp.id}: out of order"
        assert resp.model_version == ("1" if i % 2 else "2")
        np.testing.assert_array_equal(result.as_numpy("sum"), A[:1] + np.float32(i) + B[:1])


def test_stream_raw_stub_error_carries_id(stub):
    """The error answer names the failed request by id (infer_response.id), as Triton does."""
    bad = raw_add_request(id="bad-1")
    bad.raw_input_contents[1] = b"\0" * 3
    replies = list(stub.ModelStreamInfer(iter([raw_add_request(id="ok-0"), bad, raw_add_request(id="ok-2")]),
                                         timeout=RPC_TIMEOUT_S))
    assert [r.infer_response.id for r in replies] == ["ok-0", "bad-1", "ok-2"]
    assert [bool(r.error_message) for r in replies] == [False, True, False]
    assert replies[1].error_message == "[request id: bad-1] input byte size mismatch for input 'b' for model 'add'. " \
        "Expected 64, got 3", replies[1].error_message


def test_stream_client_cancel_leaves_server_healthy(server, stub):
    """A client that cancels mid-stream (while it still has requests to send) ends that call only."""
    release = threading.Event()

    def requests_then_block():
        for i in range(3):
            yield raw_add_request(id=str(i))
        release.wait(timeout=RPC_TIMEOUT_S)

    call = stub.ModelStreamInfer(requests_then_block(), timeout=RPC_TIMEOUT_S)
    ids = [next(call).infer_response.id for _ in range(3)]
    assert ids == ["0", "1", "2"]
    call.cancel()
    release.set()
    with pytest.raises(grpc.RpcError) as e:
        next(call)
    assert e.value.code() == grpc.StatusCode.CANCELLED
    assert_grpc_alive(server, stub)


# ----------------------------------------------------------------------------------------------------------
# tritonclient.grpc.aio
# ----------------------------------------------------------------------------------------------------------


def test_aio_client(server, ref):
    async def run():
        async with aioclient.InferenceServerClient(url=f"127.0.0.1:{server.grpc_port}") as c:
            assert await c.is_server_live()
            assert await c.is_server_ready()
            assert await c.is_model_ready("add", "canary")
            meta = await c.get_model_metadata("mlp", as_json=True)
            assert meta["outputs"][1]["name"] == "class_ids"
            inp = aioclient.InferInput("features", list(FEATURES.shape), "FP32")
            inp.set_data_from_numpy(FEATURES)
            res = await c.infer("mlp", [inp], request_id="aio")
            assert res.get_response().id == "aio"
            want = ref.run("mlp", {"features": FEATURES})
            assert_close(res.as_numpy("scores"), want["scores"], MLP_RTOL, MLP_ATOL)

            async def requests():
                for i in range(10):
                    yield {"model_name": "add", "inputs": add_inputs(a=A + np.float32(i)), "request_id": str(i)}

            seen = []
            async for result, error in c.stream_infer(inputs_iterator=requests()):
                assert error is None, error
                i = int(result.get_response().id)
                np.testing.assert_array_equal(result.as_numpy("sum"), A + np.float32(i) + B)
                seen.append(i)
                if len(seen) == 10:
                    break
            assert seen == list(range(10))

    asyncio.run(asyncio.wait_for(run(), timeout=60))


# ----------------------------------------------------------------------------------------------------------
# hostile requests (docs/reliability.md §6.C 15, 19): INVALID_ARGUMENT fast, alive afterwards
# ----------------------------------------------------------------------------------------------------------


def _raw_count_mismatch():
    req = raw_add_request()
    del req.raw_input_contents[1]
    return req, "raw_input_contents has 1 entries but the request has 2 inputs"


def _raw_extra_entry():
    req = raw_add_request()
    req.raw_input_contents.append(b"\0" * 64)
    return req, "raw_input_contents has 3 entries"


def _raw_size_mismatch():
    req = raw_add_request()
    req.raw_input_contents[0] = req.raw_input_contents[0][:-1]
    return req, "input byte size mismatch for input 'a' for model 'add'. Expected 64, got 63"  # Triton's text


def _raw_and_contents():
    req = raw_add_request()
    req.inputs[1].contents.fp32_contents.extend([1.0] * 16)
    return req, "input 'b' sets 'contents' but the request uses raw_input_contents"


def _declared_2gib_raw():
    req = raw_add_request()
    del req.inputs[0].shape[:]
    req.inputs[0].shape.extend([1 << 25, 16])  # 2 GiB of FP32 declared, 64 bytes sent
    return req, "Expected 2147483648, got 64"


def _declared_2gib_contents():
    req = service_pb2.ModelInferRequest(model_name="add")
    req.inputs.add(name="a", datatype="FP32", shape=[1 << 25, 16]).contents.fp32_contents.extend([1.0] * 16)
    req.inputs.add(name="b", datatype="FP32", shape=[1, 16]).contents.fp32_contents.extend([1.0] * 16)
    return req, "input 'a' has 16 values in contents.fp32_contents but shape [33554432,16] needs 536870912"


def _unknown_datatype():
    req = raw_add_request()
    req.inputs[1].datatype = "FLOAT32"
    return req, "input 'b' has unknown datatype 'FLOAT32'"


def _negative_dim():
    req = raw_add_request()
    req.inputs[0].shape[0] = -1
    return req, "negative dimension"


def _overflowing_shape():
    req = raw_add_request()
    del req.inputs[0].shape[:]
    req.inputs[0].shape.extend([4294967296, 4294967296, 2])
    return req, "overflows int64"


def _bytes_framing():
    req = service_pb2.ModelInferRequest(model_name="multitype")
    arrays = multitype_arrays(rows=1)
    for t, arr in arrays.items():
        req.inputs.add(name=f"in_{t}", datatype=MULTITYPE[t][1], shape=list(arr.shape))
        raw = kserve_bytes(arr.ravel()) if t == "string" else np.ascontiguousarray(arr).tobytes()
        if t == "string":
            raw = raw[:-1] + (0xFFFFFF00).to_bytes(4, "little")  # last element claims ~4 GiB
        req.raw_input_contents.append(raw)
    return req, "input 'in_string': "


def _wrong_typed_field():
    req = service_pb2.ModelInferRequest(model_name="add")
    req.inputs.add(name="a", datatype="FP32", shape=[1, 16]).contents.fp64_contents.extend([1.0] * 16)
    req.inputs.add(name="b", datatype="FP32", shape=[1, 16]).contents.fp32_contents.extend([1.0] * 16)
    return req, "but contents.fp64_contents is set"


def _fp16_typed():
    req = service_pb2.ModelInferRequest(model_name="multitype")
    req.inputs.add(name="in_fp16", datatype="FP16", shape=[1, 1]).contents.fp32_contents.append(1.0)
    return req, "FP16 data must be sent in raw_input_contents"


HOSTILE = [
    _raw_count_mismatch, _raw_extra_entry, _raw_size_mismatch, _raw_and_contents, _declared_2gib_raw,
    _declared_2gib_contents, _unknown_datatype, _negative_dim, _overflowing_shape, _bytes_framing,
    _wrong_typed_field, _fp16_typed,
]


@pytest.mark.parametrize("make", HOSTILE, ids=[f.__name__.lstrip("_") for f in HOSTILE])
def test_hostile_request_is_invalid_argument(server, stub, make):
    req, needle = make()
    t0 = time.monotonic()
    with pytest.raises(grpc.RpcError) as e:
        stub.ModelInfer(req, timeout=RPC_TIMEOUT_S)
    elapsed = time.monotonic() - t0
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT, (e.value.code(), e.value.details())
    assert needle in e.value.details(), e.value.details()
    assert elapsed < FAST_S, f"took {elapsed:.1f}s"
    assert_grpc_alive(server, stub)


def test_hostile_unsupported_parameters_are_unimplemented(server, stub):
    req = raw_add_request()
    req.inputs[0].parameters["shared_memory_region"].string_param = "/dev/shm/x"
    with pytest.raises(grpc.RpcError) as e:
        stub.ModelInfer(req, timeout=RPC_TIMEOUT_S)
    assert e.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert_grpc_alive(server, stub)


def test_hostile_huge_names_are_refused_without_echo(server, stub):
    req = raw_add_request()
    req.model_name = "m" * 100_000
    with pytest.raises(grpc.RpcError) as e:
        stub.ModelInfer(req, timeout=RPC_TIMEOUT_S)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT and len(e.value.details()) < 1000
    req = raw_add_request()
    req.model_version = "v" * 100_000
    with pytest.raises(grpc.RpcError) as e:
        stub.ModelInfer(req, timeout=RPC_TIMEOUT_S)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT and len(e.value.details()) < 1000
    assert_grpc_alive(server, stub)


def test_hostile_bad_request_in_stream_keeps_stream(server, stub):
    reqs = [raw_add_request(id="0")] + [make()[0] for make in HOSTILE] + [raw_add_request(id="last")]
    replies = list(stub.ModelStreamInfer(iter(reqs), timeout=RPC_TIMEOUT_S))
    assert len(replies) == len(reqs)
    assert not replies[0].error_message and not replies[-1].error_message
    assert replies[-1].infer_response.id == "last"
    assert all(r.error_message for r in replies[1:-1])
    assert_grpc_alive(server, stub)
