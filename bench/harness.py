"""Process helpers shared by bench/compare and tests/integration/test_bench_smoke.py: start the systems
under test (Serval, nginx serving a static response, serval-grpc-echo) on loopback, optionally pinned to
CPUs with taskset, run serval-bench and read its JSON. Every process started here is registered and
stopped by stop_all() (callers put it in a finally/atexit), every wait is bounded.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STARTUP_TIMEOUT_S = 120.0

_started: list[subprocess.Popen] = []


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pinned(cmd: list[str], cpus: str | None) -> list[str]:
    return (["taskset", "-c", cpus] + cmd) if cpus else cmd


def _spawn(cmd: list[str], log_path: Path) -> subprocess.Popen:
    log = open(log_path, "ab")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True)
    log.close()
    _started.append(proc)
    return proc


def stop(proc: subprocess.Popen, timeout_s: float = 10.0) -> None:
    """SIGTERM, then SIGKILL after timeout_s; only this process (we started it, we know its pid)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout_s)
    if proc in _started:
        _started.remove(proc)


def stop_all() -> None:
    for proc in list(_started):
        stop(proc)


def _wait(what: str, proc: subprocess.Popen, ready, log_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} during start-up:\n{log_path.read_text()[-3000:]}")
        if ready():
            return
        time.sleep(0.1)
    stop(proc)
    raise RuntimeError(f"{what} not ready after {STARTUP_TIMEOUT_S} s:\n{log_path.read_text()[-3000:]}")


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


class Server:
    """A started process: its pid (for /proc sampling), ports and log."""

    def __init__(self, proc: subprocess.Popen, log: Path, rest_port: int = 0, grpc_port: int = 0, pid: int = 0):
        self.proc, self.log, self.rest_port, self.grpc_port = proc, log, rest_port, grpc_port
        self.pid = pid or proc.pid

    def stop(self) -> None:
        stop(self.proc)


def _real_pid(proc: subprocess.Popen) -> int:
    """taskset execs the command, so the pid is the server's own; kept as a function to say so."""
    return proc.pid


def start_serval(binary: Path, workdir: Path, args: list[str], cpus: str | None = None,
                 ready_models: tuple[str, ...] = ()) -> Server:
    rest, grpc = free_port(), free_port()
    log = workdir / f"serval-{rest}.log"
    cmd = pinned([str(binary), f"--rest_api_port={rest}", f"--port={grpc}", "--rest_api_address=127.0.0.1", *args], cpus)
    proc = _spawn(cmd, log)
    urls = [f"http://127.0.0.1:{rest}/v2/health/ready"] + [f"http://127.0.0.1:{rest}/v2/models/{m}/ready"
                                                           for m in ready_models]
    _wait("serval", proc, lambda: all(_http_ok(u) for u in urls), log)
    return Server(proc, log, rest, grpc, _real_pid(proc))


NGINX_CONF = """\
daemon off;
master_process off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {dir}/body;
  proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fastcgi;
  uwsgi_temp_path {dir}/uwsgi;
  scgi_temp_path {dir}/scgi;
  keepalive_requests 100000000;
  keepalive_timeout 300s;
  server {{
    listen 127.0.0.1:{port};
    location = /static {{ default_type text/plain; return 200 "ok"; }}
  }}
}}
"""


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None)
    if not found:
        raise RuntimeError("nginx not found (scripts/setup installs the Debian package); this is a hard error")
    return found


def start_nginx(workdir: Path, cpus: str | None = None) -> Server:
    """nginx with one process (master_process off: the pid is the one serving), a static 2-byte answer at
    /static, everything it writes under workdir."""
    port = free_port()
    conf_dir = Path(tempfile.mkdtemp(prefix="nginx-", dir=workdir))
    conf = conf_dir / "nginx.conf"
    conf.write_text(NGINX_CONF.format(dir=conf_dir, port=port))
    log = conf_dir / "nginx.log"
    proc = _spawn(pinned([nginx_binary(), "-c", str(conf), "-p", str(conf_dir), "-e", str(conf_dir / "nginx-error.log")], cpus), log)
    _wait("nginx", proc, lambda: _http_ok(f"http://127.0.0.1:{port}/static"), log)
    return Server(proc, log, rest_port=port)


def start_grpc_echo(binary: Path, workdir: Path, cpus: str | None = None) -> Server:
    port = free_port()
    log = workdir / f"grpc-echo-{port}.log"
    proc = _spawn(pinned([str(binary), f"--port={port}"], cpus), log)
    _wait("serval-grpc-echo", proc, lambda: _port_open(port), log)
    return Server(proc, log, grpc_port=port)


def run_bench(bench: Path, args: list[str], json_path: Path, cpus: str | None = None,
              timeout_s: float = 900) -> tuple[int, dict, str]:
    """Runs serval-bench with --json; returns (exit status, parsed JSON or {}, stdout+stderr)."""
    cmd = pinned([str(bench), f"--json={json_path}", "--progress=false", *args], cpus)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    out = f"$ {' '.join(cmd)}\n{proc.stdout}{proc.stderr}"
    data = json.loads(json_path.read_text()) if json_path.is_file() else {}
    return proc.returncode, data, out
