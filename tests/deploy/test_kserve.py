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


def test_runtime_arguments_serve_the_storage_initializer_layout(workdir):
    """The runtime's container args, run by the real binary on a /mnt/models-shaped directory
    (<version>/model.onnx): both protocols the runtime declares answer."""
    import json

    import requests

    from conftest import Replica, make_models

    conv = subprocess.run([str(TOOLS_PY), "-c", "import json, sys, yaml; print(json.dumps(yaml.safe_load(sys.stdin)))"],
                          input=(KSERVE / "clusterservingruntime.yaml").read_text(), capture_output=True, text=True,
                          timeout=60)
    assert conv.returncode == 0, conv.stderr
    (container,) = json.loads(conv.stdout)["spec"]["containers"]
    models = make_models(["add"])
    args = []
    for a in container["args"]:
        a = a.replace("{{.Name}}", "add").replace("/mnt/models", str(models / "add"))
        if not a.startswith(("--rest_api_port=", "--port=")):  # the test's free loopback ports instead
            args.append(a)
    assert f"--model_base_path={models / 'add'}" in args and "--model_name=add" in args
    srv = Replica("kserve-runtime", args, workdir).start()
    try:
        assert requests.get(f"{srv.url}/v2/models/add/ready", timeout=10).status_code == 200
        x = list(range(16))
        v1 = requests.post(f"{srv.url}/v1/models/add:predict", json={"instances": [{"a": x, "b": x}]}, timeout=10)
        assert v1.status_code == 200 and v1.json()["predictions"][0][:2] == [0.0, 2.0], v1.text
    finally:
        assert srv.terminate() == 0
