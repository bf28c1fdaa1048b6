"""The container image (deploy/build-image, deploy/Dockerfile), built and run with podman.

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

import numpy as np
import pytest
import requests

from conftest import DEPLOY, free_port, make_models

pytestmark = pytest.mark.deploy

IMAGE = os.environ.get("SERVAL_IMAGE", "localhost/serval:latest")
ENV = dict(os.environ, CONTAINERS_CONF=str(DEPLOY / "podman" / "containers.conf"))


def podman(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout, env=ENV)


@pytest.fixture(scope="module")
def image() -> str:
    built = subprocess.run([str(DEPLOY / "build-image")], capture_output=True, text=True, timeout=3600,
                           env=dict(ENV, SERVAL_IMAGE=IMAGE))
    assert built.returncode == 0, built.stdout + built.stderr
    print("\n" + built.stdout.strip())
    return IMAGE


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
