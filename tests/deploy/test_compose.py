"""deploy/compose.yaml describes the fleet test_fleet.py runs: three replicas of the image behind nginx with
deploy/nginx/serval.conf. No compose tool or nginx image is available here, so it is not run; this checks
its shape against the files it refers to."""

from __future__ import annotations

import json
import re
import subprocess

from conftest import DEPLOY, KUBE_VALIDATE


def load() -> dict:
    py = KUBE_VALIDATE.parent / "python"  # PyYAML lives in the deployment-tools venv
    out = subprocess.run([str(py), "-c", "import json, sys, yaml; print(json.dumps(yaml.safe_load(sys.stdin)))"],
                         input=(DEPLOY / "compose.yaml").read_text(), capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_compose_matches_the_nginx_upstreams_and_the_image():
    compose = load()
    services = compose["services"]
    upstreams = set(re.findall(r"server (serval-\d+):850[01]", (DEPLOY / "nginx" / "serval.conf").read_text()))
    assert upstreams == {"serval-1", "serval-2", "serval-3"}
    assert upstreams <= set(services)
    for name in upstreams:
        svc = services[name]
        assert svc["image"] == "localhost/serval:latest"
        assert any(a.startswith("--model_config_file=/models/") for a in svc["command"])
        assert svc["read_only"] is True
        # the grace period covers the drain
        drain = int(next(a for a in svc["command"] if a.startswith("--drain_timeout_secs=")).split("=")[1])
        assert int(svc["stop_grace_period"].rstrip("s")) > drain
        # the gRPC lame duck (SIGTERM alone is safe behind nginx) fits in the drain
        lame_duck = int(next(a for a in svc["command"] if a.startswith("--grpc_lame_duck_secs=")).split("=")[1])
        assert 0 < lame_duck < drain
    nginx = services["nginx"]
    assert "./nginx/serval.conf:/etc/nginx/conf.d/default.conf:ro" in nginx["volumes"]
    assert {"8500:8500", "8501:8501"} == set(nginx["ports"])
    for path in ("nginx/serval.conf", "observability/monitoring.config"):
        assert (DEPLOY / path).is_file()
