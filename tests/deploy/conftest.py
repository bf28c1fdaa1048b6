"""Helpers for the deployment tests: real Serval replicas on fixed loopback ports, a real nginx in front.

* ``$SERVAL_BINARY`` (default ``<repo>/build/src/server/serval``) is the replica binary; missing = hard error.
* Models are built by ``models/make_models.py`` into ``$SERVAL_MODELS_DIR`` (default ``<repo>/build/models``),
  the same place the integration suite uses.
* The tools the chart and CRD tests need (helm; kubernetes-validate, PyYAML and jsonschema in their own
  venv) are installed by ``scripts/setup`` into ``.deps`` (or ``$SERVAL_DEPLOY_TOOLS``); a missing tool is a
  hard error, never a skip.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
BINARY = Path(os.environ.get("SERVAL_BINARY", str(REPO / "build" / "src" / "server" / "serval")))
MODELS_DIR = Path(os.environ.get("SERVAL_MODELS_DIR", str(REPO / "build" / "models")))
_VENV_PY = REPO / ".venv" / "bin" / "python"
PYTHON = str(_VENV_PY) if _VENV_PY.exists() else sys.executable
# helm and the schema validator: scripts/setup puts them in .deps, or in $SERVAL_DEPLOY_TOOLS when set
TOOLS = Path(os.environ.get("SERVAL_DEPLOY_TOOLS", str(REPO / ".deps")))
HELM = TOOLS / "helm" / "bin" / "helm"
KUBE_VALIDATE = TOOLS / "kube-tools" / "bin" / "kubernetes-validate"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as e:
        return f"<cannot read {path}: {e}>"


def make_models(names: list[str]) -> Path:
    MODELS_DIR.mkdir(parents=True, exist_ok=True)
    cmd = [PYTHON, str(REPO / "models" / "make_models.py"), "--out", str(MODELS_DIR), "--only", ",".join(names)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise RuntimeError(f"make_models.py failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return MODELS_DIR


def require_binary() -> Path:
    if not BINARY.is_file() or not os.access(BINARY, os.X_OK):
        raise RuntimeError(f"serval binary not found at {BINARY} (set $SERVAL_BINARY); a hard error, not a skip")
    return BINARY


class Replica:
    """One serval on fixed loopback ports, so that a replacement can take the same ports (a rolling restart)."""

    def __init__(self, name: str, args: list[str], workdir: Path):
        self.name = name
        self.args = args
        self.rest_port = free_port()
        self.grpc_port = free_port()
        self.log_path = workdir / f"{name}.log"
        self.proc: subprocess.Popen | None = None
        self.generation = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.rest_port}"

    def start(self, timeout_s: float = 60.0) -> "Replica":
        self.generation += 1
        cmd = [str(require_binary()), f"--rest_api_port={self.rest_port}", f"--port={self.grpc_port}",
               "--rest_api_address=127.0.0.1", *self.args]
        with open(self.log_path, "ab") as log:
            log.write(f"\n===== generation {self.generation}: {' '.join(cmd)}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode} at start\n{tail(self.log_path)}")
            try:
                if requests.get(self.url + "/v2/health/ready", timeout=2).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} not ready after {timeout_s:.0f} s\n{tail(self.log_path)}")

    def terminate(self, timeout_s: float = 30.0) -> int:
        """SIGTERM and wait for the drain to finish; returns the exit status."""
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout_s)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def metric(self, name: str, **labels) -> float:
        """Sum of a series' samples on this replica's /metrics whose labels include `labels`."""
        text = requests.get(self.url + "/metrics", timeout=5).text
        total = 0.0
        for line in text.splitlines():
            if not line.startswith(name) or line.startswith("#"):
                continue
            head, _, value = line.rpartition(" ")
            series, _, rest = head.partition("{")
            if series != name:
                continue
            if all(f'{k}="{v}"' in rest for k, v in labels.items()):
                total += float(value)
        return total


class Nginx:
    """A real nginx in the foreground with its own prefix, pid file and logs (nothing of the system's)."""

    def __init__(self, workdir: Path, site_conf: str):
        self.prefix = workdir / "nginx"
        (self.prefix / "logs").mkdir(parents=True, exist_ok=True)
        (self.prefix / "conf").mkdir(parents=True, exist_ok=True)
        site = self.prefix / "conf" / "serval.conf"
        site.write_text(site_conf)
        self.conf = self.prefix / "conf" / "nginx.conf"
        self.conf.write_text(
            "daemon off;\n"
            "worker_processes 1;\n"
            f"pid {self.prefix}/logs/nginx.pid;\n"
            f"error_log {self.prefix}/logs/error.log warn;\n"
            "events { worker_connections 1024; }\n"
            "http {\n"
            f"  client_body_temp_path {self.prefix}/body;\n"
            f"  proxy_temp_path {self.prefix}/proxy;\n"
            f"  fastcgi_temp_path {self.prefix}/fastcgi;\n"
            f"  uwsgi_temp_path {self.prefix}/uwsgi;\n"
            f"  scgi_temp_path {self.prefix}/scgi;\n"
            f"  include {site};\n"
            "}\n"
        )
        self.proc: subprocess.Popen | None = None

    def reload(self, site_conf: str) -> None:
        """New site config, then SIGHUP: new workers use it, old ones finish their requests and exit."""
        (self.prefix / "conf" / "serval.conf").write_text(site_conf)
        checked = self.check()
        assert checked.returncode == 0, f"nginx -t failed:\n{checked.stderr}"
        self.proc.send_signal(signal.SIGHUP)

    def check(self) -> subprocess.CompletedProcess:
        return subprocess.run([NGINX, "-t", "-p", str(self.prefix), "-c", str(self.conf)],
                              capture_output=True, text=True, timeout=30)

    def start(self, ports: list[int]) -> "Nginx":
        checked = self.check()
        assert checked.returncode == 0, f"nginx -t failed:\n{checked.stderr}"
        self.proc = subprocess.Popen([NGINX, "-p", str(self.prefix), "-c", str(self.conf)],
                                     stdout=subprocess.DEVNULL, stderr=open(self.prefix / "logs" / "stderr.log", "wb"))
        deadline = time.monotonic() + 20
        pending = list(ports)
        while pending and time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nginx exited with {self.proc.returncode}\n{tail(self.prefix / 'logs' / 'error.log')}")
            try:
                socket.create_connection(("127.0.0.1", pending[0]), timeout=1).close()
                pending.pop(0)
            except OSError:
                time.sleep(0.05)
        if pending:
            raise RuntimeError(f"nginx does not listen on {pending}\n{tail(self.prefix / 'logs' / 'error.log')}")
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)  # graceful: finish open requests
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


@pytest.fixture
def workdir():
    d = Path(tempfile.mkdtemp(prefix="serval-deploy-"))
    yield d
    shutil.rmtree(d, ignore_errors=True)
