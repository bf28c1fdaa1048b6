"""Model warm-up: a version's <version>/assets.extra/tf_serving_warmup_requests (a TFRecord of PredictionLog,
written here with TensorFlow's own tools) is replayed before the version becomes AVAILABLE
(--num_request_iterations_for_warmup times per record); a bad file fails that version only;
--enable_model_warmup=false runs nothing; --enable_synthetic_warmup warms versions without a file.

The server logs `model <name> version <v>: warm-up ran <N> requests` once per warmed version."""
from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import requests

from conftest import ADD_A, ADD_B, ServerProcess, tail

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow is imported (lazily, below)

WARMUP_FILE = Path("assets.extra") / "tf_serving_warmup_requests"
LOG_WAIT_S = 30.0


# ----------------------------------------------------------------------------------------------------------
# warm-up files, built with the real TensorFlow / TF Serving tools
# ----------------------------------------------------------------------------------------------------------


def _tf():
    import tensorflow as tf  # noqa: PLC0415 (slow import: only the tests of this module pay for it)

    return tf


def add_predict_log(a: np.ndarray, b: np.ndarray, input_names=("a", "b")):
    from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2  # noqa: PLC0415

    tf = _tf()
    request = predict_pb2.PredictRequest(
        model_spec=model_pb2.ModelSpec(name="add", signature_name="serving_default"),
        inputs={input_names[0]: tf.make_tensor_proto(a), input_names[1]: tf.make_tensor_proto(b)},
    )
    return prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))


def mlp_classify_log(rows: list[list[float]]):
    from tensorflow_serving.apis import classification_pb2, input_pb2, model_pb2, prediction_log_pb2  # noqa: PLC0415

    tf = _tf()
    examples = [tf.train.Example(features=tf.train.Features(feature={
        "features": tf.train.Feature(float_list=tf.train.FloatList(value=row))})) for row in rows]
    request = classification_pb2.ClassificationRequest(
        model_spec=model_pb2.ModelSpec(name="mlp"),
        input=input_pb2.Input(example_list=input_pb2.ExampleList(examples=examples)),
    )
    return prediction_log_pb2.PredictionLog(classify_log=prediction_log_pb2.ClassifyLog(request=request))


def write_warmup(version_dir: Path, records: list[bytes]) -> Path:
    path = version_dir / WARMUP_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with _tf().io.TFRecordWriter(str(path)) as writer:
        for record in records:
            writer.write(record)
    return path


def add_records(n: int) -> list[bytes]:
    rng = np.random.default_rng(7)
    return [add_predict_log(rng.standard_normal((1 + i % 3, 16), dtype=np.float32),
                            rng.standard_normal((1 + i % 3, 16), dtype=np.float32)).SerializeToString()
            for i in range(n)]


def copy_version(models_dir: Path, model: str, base: Path, version: int) -> Path:
    dest = base / str(version)
    shutil.copytree(models_dir / model / "1", dest)
    return dest


# ----------------------------------------------------------------------------------------------------------
# server helpers
# ----------------------------------------------------------------------------------------------------------


def start(name: str, args: list[str], ready: list[str]) -> ServerProcess:
    return ServerProcess(name, ["--file_system_poll_wait_seconds=0", *args], ready_models=ready).start()


def wait_for_log(srv: ServerProcess, pattern: str) -> str:
    """The server's whole log once `pattern` (a regex) appears in it; fails after LOG_WAIT_S."""
    deadline = time.monotonic() + LOG_WAIT_S
    text = ""
    while time.monotonic() < deadline:
        text = srv.log_since(0, 1 << 22)
        if re.search(pattern, text):
            return text
        time.sleep(0.1)
    raise AssertionError(f"{pattern!r} not in the log of serval ({srv.name}):\n{tail(srv.log_path)}")


def version_status(srv: ServerProcess, model: str) -> dict[str, dict]:
    r = requests.get(f"{srv.url}/v1/models/{model}", timeout=30)
    assert r.status_code == 200, r.text
    return {s["version"]: s for s in r.json()["model_version_status"]}


def assert_add_serves(srv: ServerProcess, model: str) -> None:
    body = {"inputs": {"a": ADD_A.tolist(), "b": ADD_B.tolist()}}
    r = requests.post(f"{srv.url}/v1/models/{model}:predict", json=body, timeout=30)
    assert r.status_code == 200, r.text
    np.testing.assert_array_equal(np.array(r.json()["outputs"], dtype=np.float32), ADD_A + ADD_B)


def write_config(path: Path, models: dict[str, Path]) -> Path:
    text = "model_config_list {\n"
    for name, base in models.items():
        text += f"  config {{ name: '{name}' base_path: '{base}' model_platform: 'onnx' }}\n"
    path.write_text(text + "}\n")
    return path


# ----------------------------------------------------------------------------------------------------------
# tests
# ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("records,iterations", [(3, 2), (5, 1)])
def test_warmup_file_is_replayed_iterations_times(tmp_path, models_dir, records, iterations):
    base = tmp_path / "warm"
    write_warmup(copy_version(models_dir, "add", base, 1), add_records(records))
    srv = start("warmup", [f"--model_name=warm", f"--model_base_path={base}",
                           f"--num_request_iterations_for_warmup={iterations}"], ["warm"])
    try:
        log = wait_for_log(srv, r"model warm version 1: warm-up ran \d+ requests")
        assert f"model warm version 1: warm-up ran {records * iterations} requests" in log, tail(srv.log_path)
        assert version_status(srv, "warm")["1"]["state"] == "AVAILABLE"
        assert_add_serves(srv, "warm")
    finally:
        assert srv.stop() == 0


def test_default_iterations_run_each_record_once(tmp_path, models_dir):
    base = tmp_path / "warm"
    write_warmup(copy_version(models_dir, "add", base, 1), add_records(4))
    srv = start("warmup-default", [f"--model_name=warm", f"--model_base_path={base}"], ["warm"])
    try:
        log = wait_for_log(srv, r"model warm version 1: warm-up ran \d+ requests")
        assert "model warm version 1: warm-up ran 4 requests" in log, tail(srv.log_path)
    finally:
        assert srv.stop() == 0


def test_classify_log_warms_a_classifier(tmp_path, models_dir):
    base = tmp_path / "cls"
    records = [mlp_classify_log([[5.1, 3.5, 1.4, 0.2], [6.2, 2.9, 4.3, 1.3]]).SerializeToString()] * 2
    write_warmup(copy_version(models_dir, "mlp", base, 1), records)
    srv = start("warmup-classify", [f"--model_name=cls", f"--model_base_path={base}",
                                    "--num_request_iterations_for_warmup=3"], ["cls"])
    try:
        log = wait_for_log(srv, r"model cls version 1: warm-up ran \d+ requests")
        assert "model cls version 1: warm-up ran 6 requests" in log, tail(srv.log_path)
    finally:
        assert srv.stop() == 0


def _corrupt_checksum(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-6] ^= 0x01  # inside the last record's data: its checksum no longer matches
    path.write_bytes(bytes(data))


BAD_FILES = {
    # kind: (records, post-processing, text the error must contain)
    "bad_checksum": (lambda: add_records(2), _corrupt_checksum, "record 2"),
    "not_a_prediction_log": (lambda: add_records(1) + [b"\xff\xff\xff not a proto"], None, "record 2"),
    "unknown_input": (lambda: add_records(1) + [add_predict_log(ADD_A, ADD_B, ("a", "nope")).SerializeToString()],
                      None, "record 2"),
    "too_many_records": (lambda: add_records(1) * 1001, None, "exceeds the maximum (1000)"),
}


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_bad_warmup_file_fails_that_version_only(tmp_path, models_dir, kind):
    make_records, post, expected = BAD_FILES[kind]
    warm = tmp_path / "warm"
    copy_version(models_dir, "add", warm, 1)  # v1: no warm-up file, serves
    path = write_warmup(copy_version(models_dir, "add", warm, 2), make_records())
    if post:
        post(path)
    other = tmp_path / "other"
    write_warmup(copy_version(models_dir, "add", other, 1), add_records(2))
    cfg = write_config(tmp_path / "models.config", {"warm": warm, "other": other})
    srv = start(f"warmup-{kind}", [f"--model_config_file={cfg}"], ["warm", "other"])
    try:
        status = version_status(srv, "warm")
        assert status["2"]["state"] == "END", status
        message = status["2"]["status"]["error_message"]
        assert "tf_serving_warmup_requests" in message and expected in message, message
        assert status["2"]["status"]["error_code"] != "OK", status
        assert status["1"]["state"] == "AVAILABLE", status
        assert_add_serves(srv, "warm")  # the latest AVAILABLE version: 1
        assert version_status(srv, "other")["1"]["state"] == "AVAILABLE"
        assert_add_serves(srv, "other")
        log = srv.log_since(0, 1 << 22)
        assert "model other version 1: warm-up ran 2 requests" in log, tail(srv.log_path)
        assert "model warm version 2: warm-up ran" not in log, tail(srv.log_path)
    finally:
        assert srv.stop() == 0


def test_disabled_warmup_runs_nothing(tmp_path, models_dir):
    base = tmp_path / "warm"
    # A file that would fail the version if it were replayed, and one that would be counted.
    path = write_warmup(copy_version(models_dir, "add", base, 1), add_records(3))
    _corrupt_checksum(path)
    write_warmup(copy_version(models_dir, "add", base, 2), add_records(3))
    cfg = write_config(tmp_path / "models.config", {"warm": base})
    cfg.write_text(cfg.read_text().replace("model_platform: 'onnx'",
                                           "model_platform: 'onnx' model_version_policy { all {} }"))
    srv = start("warmup-off", [f"--model_config_file={cfg}", "--enable_model_warmup=false",
                               "--num_request_iterations_for_warmup=2"], ["warm"])
    try:
        status = version_status(srv, "warm")
        assert status["1"]["state"] == "AVAILABLE" and status["2"]["state"] == "AVAILABLE", status
        log = srv.log_since(0, 1 << 22)
        assert not re.search(r"warm-up ran [1-9]", log), tail(srv.log_path)
        assert_add_serves(srv, "warm")
    finally:
        assert srv.stop() == 0


def test_synthetic_warmup_for_versions_without_a_file(tmp_path, models_dir):
    plain = tmp_path / "plain"
    copy_version(models_dir, "add", plain, 1)
    multitype = tmp_path / "multi"
    copy_version(models_dir, "multitype", multitype, 1)  # every element type, strings included
    filed = tmp_path / "filed"
    write_warmup(copy_version(models_dir, "add", filed, 1), add_records(2))
    cfg = write_config(tmp_path / "models.config", {"plain": plain, "multi": multitype, "filed": filed})
    srv = start("warmup-synthetic", [f"--model_config_file={cfg}", "--enable_synthetic_warmup=true",
                                     "--num_request_iterations_for_warmup=3"], ["plain", "multi", "filed"])
    try:
        log = wait_for_log(srv, r"model filed version 1: warm-up ran \d+ requests")
        assert "model plain version 1: warm-up ran 3 requests" in log, tail(srv.log_path)
        assert "model multi version 1: warm-up ran 3 requests" in log, tail(srv.log_path)
        assert "model filed version 1: warm-up ran 6 requests" in log, tail(srv.log_path)  # the file wins
        assert_add_serves(srv, "plain")
    finally:
        assert srv.stop() == 0


def test_no_synthetic_warmup_by_default(tmp_path, models_dir):
    base = tmp_path / "plain"
    copy_version(models_dir, "add", base, 1)
    srv = start("warmup-none", [f"--model_name=plain", f"--model_base_path={base}"], ["plain"])
    try:
        log = srv.log_since(0, 1 << 22)
        assert not re.search(r"warm-up ran [1-9]", log), tail(srv.log_path)
        assert_add_serves(srv, "plain")
    finally:
        assert srv.stop() == 0
