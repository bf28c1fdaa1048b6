"""Fixtures for serval-model's tests: TF test models (built once per session) and a real `serval` on loopback.

Run with the tools venv: .venv-tools/bin/python -m pytest tools/model/tests -q   (slow ones: -m slow)
$SERVAL_BINARY (default <repo>/build/src/server/serval) is the server for the served-mode tests; a missing
binary fails those tests, never skips them.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
REPO = HERE.parents[2]
BINARY = Path(os.environ.get("SERVAL_BINARY", str(REPO / "build" / "src" / "server" / "serval")))
TOOL = Path(sys.executable).parent / "serval-model"

import fixtures  # noqa: E402


class Models:
    """The TF test models under one directory, each built on first use: `models / "digits"` builds digits."""

    def __init__(self, root: Path):
        self.root = root
        self._built: set[str] = set()

    def __truediv__(self, name: str) -> Path:
        if name not in self._built:
            fixtures.MAKERS[name](self.root)
            self._built.add(name)
        return self.root / name


@pytest.fixture(scope="session")
def models(tmp_path_factory) -> Models:
    """TF test models: half_plus_two, half_plus_two_tf1, digits, custom_op, var_len, string_op."""
    return Models(tmp_path_factory.mktemp("tf-models"))


@pytest.fixture(scope="session")
def converted_hp2(models, tmp_path_factory) -> Path:
    """half_plus_two converted once (every signature); tests must not modify it."""
    out = tmp_path_factory.mktemp("onnx") / "half_plus_two"
    run_tool("convert", str(models / "half_plus_two"), "--out", str(out))
    return out


@pytest.fixture(scope="session")
def converted_digits(models, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("onnx") / "digits"
    run_tool("convert", str(models / "digits" / "base" / "1"), "--out", str(out))
    return out


def run_tool(*args: str, expect: int = 0, timeout: float = 300) -> subprocess.CompletedProcess:
    """Runs the installed console script (the same entry point users run)."""
    proc = subprocess.run([str(TOOL), *args], capture_output=True, text=True, timeout=timeout)
    if proc.returncode != expect:
        raise AssertionError(f"serval-model {' '.join(args)}: exit {proc.returncode}, expected {expect}\n"
                             f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr[-4000:]}")
    return proc


def in_process(*args: str) -> int:
    """The CLI in this process (TensorFlow is imported once per session: much faster than a subprocess)."""
    from serval_model.cli import main

    return main(list(args))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Serval:
    """The real serval binary on loopback; stopped (SIGTERM, then SIGKILL) on exit."""

    def __init__(self, args: list[str], log_path: Path):
        if not BINARY.exists():
            raise AssertionError(f"serval binary not found at {BINARY} (build it: scripts/build, or set "
                                 f"SERVAL_BINARY)")
        self.rest = free_port()
        self.grpc = free_port()
        self.url = f"http://127.0.0.1:{self.rest}"
        self.log_path = log_path
        self._log = open(log_path, "w")
        self.proc = subprocess.Popen([str(BINARY), f"--rest_api_port={self.rest}", f"--port={self.grpc}",
                                      "--rest_api_address=127.0.0.1", *args],
                                     stdout=self._log, stderr=subprocess.STDOUT)

    def wait_available(self, model: str, path_suffix: str = "", timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"serval exited {self.proc.returncode}:\n{self.log()}")
            with contextlib.suppress(requests.RequestException):
                r = requests.get(f"{self.url}/v1/models/{model}{path_suffix}", timeout=5)
                last = r.text
                if r.status_code == 200 and any(v["state"] == "AVAILABLE"
                                                 for v in r.json()["model_version_status"]):
                    return r.json()
            time.sleep(0.2)
        raise AssertionError(f"{model}{path_suffix} not AVAILABLE in {timeout}s (last: {last})\n{self.log()}")

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text()[-6000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()


@pytest.fixture
def serval_server(tmp_path):
    servers: list[Serval] = []

    def start(*args: str) -> Serval:
        server = Serval(list(args), tmp_path / f"serval-{len(servers)}.log")
        servers.append(server)
        return server

    yield start
    for s in servers:
        s.stop()


def write_config(path: Path, entries: list[tuple[str, Path, str]]) -> None:
    text = "model_config_list {\n"
    for name, base, extra in entries:
        text += f"  config {{ name: '{name}' base_path: '{base}' model_platform: 'onnx' {extra} }}\n"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text + "}\n")
    os.replace(tmp, path)


def read_json(path: Path) -> dict:
    return json.loads(Path(path).read_text())
