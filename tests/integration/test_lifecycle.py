"""Model lifecycle under load (docs/reliability.md §6.A): version swaps, failed reloads, partial publishes, unloads while
requests are in flight, the config-file reload, and version labels on all four protocol surfaces.

Every test starts its own serval on a model directory it owns, drives it with real clients (requests,
tritonclient, tensorflow-serving-api), and counts what a client would see. Every loop is bounded in count and
time.
"""
from __future__ import annotations

import http.client
import json
import os
import threading
import time
from pathlib import Path

import grpc
import numpy as np
import onnx
import requests
from onnx import TensorProto, helper

from conftest import ADD_A, ADD_B, ServerProcess

POLL = 1  # --file_system_poll_wait_seconds and --model_config_file_poll_wait_seconds in these tests


def add_model_bytes(models_dir: Path) -> bytes:
    return (models_dir / "add" / "1" / "model.onnx").read_bytes()


def publish(base: Path, version: int, data: bytes) -> None:
    """Publishes a version the way deployment tools do: write it aside, then rename the directory into place."""
    staging = base / f".staging-{version}"
    staging.mkdir(parents=True)
    (staging / "model.onnx").write_bytes(data)
    os.rename(staging, base / str(version))


def replace_file(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def kserve_add_body() -> bytes:
    return json.dumps({"inputs": [
        {"name": "a", "shape": [2, 16], "datatype": "FP32", "data": ADD_A.ravel().tolist()},
        {"name": "b", "shape": [2, 16], "datatype": "FP32", "data": ADD_B.ravel().tolist()},
    ]}).encode()


EXPECTED_SUM = (ADD_A + ADD_B).ravel()


def version_states(srv: ServerProcess, model: str) -> dict[str, dict]:
    r = requests.get(f"{srv.url}/v1/models/{model}", timeout=10)
    if r.status_code != 200:
        return {}
    return {s["version"]: s for s in r.json().get("model_version_status", [])}


def wait_for(predicate, timeout_s: float, what: str, interval_s: float = 0.05):
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what} (last: {last!r})")


class LoadClients:
    """`threads` keep-alive clients sending KServe add inferences until stop() or `max_s`; records every answer."""

    def __init__(self, srv: ServerProcess, model: str, threads: int = 3, max_s: float = 60.0,
                 max_requests_per_thread: int = 200_000):
        self.srv, self.model, self.max_s, self.max_n = srv, model, max_s, max_requests_per_thread
        self.stopping = threading.Event()
        self.results: list[list[tuple[float, float, int, str]]] = [[] for _ in range(threads)]
        self.failures: list[str] = []
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(threads)]

    def _run(self, index: int) -> None:
        body = kserve_add_body()
        out = self.results[index]
        conn = http.client.HTTPConnection("127.0.0.1", self.srv.rest_port, timeout=30)
        end = time.monotonic() + self.max_s
        for _ in range(self.max_n):
            if self.stopping.is_set() or time.monotonic() > end:
                break
            sent = time.monotonic()
            try:
                conn.request("POST", f"/v2/models/{self.model}/infer", body=body,
                             headers={"Content-Type": "application/json"})
                resp = conn.getresponse()
                data = resp.read()
            except (OSError, http.client.HTTPException) as e:
                self.failures.append(f"{type(e).__name__}: {e}")
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.srv.rest_port, timeout=30)
                continue
            done = time.monotonic()
            if resp.status != 200:
                self.failures.append(f"HTTP {resp.status}: {data[:200]!r}")
                continue
            answer = json.loads(data)
            got = np.asarray(answer["outputs"][0]["data"], dtype=np.float32)
            if not np.array_equal(got, EXPECTED_SUM):
                self.failures.append("wrong sum")
            out.append((sent, done, resp.status, answer["model_version"]))
        conn.close()

    def start(self) -> "LoadClients":
        for t in self.threads:
            t.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        for t in self.threads:
            t.join(timeout=60)
        assert not any(t.is_alive() for t in self.threads), "a load client did not stop"

    @property
    def count(self) -> int:
        return sum(len(r) for r in self.results)

    def last_served(self) -> dict[str, float]:
        """version -> completion time of the last request it answered."""
        last: dict[str, float] = {}
        for records in self.results:
            for _sent, done, _status, version in records:
                last[version] = max(last.get(version, 0.0), done)
        return last


def start_single(name: str, base: Path, extra: list[str] = ()) -> ServerProcess:
    srv = ServerProcess(name, [f"--model_name={name}", f"--model_base_path={base}",
                               f"--file_system_poll_wait_seconds={POLL}", *extra], ready_models=[name])
    return srv.start()


def test_version_swap_under_load(tmp_path, models_dir):
    """latest{1}, a new version every 4 s for 20 s under continuous load: nothing fails, versions never go
    backwards, each old version reaches END within 2 s of the last request it answered."""
    data = add_model_bytes(models_dir)
    base = tmp_path / "swap"
    publish(base, 1, data)
    srv = start_single("swap", base)
    ended: dict[str, float] = {}
    monitor_stop = threading.Event()

    def monitor():
        end = time.monotonic() + 60
        while not monitor_stop.is_set() and time.monotonic() < end:
            for version, status in version_states(srv, "swap").items():
                if status["state"] == "END" and version not in ended:
                    ended[version] = time.monotonic()
            time.sleep(0.05)

    watcher = threading.Thread(target=monitor, daemon=True)
    try:
        watcher.start()
        clients = LoadClients(srv, "swap", threads=3).start()
        started = time.monotonic()
        for version in (2, 3, 4, 5):
            time.sleep(max(0.0, started + 4 * (version - 1) - time.monotonic()))
            publish(base, version, data)
        time.sleep(max(0.0, started + 20 - time.monotonic()))
        clients.stop()
        elapsed = time.monotonic() - started
        wait_for(lambda: all(v in ended for v in ("1", "2", "3", "4")), 10, "versions 1-4 to reach END")
        monitor_stop.set()
        watcher.join(timeout=10)

        assert clients.failures == [], clients.failures[:5]
        rate = clients.count / elapsed
        assert rate >= 200, f"only {rate:.0f} req/s"
        for records in clients.results:
            versions = [int(v) for _s, _d, _st, v in records]
            assert versions == sorted(versions), "a client saw the served version go backwards"
        served = set().union(*({v for *_x, v in r} for r in clients.results))
        assert {"1", "5"} <= served, served
        last = clients.last_served()
        for version in ("1", "2", "3", "4"):
            if version in last:  # a version swapped out before any request reached it has nothing to drain
                assert ended[version] - last[version] <= 2.0, (version, ended[version] - last[version])
        assert version_states(srv, "swap")["5"]["state"] == "AVAILABLE"
    finally:
        monitor_stop.set()
        assert srv.stop() == 0


def broken_graph_model() -> bytes:
    """A well-formed ModelProto whose graph is broken: the Add node reads a tensor nothing produces."""
    graph = helper.make_graph(
        [helper.make_node("Add", ["a", "nowhere"], ["sum"])], "broken",
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, [-1, 16]),
         helper.make_tensor_value_info("b", TensorProto.FLOAT, [-1, 16])],
        [helper.make_tensor_value_info("sum", TensorProto.FLOAT, [-1, 16])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    return model.SerializeToString()


def test_failed_reload_under_load(tmp_path, models_dir):
    """A truncated file, random bytes and a broken graph published as v2 under load: v1 keeps answering every
    request; v2 reports END with an error naming its file each time."""
    data = add_model_bytes(models_dir)
    base = tmp_path / "flaky"
    publish(base, 1, data)
    srv = start_single("flaky", base)
    bad_versions = [
        ("truncated", data[: len(data) // 2]),
        ("random", np.random.default_rng(5).integers(0, 256, 4096, dtype=np.uint8).tobytes()),
        ("broken graph", broken_graph_model()),
    ]
    try:
        clients = LoadClients(srv, "flaky", threads=2).start()
        time.sleep(1.0)
        log_start = srv.log_size()
        for attempt, (kind, payload) in enumerate(bad_versions, start=1):
            if attempt == 1:
                publish(base, 2, payload)
            else:
                replace_file(base / "2" / "model.onnx", payload)
            wait_for(lambda: srv.log_since(log_start, 1 << 20).count("version 2: load failed") >= attempt,
                     15, f"the {kind} v2 to fail")
            status = wait_for(lambda: (s := version_states(srv, "flaky").get("2")) and s["state"] == "END" and s,
                              5, "v2 to be END")
            message = status["status"]["error_message"]
            assert "2/model.onnx" in message, (kind, message)
            assert version_states(srv, "flaky")["1"]["state"] == "AVAILABLE"
        time.sleep(1.0)
        clients.stop()
        assert clients.failures == [], clients.failures[:5]
        assert clients.count > 100
        served = {v for r in clients.results for *_x, v in r}
        assert served == {"1"}, served
    finally:
        assert srv.stop() == 0


def test_partial_publish_is_never_loaded(tmp_path, models_dir):
    """model.onnx written slowly in place (no rename) over several poll intervals is not loaded while it is
    incomplete, is loaded once complete, and requests keep succeeding meanwhile."""
    data = add_model_bytes(models_dir)
    base = tmp_path / "partial"
    publish(base, 1, data)
    srv = start_single("partial", base)
    try:
        clients = LoadClients(srv, "partial", threads=2).start()
        log_start = srv.log_size()
        (base / "2").mkdir()
        chunks = 10
        step = (len(data) + chunks - 1) // chunks
        with open(base / "2" / "model.onnx", "wb") as f:
            for i in range(chunks):  # ~4 s of writing: four poll intervals
                f.write(data[i * step:(i + 1) * step])
                f.flush()
                os.fsync(f.fileno())
                time.sleep(0.4)
                log = srv.log_since(log_start, 1 << 20)
                assert "version 2: load failed" not in log, log
                assert version_states(srv, "partial").get("2", {}).get("state") != "AVAILABLE"
        complete_at = time.monotonic()
        wait_for(lambda: version_states(srv, "partial").get("2", {}).get("state") == "AVAILABLE", 5 * POLL + 5,
                 "v2 to become AVAILABLE once complete")
        assert time.monotonic() - complete_at < 5 * POLL + 5
        time.sleep(0.5)
        clients.stop()
        assert "version 2: load failed" not in srv.log_since(log_start, 1 << 20)
        assert clients.failures == [], clients.failures[:5]
        served = {v for r in clients.results for *_x, v in r}
        assert served == {"1", "2"}, served
    finally:
        assert srv.stop() == 0


def write_config(path: Path, entries: list[tuple[str, Path, str]]) -> None:
    text = "model_config_list {\n"
    for name, base, extra in entries:
        text += f"  config {{ name: '{name}' base_path: '{base}' model_platform: 'onnx' {extra} }}\n"
    text += "}\n"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def test_unload_while_in_flight(tmp_path, models_dir, slow_dir):
    """20 slow requests in flight, then the model leaves the config file: all 20 succeed, and new requests
    get 404 within one config poll interval."""
    cfg = tmp_path / "models.config"
    write_config(cfg, [("add", models_dir / "add", ""), ("slow", slow_dir, "")])
    srv = ServerProcess("unload", [f"--model_config_file={cfg}", f"--model_config_file_poll_wait_seconds={POLL}",
                                   "--rest_api_num_threads=24"], ready_models=["add", "slow"]).start()
    x = np.random.default_rng(3).standard_normal((8, 256)).astype(np.float32)
    body = json.dumps({"instances": x.tolist()}).encode()
    sent = threading.Barrier(21, timeout=30)
    outcomes: list[tuple[int, float]] = []

    def slow_request():
        conn = http.client.HTTPConnection("127.0.0.1", srv.rest_port, timeout=120)
        try:
            conn.request("POST", "/v1/models/slow:predict", body=body, headers={"Content-Type": "application/json"})
            sent.wait()
            resp = conn.getresponse()
            resp.read()
            outcomes.append((resp.status, time.monotonic()))
        finally:
            conn.close()

    try:
        threads = [threading.Thread(target=slow_request, daemon=True) for _ in range(20)]
        for t in threads:
            t.start()
        sent.wait()
        time.sleep(0.3)  # every request has been read and has acquired its version by now
        removed_at = time.monotonic()
        write_config(cfg, [("add", models_dir / "add", "")])
        # A new request that would fail validation (400) if the model were there, so probing never waits on a
        # slow run: it answers 404 once the model is gone.
        probe = json.dumps({"instances": [[1.0]]})
        r = wait_for(lambda: (x := requests.post(f"{srv.url}/v1/models/slow:predict", data=probe, timeout=30))
                     .status_code == 404 and [x], POLL + 1.5, "new slow requests to get 404", interval_s=0.02)[0]
        gone_at = time.monotonic()
        assert "slow" in r.json()["error"]
        for t in threads:
            t.join(timeout=120)
        assert len(outcomes) == 20
        assert [s for s, _t in outcomes] == [200] * 20, outcomes
        assert gone_at - removed_at <= POLL + 1.5
        # the test means something only if requests were still running when the model went away
        assert sum(1 for _s, done in outcomes if done > gone_at) >= 1, "no request was in flight at the unload"
        assert requests.post(f"{srv.url}/v2/models/add/infer", data=kserve_add_body(), timeout=30).status_code == 200
    finally:
        assert srv.stop() == 0


def test_config_file_reload_adds_and_tolerates_bad_text(tmp_path, models_dir):
    """A reload realises the new list; a file that fails to parse changes nothing and the log says why."""
    cfg = tmp_path / "models.config"
    write_config(cfg, [("add", models_dir / "add", "")])
    srv = ServerProcess("reload", [f"--model_config_file={cfg}", f"--model_config_file_poll_wait_seconds={POLL}"],
                        ready_models=["add"]).start()
    try:
        assert requests.get(f"{srv.url}/v2/models/mlp/ready", timeout=10).status_code != 200
        write_config(cfg, [("add", models_dir / "add", ""), ("mlp", models_dir / "mlp", "")])
        wait_for(lambda: requests.get(f"{srv.url}/v2/models/mlp/ready", timeout=10).status_code == 200,
                 POLL + 10, "mlp to load after the reload")
        log_start = srv.log_size()
        cfg.write_text("model_config_list { config { name: 'add' base_path: ")  # truncated text
        wait_for(lambda: "not applied" in srv.log_since(log_start), POLL + 5, "the parse error in the log")
        assert "Invalid protobuf file" in srv.log_since(log_start)
        for model in ("add", "mlp"):
            assert requests.get(f"{srv.url}/v2/models/{model}/ready", timeout=10).status_code == 200
        write_config(cfg, [("mlp", models_dir / "mlp", "")])
        wait_for(lambda: requests.get(f"{srv.url}/v2/models/add/ready", timeout=10).status_code == 400,
                 POLL + 5, "add to be unloaded")
        assert requests.get(f"{srv.url}/v2/models/mlp/ready", timeout=10).status_code == 200
    finally:
        assert srv.stop() == 0


# ----------------------------------------------------------------------------------------------------------
# labels on the four surfaces
# ----------------------------------------------------------------------------------------------------------

LABELS = "model_version_policy { all {} } version_labels { key: 'stable' value: 1 } version_labels { key: 'canary' value: 2 }"


def label_versions(srv: ServerProcess, label: str) -> dict[str, object]:
    """The version each of the four surfaces serves for `label` (or the error status it answers)."""
    import tritonclient.grpc as tgrpc
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc
    import tensorflow as tf

    out: dict[str, object] = {}
    r = requests.post(f"{srv.url}/v1/models/add/labels/{label}:predict",
                      json={"inputs": {"a": ADD_A.tolist(), "b": ADD_B.tolist()}}, timeout=30)
    status = requests.get(f"{srv.url}/v1/models/add/labels/{label}", timeout=30)
    out["tfs_rest"] = status.json()["model_version_status"][0]["version"] if r.status_code == 200 else r.status_code
    r = requests.post(f"{srv.url}/v2/models/add/versions/{label}/infer", data=kserve_add_body(), timeout=30)
    out["kserve_rest"] = r.json()["model_version"] if r.status_code == 200 else r.status_code

    with grpc.insecure_channel(f"127.0.0.1:{srv.grpc_port}") as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        req = predict_pb2.PredictRequest()
        req.model_spec.name = "add"
        req.model_spec.version_label = label
        req.inputs["a"].CopyFrom(tf.make_tensor_proto(ADD_A))
        req.inputs["b"].CopyFrom(tf.make_tensor_proto(ADD_B))
        try:
            out["tfs_grpc"] = str(stub.Predict(req, timeout=30).model_spec.version.value)
        except grpc.RpcError as e:
            out["tfs_grpc"] = e.code().name

    client = tgrpc.InferenceServerClient(f"127.0.0.1:{srv.grpc_port}")
    inputs = [tgrpc.InferInput("a", [2, 16], "FP32"), tgrpc.InferInput("b", [2, 16], "FP32")]
    inputs[0].set_data_from_numpy(ADD_A)
    inputs[1].set_data_from_numpy(ADD_B)
    try:
        result = client.infer("add", inputs, model_version=label, client_timeout=30)
        out["kserve_grpc"] = result.get_response().model_version
    except Exception as e:  # tritonclient raises InferenceServerException
        out["kserve_grpc"] = getattr(e, "status", lambda: str(e))()
    finally:
        client.close()
    return out


def test_labels_on_all_four_surfaces_and_refusal(tmp_path, models_dir):
    cfg = tmp_path / "models.config"
    write_config(cfg, [("add", models_dir / "add", LABELS)])
    srv = ServerProcess("labels", [f"--model_config_file={cfg}", f"--model_config_file_poll_wait_seconds={POLL}"],
                        ready_models=["add"]).start()
    try:
        wait_for(lambda: {v for v, s in version_states(srv, "add").items() if s["state"] == "AVAILABLE"} == {"1", "2"},
                 20, "both versions AVAILABLE")
        surfaces = ("tfs_rest", "kserve_rest", "tfs_grpc", "kserve_grpc")
        assert label_versions(srv, "stable") == {s: "1" for s in surfaces}
        assert label_versions(srv, "canary") == {s: "2" for s in surfaces}

        # Pointing canary at version 3, which does not exist, is refused: canary keeps serving version 2.
        log_start = srv.log_size()
        moved = LABELS.replace("value: 2", "value: 3")
        write_config(cfg, [("add", models_dir / "add", moved)])
        wait_for(lambda: "not AVAILABLE" in srv.log_since(log_start), POLL + 5, "the refusal in the log")
        assert label_versions(srv, "canary") == {s: "2" for s in surfaces}
        # a new label at an unavailable version is refused too (without --allow_version_labels_for_unavailable_models)
        log_start = srv.log_size()
        write_config(cfg, [("add", models_dir / "add", LABELS + " version_labels { key: 'beta' value: 7 }")])
        wait_for(lambda: "not AVAILABLE" in srv.log_since(log_start), POLL + 5, "the refusal in the log")
        beta = label_versions(srv, "beta")
        assert beta["tfs_rest"] == 404 and beta["kserve_rest"] == 404, beta
        assert beta["tfs_grpc"] == "NOT_FOUND", beta
        # moving a label to another AVAILABLE version works on every surface
        write_config(cfg, [("add", models_dir / "add", LABELS.replace("value: 1", "value: 2"))])
        wait_for(lambda: label_versions(srv, "stable")["kserve_rest"] == "2", POLL + 5, "stable to move to 2")
        assert label_versions(srv, "stable") == {s: "2" for s in surfaces}
    finally:
        assert srv.stop() == 0


def test_new_label_for_unavailable_version_with_flag(tmp_path, models_dir):
    """--allow_version_labels_for_unavailable_models: a new label may name a version not loaded yet; an existing
    label still may not move to one."""
    cfg = tmp_path / "models.config"
    write_config(cfg, [("add", models_dir / "add", LABELS + " version_labels { key: 'next' value: 9 }")])
    srv = ServerProcess("labels-allow", [f"--model_config_file={cfg}", f"--model_config_file_poll_wait_seconds={POLL}",
                                         "--allow_version_labels_for_unavailable_models"], ready_models=["add"]).start()
    try:
        wait_for(lambda: label_versions(srv, "canary")["kserve_rest"] == "2", 20, "labels in force")
        r = requests.get(f"{srv.url}/v1/models/add/labels/next", timeout=10)
        assert r.status_code == 404 and "9" in r.json()["error"], r.text
        log_start = srv.log_size()
        write_config(cfg, [("add", models_dir / "add", LABELS.replace("value: 2", "value: 9"))])
        wait_for(lambda: "not AVAILABLE" in srv.log_since(log_start), POLL + 5, "the refusal in the log")
        assert label_versions(srv, "canary")["kserve_rest"] == "2"
    finally:
        assert srv.stop() == 0


def test_empty_base_path_unloads_unless_always_present(tmp_path, models_dir):
    data = add_model_bytes(models_dir)
    for flag, expect_ready in (([], False), (["--servable_versions_always_present"], True)):
        base = tmp_path / ("keep" if flag else "drop")
        publish(base, 1, data)
        srv = start_single("vanish", base, flag)
        try:
            os.rename(base / "1", base / ".removed-1")
            time.sleep(3 * POLL)
            ready = requests.get(f"{srv.url}/v2/models/vanish/ready", timeout=10).status_code == 200
            assert ready == expect_ready
            if not expect_ready:
                status = version_states(srv, "vanish")["1"]
                assert status["state"] == "END" and "no version" in status["status"]["error_message"], status
        finally:
            assert srv.stop() == 0


def test_broken_saved_model_version_never_displaces_a_working_onnx_one(tmp_path, models_dir):
    base = tmp_path / "tfmodel"
    publish(base, 1, add_model_bytes(models_dir))
    (base / "2").mkdir()
    (base / "2" / "saved_model.pb").write_bytes(b"\x08\x01")
    srv = start_single("tfmodel", base)
    try:
        status = wait_for(lambda: version_states(srv, "tfmodel").get("2"), 10, "v2 status")
        assert status["state"] == "END"
        assert "TensorFlow cannot load the SavedModel" in status["status"]["error_message"], status
        assert version_states(srv, "tfmodel")["1"]["state"] == "AVAILABLE"
    finally:
        assert srv.stop() == 0
