"""A fleet of three real Serval replicas behind a real nginx running deploy/nginx/serval.conf.

Only the replica addresses, listen ports and log paths of the shipped file are replaced (and `down` added
when a replica is taken out of rotation). Load is bounded (threads, request count and seconds). Checked:

* a rolling restart (one replica at a time: drain and exit 0 on SIGTERM, a new one on the same ports, nginx
  sends it traffic again) fails no request: over REST and gRPC with SIGTERM alone (gRPC thanks to the
  replicas' --grpc_lame_duck_secs; deploy/README.md says why), and over gRPC with the replica taken out of
  rotation first;
* a replica killed with SIGKILL fails at most the requests that were in flight on it at that moment, and
  traffic continues on the others.
"""

from __future__ import annotations

import json
import os
import re
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import requests

from conftest import DEPLOY, Nginx, Replica, free_port, make_models, tail

SITE = DEPLOY / "nginx" / "serval.conf"
REPLICAS = 3
# The replicas' gRPC lame duck (deploy/README.md, compose.yaml): what makes SIGTERM alone safe for gRPC.
LAME_DUCK_SECS = 3


def render_site(replicas: list[Replica], rest_port: int, grpc_port: int, logs: Path, down: tuple = ()) -> str:
    """deploy/nginx/serval.conf with the test's addresses; every replaced line must exist (no silent drift).
    Replicas in `down` are marked `down` (taken out of rotation, as an operator does before stopping one)."""
    text = SITE.read_text()

    def sub(pattern: str, repl, expected: int) -> None:
        nonlocal text
        text, n = re.subn(pattern, repl, text)
        assert n == expected, f"{SITE}: expected {expected} match(es) of {pattern!r}, found {n}"

    def server(m, port: str) -> str:
        r = replicas[int(m[1]) - 1]
        return f"server 127.0.0.1:{getattr(r, port)}{' down' if r in down else ''}"

    sub(r"server serval-(\d+):8501", lambda m: server(m, "rest_port"), REPLICAS)
    sub(r"server serval-(\d+):8500", lambda m: server(m, "grpc_port"), REPLICAS)
    sub(r"listen 8501;", f"listen 127.0.0.1:{rest_port};", 1)
    sub(r"listen 8500 http2;", f"listen 127.0.0.1:{grpc_port} http2;", 1)
    sub(r"/var/log/nginx/", f"{logs}/", 2)
    return text


@dataclass
class Outcome:
    proto: str
    req_id: str
    ok: bool
    error: str
    t0: float
    t1: float


@dataclass
class Load:
    """Client threads sending inference through nginx until stopped, `max_requests` or `max_seconds`."""

    rest_url: str
    grpc_addr: str
    model: str
    rest_threads: int
    grpc_threads: int
    max_requests: int = 20000
    max_seconds: float = 120.0
    outcomes: list[Outcome] = field(default_factory=list)

    def __post_init__(self):
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._count = 0
        self._threads: list[threading.Thread] = []
        width = 16 if self.model == "add" else 256
        self._x = np.random.default_rng(1).standard_normal((1, width)).astype(np.float32)

    def _next_id(self, proto: str) -> str | None:
        with self._lock:
            if self._count >= self.max_requests:
                return None
            self._count += 1
            return f"{proto}-{self._count}"

    def _record(self, o: Outcome) -> None:
        with self._lock:
            self.outcomes.append(o)

    def _expected(self) -> np.ndarray:
        return self._x + self._x if self.model == "add" else None

    def _rest(self) -> None:
        session = requests.Session()
        x = self._x[0].tolist()
        inst = {"a": x, "b": x} if self.model == "add" else x
        body = json.dumps({"instances": [inst]})
        deadline = time.monotonic() + self.max_seconds
        while not self._stop.is_set() and time.monotonic() < deadline:
            req_id = self._next_id("rest")
            if req_id is None:
                return
            t0 = time.monotonic()
            ok, err = False, ""
            try:
                r = session.post(f"{self.rest_url}/v1/models/{self.model}:predict", data=body,
                                 headers={"X-Req-Id": req_id, "Content-Type": "application/json"}, timeout=30)
                if r.status_code != 200:
                    err = f"HTTP {r.status_code}: {r.text[:200]}"
                else:
                    pred = np.asarray(r.json()["predictions"], dtype=np.float32)
                    exp = self._expected()
                    ok = pred.shape == (1, self._x.shape[1]) and (exp is None or np.allclose(pred, exp))
                    err = "" if ok else f"wrong answer {pred[:1, :4]}"
            except requests.RequestException as e:
                err = f"{type(e).__name__}: {e}"
            self._record(Outcome("rest", req_id, ok, err, t0, time.monotonic()))

    def _grpc(self) -> None:
        import tritonclient.grpc as grpcclient
        from tritonclient.utils import InferenceServerException

        client = grpcclient.InferenceServerClient(url=self.grpc_addr)
        if self.model == "add":
            inputs = [grpcclient.InferInput("a", [1, 16], "FP32"), grpcclient.InferInput("b", [1, 16], "FP32")]
            inputs[0].set_data_from_numpy(self._x)
            inputs[1].set_data_from_numpy(self._x)
            out = "sum"
        else:
            inputs = [grpcclient.InferInput("x", [1, 256], "FP32")]
            inputs[0].set_data_from_numpy(self._x)
            out = "y"
        deadline = time.monotonic() + self.max_seconds
        try:
            while not self._stop.is_set() and time.monotonic() < deadline:
                req_id = self._next_id("grpc")
                if req_id is None:
                    return
                t0 = time.monotonic()
                ok, err = False, ""
                try:
                    res = client.infer(self.model, inputs, headers={"x-req-id": req_id}, client_timeout=30)
                    y = res.as_numpy(out)
                    exp = self._expected()
                    ok = y is not None and y.shape == (1, self._x.shape[1]) and (exp is None or np.allclose(y, exp))
                    err = "" if ok else "wrong answer"
                except InferenceServerException as e:
                    err = f"{e.status()}: {e.message()}"
                self._record(Outcome("grpc", req_id, ok, err, t0, time.monotonic()))
        finally:
            client.close()

    def start(self) -> "Load":
        for target, n in ((self._rest, self.rest_threads), (self._grpc, self.grpc_threads)):
            for _ in range(n):
                t = threading.Thread(target=target, daemon=True)
                t.start()
                self._threads.append(t)
        return self

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=60)
        assert not any(t.is_alive() for t in self._threads), "a client thread did not finish"

    def snapshot(self) -> list[Outcome]:
        with self._lock:
            return list(self.outcomes)

    def wait_successes(self, n: int, timeout_s: float, since: float = 0.0, protos=("rest", "grpc")) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            done = [o for o in self.snapshot() if o.ok and o.t0 >= since]
            if all(sum(o.proto == p for o in done) >= n for p in protos):
                return
            time.sleep(0.05)
        raise AssertionError(f"fewer than {n} successful {'/'.join(protos)} requests within {timeout_s} s")


def upstreams_by_request(logs: Path) -> dict[str, list[str]]:
    """req_id -> the upstream addresses nginx tried, in order (its access log, format serval_upstream)."""
    tried: dict[str, list[str]] = {}
    for name in ("serval-rest.log", "serval-grpc.log"):
        for line in (logs / name).read_text().splitlines():
            m = re.search(r"upstream=(.*) upstream_status=.* req_id=(\S+)$", line)
            if m:
                tried[m[2]] = [a.strip() for a in re.split(r"[,:]\s", m[1]) if a.strip()]
    return tried


@pytest.fixture
def fleet(workdir):
    models = make_models(["add", "slow"])
    cfg = workdir / "models.config"
    cfg.write_text("model_config_list {\n"
                   f"  config {{ name: 'add' base_path: '{models / 'add'}' model_platform: 'onnx' }}\n"
                   f"  config {{ name: 'slow' base_path: '{models / 'slow'}' model_platform: 'onnx' }}\n"
                   "}\n")
    monitoring = workdir / "monitoring.config"
    monitoring.write_text('prometheus_config { enable: true path: "/monitoring/prometheus/metrics" }\n')
    args = [f"--model_config_file={cfg}", f"--monitoring_config_file={monitoring}", "--intra_op_threads=1",
            "--file_system_poll_wait_seconds=0", "--drain_timeout_secs=20", f"--grpc_lame_duck_secs={LAME_DUCK_SECS}"]
    replicas = [Replica(f"replica-{i + 1}", args, workdir) for i in range(REPLICAS)]
    logs = workdir / "nginx-logs"
    logs.mkdir()
    rest_port, grpc_port = free_port(), free_port()
    nginx = Nginx(workdir, render_site(replicas, rest_port, grpc_port, logs))
    try:
        for r in replicas:
            r.start()
        nginx.start([rest_port, grpc_port])
        yield {"replicas": replicas, "nginx": nginx, "rest_url": f"http://127.0.0.1:{rest_port}",
               "grpc_addr": f"127.0.0.1:{grpc_port}", "logs": logs,
               "render": lambda down=(): render_site(replicas, rest_port, grpc_port, logs, down)}
    finally:
        nginx.stop()
        for r in replicas:
            r.kill()


def summary(outcomes: list[Outcome]) -> dict:
    out = {}
    for proto in ("rest", "grpc"):
        mine = [o for o in outcomes if o.proto == proto]
        out[proto] = {"sent": len(mine), "failed": sum(not o.ok for o in mine)}
    return out


def wait_rejoined(r: Replica, timeout_s: float = 20) -> None:
    """nginx sends the (new) replica traffic again: its counters start at 0 in the new process."""
    deadline = time.monotonic() + timeout_s
    while r.metric("serval_requests_total", model="add") < 10:
        assert time.monotonic() < deadline, f"{r.name} got no traffic from nginx after its restart"
        time.sleep(0.1)


def wait_quiet(r: Replica, timeout_s: float = 20) -> None:
    """nginx no longer sends the replica anything: its request count stays the same for half a second."""
    deadline = time.monotonic() + timeout_s
    last = r.metric("serval_requests_total")
    while True:
        time.sleep(0.5)
        now = r.metric("serval_requests_total")
        if now == last:
            return
        assert time.monotonic() < deadline, f"nginx still sends {r.name} requests after it was marked down"
        last = now


def report_failures(outcomes: list[Outcome], tried: dict, fleet) -> str:
    failures = [o for o in outcomes if not o.ok]
    return (f"{len(failures)} of {len(outcomes)} requests failed, e.g. "
            + "; ".join(f"{o.req_id}: {o.error} (upstreams {tried.get(o.req_id)})" for o in failures[:5])
            + f"\nnginx error log:\n{tail(fleet['nginx'].prefix / 'logs' / 'error.log')}")


def test_grpc_rolling_restart_out_of_rotation_fails_no_request(fleet):
    """gRPC: out of rotation first (`down`, nginx reload), then SIGTERM and drain, restart, back in rotation.
    nginx never retries a gRPC request it has started sending (it streams gRPC bodies unbuffered), and gRPC
    cancels calls that reach a server after its shutdown began, so the replica must stop getting new calls
    before SIGTERM; Kubernetes does the same (endpoint removal, preStop) before its SIGTERM."""
    replicas: list[Replica] = fleet["replicas"]
    nginx: Nginx = fleet["nginx"]
    load = Load(fleet["rest_url"], fleet["grpc_addr"], "add", rest_threads=0, grpc_threads=3,
                max_requests=60000, max_seconds=90).start()
    try:
        load.wait_successes(20, timeout_s=20, protos=("grpc",))
        for r in replicas:
            nginx.reload(fleet["render"](down=(r,)))
            wait_quiet(r)
            rc = r.terminate(timeout_s=30)
            assert rc == 0, f"{r.name} exited {rc} on SIGTERM\n{tail(r.log_path)}"
            r.start()
            nginx.reload(fleet["render"]())
            wait_rejoined(r)
        load.wait_successes(20, timeout_s=20, since=time.monotonic(), protos=("grpc",))
    finally:
        load.stop()
    outcomes = load.snapshot()
    tried = upstreams_by_request(fleet["logs"])
    print(f"\ngRPC rolling restart (down + reload, SIGTERM, restart, up + reload): "
          f"{json.dumps(summary(outcomes)['grpc'])}")
    assert all(o.ok for o in outcomes), report_failures(outcomes, tried, fleet)
    assert all(r.generation == 2 for r in replicas)
    assert len(outcomes) >= 100


def test_grpc_rolling_restart_by_sigterm_alone_fails_no_request(fleet):
    """gRPC: SIGTERM, drain, restart, one replica at a time, nginx left to notice by itself. The replica's lame
    duck closes its listener (nginx's next connection is refused: retried elsewhere, the replica marked failed)
    and keeps serving the connections nginx has cached until each has had its graceful GOAWAY (max age), so
    nginx never sends a call into gRPC's shutdown. Without it about one call in 10,000 fails here (CANCELLED)."""
    replicas: list[Replica] = fleet["replicas"]
    load = Load(fleet["rest_url"], fleet["grpc_addr"], "add", rest_threads=0, grpc_threads=3,
                max_requests=60000, max_seconds=90).start()
    try:
        load.wait_successes(20, timeout_s=20, protos=("grpc",))
        for r in replicas:
            t0 = time.monotonic()
            rc = r.terminate(timeout_s=30)
            assert rc == 0, f"{r.name} exited {rc} on SIGTERM\n{tail(r.log_path)}"
            assert time.monotonic() - t0 < LAME_DUCK_SECS + 5, f"{r.name} drained for too long\n{tail(r.log_path)}"
            assert "gRPC lame duck over: 1 listener(s) had been closed" in r.log_path.read_text(), tail(r.log_path)
            r.start()
            wait_rejoined(r)
        load.wait_successes(20, timeout_s=20, since=time.monotonic(), protos=("grpc",))
    finally:
        load.stop()
    outcomes = load.snapshot()
    tried = upstreams_by_request(fleet["logs"])
    print(f"\ngRPC rolling restart (SIGTERM alone, lame duck {LAME_DUCK_SECS} s): "
          f"{json.dumps(summary(outcomes)['grpc'])}")
    assert all(o.ok for o in outcomes), report_failures(outcomes, tried, fleet)
    assert all(r.generation == 2 for r in replicas)
    assert len(outcomes) >= 100


def test_rest_rolling_restart_by_sigterm_alone_fails_no_request(fleet):
    """REST: SIGTERM, drain, restart, one replica at a time, nginx left to notice by itself: a refused
    connection is retried, and so is a request caught on a keep-alive connection as the replica closed it."""
    replicas: list[Replica] = fleet["replicas"]
    load = Load(fleet["rest_url"], fleet["grpc_addr"], "add", rest_threads=3, grpc_threads=0,
                max_requests=60000, max_seconds=90).start()
    try:
        load.wait_successes(20, timeout_s=20, protos=("rest",))
        for r in replicas:
            rc = r.terminate(timeout_s=30)
            assert rc == 0, f"{r.name} exited {rc} on SIGTERM\n{tail(r.log_path)}"
            r.start()
            wait_rejoined(r)
    finally:
        load.stop()
    outcomes = load.snapshot()
    tried = upstreams_by_request(fleet["logs"])
    retried = sum(len(tried.get(o.req_id, [])) > 1 for o in outcomes)
    print(f"\nREST rolling restart (SIGTERM alone): {json.dumps(summary(outcomes)['rest'])}, retried by nginx on another "
          f"replica: {retried}")
    assert all(o.ok for o in outcomes), report_failures(outcomes, tried, fleet)
    assert retried >= 1, "no request was retried: the restart did not race with any request"
    assert len(outcomes) >= 100


def test_sigkill_fails_only_the_requests_in_flight_on_that_replica(fleet):
    replicas: list[Replica] = fleet["replicas"]
    victim = replicas[1]
    victim_addrs = {f"127.0.0.1:{victim.rest_port}", f"127.0.0.1:{victim.grpc_port}"}
    # the slow model (~150 ms a request) keeps requests in flight on every replica
    load = Load(fleet["rest_url"], fleet["grpc_addr"], "slow", rest_threads=3, grpc_threads=3,
                max_requests=4000, max_seconds=60).start()
    try:
        load.wait_successes(4, timeout_s=30)
        running = (victim.metric("serval_engine_runs_started_total")
                   - victim.metric("serval_engine_runs_completed_total")
                   - victim.metric("serval_engine_runs_failed_total"))
        t_kill0 = time.monotonic()
        os.kill(victim.proc.pid, signal.SIGKILL)
        t_kill1 = time.monotonic()
        victim.proc.wait(timeout=10)
        load.wait_successes(4, timeout_s=30, since=t_kill1)  # traffic continues on the others
    finally:
        load.stop()
    outcomes = load.snapshot()
    tried = upstreams_by_request(fleet["logs"])
    # in flight on the victim when it died: outstanding across the kill and sent to the victim first
    in_flight = {o.req_id for o in outcomes
                 if o.t0 < t_kill0 and o.t1 > t_kill1 and tried.get(o.req_id, [""])[0] in victim_addrs}
    failures = [o for o in outcomes if not o.ok]
    retried = sum(len(tried.get(o.req_id, [])) > 1 for o in outcomes)
    print(f"\nSIGKILL: {json.dumps(summary(outcomes))}, in flight on the killed replica: {len(in_flight)} "
          f"(engine runs running there just before: {running:.0f}), retried by nginx: {retried}, "
          f"failed: {len(failures)}"
          + "".join(f"\n  {o.req_id}: {o.error} (upstreams {tried.get(o.req_id)})" for o in failures))
    assert in_flight, "no request was in flight on the killed replica: the test did not exercise the kill"
    stray = [o for o in failures if o.req_id not in in_flight]
    assert not stray, ("requests failed that were not in flight on the killed replica: "
                       + "; ".join(f"{o.req_id}: {o.error} (upstreams {tried.get(o.req_id)})" for o in stray[:5]))
    assert len(failures) <= len(in_flight)
    after_kill = [o for o in outcomes if o.ok and o.t0 > t_kill1]
    assert len(after_kill) >= 8
