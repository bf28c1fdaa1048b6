"""gRPC resource bounds: idle connections must not add server threads (the sync server's threads are
capped by --grpc_max_threads), and the server keeps answering while they are open."""
from __future__ import annotations

import socket
import time
from pathlib import Path

import numpy as np
import pytest
import tritonclient.grpc as grpcclient

from conftest import ServerProcess

IDLE_CONNECTIONS = 1000
# An HTTP/2 client connection preface followed by an empty SETTINGS frame: a real, idle gRPC connection.
HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])


def thread_count(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    raise AssertionError("no Threads line")


def infer_add(client: grpcclient.InferenceServerClient, value: float) -> None:
    a = np.full((1, 16), value, dtype=np.float32)
    b = np.ones((1, 16), dtype=np.float32)
    inputs = [grpcclient.InferInput("a", [1, 16], "FP32"), grpcclient.InferInput("b", [1, 16], "FP32")]
    inputs[0].set_data_from_numpy(a)
    inputs[1].set_data_from_numpy(b)
    result = client.infer("add", inputs, client_timeout=30)
    np.testing.assert_array_equal(result.as_numpy("sum"), a + b)


@pytest.fixture(scope="module")
def grpc_server(models_dir):
    srv = ServerProcess("grpc-resources", [f"--model_name=add", f"--model_base_path={models_dir / 'add'}",
                                           "--grpc_max_threads=8"], ready_models=["add"])
    srv.start()
    yield srv
    rc = srv.stop()
    assert rc == 0, f"grpc-resources server exited with {rc} on SIGTERM"


def test_idle_connections_do_not_grow_threads(grpc_server):
    client = grpcclient.InferenceServerClient(f"127.0.0.1:{grpc_server.grpc_port}")
    for i in range(50):  # warm up: every thread the server will use under this traffic exists now
        infer_add(client, float(i))
    baseline = thread_count(grpc_server.proc.pid)

    sockets = []
    try:
        for _ in range(IDLE_CONNECTIONS):
            s = socket.create_connection(("127.0.0.1", grpc_server.grpc_port), timeout=10)
            s.sendall(HTTP2_PREFACE)
            sockets.append(s)
        time.sleep(1.0)  # let the server accept and settle every connection
        for i in range(200):  # active traffic while the idle connections stay open
            infer_add(client, float(i))
        with_idle = thread_count(grpc_server.proc.pid)
        open_fds = len(list(Path(f"/proc/{grpc_server.proc.pid}/fd").iterdir()))
    finally:
        for s in sockets:
            s.close()
    print(f"threads: {baseline} before, {with_idle} with {IDLE_CONNECTIONS} idle connections; fds {open_fds}")
    assert open_fds >= IDLE_CONNECTIONS, f"only {open_fds} fds open: the idle connections were not accepted"
    assert with_idle <= baseline + 2, f"threads grew from {baseline} to {with_idle} with {IDLE_CONNECTIONS} idle connections"
    assert with_idle <= 8 + 16, f"{with_idle} threads is more than the gRPC cap plus the fixed pools"
    infer_add(client, 1.0)  # still serving after the connections close
