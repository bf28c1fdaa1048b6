"""CI smoke of serval-bench: every target, the tiny `add` model, about 10 s in all. No timing
assertions: each run must complete with zero errors, a positive count, outputs checked on every response
(--check_every=1) and the server's /proc sampled. One run is pointed at a model whose answers differ from the
server's, and must fail: the output check is what keeps a fast-but-wrong server from passing.

$SERVAL_BENCH overrides the binary (default: tools/bench/serval-bench in the build tree of $SERVAL_BINARY).
nginx (a Debian package scripts/setup installs) serves the HTTP floor; missing, it is a hard error.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, helper

from conftest import BINARY, MODELS_DIR, PYTHON, REPO, require_binary

sys.path.insert(0, str(REPO / "bench"))
import harness  # noqa: E402

BUILD_DIR = BINARY.parents[2]
BENCH = Path(os.environ.get("SERVAL_BENCH", str(BUILD_DIR / "tools" / "bench" / "serval-bench")))
ECHO = BENCH.parent / "serval-grpc-echo"
SHORT = ["--warmup_s=0.2", "--window_s=0.4", "--duration_s=0.8", "--check_every=1"]


def require_bench() -> None:
    for exe in (BENCH, ECHO):
        if not (exe.is_file() and os.access(exe, os.X_OK)):
            raise RuntimeError(f"{exe} not built (set $SERVAL_BENCH); this is a hard error, not a skip")


@pytest.fixture(scope="module")
def add_model() -> Path:
    MODELS_DIR.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([PYTHON, str(REPO / "models" / "make_models.py"), "--out", str(MODELS_DIR), "--only", "add"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return MODELS_DIR / "add"


@pytest.fixture(scope="module")
def systems(add_model, tmp_path_factory):
    """Serval serving `add`, nginx with its static response, and the gRPC echo server."""
    require_binary()
    require_bench()
    work = tmp_path_factory.mktemp("bench-smoke")
    try:
        serval = harness.start_serval(BINARY, work, ["--model_name=add", f"--model_base_path={add_model}",
                                                     "--rest_api_num_threads=2", "--intra_op_threads=1"],
                                      ready_models=("add",))
        nginx = harness.start_nginx(work)
        echo = harness.start_grpc_echo(ECHO, work)
        yield {"serval": serval, "nginx": nginx, "echo": echo, "work": work,
               "model_file": add_model / "2" / "model.onnx"}
    finally:
        harness.stop_all()


def assert_clean(code: int, data: dict, out: str, expect_server: bool = True) -> dict:
    assert code == 0, out
    points = data["points"]
    assert points, out
    for p in points:
        assert p["errors"] == 0 and p["wrong_answers"] == 0, (p["first_error"], out)
        assert p["completed"] > 0 and p["throughput"] > 0, out
        assert p["checked"] >= p["completed"], out  # --check_every=1: every response was compared
        lat = p["latency_us"]
        assert 0 < lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["p99.9"] <= lat["max"], lat
        assert len(p["windows"]) == 2, p["windows"]
        if expect_server:
            assert p["server_sampled"], out
            assert p["server_after_run"]["vm_rss_kb"] > 0 and p["server_after_run"]["threads"] >= 1, p
    return points[0]


@pytest.mark.parametrize("target", ["tfs-rest", "tfs-grpc", "kserve-rest", "kserve-rest-binary", "kserve-grpc"])
def test_model_targets(systems, target):
    s = systems["serval"]
    port = s.grpc_port if target.endswith("grpc") else s.rest_port
    code, data, out = harness.run_bench(
        BENCH, [f"--target={target}", f"--port={port}", "--model_name=add", f"--model_file={systems['model_file']}",
                f"--server_pid={s.pid}", "--concurrency=2", "--batch=3", *SHORT],
        systems["work"] / f"{target}.json", timeout_s=120)
    point = assert_clean(code, data, out)
    assert point["target"] == target and point["concurrency"] == 2


@pytest.mark.parametrize("target", ["kserve-rest-binary", "tfs-grpc"])
def test_encode_per_request(systems, target):
    """--encode_per_request rebuilds the body/message for every request: answers must still check out."""
    s = systems["serval"]
    port = s.grpc_port if target.endswith("grpc") else s.rest_port
    code, data, out = harness.run_bench(
        BENCH, [f"--target={target}", f"--port={port}", "--model_name=add", f"--model_file={systems['model_file']}",
                f"--server_pid={s.pid}", "--concurrency=1", "--encode_per_request", *SHORT],
        systems["work"] / f"encode-{target}.json", timeout_s=120)
    assert_clean(code, data, out)
    assert data["encode_per_request"] is True


def test_inprocess(systems):
    code, data, out = harness.run_bench(
        BENCH, ["--target=inprocess", f"--model_file={systems['model_file']}", "--concurrency=1", *SHORT],
        systems["work"] / "inprocess.json", timeout_s=120)
    point = assert_clean(code, data, out)
    assert data["onnxruntime"], data  # the runtime version is recorded with the numbers


def test_floors(systems):
    nginx, echo = systems["nginx"], systems["echo"]
    code, data, out = harness.run_bench(
        BENCH, ["--target=http-get", f"--port={nginx.rest_port}", "--http_path=/static", f"--server_pid={nginx.pid}",
                "--concurrency=1", *SHORT], systems["work"] / "nginx.json", timeout_s=120)
    assert_clean(code, data, out)
    code, data, out = harness.run_bench(
        BENCH, ["--target=grpc-echo", f"--port={echo.grpc_port}", f"--server_pid={echo.pid}", "--concurrency=2", *SHORT],
        systems["work"] / "echo.json", timeout_s=120)
    assert_clean(code, data, out)


def test_open_loop_is_measured_from_the_schedule(systems):
    s = systems["serval"]
    code, data, out = harness.run_bench(
        BENCH, ["--target=kserve-grpc", f"--port={s.grpc_port}", "--model_name=add",
                f"--model_file={systems['model_file']}", f"--server_pid={s.pid}", "--concurrency=4", "--rate=200",
                "--distribution=poisson", *SHORT], systems["work"] / "open.json", timeout_s=120)
    point = assert_clean(code, data, out)
    assert point["target_rate"] == 200
    assert point["achieved_rate"] > 0 and 0 <= point["late_fraction"] <= 1, point
    assert isinstance(point["valid"], bool)


def test_wrong_answers_fail_the_run(systems, tmp_path):
    """A reference model that computes a - b instead of a + b: every checked response must be called wrong."""
    graph = helper.make_graph(
        [helper.make_node("Sub", ["a", "b"], ["sum"])], "not_add",
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, ["batch", 16]),
         helper.make_tensor_value_info("b", TensorProto.FLOAT, ["batch", 16])],
        [helper.make_tensor_value_info("sum", TensorProto.FLOAT, ["batch", 16])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    wrong = tmp_path / "not_add.onnx"
    onnx.save(model, str(wrong))
    s = systems["serval"]
    for target, port in (("kserve-rest", s.rest_port), ("tfs-grpc", s.grpc_port)):
        code, data, out = harness.run_bench(
            BENCH, [f"--target={target}", f"--port={port}", "--model_name=add", f"--model_file={wrong}",
                    "--concurrency=1", "--warmup_s=0", "--duration_s=0.2", "--window_s=0.2", "--check_every=1"],
            tmp_path / f"wrong-{target}.json", timeout_s=60)
        assert code == 1, out
        point = data["points"][0]
        assert point["wrong_answers"] > 0 and "wrong answer" in point["first_error"], point
