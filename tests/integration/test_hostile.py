"""Hostile requests (docs/reliability.md §6.C): each gets the expected status quickly, and afterwards the server
is alive and answers a valid add inference (assert_alive)."""

from __future__ import annotations

import base64
import gzip
import json
import re
import select
import socket
import time
import zlib
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import requests

from conftest import (
    SMALL_CAP,
    assert_alive,
    assert_error,
    jloads,
    kserve_binary_request,
    multitype_arrays,
    post_json,
    raw_request,
    tensor_to_raw,
)

FAST_S = 5.0  # §6.C wants ≤ 1 s; 5 s keeps a loaded CI box from flaking while still catching a hang

A1 = np.linspace(-2, 2, 16, dtype=np.float32).reshape(1, 16)
TFS_ADD = {"inputs": {"a": A1.tolist(), "b": A1.tolist()}}
KS_ADD = {
    "inputs": [
        {"name": "a", "shape": [1, 16], "datatype": "FP32", "data": A1.ravel().tolist()},
        {"name": "b", "shape": [1, 16], "datatype": "FP32", "data": A1.ravel().tolist()},
    ]
}


def timed_post(srv, path, body, headers=None):
    t0 = time.monotonic()
    r = post_json(srv, path, body, headers)
    elapsed = time.monotonic() - t0
    assert elapsed < FAST_S, f"{path}: took {elapsed:.1f}s"
    return r


def expect(srv, resp, statuses):
    """The status is one of `statuses`, any body is a JSON {"error"}, and the server is alive afterwards."""
    statuses = (statuses,) if isinstance(statuses, int) else tuple(statuses)
    assert resp.status_code in statuses, f"expected {statuses}, got {resp.status_code}: {resp.text[:300]}"
    if resp.status_code >= 400:
        assert_error(resp, statuses)
    assert_alive(srv)


# ----------------------------------------------------------------------------------------------------------
# JSON nesting
# ----------------------------------------------------------------------------------------------------------

DEPTH = 100_000
DEEP_ARRAY = "[" * DEPTH + "]" * DEPTH
DEEP_OPEN = "[" * DEPTH
DEEP_OBJECT = '{"a":' * DEPTH + "1" + "}" * DEPTH

NESTING_CASES = {
    "tfs-instances": ("/v1/models/add:predict", '{"instances": ' + DEEP_ARRAY + "}"),
    "tfs-inputs": ("/v1/models/add:predict", '{"inputs": ' + DEEP_ARRAY + "}"),
    "tfs-inputs-named": ("/v1/models/add:predict", '{"inputs": {"a": ' + DEEP_ARRAY + ', "b": [[1]]}}'),
    "tfs-unknown-key": (
        "/v1/models/add:predict",
        '{"zzz": ' + DEEP_ARRAY + ', "inputs": ' + json.dumps(TFS_ADD["inputs"]) + "}",
    ),
    "tfs-unterminated": ("/v1/models/add:predict", '{"instances": ' + DEEP_OPEN),
    "tfs-deep-object": ("/v1/models/add:predict", '{"instances": [' + DEEP_OBJECT + "]}"),
    "tfs-root": ("/v1/models/add:predict", DEEP_ARRAY),
    "tfs-signature-name": ("/v1/models/add:predict", '{"signature_name": ' + DEEP_ARRAY + "}"),
    "kserve-data": (
        "/v2/models/add/infer",
        '{"inputs": [{"name": "a", "shape": [1, 16], "datatype": "FP32", "data": ' + DEEP_ARRAY + "}]}",
    ),
    "kserve-parameters": (
        "/v2/models/add/infer",
        '{"parameters": {"x": ' + DEEP_OBJECT + '}, "inputs": ' + json.dumps(KS_ADD["inputs"]) + "}",
    ),
    "kserve-input-parameters": (
        "/v2/models/add/infer",
        '{"inputs": [{"name": "a", "shape": [1, 16], "datatype": "FP32", "parameters": {"p": ' + DEEP_ARRAY
        + '}, "data": ' + json.dumps([1.0] * 16) + '}, ' + json.dumps(KS_ADD["inputs"][1]) + "]}",
    ),
    "kserve-unknown-key": (
        "/v2/models/add/infer",
        '{"zzz": ' + DEEP_ARRAY + ', "inputs": ' + json.dumps(KS_ADD["inputs"]) + "}",
    ),
    "kserve-root": ("/v2/models/add/infer", DEEP_ARRAY),
    "kserve-unterminated": ("/v2/models/add/infer", '{"inputs": ' + DEEP_OPEN),
    # depth 101 in tensor data (Triton's cap is 100): a rank-101 tensor, rejected either way
    "kserve-depth-101": (
        "/v2/models/add/infer",
        '{"inputs": [{"name": "a", "shape": ' + json.dumps([1] * 101) + ', "datatype": "FP32", "data": '
        + "[" * 101 + "1" + "]" * 101 + "}]}",
    ),
}


@pytest.mark.parametrize("case", list(NESTING_CASES))
def test_deep_json_nesting_400(server, case):
    path, body = NESTING_CASES[case]
    expect(server, timed_post(server, path, body), 400)


# ----------------------------------------------------------------------------------------------------------
# shapes and data counts (KServe declares shapes)
# ----------------------------------------------------------------------------------------------------------


def ks_body(shape, data=None, datatype="FP32", b_shape=(1, 16)):
    return {
        "inputs": [
            {"name": "a", "shape": shape, "datatype": datatype, "data": [1.0] * 16 if data is None else data},
            {"name": "b", "shape": list(b_shape), "datatype": "FP32", "data": [1.0] * 16},
        ]
    }


SHAPE_CASES = {
    "overflow-int64": ks_body([4294967296, 4294967296, 2], [1.0]),
    "overflow-just-past-int64": ks_body([3037000500, 3037000500], [1.0]),
    "overflow-bytes": ks_body([2**62, 4], [1.0]),  # element count fits int64, × 4 bytes does not
    "overflow-max-int64": ks_body([2**63 - 1, 2], [1.0]),
    "dim-beyond-int64": ks_body([2**64, 16], [1.0]),
    "huge-but-no-data": ks_body([2**31, 2**31], []),
    "negative-first": ks_body([-1, 16]),
    "negative-second": ks_body([1, -16]),
    "negative-big": ks_body([-(2**63), 16]),
    "fractional-dim": ks_body([1.5, 16]),
    "string-dim": ks_body(["1", 16]),
    "count-too-small": ks_body([2, 16]),  # 16 values for 32 elements
    "count-too-large": ks_body([1, 16], [1.0] * 17),
    "count-nested-mismatch": ks_body([1, 16], [[1.0] * 8, [1.0] * 8, [1.0]]),
    "huge-data-count-mismatch": ks_body([1, 16], [1.0] * 100_000),
}


@pytest.mark.parametrize("case", list(SHAPE_CASES))
def test_kserve_shape_and_count_400(server, case):
    expect(server, timed_post(server, "/v2/models/add/infer", SHAPE_CASES[case]), 400)


@pytest.mark.parametrize(
    "shape,size",
    [
        ([4294967296, 4294967296, 2], 8),
        ([2**62, 4], 64),
        ([-1, 16], 64),
        ([1, -16], 64),
        ([2, 16], 64),  # 64 bytes for a 128-byte tensor
        ([1, 16], 2**62),  # binary_data_size far beyond the body
        ([1, 16], -64),
    ],
    ids=["overflow", "overflow-bytes", "negative-first", "negative-second", "short", "size-huge", "size-negative"],
)
def test_kserve_binary_shape_and_size_400(server, shape, size):
    raw = tensor_to_raw(A1)
    header = {
        "inputs": [
            {"name": "a", "shape": shape, "datatype": "FP32", "parameters": {"binary_data_size": size}},
            {"name": "b", "shape": [1, 16], "datatype": "FP32", "parameters": {"binary_data_size": 64}},
        ]
    }
    body, headers = kserve_binary_request(header, [raw, raw])
    expect(server, timed_post(server, "/v2/models/add/infer", body, headers), 400)


def test_zero_size_batch_not_5xx(server):
    # docs/reliability.md lists batch 0 among the 400s; onnxruntime itself can run an empty batch, so a 200
    # with an empty result is acceptable too. Never a 5xx.
    body = ks_body([0, 16], [], b_shape=(0, 16))
    body["inputs"][1]["data"] = []
    r = timed_post(server, "/v2/models/add/infer", body)
    expect(server, r, (200, 400))
    if r.status_code == 200:
        assert jloads(r.content)["outputs"][0]["shape"] == [0, 16]


def test_int64_from_huge_float_400(server):
    arrays = multitype_arrays(rows=1)
    inputs = {f"in_{t}": (a.astype(np.float32) if t == "bf16" else a).tolist() for t, a in arrays.items()}
    inputs["in_int64"] = [[1e19] * arrays["int64"].shape[1]]
    expect(server, timed_post(server, "/v1/models/multitype:predict", {"inputs": inputs}), 400)


# ----------------------------------------------------------------------------------------------------------
# base64
# ----------------------------------------------------------------------------------------------------------


def multitype_tfs_inputs(string_value):
    arrays = multitype_arrays(rows=1)
    inputs = {f"in_{t}": (a.astype(np.float32) if t == "bf16" else a).tolist() for t, a in arrays.items()}
    inputs["in_string"] = [[string_value] * arrays["string"].shape[1]]
    return inputs


def test_b64_control_is_accepted(server):
    """The well-formed counterpart of the cases below: proves the 400s come from the b64 value itself."""
    good = {"b64": base64.b64encode(b"\x00\xffok").decode()}
    r = timed_post(server, "/v1/models/multitype:predict", {"inputs": multitype_tfs_inputs(good)})
    assert r.status_code == 200, r.text[:300]


@pytest.mark.parametrize(
    "value",
    [{"b64": "!!!!"}, {"b64": "@@@@====="}, {"b64": "QU\x01JD"}, {"b64": 5}, {"b64": ["QUJD"]}, {"b64": None}],
    ids=["bang", "at-and-padding", "control-char", "number", "list", "null"],
)
def test_bad_base64_400(server, value):
    r = timed_post(server, "/v1/models/multitype:predict", {"inputs": multitype_tfs_inputs(value)})
    expect(server, r, 400)


def test_b64_for_float_input_400(server):
    body = {"instances": [{"a": [{"b64": "AACAPw=="}] * 16, "b": [1.0] * 16}]}
    expect(server, timed_post(server, "/v1/models/add:predict", body), 400)


# ----------------------------------------------------------------------------------------------------------
# Inference-Header-Content-Length
# ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["bigger", "99999999999", "-1", "abc", "18446744073709551616", "0x10", "1e2"],
    ids=["bigger-than-body", "huge", "negative", "not-a-number", "over-uint64", "hex", "exponent"],
)
def test_inference_header_content_length_400(server, value):
    head = json.dumps(KS_ADD).encode()
    header_len = str(len(head) + 100) if value == "bigger" else value
    r = timed_post(
        server,
        "/v2/models/add/infer",
        head,
        {"Inference-Header-Content-Length": header_len, "Content-Type": "application/octet-stream"},
    )
    expect(server, r, 400)


def test_inference_header_content_length_cuts_json_400(server):
    head = json.dumps(KS_ADD).encode()
    r = timed_post(server, "/v2/models/add/infer", head, {"Inference-Header-Content-Length": str(len(head) // 2)})
    expect(server, r, 400)


# ----------------------------------------------------------------------------------------------------------
# body size caps (raw sockets: requests would stop at the first broken pipe and never read the answer)
# ----------------------------------------------------------------------------------------------------------


def raw_exchange(port: int, head: bytes, body_chunks=(), wait_before_body_s: float = 0.0, timeout_s: float = 20.0):
    """Send `head`, optionally wait for an early answer, then stream `body_chunks` until the server answers
    (it may answer before reading the body). Returns (status or None, raw response bytes, body bytes sent)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout_s)
    s.setblocking(False)
    sent = 0
    deadline = time.monotonic() + timeout_s
    try:
        _sendall(s, head, deadline)
        answered = False
        if wait_before_body_s:
            answered = bool(select.select([s], [], [], wait_before_body_s)[0])
        if not answered:
            for chunk in body_chunks:
                view = memoryview(chunk)
                while view:
                    r, w, _ = select.select([s], [s], [], max(0.0, deadline - time.monotonic()))
                    if r:
                        answered = True
                        break
                    if not w:
                        raise TimeoutError("neither readable nor writable before the deadline")
                    try:
                        n = s.send(view[: 1 << 16])
                    except (BrokenPipeError, ConnectionResetError):
                        answered = True
                        break
                    sent += n
                    view = view[n:]
                if answered:
                    break
        data = _read_response(s, deadline)
    finally:
        s.close()
    status = None
    if data.startswith(b"HTTP/1."):
        status = int(data.split(b" ", 2)[1])
    return status, data, sent


def _sendall(s, data: bytes, deadline: float) -> None:
    view = memoryview(data)
    while view:
        if not select.select([], [s], [], max(0.0, deadline - time.monotonic()))[1]:
            raise TimeoutError("socket not writable")
        view = view[s.send(view) :]


def _read_response(s, deadline: float) -> bytes:
    data = b""
    while time.monotonic() < deadline:
        if not select.select([s], [], [], max(0.0, deadline - time.monotonic()))[0]:
            break
        try:
            chunk = s.recv(1 << 16)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
        head_end = data.find(b"\r\n\r\n")
        if head_end >= 0:
            length = 0
            for line in data[:head_end].split(b"\r\n")[1:]:
                k, _, v = line.partition(b":")
                if k.strip().lower() == b"content-length":
                    length = int(v.strip())
            if len(data) >= head_end + 4 + length:
                break
    return data


def padded_add_body(size: int) -> bytes:
    """A valid add request padded with trailing whitespace to exactly `size` bytes: without a cap it is a 200."""
    body = json.dumps(TFS_ADD).encode()
    assert len(body) <= size
    return body + b" " * (size - len(body))


def post_head(path: str, length: int | None, extra: str = "") -> bytes:
    cl = f"Content-Length: {length}\r\n" if length is not None else ""
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n{cl}{extra}\r\n"
    ).encode()


def test_small_cap_control_at_cap_is_accepted(small_server):
    """Exactly the cap is allowed: proves the 413s below come from the size, not the padding."""
    status, data, _ = raw_exchange(
        small_server.rest_port, post_head("/v1/models/add:predict", SMALL_CAP), [padded_add_body(SMALL_CAP)]
    )
    assert status == 200, data[:500]
    assert_alive(small_server)


def test_declared_length_over_cap_413_before_body(small_server):
    status, data, sent = raw_exchange(
        small_server.rest_port,
        post_head("/v1/models/add:predict", SMALL_CAP + 1),
        [padded_add_body(SMALL_CAP + 1)],
        wait_before_body_s=3.0,
    )
    assert status == 413, data[:500]
    assert sent == 0, f"the server waited for {sent} body bytes before answering 413"
    assert b'"error"' in data
    assert_alive(small_server)


def test_body_over_cap_413(small_server):
    status, data, _ = raw_exchange(
        small_server.rest_port, post_head("/v1/models/add:predict", SMALL_CAP + 1), [padded_add_body(SMALL_CAP + 1)]
    )
    assert status == 413, data[:500]
    assert_alive(small_server)


def test_body_over_default_64mib_cap_413(server):
    cap = 64 << 20
    body = padded_add_body(cap + 1)
    chunks = [body[i : i + (1 << 20)] for i in range(0, len(body), 1 << 20)]
    status, data, _ = raw_exchange(server.rest_port, post_head("/v1/models/add:predict", cap + 1), chunks)
    assert status == 413, data[:500]
    assert_alive(server)


def test_kserve_body_over_cap_413(small_server):
    body = json.dumps(KS_ADD).encode()
    body += b" " * (SMALL_CAP + 1 - len(body))
    status, data, _ = raw_exchange(small_server.rest_port, post_head("/v2/models/add/infer", len(body)), [body])
    assert status == 413, data[:500]
    assert_alive(small_server)


def chunked(payload: bytes, chunk_size: int) -> bytes:
    out = bytearray()
    for i in range(0, len(payload), chunk_size):
        piece = payload[i : i + chunk_size]
        out += f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    return bytes(out + b"0\r\n\r\n")


def test_chunked_body_over_cap_413(small_server):
    payload = chunked(padded_add_body(SMALL_CAP + 1), 1 << 16)
    status, data, _ = raw_exchange(
        small_server.rest_port,
        post_head("/v1/models/add:predict", None, "Transfer-Encoding: chunked\r\n"),
        [payload[i : i + (1 << 16)] for i in range(0, len(payload), 1 << 16)],
    )
    assert status == 413, data[:500]
    assert_alive(small_server)


def test_chunked_body_under_cap_accepted(small_server):
    payload = chunked(padded_add_body(50_000), 1000)
    status, data, _ = raw_exchange(
        small_server.rest_port,
        post_head("/v1/models/add:predict", None, "Transfer-Encoding: chunked\r\n"),
        [payload],
    )
    assert status == 200, data[:500]


def test_100k_one_byte_chunks_rejected(server):
    # a valid add request in 100,000 one-byte chunks: the chunk-count cap (65,536) answers 400 (or 413)
    payload = chunked(padded_add_body(100_000), 1)
    status, data, _ = raw_exchange(
        server.rest_port,
        post_head("/v1/models/add:predict", None, "Transfer-Encoding: chunked\r\n"),
        [payload[i : i + (1 << 16)] for i in range(0, len(payload), 1 << 16)],
    )
    assert status in (400, 413), data[:500]
    assert_alive(server)


def test_content_length_2gib_then_close(server):
    # declares 2 GiB, sends 1 KB, closes: 413 at once on the declared length (no 2 GiB allocation)
    status, data, _ = raw_exchange(
        server.rest_port, post_head("/v1/models/add:predict", 2**31), [b" " * 1024], wait_before_body_s=2.0
    )
    assert status == 413, data[:500]
    assert_alive(server)


@pytest.mark.parametrize("length", ["-1", "abc", "99999999999999999999999", "1, 2"])
def test_bad_content_length_400(server, length):
    status, data, _ = raw_exchange(
        server.rest_port,
        (
            "POST /v1/models/add:predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {length}\r\n\r\n"
        ).encode(),
        [b"{}"],
        wait_before_body_s=2.0,
        timeout_s=5.0,  # a server that waits for a body it will never get is allowed to time out
    )
    # a malformed header is a 400 (a huge one may be a 413); a silent close is also defensible, a 5xx is not
    assert status in (400, 413, None), data[:500]
    assert_alive(server)


# ----------------------------------------------------------------------------------------------------------
# gzip
# ----------------------------------------------------------------------------------------------------------


def test_gzip_body_accepted_tfs(server):
    r = timed_post(
        server, "/v1/models/add:predict", gzip.compress(json.dumps(TFS_ADD).encode()), {"Content-Encoding": "gzip"}
    )
    assert r.status_code == 200, r.text[:300]
    np.testing.assert_array_equal(np.array(jloads(r.content)["outputs"], np.float32), A1 + A1)


def test_gzip_bomb_413(small_server):
    bomb = gzip.compress(b"\0" * (20 << 20), compresslevel=9)  # ≈20 KB that inflates to 20 MB
    assert len(bomb) < 64 << 10
    r = timed_post(small_server, "/v1/models/add:predict", bomb, {"Content-Encoding": "gzip"})
    expect(small_server, r, 413)


def test_gzip_bomb_of_valid_json_413(small_server):
    # a *valid* request padded with whitespace to 3 MiB once inflated: only the inflated-size cap stops it
    bomb = gzip.compress(padded_add_body(3 << 20), compresslevel=9)
    assert len(bomb) < SMALL_CAP
    r = timed_post(small_server, "/v1/models/add:predict", bomb, {"Content-Encoding": "gzip"})
    expect(small_server, r, 413)


def test_deflate_bomb_413(small_server):
    bomb = zlib.compress(b"\0" * (20 << 20), 9)
    r = timed_post(small_server, "/v2/models/add/infer", bomb, {"Content-Encoding": "deflate"})
    expect(small_server, r, 413)


def test_gzip_bomb_default_cap_413(server):
    bomb = zlib.compressobj(1, zlib.DEFLATED, 31)  # gzip container, fast level
    data = bomb.compress(b"\0" * (80 << 20)) + bomb.flush()
    r = timed_post(server, "/v2/models/add/infer", data, {"Content-Encoding": "gzip"})
    expect(server, r, 413)


@pytest.mark.parametrize(
    "data",
    [b"\x1f\x8b\x08\x00garbage-not-deflate", gzip.compress(b'{"inputs": {}}')[:-6], b"not gzip at all"],
    ids=["corrupt", "truncated", "not-gzip"],
)
def test_corrupt_gzip_400(server, data):
    expect(server, timed_post(server, "/v1/models/add:predict", data, {"Content-Encoding": "gzip"}), 400)


def test_unknown_content_encoding_rejected(server):
    r = timed_post(server, "/v1/models/add:predict", json.dumps(TFS_ADD), {"Content-Encoding": "br"})
    expect(server, r, (400, 415))


# ----------------------------------------------------------------------------------------------------------
# names and paths: 400 or 404, never 500
# ----------------------------------------------------------------------------------------------------------

TRAVERSAL = [
    ("POST", "/v1/models/..%2F..%2Fetc:predict"),
    ("GET", "/v1/models/..%2F..%2Fetc"),
    ("GET", "/v1/models/..%2F..%2Fetc/metadata"),
    ("POST", "/v1/models/../x:predict"),
    ("POST", "/v1/models/..:predict"),
    ("GET", "/v1/models/%2e%2e"),
    ("GET", "/v1/models/%2e%2e%2f%2e%2e%2fetc%2fpasswd/metadata"),
    ("POST", "/v1/models/add/versions/..%2F1:predict"),
    ("POST", "/v1/models/add/labels/..%2Fstable:predict"),
    ("POST", "/v2/models/../x/infer"),
    ("POST", "/v2/models/..%2Fx/infer"),
    ("POST", "/v2/models/..%2F..%2Fetc%2Fpasswd/infer"),
    ("GET", "/v2/models/.."),
    ("GET", "/v2/models/%2e%2e"),
    ("GET", "/v2/models/../../etc/passwd/ready"),
    ("GET", "/v2/models/add/versions/..%2F..%2F1"),
    ("POST", "/v2/models/" + "x" * 300 + "/infer"),
    ("POST", "/v1/models/" + "x" * 300 + ":predict"),
    ("POST", "/v1/models/a%0Ab:predict"),
    ("POST", "/v2/models/a%0D%0Ab/infer"),
    ("POST", "/v1/models/a%00b:predict"),
    ("POST", "/v2/models/a%zzb/infer"),
    ("POST", "/v1/models/add/versions/99999999999999999999999:predict"),
    ("POST", "/v1/models/add/versions/-1:predict"),
    ("POST", "/v2/models/add/versions/99999999999999999999999/infer"),
    ("GET", "/v2/models/add/versions/-1"),
]


@pytest.mark.parametrize("method,path", TRAVERSAL, ids=[f"{m}-{p[:60]}" for m, p in TRAVERSAL])
def test_hostile_names_400_or_404(server, method, path):
    body = json.dumps(KS_ADD if path.startswith("/v2") else TFS_ADD).encode() if method == "POST" else b""
    status, data = raw_request(server, method, path, body, {"Content-Type": "application/json"})
    assert status in (400, 404), f"{method} {path} -> {status}: {data[:300]!r}"
    if data:
        obj = jloads(data)
        assert isinstance(obj.get("error"), str), obj
    assert_alive(server)


def test_unknown_model_and_version_both_protocols(server):
    expect(server, timed_post(server, "/v1/models/nope:predict", TFS_ADD), 404)
    expect(server, timed_post(server, "/v1/models/add/versions/3:predict", TFS_ADD), 404)
    expect(server, timed_post(server, "/v2/models/nope/infer", KS_ADD), 400)  # Triton: an unknown model is 400
    expect(server, timed_post(server, "/v2/models/add/versions/3/infer", KS_ADD), 404)


# ----------------------------------------------------------------------------------------------------------
# other §6.C items (4xx, alive)
# ----------------------------------------------------------------------------------------------------------


def test_many_requested_outputs_4xx(server):
    body = dict(KS_ADD, outputs=[{"name": "sum"}] * 10_000)
    r = timed_post(server, "/v2/models/add/infer", body)
    assert 400 <= r.status_code < 500, r.text[:300]
    assert_alive(server)


def test_many_unknown_requested_outputs_4xx(server):
    body = dict(KS_ADD, outputs=[{"name": f"o{i}"} for i in range(10_000)])
    r = timed_post(server, "/v2/models/add/infer", body)
    assert 400 <= r.status_code < 500, r.text[:300]
    assert_alive(server)


def test_get_with_body_on_predict(server):
    status, data = raw_request(
        server, "GET", "/v1/models/add:predict", json.dumps(TFS_ADD).encode(), {"Content-Type": "application/json"}
    )
    assert status in (400, 404, 405), f"{status}: {data[:300]!r}"
    assert_alive(server)


def test_long_error_text_is_bounded(server):
    # an unknown input name of 100 KB: the error must not echo it unbounded (TF Serving truncates to 256)
    name = "n" * 100_000
    r = timed_post(server, "/v1/models/add:predict", {"inputs": {name: [[1.0] * 16], "b": [[1.0] * 16]}})
    err = assert_error(r, 400)
    assert len(err) < 4096, f"error text of {len(err)} bytes"
    assert_alive(server)


@pytest.mark.parametrize("prefix", ["", "x", "xx", "xxx"])
@pytest.mark.parametrize("char", ["\u00e9", "\u2603", "\U0001F600"], ids=["2-byte", "3-byte", "4-byte"])
def test_truncated_error_text_is_valid_utf8_json(server, prefix, char):
    """The error echoes the (bounded) name: cutting it must not split a UTF-8 sequence (both protocols)."""
    name = prefix + char * 300
    r = timed_post(
        server,
        "/v1/models/add:predict",
        json.dumps({"inputs": {name: [[1.0] * 16], "b": [[1.0] * 16]}}, ensure_ascii=False).encode(),
    )
    assert r.status_code == 400
    assert isinstance(json.loads(r.content.decode("utf-8", errors="strict"))["error"], str)
    body = {"inputs": [{"name": name, "shape": [1, 16], "datatype": "FP32", "data": [1.0] * 16}]}
    r = timed_post(server, "/v2/models/add/infer", json.dumps(body, ensure_ascii=False).encode())
    assert r.status_code == 400
    assert isinstance(json.loads(r.content.decode("utf-8", errors="strict"))["error"], str)


def test_huge_string_values_survive(server):
    # 8 MB of string data in one tensor (under the 64 MiB cap): served, not a crash
    arrays = multitype_arrays(rows=1)
    inputs = {f"in_{t}": (a.astype(np.float32) if t == "bf16" else a).tolist() for t, a in arrays.items()}
    inputs["in_string"] = [["s" * (4 << 20)] * arrays["string"].shape[1]]
    r = timed_post(server, "/v1/models/multitype:predict", {"inputs": inputs})
    assert r.status_code == 200, r.text[:300]
    assert len(jloads(r.content)["outputs"]["out_string"][0][0]) == 4 << 20
    assert_alive(server)


# ----------------------------------------------------------------------------------------------------------
# connections: pipelining, keep-alive after errors, request smuggling, concurrent correctness
# ----------------------------------------------------------------------------------------------------------


def _http_post(path: str, body: bytes) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def _read_until(s: socket.socket, count: int, timeout_s: float = 10.0) -> list[int]:
    """Reads responses until `count` status lines are seen (or EOF / timeout); returns their codes."""
    s.settimeout(timeout_s)
    data = b""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and len(re.findall(rb"HTTP/1\.1 \d{3} ", data)) < count:
        try:
            chunk = s.recv(1 << 16)
        except (socket.timeout, ConnectionResetError):
            break
        if not chunk:
            break
        data += chunk
    return [int(m) for m in re.findall(rb"HTTP/1\.1 (\d{3}) ", data)]


def test_pipelined_requests_answered_in_order(server):
    good = json.dumps(TFS_ADD).encode()
    pipeline = (
        _http_post("/v1/models/add:predict", good)
        + _http_post("/v1/models/add:predict", b"{bad json")
        + _http_post("/v1/models/nope:predict", good)
        + _http_post("/v2/models/add/infer", json.dumps(KS_ADD).encode())
        + b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", server.rest_port), timeout=10) as s:
        s.sendall(pipeline)
        assert _read_until(s, 5) == [200, 400, 404, 200, 200]
    assert_alive(server)


def test_keepalive_survives_errors(server):
    good = json.dumps(TFS_ADD)
    with requests.Session() as session:
        seq = [
            ("/v1/models/add:predict", good, 200),
            ("/v1/models/nope:predict", good, 404),
            ("/v1/models/add:predict", "{", 400),
            ("/v2/models/add/infer", json.dumps({"inputs": []}), 400),
            ("/v1/models/add:predict", good, 200),
        ]
        for path, body, want in seq:
            r = session.post(server.url + path, data=body, timeout=30)
            assert r.status_code == want, (path, r.status_code, r.text[:200])


def test_content_length_and_chunked_together_chunked_wins(server):
    # both framings at once is the request-smuggling shape (RFC 9112 §6.3): the chunked framing decides and
    # the connection closes after the answer, so nothing after the body is read as a next request
    body = json.dumps(TFS_ADD).encode()
    raw = (
        "POST /v1/models/add:predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nTransfer-Encoding: chunked\r\n\r\n"
    ).encode() + chunked(body, 1 << 10) + b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n"
    with socket.create_connection(("127.0.0.1", server.rest_port), timeout=10) as s:
        s.sendall(raw)
        codes = _read_until(s, 2, timeout_s=5)
    assert codes == [200], codes
    assert_alive(server)


def test_concurrent_mixed_protocols_correct(server):
    """16 client threads, 400 requests over both protocols: every answer is the right one for its request."""

    def one(i: int) -> str | None:
        a = np.full((1 + i % 3, 16), i, np.float32)
        if i % 2:
            r = requests.post(
                server.url + "/v1/models/add:predict", json={"inputs": {"a": a.tolist(), "b": a.tolist()}}, timeout=30
            )
            ok = r.status_code == 200 and np.array_equal(np.array(jloads(r.content)["outputs"], np.float32), 2 * a)
        else:
            body = {
                "id": str(i),
                "inputs": [
                    {"name": n, "shape": list(a.shape), "datatype": "FP32", "data": a.ravel().tolist()} for n in "ab"
                ],
            }
            r = requests.post(server.url + "/v2/models/add/infer", json=body, timeout=30)
            out = jloads(r.content) if r.status_code == 200 else {}
            ok = out.get("id") == str(i) and out["outputs"][0]["data"] == (2 * a).ravel().tolist()
        return None if ok else f"request {i}: {r.status_code} {r.text[:200]}"

    with ThreadPoolExecutor(16) as pool:
        failures = [f for f in pool.map(one, range(400)) if f]
    assert not failures, failures[:5]
    assert_alive(server)
