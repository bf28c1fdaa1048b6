"""HTTP/1.1 framing and resource bounds of the REST front door (RFC 9112), against the real binary: transfer
codings that would let a request hide inside another one's body, Host, body buffers that grow only with the
bytes received, the server-wide cap on buffered bodies, the connection limit, JSON that ends early, numbers
that both JSON paths must treat alike, and half-closed clients."""

from __future__ import annotations

import json
import re
import socket
import time

import numpy as np
import pytest
import requests

from conftest import ServerProcess, assert_alive, jloads

A1 = np.linspace(-2, 2, 16, dtype=np.float32).reshape(1, 16)
TFS_ADD = json.dumps({"inputs": {"a": A1.tolist(), "b": A1.tolist()}}).encode()


def assert_sum(outputs) -> None:
    np.testing.assert_array_equal(np.array(outputs, np.float32), 2 * A1)
LIVE = b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n"


def chunked(payload: bytes, size: int = 100) -> bytes:
    out = b""
    for i in range(0, len(payload), size):
        part = payload[i : i + size]
        out += f"{len(part):x}\r\n".encode() + part + b"\r\n"
    return out + b"0\r\n\r\n"


def read_all(s: socket.socket, timeout_s: float = 10.0) -> tuple[bytes, bool]:
    """Everything the server sends until it closes (True) or `timeout_s` passes (False)."""
    s.settimeout(0.5)
    data = b""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            chunk = s.recv(1 << 16)
        except socket.timeout:
            continue
        except ConnectionResetError:
            return data, True
        if not chunk:
            return data, True
        data += chunk
    return data, False


def statuses(data: bytes) -> list[int]:
    return [int(m) for m in re.findall(rb"HTTP/1\.[01] (\d{3}) ", data)]


def exchange(port: int, raw: bytes, timeout_s: float = 10.0) -> tuple[bytes, bool]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(raw)
        return read_all(s, timeout_s)


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError(f"{field} not in /proc/{pid}/status")


@pytest.fixture(scope="module")
def add_server(models_dir):
    srv = ServerProcess("framing", ["--model_name=add", f"--model_base_path={models_dir / 'add'}"],
                        ready_models=["add"]).start()
    yield srv
    assert srv.stop() == 0


# ----------------------------------------------------------------------------------------------------------
# Transfer-Encoding / Content-Length / Host
# ----------------------------------------------------------------------------------------------------------

SMUGGLING_CODINGS = ["xchunked", "chunked, identity", "gzip", "identity", "gzip, chunked", "chunked, chunked",
                     "chunked;ext=1", ""]


@pytest.mark.parametrize("coding", SMUGGLING_CODINGS)
def test_unusable_transfer_encoding_400_and_close(add_server, coding):
    """The body holds a whole second request: it must never be answered (the connection closes after 400)."""
    smuggled = LIVE
    raw = (f"POST /v1/models/add:predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           f"Transfer-Encoding: {coding}\r\n\r\n").encode() + smuggled
    data, closed = exchange(add_server.rest_port, raw)
    assert statuses(data) == [400], data[:300]
    assert closed, "the connection stayed open after a framing error"
    assert b"Transfer-Encoding" in data
    assert_alive(add_server)


def test_transfer_encoding_split_over_two_lines_400(add_server):
    raw = (b"POST /v1/models/add:predict HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n"
           b"Transfer-Encoding: chunked\r\n\r\n" + chunked(TFS_ADD) + LIVE)
    data, closed = exchange(add_server.rest_port, raw)
    assert statuses(data) == [400] and closed, data[:300]


def test_transfer_encoding_in_http10_400(add_server):
    raw = b"POST /v1/models/add:predict HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(TFS_ADD)
    data, closed = exchange(add_server.rest_port, raw)
    assert statuses(data) == [400] and closed, data[:300]


@pytest.mark.parametrize("order", ["cl-first", "te-first"])
@pytest.mark.parametrize("declared", [5, len(TFS_ADD), 100000])
def test_content_length_and_chunked_chunked_wins_then_close(add_server, order, declared):
    """RFC 9112 §6.3: Transfer-Encoding decides the body; the connection then closes, so whatever a
    Content-Length-reading intermediary would have taken for a next request is never executed."""
    cl = f"Content-Length: {declared}\r\n"
    te = "Transfer-Encoding: chunked\r\n"
    head = (f"POST /v1/models/add:predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"{cl + te if order == 'cl-first' else te + cl}\r\n").encode()
    data, closed = exchange(add_server.rest_port, head + chunked(TFS_ADD) + LIVE)
    assert statuses(data) == [200], data[:300]
    assert closed
    head_end = data.index(b"\r\n\r\n")
    assert b"connection: close" in data[:head_end].lower()
    assert_sum(jloads(data[head_end + 4 :])["outputs"])


def test_chunked_alone_keeps_the_connection(add_server):
    raw = (b"POST /v1/models/add:predict HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
           + chunked(TFS_ADD) + LIVE.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"))
    data, closed = exchange(add_server.rest_port, raw)
    assert statuses(data) == [200, 200], data[:300]


@pytest.mark.parametrize("raw,want", [
    (b"GET /v2/health/live HTTP/1.1\r\n\r\n", 400),
    (b"GET /v2/health/live HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
    (b"GET /v2/health/live HTTP/1.0\r\n\r\n", 200),
    (b"GET /v2/health/live HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 200),
], ids=["1.1-no-host", "two-hosts", "1.0-no-host", "1.1-host"])
def test_host_header(add_server, raw, want):
    data, closed = exchange(add_server.rest_port, raw)
    assert statuses(data) == [want], data[:300]
    assert closed


# ----------------------------------------------------------------------------------------------------------
# memory: buffers grow with bytes received; a server-wide cap; a connection limit
# ----------------------------------------------------------------------------------------------------------

SLOW_SENDERS = 1500


def test_declared_length_reserves_nothing(add_server):
    """1,500 connections declare a 60 MB body and send 76 bytes of it: the server's RSS grows by far less
    than 64 MB (it once allocated 1 MB each), and a GET from someone else stays fast."""
    pid = add_server.proc.pid
    head = (b"POST /v1/models/add:predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 60000000\r\n\r\n")
    before = rss_kib(pid)
    socks = []
    try:
        deadline = time.monotonic() + 60
        for _ in range(SLOW_SENDERS):
            assert time.monotonic() < deadline, "opening the connections took too long"
            s = socket.create_connection(("127.0.0.1", add_server.rest_port), timeout=10)
            s.sendall(head + b"x" * 76)
            socks.append(s)
        time.sleep(1.0)  # let the server read what was sent
        t0 = time.monotonic()
        r = requests.get(add_server.url + "/v2/health/ready", timeout=30)
        get_s = time.monotonic() - t0
        grown_mib = (rss_kib(pid) - before) / 1024
        print(f"{SLOW_SENDERS} slow senders: RSS +{grown_mib:.1f} MiB, GET /v2/health/ready {get_s * 1000:.0f} ms")
        assert r.status_code == 200
        assert grown_mib < 64, f"RSS grew by {grown_mib:.0f} MiB"
        assert get_s < 1.0, f"a GET took {get_s:.2f} s"
    finally:
        for s in socks:
            s.close()
    assert_alive(add_server)


def test_buffered_body_cap_503(models_dir):
    cap = 1 << 20
    srv = ServerProcess("bodycap", ["--model_name=add", f"--model_base_path={models_dir / 'add'}",
                                    f"--rest_api_max_buffered_body_bytes={cap}"], ready_models=["add"]).start()
    head = (b"POST /v1/models/add:predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 4000000\r\n\r\n")
    try:
        holder = socket.create_connection(("127.0.0.1", srv.rest_port), timeout=10)
        holder.sendall(head + b" " * 700_000)  # its buffer doubles up to exactly the cap (1 MiB)
        time.sleep(1.0)
        data, closed = exchange(srv.rest_port, head + b" " * 1000)
        assert statuses(data) == [503] and closed, data[:300]
        assert b"retry" in data
        holder.close()
        time.sleep(0.5)
        r = requests.post(srv.url + "/v1/models/add:predict", data=TFS_ADD, timeout=30)
        assert r.status_code == 200, r.text[:300]
    finally:
        assert srv.stop() == 0


def test_connection_limit_503(models_dir):
    srv = ServerProcess("connlimit", ["--model_name=add", f"--model_base_path={models_dir / 'add'}",
                                      "--rest_api_max_connections=4"], ready_models=["add"]).start()
    try:
        time.sleep(0.5)  # the readiness probes' connections are closed by now
        idle = [socket.create_connection(("127.0.0.1", srv.rest_port), timeout=10) for _ in range(4)]
        time.sleep(0.3)
        data, closed = exchange(srv.rest_port, LIVE)
        assert statuses(data) == [503] and closed, data[:300]
        assert b"too many connections" in data
        for s in idle:
            s.close()
        deadline = time.monotonic() + 5
        while True:
            data, _ = exchange(srv.rest_port, LIVE.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"))
            if statuses(data) == [200] or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert statuses(data) == [200], data[:300]
    finally:
        assert srv.stop() == 0


# ----------------------------------------------------------------------------------------------------------
# JSON: one document, numbers alike on every path
# ----------------------------------------------------------------------------------------------------------

KS_ADD = {"inputs": [{"name": n, "shape": [1, 16], "datatype": "FP32", "data": A1.ravel().tolist()} for n in "ab"]}


@pytest.mark.parametrize("path,body", [
    ("/v1/models/add:predict", TFS_ADD),
    ("/v2/models/add/infer", json.dumps(KS_ADD).encode()),
], ids=["tfs", "kserve"])
def test_json_followed_by_nul_and_garbage_400(add_server, path, body):
    r = requests.post(add_server.url + path, data=body + b"\0garbage", timeout=30)
    assert r.status_code == 400, r.text[:300]
    assert "after the document" in r.json()["error"]
    r = requests.post(add_server.url + path, data=body + b" \n", timeout=30)
    assert r.status_code == 200, r.text[:300]


def kserve_number_body(number: str, datatype_first: bool) -> bytes:
    """An add request whose first element is `number`. With the datatype before the data the typed fast
    scanner reads the numbers; after it, the generic reader does (the type is not known yet)."""
    data = "[" + ",".join([number] + ["1"] * 15) + "]"
    def tensor(name: str) -> str:
        if datatype_first:
            return f'{{"name":"{name}","shape":[1,16],"datatype":"FP32","data":{data}}}'
        return f'{{"name":"{name}","shape":[1,16],"data":{data},"datatype":"FP32"}}'
    return ('{"inputs":[' + tensor("a") + "," + tensor("b") + "]}").encode()


@pytest.mark.parametrize("number", ["0e999999", "1e309", "0.5e400", "1" + "0" * 320])
@pytest.mark.parametrize("datatype_first", [True, False], ids=["fast-path", "reader-path"])
def test_number_too_big_rejected_on_both_paths(add_server, number, datatype_first):
    r = requests.post(add_server.url + "/v2/models/add/infer", data=kserve_number_body(number, datatype_first),
                      timeout=30)
    assert r.status_code == 400, r.text[:300]
    assert "too big" in r.json()["error"].lower()


@pytest.mark.parametrize("number,value", [("1e10", 2e10), ("0e-999999", 0.0), ("2.5E+3", 5000.0), ("0e99", 0.0)])
@pytest.mark.parametrize("datatype_first", [True, False], ids=["fast-path", "reader-path"])
def test_number_accepted_on_both_paths(add_server, number, value, datatype_first):
    r = requests.post(add_server.url + "/v2/models/add/infer", data=kserve_number_body(number, datatype_first),
                      timeout=30)
    assert r.status_code == 200, r.text[:300]
    assert r.json()["outputs"][0]["data"][0] == pytest.approx(value)


# ----------------------------------------------------------------------------------------------------------
# half-closed clients
# ----------------------------------------------------------------------------------------------------------


def test_half_closed_client_gets_its_answer(add_server):
    raw = (f"POST /v1/models/add:predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           f"Content-Length: {len(TFS_ADD)}\r\n\r\n").encode() + TFS_ADD
    with socket.create_connection(("127.0.0.1", add_server.rest_port), timeout=10) as s:
        s.sendall(raw)
        s.shutdown(socket.SHUT_WR)
        data, closed = read_all(s)
    assert statuses(data)[-1:] == [200], data[:300]
    body = data[data.rindex(b"\r\n\r\n") + 4 :]
    assert_sum(jloads(body)["outputs"])


def test_half_closed_client_of_a_slow_run_gets_its_answer(slow_dir):
    """The run is long enough for the engine to ask whether the client is gone while it waits."""
    srv = ServerProcess("halfclose", ["--model_name=slow", f"--model_base_path={slow_dir}"],
                        ready_models=["slow"]).start()
    try:
        x = np.random.default_rng(2).standard_normal((4, 256)).astype(np.float32)
        body = json.dumps({"instances": x.tolist()}).encode()
        raw = (f"POST /v1/models/slow:predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               f"Content-Length: {len(body)}\r\n\r\n").encode() + body
        with socket.create_connection(("127.0.0.1", srv.rest_port), timeout=30) as s:
            s.sendall(raw)
            s.shutdown(socket.SHUT_WR)
            data, _ = read_all(s, timeout_s=30)
        codes = statuses(data)
        assert codes and codes[-1] == 200, data[:300]
        assert set(codes[:-1]) <= {100}, codes
        assert len(jloads(data[data.rindex(b"\r\n\r\n") + 4 :])["predictions"]) == 4
    finally:
        assert srv.stop() == 0
