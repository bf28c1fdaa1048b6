"""Command line and environment conventions (docs/protocols.md §2.4, §2.10)."""

from __future__ import annotations

import os
import shutil
import subprocess

import numpy as np
import pytest
import requests

from conftest import ServerProcess, free_port, get, jloads, post_json, require_binary, tail

EXIT_TIMEOUT_S = 30


def run_to_exit(args: list[str], env: dict | None = None) -> subprocess.CompletedProcess:
    """Runs serval expecting it to exit by itself (bounded); returns the completed process."""
    cmd = [str(require_binary()), f"--rest_api_port={free_port()}", f"--port={free_port()}",
           "--rest_api_address=127.0.0.1", *args]
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=EXIT_TIMEOUT_S, env=env)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"serval did not exit within {EXIT_TIMEOUT_S}s: {cmd}\n{e.stderr}") from None


def clean_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("MODEL_NAME", "MODEL_BASE_PATH")}
    env.update(extra)
    return env


@pytest.mark.parametrize(
    "flag,name",
    [
        ("--ssl_config_file=/tmp/x", "ssl_config_file"),  # a TF Serving flag not implemented yet
        ("--log_level=chatty", "log_level"),
        ("--batching_parameters_file=/tmp/x", "batching_parameters_file"),
        ("--no_such_flag_xyz=1", "no_such_flag_xyz"),
    ],
)
def test_unsupported_or_unknown_flag_exits_nonzero_naming_it(models_dir, flag, name):
    proc = run_to_exit([f"--model_base_path={models_dir / 'add'}", "--model_name=add", flag], env=clean_env())
    assert proc.returncode != 0, f"exit 0 with {flag}\n{proc.stdout}\n{proc.stderr}"
    assert name in proc.stderr + proc.stdout, f"message does not name {name}:\n{proc.stderr}\n{proc.stdout}"


def test_no_models_configured_exits_nonzero(models_dir):
    proc = run_to_exit([], env=clean_env())
    assert proc.returncode != 0, proc.stderr


def test_unparsable_config_file_exits_nonzero(tmp_path):
    cfg = tmp_path / "bad.config"
    cfg.write_text("model_config_list { config { name: 'x' base_path: ")
    proc = run_to_exit([f"--model_config_file={cfg}"], env=clean_env())
    assert proc.returncode != 0, proc.stderr
    assert str(cfg) in proc.stderr + proc.stdout, proc.stderr  # the message names the file


def stop(srv: ServerProcess) -> int | None:
    rc = srv.stop()
    return rc


def _started(name: str, args: list[str], env: dict, ready: list[str]) -> ServerProcess:
    srv = ServerProcess(name, args, env=env, ready_models=ready)
    srv.start()
    return srv


def test_env_model_name_and_base_path(models_dir):
    """TF Serving's Docker convention: base path = $MODEL_BASE_PATH/$MODEL_NAME, no model flags."""
    env = clean_env(MODEL_NAME="mlp", MODEL_BASE_PATH=str(models_dir))
    srv = _started("env", [], env, ["mlp"])
    try:
        r = get(srv, "/v1/models/mlp")
        assert r.status_code == 200, r.text
        assert r.json() == {
            "model_version_status": [
                {"version": "1", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}
            ]
        }
        x = np.ones((2, 4), np.float32)
        r = post_json(srv, "/v1/models/mlp:predict", {"instances": x.tolist()})
        assert r.status_code == 200, r.text
        preds = jloads(r.content)["predictions"]
        assert len(preds) == 2 and set(preds[0]) == {"scores", "class_ids"}
        assert abs(sum(preds[0]["scores"]) - 1.0) < 1e-5
        # only that model is served
        assert get(srv, "/v1/models/add").status_code == 404
    finally:
        rc = stop(srv)
    assert rc == 0, f"exit {rc} on SIGTERM\n{tail(srv.log_path)}"


def test_model_base_path_serves_highest_version(models_dir):
    srv = _started("basepath", ["--model_name=add", f"--model_base_path={models_dir / 'add'}"], clean_env(), ["add"])
    try:
        r = get(srv, "/v1/models/add")
        assert r.status_code == 200, r.text
        # default policy: latest 1 → only version 2 is served
        assert r.json() == {
            "model_version_status": [
                {"version": "2", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}
            ]
        }
        a = np.arange(16, dtype=np.float32).reshape(1, 16)
        r = post_json(
            srv,
            "/v2/models/add/infer",
            {
                "inputs": [
                    {"name": "a", "shape": [1, 16], "datatype": "FP32", "data": a.ravel().tolist()},
                    {"name": "b", "shape": [1, 16], "datatype": "FP32", "data": a.ravel().tolist()},
                ]
            },
        )
        assert r.status_code == 200, r.text
        body = jloads(r.content)
        assert body["model_version"] == "2"
        assert body["outputs"][0]["data"] == (2 * a).ravel().tolist()
        assert get(srv, "/v1/models/add/versions/1").status_code == 404
        assert get(srv, "/v1/models/add/metadata").json()["model_spec"]["version"] == "2"
    finally:
        rc = stop(srv)
    assert rc == 0, f"exit {rc} on SIGTERM\n{tail(srv.log_path)}"


def test_model_name_defaults_with_env_base_path_only(models_dir, tmp_path):
    """MODEL_BASE_PATH alone: the model name defaults to `model` (TF Serving's Docker image default)."""
    shutil.copytree(models_dir / "add", tmp_path / "model")
    srv = _started("envdefault", [], clean_env(MODEL_BASE_PATH=str(tmp_path)), ["model"])
    try:
        assert get(srv, "/v1/models/model").status_code == 200
    finally:
        rc = stop(srv)
    assert rc == 0


def test_rest_api_binds_loopback_only(server):
    """--rest_api_address=127.0.0.1 is honoured: the port answers on loopback (sanity of the fixture)."""
    r = requests.get(f"http://127.0.0.1:{server.rest_port}/v2/health/live", timeout=5)
    assert r.status_code == 200
    # and the listening socket is bound to 127.0.0.1, not 0.0.0.0
    port_hex = f"{server.rest_port:04X}"
    with open("/proc/net/tcp") as f:
        rows = [line.split() for line in f.readlines()[1:]]
    listening = [r[1] for r in rows if r[3] == "0A" and r[1].endswith(":" + port_hex)]
    assert listening == ["0100007F:" + port_hex], listening
