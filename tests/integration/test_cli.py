"""Command line and environment conventions (docs/protocols.md §2.4, §2.10), and --help / --version."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import requests

from conftest import BINARY, REPO, ServerProcess, free_port, get, jloads, post_json, require_binary, tail

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
        ("--ssl_config_file=/nonexistent/ssl.config", "ssl_config_file"),  # a file that cannot be read
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


# --- --help and --version: only the program's own flags, grouped, no build paths ------------------------------

BENCH = Path(os.environ.get("SERVAL_BENCH", str(BINARY.parents[2] / "tools" / "bench" / "serval-bench")))
# Flags gflags itself defines; --help must not list them (nor any library's).
GFLAGS_OWN = ["--flagfile", "--fromenv", "--tryfromenv", "--undefok", "--tab_completion_columns", "--helpxml",
              "--helpmatch", "--helpon"]


def run_info(binary: Path, *args: str) -> subprocess.CompletedProcess:
    try:
        return subprocess.run([str(binary), *args], capture_output=True, text=True, timeout=EXIT_TIMEOUT_S,
                              env=clean_env())
    except subprocess.TimeoutExpired:
        raise AssertionError(f"{binary.name} {' '.join(args)} did not exit within {EXIT_TIMEOUT_S}s") from None


def defined_flags(source: Path) -> list[str]:
    """The flags a source file defines with gflags' DEFINE_<type>(name, ...)."""
    return re.findall(r"^DEFINE_[a-z0-9]+\(\s*([a-z0-9_]+)\s*,", source.read_text(), flags=re.M)


def help_flags(text: str) -> list[str]:
    return re.findall(r"^  --([a-z0-9_]+) \(", text, flags=re.M)


def assert_clean_help(text: str, own_flags: list[str], headings: list[str]) -> None:
    listed = help_flags(text)
    assert sorted(listed) == sorted(own_flags), (
        f"--help lists {sorted(set(listed) ^ set(own_flags))} wrongly (missing or foreign)\n{text}")
    assert len(listed) == len(set(listed)), f"a flag is listed twice\n{text}"
    for flag in GFLAGS_OWN:
        assert flag not in text, f"gflags' own {flag} in --help\n{text}"
    for leak in (str(REPO), "/usr/", ".cc", ".h:", "Flags from"):
        assert leak not in text, f"build path or library listing ({leak!r}) in --help\n{text}"
    positions = [text.find(f"\n{heading}:\n") for heading in headings]
    assert all(p >= 0 for p in positions), f"missing headings {headings}\n{text}"
    assert positions == sorted(positions), f"headings out of order\n{text}"


SERVAL_HEADINGS = ["Endpoints (REST and gRPC)", "Models (or the MODEL_NAME and MODEL_BASE_PATH environment variables)",
                   "Engines (ONNX Runtime, TensorFlow)", "Model lifecycle", "Triton model repository", "Model control",
                   "Batching", "Operations",
                   "TF Lite / XLA / TPU / profiler flags (accepted and ignored)"]


@pytest.mark.parametrize("arg", ["--help", "-help", "-h", "--helpfull", "--helpshort"])
def test_serval_help_lists_only_its_own_flags_grouped(arg):
    proc = run_info(require_binary(), arg)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("serval: serves models"), proc.stdout[:200]
    own = defined_flags(REPO / "src" / "server" / "server_options.cc")
    assert len(own) > 40, own  # the regex found the flags
    assert_clean_help(proc.stdout, own, SERVAL_HEADINGS)
    # a flag's entry: name, type, default, then its description
    assert "\n  --rest_api_port (int32, default: 8501)\n      HTTP/REST API port" in proc.stdout, proc.stdout


def test_serval_help_headings_follow_the_readme_flag_table():
    """README "Flags" uses the same headings in the same order, so --help and the README read alike."""
    readme = (REPO / "README.md").read_text()
    flags_section = readme[readme.index("## Flags"):readme.index("## Model lifecycle")]
    readme_headings = re.findall(r"^\*\*(.+)\*\*$", flags_section, flags=re.M)
    help_text = run_info(require_binary(), "--help").stdout
    help_headings = re.findall(r"^(\S.*):$", help_text, flags=re.M)
    assert [h.split(" (or the")[0] for h in help_headings] == readme_headings, (help_headings, readme_headings)


def test_serval_help_does_not_start_the_server():
    """--help with a model configured still only prints and exits 0 (no port is bound, no model loaded)."""
    proc = run_info(require_binary(), "--help", "--model_name=x", "--model_base_path=/nonexistent")
    assert proc.returncode == 0, proc.stderr
    assert "ready" not in proc.stderr and "listening" not in proc.stderr, proc.stderr


def test_serval_version_names_serval_and_onnxruntime():
    import onnxruntime  # the same ORT version scripts/setup pins for the server

    proc = run_info(require_binary(), "--version")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    version = re.search(r"project\(serval VERSION ([0-9.]+)", (REPO / "CMakeLists.txt").read_text()).group(1)
    assert lines[0] == f"serval {version}", proc.stdout
    assert lines[1] == f"ONNX Runtime {onnxruntime.__version__}", proc.stdout
    # the TensorFlow worker is built beside serval here, so its TensorFlow is named too (the wheel's version)
    from importlib.metadata import version as dist_version

    assert lines[2] == f"TensorFlow {dist_version('tensorflow')}", proc.stdout
    assert "I0000" not in proc.stderr and "oneDNN" not in proc.stderr, proc.stderr
    assert all(re.fullmatch(r"[A-Za-z][A-Za-z ]* [0-9][0-9A-Za-z.+-]*", line) for line in lines), proc.stdout
    assert str(REPO) not in proc.stdout and "gflags" not in proc.stdout.lower()


BENCH_HEADINGS = ["Target", "Load", "Measurement", "Inputs",
                  "In-process engine (--target=inprocess; match the server's flags)", "Process and output"]


@pytest.mark.parametrize("arg", ["--help", "-h", "--helpfull"])
def test_bench_help_lists_only_its_own_flags_grouped(arg):
    assert BENCH.is_file(), f"serval-bench not built at {BENCH} (set $SERVAL_BENCH)"
    proc = run_info(BENCH, arg)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("serval-bench: "), proc.stdout[:200]
    own = defined_flags(REPO / "tools" / "bench" / "serval_bench_main.cc")
    assert len(own) > 30, own
    assert_clean_help(proc.stdout, own, BENCH_HEADINGS)


def test_bench_version_names_onnxruntime():
    proc = run_info(BENCH, "--version")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("serval-bench ") and lines[1].startswith("ONNX Runtime 1."), proc.stdout
