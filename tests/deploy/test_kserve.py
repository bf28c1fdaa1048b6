"""deploy/kserve: the ClusterServingRuntime and InferenceService validate against KServe's own CRD schemas
(vendored, openAPIV3Schema, unknown fields made errors), and a broken resource does not."""

from __future__ import annotations

import subprocess

from conftest import DEPLOY, KUBE_VALIDATE

KSERVE = DEPLOY / "kserve"
TOOLS_PY = KUBE_VALIDATE.parent / "python"


def validate(*files) -> subprocess.CompletedProcess:
    if not TOOLS_PY.is_file():
        raise RuntimeError(f"{TOOLS_PY} is missing: scripts/setup installs it (a hard error, not a skip)")
    return subprocess.run([str(TOOLS_PY), str(KSERVE / "validate.py"), *map(str, files)],
                          capture_output=True, text=True, timeout=120)


def test_runtime_and_inference_service_match_the_crds():
    out = validate()
    assert out.returncode == 0, out.stdout + out.stderr
    assert "match KServe's CRD schemas" in out.stdout


def test_runtime_declares_formats_protocols_and_the_storage_layout():
    text = (KSERVE / "clusterservingruntime.yaml").read_text()
    for needle in ("name: onnx", "name: tensorflow", "- v1\n", "- v2\n", "--model_base_path=/mnt/models"):
        assert needle in text, needle


def test_broken_resources_are_rejected(tmp_path):
    runtime = (KSERVE / "clusterservingruntime.yaml").read_text()
    isvc = (KSERVE / "inferenceservice.yaml").read_text()
    cases = {
        "typo.yaml": runtime.replace("supportedModelFormats:", "supportedModelFormat:"),
        "type.yaml": runtime.replace("autoSelect: true", "autoSelect: yes-please", 1),
        "replicas.yaml": isvc.replace("minReplicas: 1", 'minReplicas: "one"'),
        "unknown.yaml": runtime.replace("kind: ClusterServingRuntime", "kind: ClusterServingRuntimeX"),
    }
    for name, text in cases.items():
        assert text != runtime and text != isvc, name
        (tmp_path / name).write_text(text)
    out = validate(*(tmp_path / name for name in cases))
    assert out.returncode == 1, out.stdout + out.stderr
    print("\n" + out.stdout.strip())
    for name in cases:  # each broken file has its own error
        assert any(line.split("[")[0].endswith(name) for line in out.stdout.splitlines()), f"{name} passed:\n{out.stdout}"
