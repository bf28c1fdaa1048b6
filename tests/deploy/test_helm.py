"""The Helm chart deploy/helm/serval: lint, render, and validate every rendered manifest offline against the
Kubernetes OpenAPI schemas (kubernetes-validate --strict). Broken values must make the checks fail.

No Kubernetes API server runs here: admission (defaulting, webhooks, quotas) and the pods' real behaviour are
outside these tests; the fleet behaviour itself is checked by test_fleet.py with real replicas.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from conftest import DEPLOY, HELM, KUBE_VALIDATE

CHART = DEPLOY / "helm" / "serval"
KUBE_VERSION = "1.36.0"  # the Kubernetes version helm assumes (scripts/setup's helm_k8s_minor)
KUBE_TOOLS_PY = KUBE_VALIDATE.parent / "python"


def run(cmd: list, **kw) -> subprocess.CompletedProcess:
    for tool in (HELM, KUBE_VALIDATE):
        if str(cmd[0]) == str(tool) and not tool.is_file():
            raise RuntimeError(f"{tool} is missing: scripts/setup installs it (a hard error, not a skip)")
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=120, **kw)


def render(*sets: str, skip_schema: bool = False) -> subprocess.CompletedProcess:
    cmd = [HELM, "template", "serval", CHART, "--namespace", "serving", "--kube-version", KUBE_VERSION]
    if skip_schema:
        cmd.append("--skip-schema-validation")
    for s in sets:
        cmd += ["--set-string" if s.startswith("string:") else "--set", s.removeprefix("string:")]
    return run(cmd)


def docs(manifest: str) -> list[dict]:
    """The rendered YAML documents as Python objects (PyYAML lives in the deployment-tools venv)."""
    conv = run([KUBE_TOOLS_PY, "-c",
                "import json, sys, yaml; print(json.dumps([d for d in yaml.safe_load_all(sys.stdin) if d]))"],
               input=manifest)
    assert conv.returncode == 0, conv.stderr
    return json.loads(conv.stdout)


def kube_validate(manifest: str, tmp_path) -> subprocess.CompletedProcess:
    path = tmp_path / "rendered.yaml"
    path.write_text(manifest)
    return run([KUBE_VALIDATE, "--strict", "--kubernetes-version", KUBE_VERSION, path])


def by_kind(objs: list[dict]) -> dict[str, dict]:
    return {o["kind"]: o for o in objs}


def test_lint_strict():
    lint = run([HELM, "lint", "--strict", CHART])
    assert lint.returncode == 0, lint.stdout + lint.stderr


@pytest.mark.parametrize("sets", [
    (),
    ("autoscaling.enabled=false", "podDisruptionBudget.enabled=false"),
    ("models.initContainer.enabled=true", "serviceAccount.create=false", "metrics.enabled=false"),
], ids=["defaults", "no-hpa-no-pdb", "init-container"])
def test_every_rendered_manifest_is_valid(sets, tmp_path):
    out = render(*sets)
    assert out.returncode == 0, out.stderr
    checked = kube_validate(out.stdout, tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    kinds = {o["kind"] for o in docs(out.stdout)}
    # every object was checked against a schema (a kind without one is only a warning)
    report = checked.stdout + checked.stderr
    assert "Couldn't find schema" not in report, report
    assert report.count("passed for resource") == len(docs(out.stdout)), report
    assert {"Deployment", "Service", "ConfigMap"} <= kinds
    if not sets:
        assert {"HorizontalPodAutoscaler", "PodDisruptionBudget", "ServiceAccount"} <= kinds


def test_defaults_match_the_documented_contract():
    out = render()
    assert out.returncode == 0, out.stderr
    objs = by_kind(docs(out.stdout))
    dep = objs["Deployment"]
    pod = dep["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    assert dep["spec"]["replicas"] == 3
    assert c["resources"]["requests"] == {"cpu": "2", "memory": "4Gi"}
    assert c["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
    assert c["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert "--drain_timeout_secs=30" in c["args"]
    assert "--model_config_file_poll_wait_seconds=30" in c["args"]
    # the grace period covers the preStop sleep and the whole drain
    assert c["lifecycle"]["preStop"]["exec"]["command"] == ["sleep", "5"]
    assert pod["terminationGracePeriodSeconds"] == 5 + 30 + 5
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == 10001
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert {p["containerPort"] for p in c["ports"]} == {8500, 8501}
    assert {p["port"] for p in objs["Service"]["spec"]["ports"]} == {8500, 8501}
    hpa = objs["HorizontalPodAutoscaler"]
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (1, 10)
    assert hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 70
    assert objs["PodDisruptionBudget"]["spec"]["maxUnavailable"] == 1
    assert "model_config_list" in objs["ConfigMap"]["data"]["models.config"]


def test_service_monitor_renders_when_enabled(tmp_path):
    out = render("metrics.serviceMonitor.enabled=true")
    assert out.returncode == 0, out.stderr
    sm = by_kind(docs(out.stdout))["ServiceMonitor"]
    assert sm["spec"]["endpoints"][0]["path"] == "/monitoring/prometheus/metrics"
    # the Prometheus Operator's CRD is not among Kubernetes' own schemas (a warning); the rest validates strictly
    checked = kube_validate(out.stdout, tmp_path)
    report = checked.stdout + checked.stderr
    assert checked.returncode == 0, report
    missing = [line for line in report.splitlines() if "Couldn't find schema" in line]
    assert len(missing) == 1 and "ServiceMonitor" in missing[0], report


@pytest.mark.parametrize("bad, field", [
    ("string:replicaCount=three", "replicaCount"),
    ("ports.rest=-1", "ports.rest"),
    ("autoscaling.targetCPUUtilizationPercentage=170", "targetCPUUtilizationPercentage"),
])
def test_broken_values_are_rejected_by_the_chart(bad, field):
    out = render(bad)
    assert out.returncode != 0, f"helm rendered {bad} without complaint"
    assert "values don't meet the specifications of the schema" in out.stderr and field.split(".")[-1] in out.stderr
    print(f"\n{bad}: {out.stderr.strip()}")


@pytest.mark.parametrize("bad", ["string:replicaCount=three", "string:ports.grpc=eighty"])
def test_broken_manifests_are_rejected_by_schema_validation(bad, tmp_path):
    # the chart's own schema is bypassed: the Kubernetes schemas must still catch the rendered mistake
    out = render(bad, skip_schema=True)
    assert out.returncode == 0, out.stderr
    checked = kube_validate(out.stdout, tmp_path)
    assert checked.returncode != 0, f"kubernetes-validate accepted a manifest rendered with {bad}"
    print(f"\n{bad}: {checked.stdout.strip()} {checked.stderr.strip()}")


def test_tls_values_mount_the_ssl_config_and_probe_over_https(tmp_path):
    out = render("tls.enabled=true", "tls.secretName=serval-tls")
    assert out.returncode == 0, out.stderr
    deployment = by_kind(docs(out.stdout))["Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert "--ssl_config_file=/etc/serval-tls/ssl.config" in container["args"]
    assert "--norest_api_ssl" not in container["args"]
    assert {"name": "tls", "secret": {"secretName": "serval-tls", "defaultMode": 0o440}} in pod["volumes"]
    assert {"name": "tls", "mountPath": "/etc/serval-tls", "readOnly": True} in container["volumeMounts"]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"]["scheme"] == "HTTPS", probe
    checked = kube_validate(out.stdout, tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr

    plain_rest = by_kind(docs(render("tls.enabled=true", "tls.secretName=serval-tls", "tls.rest=false").stdout))
    container = plain_rest["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert "--norest_api_ssl" in container["args"]
    assert container["readinessProbe"]["httpGet"]["scheme"] == "HTTP"


def test_tls_without_a_secret_fails_loudly():
    out = render("tls.enabled=true")
    assert out.returncode != 0
    assert "tls.enabled needs tls.secretName" in out.stderr
