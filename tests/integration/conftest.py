"""Shared fixtures and helpers for Serval's black-box integration tests.

The suite talks to a real `serval` binary over loopback HTTP:

* ``$SERVAL_BINARY`` (default ``<repo>/build/src/server/serval``) is the server under test. A missing binary
  is a hard error (every test that needs it errors), never a skip.
* ``$SERVAL_MODELS_DIR`` (default ``<repo>/build/models``) is where ``models/make_models.py`` builds the test
  models once per session (idempotent: up-to-date models are not rebuilt).
* ``SERVAL_SKIP_LARGE=1`` leaves out resnet50 (≈100 MB); its tests then fail loudly instead of silently
  passing, because a skip must never turn red into green — set it only for local iteration.

Helpers live here and are imported by the test modules with ``from conftest import ...`` (pytest puts this
directory on ``sys.path``: there is no ``__init__.py``, so the default "prepend" import mode applies).
"""

from __future__ import annotations

import contextlib
import ctypes
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterable

import ml_dtypes
import numpy as np
import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
BINARY = Path(os.environ.get("SERVAL_BINARY", str(REPO / "build" / "src" / "server" / "serval")))
MODELS_DIR = Path(os.environ.get("SERVAL_MODELS_DIR", str(REPO / "build" / "models")))
SKIP_LARGE = os.environ.get("SERVAL_SKIP_LARGE", "") == "1"
_VENV_PY = REPO / ".venv" / "bin" / "python"
PYTHON = str(_VENV_PY) if _VENV_PY.exists() else sys.executable

STARTUP_TIMEOUT_S = 60.0
HTTP_TIMEOUT_S = 30.0  # every request is bounded; nothing here should take more than a second or two
SMALL_CAP = 1 << 20  # --max_request_body_bytes of the second ("small cap") server

# multitype: suffix -> (numpy dtype, KServe datatype, TF dtype)
MULTITYPE = {
    "bool": (np.dtype(np.bool_), "BOOL", "DT_BOOL"),
    "uint8": (np.dtype(np.uint8), "UINT8", "DT_UINT8"),
    "uint16": (np.dtype(np.uint16), "UINT16", "DT_UINT16"),
    "uint32": (np.dtype(np.uint32), "UINT32", "DT_UINT32"),
    "uint64": (np.dtype(np.uint64), "UINT64", "DT_UINT64"),
    "int8": (np.dtype(np.int8), "INT8", "DT_INT8"),
    "int16": (np.dtype(np.int16), "INT16", "DT_INT16"),
    "int32": (np.dtype(np.int32), "INT32", "DT_INT32"),
    "int64": (np.dtype(np.int64), "INT64", "DT_INT64"),
    "fp16": (np.dtype(np.float16), "FP16", "DT_HALF"),
    "bf16": (np.dtype(ml_dtypes.bfloat16), "BF16", "DT_BFLOAT16"),
    "fp32": (np.dtype(np.float32), "FP32", "DT_FLOAT"),
    "fp64": (np.dtype(np.float64), "FP64", "DT_DOUBLE"),
    "string": (np.dtype(object), "BYTES", "DT_STRING"),
}

KSERVE_TO_NP = {v[1]: v[0] for v in MULTITYPE.values()}


# ----------------------------------------------------------------------------------------------------------
# models
# ----------------------------------------------------------------------------------------------------------


def build_models(out_dir: Path, large: bool) -> None:
    names = ["add", "multitype", "mlp"] + (["resnet50"] if large else [])
    cmd = [PYTHON, str(REPO / "models" / "make_models.py"), "--out", str(out_dir), "--only", ",".join(names)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise RuntimeError(f"make_models.py failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")


@pytest.fixture(scope="session")
def models_dir() -> Path:
    MODELS_DIR.mkdir(parents=True, exist_ok=True)
    build_models(MODELS_DIR, large=not SKIP_LARGE)
    return MODELS_DIR


@pytest.fixture(scope="session")
def slow_dir() -> Path:
    """The deliberately slow model (~150 ms per row on this machine kind), built on first use."""
    MODELS_DIR.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([PYTHON, str(REPO / "models" / "make_models.py"), "--out", str(MODELS_DIR), "--only", "slow"],
                          capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise RuntimeError(f"make_models.py --only slow failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return MODELS_DIR / "slow"


def rpc_outcomes(futures) -> list[tuple[str, str]]:
    """(status code name, details) of each gRPC future, in order: ("OK", "") for a success."""
    import grpc
    outcomes = []
    for f in futures:
        try:
            f.result()
            outcomes.append(("OK", ""))
        except grpc.RpcError as e:
            outcomes.append((e.code().name, e.details() or ""))
    return outcomes


def kserve_slow_request(rows: int = 1):
    """A KServe gRPC ModelInferRequest for the slow model (`slow_dir`): `rows` rows of 256 floats."""
    from tritonclient.grpc import service_pb2
    x = np.random.default_rng(2).standard_normal((rows, 256)).astype(np.float32)
    req = service_pb2.ModelInferRequest(model_name="slow")
    req.inputs.add(name="x", datatype="FP32", shape=[rows, 256])
    req.raw_input_contents.append(x.tobytes())
    return req


def write_model_config(path: Path, models: Path, include_resnet: bool) -> None:
    def entry(name: str, extra: str = "") -> str:
        return (
            "  config {\n"
            f"    name: '{name}'\n"
            f"    base_path: '{models / name}'\n"
            "    model_platform: 'onnx'\n"
            f"{extra}"
            "  }\n"
        )

    add_extra = (
        "    model_version_policy { all {} }\n"
        "    version_labels { key: 'stable' value: 1 }\n"
        "    version_labels { key: 'canary' value: 2 }\n"
    )
    text = "model_config_list {\n" + entry("add", add_extra) + entry("multitype") + entry("mlp")
    if include_resnet:
        text += entry("resnet50")
    text += "}\n"
    path.write_text(text)


# ----------------------------------------------------------------------------------------------------------
# server process
# ----------------------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def require_binary() -> Path:
    if not BINARY.is_file() or not os.access(BINARY, os.X_OK):
        raise RuntimeError(
            f"serval binary not found or not executable at {BINARY} (set $SERVAL_BINARY); "
            "this is a hard error, not a skip"
        )
    return BINARY


def _thread_states(pid: int) -> str:
    """One line a thread: name, state and the kernel function it waits in (futex, epoll...)."""
    lines = []
    for task in sorted(Path(f"/proc/{pid}/task").glob("*")):
        try:
            name = (task / "comm").read_text().strip()
            state = (task / "stat").read_text().rsplit(")", 1)[1].split()[0]
            wchan = (task / "wchan").read_text().strip()
        except OSError:
            continue
        lines.append(f"  {task.name} {name} {state} {wchan}")
    return "\n".join(lines)


def _thread_stacks(pid: int) -> str:
    """Every thread's stack (gdb, bounded to 60 s), or why there are none."""
    gdb = shutil.which("gdb")
    if gdb is None:
        return "  <no gdb: no stacks>"
    try:
        out = subprocess.run([gdb, "-p", str(pid), "-batch", "-nx", "-ex", "thread apply all bt 30"],
                             capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        return "  <gdb took over 60 s>"
    return "\n".join(line for line in out.stdout.splitlines() if line.startswith(("Thread", "#")))


def tail(path: Path, lines: int = 60) -> str:
    try:
        data = path.read_bytes()
    except OSError as e:
        return f"<cannot read {path}: {e}>"
    text = data.decode("utf-8", "replace").splitlines()
    return "\n".join(text[-lines:])


class ServerProcess:
    """One running serval, its ports and its log. `args` must not contain the port/address flags."""

    _all: list["ServerProcess"] = []

    def __init__(self, name: str, args: list[str], env: dict | None = None, ready_models: Iterable[str] = ()):
        self.name = name
        self.args = list(args)
        self.env = env
        self.ready_models = list(ready_models)
        self.proc: subprocess.Popen | None = None
        self.log_path = Path(tempfile.mkstemp(prefix=f"serval-{name}-", suffix=".log")[1])
        self.rest_port = 0
        self.grpc_port = 0
        self.crash_reported = False
        self.restarts = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.rest_port}"

    def start(self) -> "ServerProcess":
        binary = require_binary()
        last_error = ""
        for _attempt in range(3):  # a free port can be taken between free_port() and bind(): retry
            self.rest_port, self.grpc_port = free_port(), free_port()
            cmd = [
                str(binary),
                f"--rest_api_port={self.rest_port}",
                f"--port={self.grpc_port}",
                "--rest_api_address=127.0.0.1",
                *self.args,
            ]
            with open(self.log_path, "ab") as log:
                log.write(f"\n===== start: {' '.join(cmd)}\n".encode())
                log.flush()
                self.proc = subprocess.Popen(
                    cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=self.env
                )
            ok, last_error = self._wait_ready()
            if ok:
                if self not in ServerProcess._all:
                    ServerProcess._all.append(self)
                self.crash_reported = False
                return self
            self.stop()
            if "in use" not in tail(self.log_path, 20).lower():
                break
        raise RuntimeError(
            f"serval ({self.name}) did not become ready: {last_error}\n--- log tail ({self.log_path}) ---\n"
            + tail(self.log_path)
        )

    def _wait_ready(self) -> tuple[bool, str]:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        pending = ["/v2/health/ready"] + [f"/v2/models/{m}/ready" for m in self.ready_models]
        last = "no answer"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False, f"exited with status {self.proc.returncode} during start-up"
            try:
                r = requests.get(self.url + pending[0], timeout=2)
                last = f"GET {pending[0]} -> {r.status_code} {r.text[:200]}"
                if r.status_code == 200:
                    pending.pop(0)
                    if not pending:
                        return True, ""
                    continue
            except requests.RequestException as e:
                last = f"GET {pending[0]} -> {type(e).__name__}"
            time.sleep(0.1)
        return False, f"not ready after {STARTUP_TIMEOUT_S:.0f}s (last: {last})"

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> int | None:
        """SIGTERM, then kill after 10 s; a stopped server is no longer watched for crashes."""
        if self in ServerProcess._all:
            ServerProcess._all.remove(self)
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                # Shown with the test's failure: where the server was when it had to be killed.
                print(f"server {self.name} still running 10 s after SIGTERM; its threads:\n"
                      f"{_thread_states(self.proc.pid)}\nits stacks:\n{_thread_stacks(self.proc.pid)}\n"
                      "its log's end:\n"
                      f"{self.log_since(max(self.log_size() - 3000, 0))}", flush=True)
                self.proc.kill()
                self.proc.wait(timeout=10)
        return self.proc.returncode

    def restart(self) -> None:
        self.stop()
        self.restarts += 1
        self.start()

    def log_size(self) -> int:
        try:
            return self.log_path.stat().st_size
        except OSError:
            return 0

    def log_since(self, offset: int, max_bytes: int = 8000) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(offset)
                data = f.read()
        except OSError:
            return ""
        if len(data) > max_bytes:
            data = b"...\n" + data[-max_bytes:]
        return data.decode("utf-8", "replace")


@pytest.fixture(scope="session")
def server(models_dir, tmp_path_factory) -> ServerProcess:
    """The main server: add (v1, v2; labels stable→1, canary→2), multitype, mlp, resnet50 (unless skipped)."""
    cfg = tmp_path_factory.mktemp("config") / "models.config"
    include_resnet = (models_dir / "resnet50" / "1" / "model.onnx").is_file() and not SKIP_LARGE
    write_model_config(cfg, models_dir, include_resnet)
    ready = ["add", "multitype", "mlp"] + (["resnet50"] if include_resnet else [])
    srv = ServerProcess(
        "main", [f"--model_config_file={cfg}", "--file_system_poll_wait_seconds=1"], ready_models=ready
    )
    srv.start()
    # policy `all`: both versions of add must be AVAILABLE before the tests that route by version run
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        r = requests.get(srv.url + "/v1/models/add", timeout=5)
        if r.status_code == 200 and sorted(
            s["version"] for s in r.json().get("model_version_status", []) if s.get("state") == "AVAILABLE"
        ) == ["1", "2"]:
            break
        time.sleep(0.1)
    yield srv
    rc = srv.stop()
    # a clean SIGTERM shutdown exits 0 (main.cc); anything else (a crash at shutdown) is a failure worth seeing
    assert rc == 0, f"main server exited with {rc} on SIGTERM\n{tail(srv.log_path)}"


@pytest.fixture(scope="session")
def small_server(models_dir) -> ServerProcess:
    """A second server with a 1 MiB body cap, serving only add (both versions, latest policy → v2)."""
    srv = ServerProcess(
        "smallcap",
        [
            "--model_name=add",
            f"--model_base_path={models_dir / 'add'}",
            f"--max_request_body_bytes={SMALL_CAP}",
            "--file_system_poll_wait_seconds=1",
        ],
        ready_models=["add"],
    )
    srv.start()
    yield srv
    rc = srv.stop()
    assert rc == 0, f"small-cap server exited with {rc} on SIGTERM\n{tail(srv.log_path)}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """A server crash fails the test during which it happened (then the server is restarted for the rest)."""
    offsets = {id(s): s.log_size() for s in ServerProcess._all}
    item._serval_log_offsets = offsets  # for the failure report below
    try:
        return (yield)
    finally:
        dead = [s for s in ServerProcess._all if not s.alive() and not s.crash_reported]
        if dead:
            msgs = []
            for s in dead:
                s.crash_reported = True
                msgs.append(
                    f"serval ({s.name}) DIED during this test (exit status {s.proc.returncode})\n"
                    f"--- log since test start ---\n{s.log_since(offsets.get(id(s), 0))}"
                )
                with contextlib.suppress(Exception):
                    s.restart()
            raise AssertionError("\n".join(msgs))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if call.when == "call" and report.failed:
        offsets = getattr(item, "_serval_log_offsets", {})
        for s in ServerProcess._all:
            text = s.log_since(offsets.get(id(s), 0), max_bytes=4000)
            if text.strip():
                report.sections.append((f"serval ({s.name}) log during test", text))
    return report


# ----------------------------------------------------------------------------------------------------------
# HTTP helpers
# ----------------------------------------------------------------------------------------------------------


def _parse_int(text: str):
    # "-0" is how a shortest-round-trip printer writes float -0.0; Python would make it int 0 and lose the sign
    return -0.0 if text == "-0" else int(text)


def jloads(data: bytes | str):
    """JSON with the NaN / Infinity / -Infinity tokens TF Serving emits (Python's json accepts them)."""
    return json.loads(data, parse_int=_parse_int)


def post_json(srv: ServerProcess, path: str, body, headers: dict | None = None) -> requests.Response:
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)  # allow_nan: NaN/Infinity tokens
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    return requests.post(srv.url + path, data=data, headers=h, timeout=HTTP_TIMEOUT_S)


def get(srv: ServerProcess, path: str) -> requests.Response:
    return requests.get(srv.url + path, timeout=HTTP_TIMEOUT_S)


def raw_request(srv: ServerProcess, method: str, path: str, body: bytes = b"", headers: dict | None = None):
    """Send `path` exactly as given (requests/urllib3 would normalise `..` and re-quote); returns (status, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", srv.rest_port, timeout=HTTP_TIMEOUT_S)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        h = dict(headers or {})
        if body or method in ("POST", "PUT"):
            h.setdefault("Content-Length", str(len(body)))
        for k, v in h.items():
            conn.putheader(k, v)
        conn.endheaders()
        if body:
            conn.send(body)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def error_of(resp_body: bytes) -> str:
    """The `error` string of a `{"error": "..."}` body (asserts the shape)."""
    obj = jloads(resp_body)
    assert isinstance(obj, dict) and isinstance(obj.get("error"), str) and obj["error"], obj
    return obj["error"]


def assert_error(resp: requests.Response, status: int | tuple[int, ...]) -> str:
    statuses = (status,) if isinstance(status, int) else status
    assert resp.status_code in statuses, f"expected {statuses}, got {resp.status_code}: {resp.text[:500]}"
    return error_of(resp.content)


ADD_A = (np.arange(32, dtype=np.float32).reshape(2, 16) * np.float32(0.25)) - np.float32(3.0)
ADD_B = np.linspace(-1.5, 2.5, 32, dtype=np.float32).reshape(2, 16)


def assert_alive(srv: ServerProcess) -> None:
    """Liveness as docs/reliability.md §6 defines it: /v2/health/live is 200 and an add inference is right."""
    assert srv.alive(), f"serval ({srv.name}) is not running (exit {srv.proc.returncode})\n{tail(srv.log_path)}"
    r = get(srv, "/v2/health/live")
    assert r.status_code == 200, f"/v2/health/live -> {r.status_code} {r.text[:300]}"
    r = post_json(srv, "/v1/models/add:predict", {"inputs": {"a": ADD_A.tolist(), "b": ADD_B.tolist()}})
    assert r.status_code == 200, f"add predict after hostile request -> {r.status_code} {r.text[:300]}"
    got = np.array(jloads(r.content)["outputs"], dtype=np.float32)
    np.testing.assert_array_equal(got, ADD_A + ADD_B)  # exact: the sums are representable


# ----------------------------------------------------------------------------------------------------------
# onnxruntime reference
# ----------------------------------------------------------------------------------------------------------


class Reference:
    """Runs the same model.onnx in-process with onnxruntime. Feeds and results are numpy arrays; BF16 is
    `ml_dtypes.bfloat16` and strings are object arrays (str or bytes)."""

    def __init__(self, models: Path):
        self.models = models
        self._sessions = {}

    def session(self, model: str, version: int = 1):
        import onnxruntime as ort

        key = (model, version)
        if key not in self._sessions:
            so = ort.SessionOptions()
            so.log_severity_level = 3
            path = self.models / model / str(version) / "model.onnx"
            self._sessions[key] = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        return self._sessions[key]

    @staticmethod
    def _string_ortvalue(arr: np.ndarray):
        # onnxruntime's Python API cannot build a string OrtValue from numpy: take it from a Constant model.
        import onnxruntime as ort
        from onnx import TensorProto, helper

        vals = [v.encode() if isinstance(v, str) else bytes(v) for v in arr.ravel()]
        tensor = helper.make_tensor("s", TensorProto.STRING, list(arr.shape), vals)
        graph = helper.make_graph(
            [helper.make_node("Constant", [], ["s"], value=tensor)],
            "const",
            [],
            [helper.make_tensor_value_info("s", TensorProto.STRING, None)],
        )
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        m.ir_version = 8
        return ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run_with_ort_values(
            ["s"], {}
        )[0]

    def run(self, model: str, feeds: dict[str, np.ndarray], version: int = 1) -> dict[str, np.ndarray]:
        import onnxruntime as ort
        from onnx import TensorProto

        sess = self.session(model, version)
        ovs = {}
        for name, arr in feeds.items():
            if arr.dtype == object:
                ovs[name] = self._string_ortvalue(arr)
            elif arr.dtype == np.dtype(ml_dtypes.bfloat16):
                ovs[name] = ort.OrtValue.ortvalue_from_numpy_with_onnx_type(
                    np.ascontiguousarray(arr).view(np.uint16), TensorProto.BFLOAT16
                )
            else:
                ovs[name] = ort.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(arr))
        names = [o.name for o in sess.get_outputs()]
        out = {}
        for name, ov in zip(names, sess.run_with_ort_values(names, ovs)):
            if ov.data_type() == "tensor(bfloat16)":
                n = ov.tensor_size_in_bytes()
                raw = ctypes.string_at(ov.data_ptr(), n) if n else b""
                out[name] = np.frombuffer(raw, dtype=np.uint16).view(ml_dtypes.bfloat16).reshape(ov.shape())
            else:
                out[name] = ov.numpy()
        return out


@pytest.fixture(scope="session")
def ref(models_dir) -> Reference:
    return Reference(models_dir)


# ----------------------------------------------------------------------------------------------------------
# comparisons
# ----------------------------------------------------------------------------------------------------------


def _uint_view(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    if a.dtype == np.bool_:
        return a.view(np.uint8)
    return a.view({1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}[a.dtype.itemsize])


def assert_bitwise_equal(got: np.ndarray, want: np.ndarray, what: str = "") -> None:
    """Identity outputs: same dtype, shape and bits (NaN payloads included); strings compared as bytes."""
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    if want.dtype == object:
        def as_bytes(v):
            return v.encode() if isinstance(v, str) else bytes(v)

        g = [as_bytes(v) for v in got.ravel()]
        w = [as_bytes(v) for v in want.ravel()]
        assert g == w, f"{what}: strings differ:\n got={g}\nwant={w}"
        return
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype} != {want.dtype}"
    if not np.array_equal(_uint_view(got), _uint_view(want)):
        bad = np.flatnonzero(_uint_view(got).ravel() != _uint_view(want).ravel())
        raise AssertionError(
            f"{what}: {bad.size} element(s) differ bitwise, first at {bad[:5]}: "
            f"got {got.ravel()[bad[:5]]} want {want.ravel()[bad[:5]]}"
        )


def assert_close(got: np.ndarray, want: np.ndarray, rtol: float = 1e-5, atol: float = 0.0, what: str = "") -> None:
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, equal_nan=True, err_msg=what)


# ----------------------------------------------------------------------------------------------------------
# multitype data
# ----------------------------------------------------------------------------------------------------------

_BF16_VALUES = np.array([1.5, -2.25, 3.140625, 1.0e20, -0.0, 2.0**-126, 0.15625, 65280.0], np.float32)
_STRINGS = ["héllo wörld", "", 'quote" back\\slash', "tab\tnew\nline", "\u2603\u2603", "serval", "z" * 300, "ok"]


def multitype_arrays(rows: int, vary_rows: bool = False) -> dict[str, np.ndarray]:
    """Values that every JSON number path must carry exactly (extremes of each integer type, float
    values with full mantissas, subnormals, strings needing escapes). Shapes differ per dtype; with
    vary_rows the first dimension differs too (columnar only)."""
    rng = np.random.default_rng(99)
    out = {}
    for i, (t, (dt, _, _)) in enumerate(MULTITYPE.items()):
        n = rows + (i % 3 if vary_rows else 0)
        k = 2 + i % 3
        size = n * k
        if t == "bool":
            vals = np.array([True, False, True, True, False][: size] * size, dtype=bool)[:size]
        elif t == "string":
            vals = np.array([_STRINGS[j % len(_STRINGS)] for j in range(size)], dtype=object)
        elif t == "bf16":
            vals = np.resize(_BF16_VALUES, size).astype(ml_dtypes.bfloat16)
        elif t == "fp16":
            vals = np.resize(np.array([1.5, -65504.0, 6.1035156e-05, 5.9604645e-08, 0.1, -0.0], np.float16), size)
        elif dt.kind == "f":
            extremes = [np.finfo(dt).max, np.finfo(dt).smallest_subnormal, -np.finfo(dt).tiny]
            vals = rng.standard_normal(size).astype(dt)
            vals[: min(3, size)] = np.array(extremes[: min(3, size)], dtype=dt)
        else:
            info = np.iinfo(dt)
            extremes = [info.min, info.max, 0]
            if dt.itemsize == 8:
                extremes.append(2**53 + 1)  # not representable as a double: must not go through one
            vals = rng.integers(info.min, info.max, size=size, dtype=dt, endpoint=True)
            vals[: min(len(extremes), size)] = np.array(extremes[: min(len(extremes), size)], dtype=dt)
        out[t] = vals.reshape(n, k)
    return out


def _flat(value) -> list:
    return [x for v in value for x in _flat(v)] if isinstance(value, list) else [value]


def from_json_value(value, like: np.ndarray) -> np.ndarray:
    flat = _flat(value)
    if like.dtype == object:
        assert all(isinstance(x, str) for x in flat), f"non-string in a DT_STRING output: {flat[:5]}"
        return np.array(value, dtype=object).reshape(like.shape)
    if like.dtype == np.bool_:
        assert all(isinstance(x, bool) for x in flat), f"DT_BOOL must be JSON true/false: {flat[:5]}"
        return np.array(value, dtype=bool)
    if like.dtype.kind in "iu":
        # integers are written as JSON integers (1, not 1.0), exactly (int64/uint64 extremes too)
        assert all(isinstance(x, int) and not isinstance(x, bool) for x in flat), f"{like.dtype}: {flat[:5]}"
        return np.array(value, dtype=like.dtype)
    assert all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in flat), flat[:5]
    return np.array(value, dtype=np.float64).astype(like.dtype)


def multitype_random_bits(seed: int, rows: int = 2) -> dict[str, np.ndarray]:
    """Raw random bit patterns (NaN payloads, infinities, subnormals) and strings with NUL, non-UTF-8 bytes
    and empty values: only a binary path can carry these exactly."""
    rng = np.random.default_rng(seed)
    out = {}
    for i, (t, (dt, _, _)) in enumerate(MULTITYPE.items()):
        shape = (rows, 1 + i % 4)
        n = shape[0] * shape[1]
        if t == "string":
            words = [b"", b"a", b"x\x00y", b"\xff\xfe\x00", "h\u00e9llo \u2603".encode(), b"z" * 1000, b"\n\r\t"]
            out[t] = np.array([words[j % len(words)] for j in range(n)], dtype=object).reshape(shape)
        elif t == "bool":
            out[t] = rng.integers(0, 2, size=shape).astype(np.bool_)
        else:
            raw = np.frombuffer(rng.bytes(n * dt.itemsize), dtype=np.uint8)
            out[t] = raw.view(dt).reshape(shape).copy()
            if dt.kind == "f" or t == "bf16":
                # make sure the interesting patterns are present, whatever the random draw
                bits = out[t].view({2: np.uint16, 4: np.uint32, 8: np.uint64}[dt.itemsize]).ravel()
                exp_all_ones = {2: 0x7C00 if t == "fp16" else 0x7F80, 4: 0x7F800000, 8: 0x7FF0000000000000}[dt.itemsize]
                bits[0] = exp_all_ones | 1  # signalling-NaN payload
                if bits.size > 1:
                    bits[1] = exp_all_ones  # +inf
    return out


# ----------------------------------------------------------------------------------------------------------
# KServe binary tensor data extension
# ----------------------------------------------------------------------------------------------------------


def kserve_bytes(values: Iterable) -> bytes:
    """BYTES tensor in binary form: each element is a 4-byte little-endian length then its bytes."""
    out = bytearray()
    for v in values:
        b = v.encode() if isinstance(v, str) else bytes(v)
        out += len(b).to_bytes(4, "little") + b
    return bytes(out)


def tensor_to_raw(arr: np.ndarray) -> bytes:
    if arr.dtype == object:
        return kserve_bytes(arr.ravel())
    return np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()


def raw_to_tensor(raw: bytes, datatype: str, shape: list[int]) -> np.ndarray:
    if datatype == "BYTES":
        vals, i = [], 0
        while i < len(raw):
            n = int.from_bytes(raw[i : i + 4], "little")
            vals.append(raw[i + 4 : i + 4 + n])
            i += 4 + n
        return np.array(vals, dtype=object).reshape(shape)
    return np.frombuffer(raw, dtype=KSERVE_TO_NP[datatype]).reshape(shape)


def json_data_to_tensor(data, datatype: str, shape: list[int]) -> np.ndarray:
    """A KServe JSON `data` array (flat or nested) as numpy; BYTES elements become bytes."""
    dt = KSERVE_TO_NP[datatype]
    if datatype == "BYTES":
        flat = np.array(data, dtype=object).ravel()
        return np.array([d.encode() if isinstance(d, str) else d for d in flat], dtype=object).reshape(shape)
    if dt.kind == "f" or dt == np.dtype(ml_dtypes.bfloat16):
        # JSON numbers are doubles; narrowing a double that came from the exact value is exact
        return np.array(data, dtype=np.float64).astype(dt).reshape(shape)
    return np.array(data, dtype=dt).reshape(shape)


def kserve_binary_request(header: dict, blobs: list[bytes]) -> tuple[bytes, dict]:
    """The JSON header followed by the blobs; returns (body, headers)."""
    head = json.dumps(header).encode()
    body = head + b"".join(blobs)
    return body, {"Inference-Header-Content-Length": str(len(head)), "Content-Type": "application/octet-stream"}


def parse_kserve_response(resp: requests.Response) -> tuple[dict, dict[str, np.ndarray]]:
    """(header JSON, {output name: numpy array}) for a KServe infer response, JSON or binary outputs."""
    hl = resp.headers.get("Inference-Header-Content-Length")
    body = resp.content
    if hl is None:
        header, rest = jloads(body), b""
    else:
        n = int(hl)
        header, rest = jloads(body[:n]), body[n:]
    tensors, offset = {}, 0
    for out in header.get("outputs", []):
        size = (out.get("parameters") or {}).get("binary_data_size")
        if size is not None:
            raw = rest[offset : offset + size]
            assert len(raw) == size, f"output {out['name']}: {len(raw)} binary bytes present, {size} declared"
            offset += size
            tensors[out["name"]] = raw_to_tensor(raw, out["datatype"], out["shape"])
        else:
            tensors[out["name"]] = json_data_to_tensor(out["data"], out["datatype"], out["shape"])
    assert offset == len(rest), f"{len(rest) - offset} unexplained trailing bytes after the binary outputs"
    return header, tensors
