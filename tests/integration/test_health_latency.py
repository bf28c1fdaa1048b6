"""Health and metrics never wait behind inference: with every REST worker busy (slow model runs, or bodies
that inflate to tens of MB of JSON), liveness, readiness and /metrics still answer at once, because the
REST io threads answer those routes themselves and hand everything else to the fixed worker pool."""

from __future__ import annotations

import gzip
import json
import statistics
import threading
import time

import numpy as np
import requests

from conftest import ServerProcess
from test_operations import PROM_PATH

WORKERS = 2
PROBE_ROUTES = ["/v2/health/ready", "/v2/health/live", "/v1/health/ready", "/metrics"]


def probe_latencies(srv: ServerProcess, rounds: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {route: [] for route in PROBE_ROUTES}
    for _ in range(rounds):
        for route in PROBE_ROUTES:
            t0 = time.monotonic()
            r = requests.get(srv.url + route, timeout=30)
            out[route].append(time.monotonic() - t0)
            assert r.status_code == 200, (route, r.status_code, r.text[:200])
        time.sleep(0.05)
    return out


def saturate(target, count: int) -> tuple[list[threading.Thread], list]:
    results: list = []
    threads = [threading.Thread(target=lambda: results.append(target()), daemon=True) for _ in range(count)]
    for t in threads:
        t.start()
    return threads, results


def check(latencies: dict[str, list[float]], label: str) -> None:
    for route, values in latencies.items():
        median_ms = statistics.median(values) * 1000
        worst_ms = max(values) * 1000
        print(f"{label}: {route} median {median_ms:.0f} ms, worst {worst_ms:.0f} ms over {len(values)} probes")
        assert median_ms < 100, f"{route}: median {median_ms:.0f} ms while the workers are saturated"
        assert worst_ms < 500, f"{route}: worst {worst_ms:.0f} ms"


def start(name: str, args: list[str], tmp_path, ready: list[str]) -> ServerProcess:
    cfg = tmp_path / "monitoring.config"
    cfg.write_text(f'prometheus_config {{ enable: true path: "{PROM_PATH}" }}\n')
    return ServerProcess(name, [*args, f"--rest_api_num_threads={WORKERS}", f"--monitoring_config_file={cfg}"],
                         ready_models=ready).start()


def test_health_answers_while_slow_runs_fill_every_worker(tmp_path, slow_dir):
    srv = start("health-slow", ["--model_name=slow", f"--model_base_path={slow_dir}"], tmp_path, ["slow"])
    try:
        x = np.random.default_rng(3).standard_normal((8, 256)).astype(np.float32)  # ~1.2 s per request
        body = json.dumps({"instances": x.tolist()})

        def slow_call():
            return requests.post(srv.url + "/v1/models/slow:predict", data=body, timeout=120).status_code

        threads, results = saturate(slow_call, 3 * WORKERS)
        time.sleep(0.3)  # the workers have picked their first requests up
        latencies = probe_latencies(srv, rounds=8)
        for t in threads:
            t.join(timeout=120)
        assert results == [200] * (3 * WORKERS), results
        check(latencies, "slow runs")
    finally:
        assert srv.stop() == 0


def test_health_answers_while_big_gzip_bodies_inflate(tmp_path, models_dir):
    srv = start("health-gzip", ["--model_name=add", f"--model_base_path={models_dir / 'add'}"], tmp_path, ["add"])
    try:
        # ~60 MB of JSON once inflated (whitespace after a valid request), ~60 KB on the wire
        row = [1.0] * 16
        doc = json.dumps({"instances": [{"a": row, "b": row}]}).encode()
        body = gzip.compress(doc + b" " * (60_000_000 - len(doc)), compresslevel=9)

        def gzip_call():
            return requests.post(srv.url + "/v1/models/add:predict", data=body, timeout=120,
                                 headers={"Content-Encoding": "gzip", "Content-Type": "application/json"}).status_code

        threads, results = saturate(gzip_call, 2 * WORKERS)
        time.sleep(0.2)
        latencies = probe_latencies(srv, rounds=6)
        for t in threads:
            t.join(timeout=120)
        assert results == [200] * (2 * WORKERS), results
        check(latencies, "gzip bodies")
    finally:
        assert srv.stop() == 0
