"""The container images (deploy/build-image, deploy/Dockerfile), built and run with podman: the default one
(ONNX Runtime) and the TensorFlow variant (deploy/build-image --tf: also serval-tf-worker and TensorFlow's
two shared libraries), which serves a TF Serving-style SavedModel.

Outside the default suite (building the image takes minutes the first time): pytest -m deploy tests/deploy.
Runs the image the way TF Serving's is run: models under /models, MODEL_NAME selects one, extra arguments
appended to the server command. The container shares the host's network (this host has no container
networking); the appended --rest_api_port/--port move it off 8500/8501 so that it never collides.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import requests

from conftest import DEPLOY, PYTHON, REPO, free_port, make_models

pytestmark = pytest.mark.deploy

IMAGE = os.environ.get("SERVAL_IMAGE", "localhost/serval:latest")
TF_IMAGE = os.environ.get("SERVAL_TF_IMAGE", "localhost/serval:latest-tf")
TF_MODELS = Path(os.environ.get("SERVAL_TF_MODELS_DIR", str(REPO / "build" / "tf-models")))
ENV = dict(os.environ, CONTAINERS_CONF=str(DEPLOY / "podman" / "containers.conf"))


def podman(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout, env=ENV)


def build(name: str, *args: str) -> str:
    built = subprocess.run([str(DEPLOY / "build-image"), *args], capture_output=True, text=True, timeout=3600,
                           env=dict(ENV, SERVAL_IMAGE=name))
    assert built.returncode == 0, built.stdout + built.stderr
    print("\n" + built.stdout.strip())
    return name


@pytest.fixture(scope="module")
def image() -> str:
    return build(IMAGE)


@pytest.fixture(scope="module")
def tf_image() -> str:
    return build(TF_IMAGE, "--tf")


def image_bytes(name: str) -> int:
    return int(podman("image", "inspect", "--format", "{{.Size}}", name).stdout)


def wait_ready(url: str, name: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if requests.get(url + "/v2/health/ready", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        assert time.monotonic() < deadline, podman("logs", name).stderr
        time.sleep(0.2)


def stop_with_sigterm(name: str) -> None:
    """SIGTERM to PID 1: readiness off, drain, exit 0."""
    assert podman("kill", "--signal", "TERM", name).returncode == 0
    waited = podman("wait", name, timeout=60)
    assert waited.stdout.strip() == "0", waited.stdout + waited.stderr + podman("logs", name).stderr
    logs = podman("logs", name)
    assert "received signal 15" in logs.stdout + logs.stderr


def test_image_contract(image):
    cfg = json.loads(podman("image", "inspect", image).stdout)[0]["Config"]
    assert set(cfg["ExposedPorts"]) == {"8500/tcp", "8501/tcp"}
    assert cfg["User"] == "10001:10001"
    assert cfg["Entrypoint"] == ["/usr/local/bin/serval", "--port=8500", "--rest_api_port=8501"]
    assert "MODEL_BASE_PATH=/models" in cfg["Env"] and "MODEL_NAME=model" in cfg["Env"]
    # only the runtime: no compiler, no headers, no build tree
    listing = podman("run", "--rm", "--network", "host", "--entrypoint", "/bin/sh", image, "-c",
                     "command -v g++ cc cmake ninja; ls /usr/include/onnxruntime_cxx_api.h /src 2>/dev/null; "
                     "ls /usr/local/lib/libonnxruntime.so.1")
    assert listing.stdout.strip() == "/usr/local/lib/libonnxruntime.so.1", listing.stdout + listing.stderr


def test_serves_rest_and_grpc_as_non_root_and_drains_on_sigterm(image, tmp_path):
    models = make_models(["add"])
    repo = tmp_path / "models"
    shutil.copytree(models / "add", repo / "add")
    os.chmod(tmp_path, 0o755)
    rest, grpc_port = free_port(), free_port()
    name = f"serval-smoke-{os.getpid()}"
    run = podman("run", "-d", "--name", name, "--network", "host", "-v", f"{repo}:/models:ro",
                 "-e", "MODEL_NAME=add", image, f"--rest_api_port={rest}", f"--port={grpc_port}",
                 "--rest_api_address=127.0.0.1")
    assert run.returncode == 0, run.stderr
    try:
        url = f"http://127.0.0.1:{rest}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(url + "/v2/health/ready", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, podman("logs", name).stderr
            time.sleep(0.2)
        # REST: TF Serving's API, the model chosen by MODEL_NAME under MODEL_BASE_PATH=/models
        status = requests.get(url + "/v1/models/add", timeout=10).json()
        assert status["model_version_status"][0]["state"] == "AVAILABLE"
        x = np.arange(16, dtype=np.float32)
        r = requests.post(url + "/v1/models/add:predict", json={"instances": [{"a": x.tolist(), "b": x.tolist()}]},
                          timeout=10)
        assert r.status_code == 200 and np.allclose(r.json()["predictions"][0], 2 * x), r.text
        # gRPC: TF Serving's own client stubs
        import grpc
        import tensorflow as tf
        from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc
        with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
            req = predict_pb2.PredictRequest()
            req.model_spec.name = "add"
            req.inputs["a"].CopyFrom(tf.make_tensor_proto(x.reshape(1, 16)))
            req.inputs["b"].CopyFrom(tf.make_tensor_proto(x.reshape(1, 16)))
            resp = prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(req, timeout=10)
            assert np.allclose(tf.make_ndarray(resp.outputs["sum"]), 2 * x)
        # non-root, and serval itself is PID 1
        ident = podman("exec", name, "sh", "-c", "id -u; id -g; tr '\\0' ' ' < /proc/1/cmdline")
        uid, gid, cmdline = ident.stdout.splitlines()
        assert (uid, gid) == ("10001", "10001")
        assert cmdline.startswith("/usr/local/bin/serval --port=8500 --rest_api_port=8501 ")
        # SIGTERM to PID 1: readiness off, drain, exit 0
        assert podman("kill", "--signal", "TERM", name).returncode == 0
        waited = podman("wait", name, timeout=60)
        assert waited.stdout.strip() == "0", waited.stdout + waited.stderr + podman("logs", name).stderr
        logs = podman("logs", name)
        assert "received signal 15" in logs.stdout + logs.stderr
    finally:
        podman("rm", "-f", name)


def test_tf_image_contract(tf_image, image):
    """The TensorFlow variant: the default image plus the worker and TensorFlow's two libraries, nothing else of
    the wheel (no Python, no headers)."""
    cfg = json.loads(podman("image", "inspect", tf_image).stdout)[0]["Config"]
    assert cfg["User"] == "10001:10001"
    assert cfg["Entrypoint"] == ["/usr/local/bin/serval", "--port=8500", "--rest_api_port=8501"]
    assert set(cfg["ExposedPorts"]) == {"8500/tcp", "8501/tcp"}
    listing = podman("run", "--rm", "--network", "host", "--entrypoint", "/bin/sh", tf_image, "-c",
                     "command -v g++ cc python3 python pip; ls -d /usr/include/tensorflow /opt/tensorflow /src "
                     "2>/dev/null; cd /usr/local && echo lib/* bin/*; "
                     "echo missing: $(ldd bin/serval-tf-worker bin/serval | grep -c 'not found'); "
                     "bin/serval-tf-worker --version 2>/dev/null")
    lines = listing.stdout.splitlines()
    assert lines[:2] == ["lib/libonnxruntime.so.1 lib/libtensorflow_cc.so.2 lib/libtensorflow_framework.so.2 "
                         "bin/serval bin/serval-tf-worker", "missing: 0"], listing.stdout + listing.stderr
    assert "2.21.0" in "\n".join(lines[2:]), listing.stdout
    size, base = image_bytes(tf_image), image_bytes(image)
    print(f"\nimage sizes: {image} {base / 1e6:.0f} MB, {tf_image} {size / 1e6:.0f} MB")
    # TensorFlow's two libraries are ~1.26 GB; the rest of the wheel (~600 MB more) must not be there
    assert 1.2e9 < size - base < 1.4e9, (size, base)


def test_tf_image_serves_a_savedmodel_on_both_ports_as_non_root(tf_image, tmp_path):
    made = subprocess.run([PYTHON, str(REPO / "models" / "make_tf_models.py"), "--out", str(TF_MODELS),
                           "--only", "half_plus_two"], capture_output=True, text=True, timeout=900)
    assert made.returncode == 0, made.stdout + made.stderr
    repo = tmp_path / "models"
    shutil.copytree(TF_MODELS / "half_plus_two", repo / "half_plus_two")
    for d in [tmp_path, *repo.rglob("*")]:
        os.chmod(d, 0o755 if d.is_dir() else 0o644)
    rest, grpc_port = free_port(), free_port()
    name = f"serval-tf-smoke-{os.getpid()}"
    run = podman("run", "-d", "--name", name, "--network", "host", "--read-only", "-v", f"{repo}:/models:ro",
                 "-e", "MODEL_NAME=half_plus_two", tf_image, f"--rest_api_port={rest}", f"--port={grpc_port}",
                 "--rest_api_address=127.0.0.1")
    assert run.returncode == 0, run.stderr
    try:
        url = f"http://127.0.0.1:{rest}"
        wait_ready(url, name)
        # REST: TF Serving's API; the latest of the two zero-padded versions is served
        status = requests.get(url + "/v1/models/half_plus_two", timeout=10).json()
        assert ("124", "AVAILABLE") in [(v["version"], v["state"]) for v in status["model_version_status"]], status
        r = requests.post(url + "/v1/models/half_plus_two:predict", json={"instances": [[1.0], [2.0], [5.0]]},
                          timeout=30)
        assert r.status_code == 200 and r.json() == {"predictions": [[2.5], [3.0], [4.5]]}, r.text
        meta = requests.get(url + "/v2/models/half_plus_two", timeout=10).json()
        assert meta["platform"] == "tensorflow_savedmodel", meta
        # gRPC: TF Serving's own client stubs (PredictionService.Predict, the latest version)
        import grpc
        import tensorflow as tf
        from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc
        with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
            stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
            req = predict_pb2.PredictRequest()
            req.model_spec.name = "half_plus_two"
            req.inputs["x"].CopyFrom(tf.make_tensor_proto(np.array([[4.0], [-2.0]], dtype=np.float32)))
            resp = stub.Predict(req, timeout=30)
            assert resp.model_spec.version.value == 124
            assert np.allclose(tf.make_ndarray(resp.outputs["y"]), [[4.0], [1.0]])
        # non-root; the TensorFlow worker is serval's child, same user
        ident = podman("exec", name, "sh", "-c",
                       "id -u; id -g; for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline | "
                       "grep -q '^/usr/local/bin/serval-tf-worker ' && awk '/^(PPid|Uid):/ {print $2}' $p/status; "
                       "done")
        assert ident.stdout.split() == ["10001", "10001", "1", "10001"], ident.stdout + ident.stderr
        stop_with_sigterm(name)
    finally:
        podman("rm", "-f", name)
