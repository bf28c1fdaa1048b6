"""deploy/observability: every series the Grafana dashboard queries, with the labels it groups by, exists
on a real Serval's /metrics after REST, gRPC, batched and rejected traffic; the Prometheus scrape config
scrapes the path Serval serves."""

from __future__ import annotations

import json
import re
import subprocess

import numpy as np
import requests

from conftest import DEPLOY, Replica, make_models

DASHBOARD = DEPLOY / "observability" / "grafana-dashboard.json"
PROM_PATH = "/monitoring/prometheus/metrics"
SERIES = re.compile(r"(:tensorflow:serving:[A-Za-z_:]+|serval_[A-Za-z_]+)")


def exprs() -> list[str]:
    dash = json.loads(DASHBOARD.read_text())
    out = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    out += [v["query"] for v in dash["templating"]["list"] if v.get("type") == "query"]
    return out


def samples(text: str) -> dict[str, set[str]]:
    """series name -> the label names seen on it."""
    seen: dict[str, set[str]] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r"([^{\s]+)(?:\{(.*)\})?\s", line)
        labels = set(re.findall(r'([A-Za-z_][A-Za-z0-9_]*)="', m[2] or ""))
        seen.setdefault(m[1], set()).update(labels)
    return seen


def test_dashboard_series_exist_on_a_running_serval(workdir):
    models = make_models(["add"])
    (workdir / "monitoring.config").write_text(f'prometheus_config {{ enable: true path: "{PROM_PATH}" }}\n')
    (workdir / "batching.config").write_text("max_batch_size { value: 4 } batch_timeout_micros { value: 1000 } "
                                             "num_batch_threads { value: 1 } max_enqueued_batches { value: 10 }")
    srv = Replica("metrics", [f"--model_name=add", f"--model_base_path={models / 'add'}",
                              f"--monitoring_config_file={workdir / 'monitoring.config'}", "--enable_batching",
                              f"--batching_parameters_file={workdir / 'batching.config'}"], workdir).start()
    try:
        x = np.arange(16, dtype=np.float32)
        body = {"instances": [{"a": x.tolist(), "b": x.tolist()}]}
        for _ in range(3):
            r = requests.post(f"{srv.url}/v1/models/add:predict", json=body, timeout=30)
            assert r.status_code == 200, r.text
        # 8 rows > max_batch_size 4: rejected by the batcher (reason too_large)
        r = requests.post(f"{srv.url}/v1/models/add:predict", json={"instances": body["instances"] * 8}, timeout=30)
        assert r.status_code == 400, r.text
        import tritonclient.grpc as grpcclient
        client = grpcclient.InferenceServerClient(url=f"127.0.0.1:{srv.grpc_port}")
        inputs = [grpcclient.InferInput(n, [1, 16], "FP32") for n in ("a", "b")]
        for i in inputs:
            i.set_data_from_numpy(x.reshape(1, 16))
        assert np.allclose(client.infer("add", inputs).as_numpy("sum"), 2 * x)
        client.close()
        text = requests.get(srv.url + PROM_PATH, timeout=10).text
    finally:
        rc = srv.terminate()
    assert rc == 0
    seen = samples(text)
    missing, unlabelled = [], []
    for expr in exprs():
        names = set(SERIES.findall(expr))
        assert names, f"no Serval series in {expr!r}"
        for n in names:
            if n not in seen:
                missing.append(n)
        for group in re.findall(r"by \(([^)]*)\)", expr):
            for label in (lbl.strip() for lbl in group.split(",")):
                if label != "le" and not any(label in seen.get(n, set()) for n in names):
                    unlabelled.append(f"{label} in {expr}")
    assert not missing, f"the dashboard queries series Serval does not export: {sorted(set(missing))}"
    assert not unlabelled, f"the dashboard groups by labels the series lack: {unlabelled}"


def test_prometheus_config_scrapes_the_served_path():
    text = (DEPLOY / "observability" / "prometheus.yml").read_text()
    paths = re.findall(r"metrics_path:\s*(\S+)", text)
    assert paths and all(p == PROM_PATH for p in paths), paths
