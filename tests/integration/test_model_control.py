"""Model control surface (docs/reliability.md §4, §6.G 29): Triton's repository extension over REST
(`POST /v2/repository/index`, `.../models/{m}/load`, `.../unload`) and KServe gRPC (RepositoryIndex,
RepositoryModelLoad, RepositoryModelUnload), and TF Serving's `ModelService.HandleReloadConfigRequest`.

Refused by default (403 / PERMISSION_DENIED) on every route; with `--enable_model_control --model_root=R` a
model directory under R can be loaded, served and unloaded, a config reloaded, and nothing outside R (also
through a symlink) is ever loaded; with `--admin_token_file` every control route on every protocol demands
`Authorization: Bearer <token>` (REST header, gRPC metadata). Real clients: tritonclient (http and grpc),
requests, and the tensorflow-serving-api stubs.

Servers: the session's `small_server` (control off); a module `control` server (control on, no token) and a
module `guarded` server (control on, token); `reload` tests start their own server, since a reload replaces
the served set.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import grpc
import numpy as np
import pytest
import requests
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.grpc import service_pb2, service_pb2_grpc
from tritonclient.utils import InferenceServerException
from tensorflow_serving.apis import (
    get_model_status_pb2,
    model_management_pb2,
    model_service_pb2_grpc,
)

from conftest import (
    ADD_A,
    ADD_B,
    HTTP_TIMEOUT_S,
    ServerProcess,
    assert_alive,
    error_of,
    jloads,
    post_json,
    raw_request,
    require_binary,
)

RPC_TIMEOUT_S = 30
TOKEN = "s3cret-Token_0123456789"
NO_TOKEN = "--model_control_without_token_i_understand_the_risk"
# Control POSTs without a token must say they are JSON (a browser can send a cross-site text/plain or
# body-less POST without asking; it cannot send application/json without a CORS preflight).
JSON = {"Content-Type": "application/json"}
CONTROL_ROUTES = ["/v2/repository/index", "/v2/repository/models/add/load", "/v2/repository/models/add/unload"]


# ----------------------------------------------------------------------------------------------------------
# fixtures
# ----------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def repo(models_dir, tmp_path_factory) -> dict[str, Path]:
    """root/ with copies of add (add2, add3) and a symlink `escape` to a copy outside the root; served/add, a
    private copy for the servers' start-up model (the shared models dir may be rebuilt by other runs)."""
    base = tmp_path_factory.mktemp("control")
    root, outside = base / "root", base / "outside"
    root.mkdir()
    outside.mkdir()
    shutil.copytree(models_dir / "add", base / "served" / "add")
    for name in ("add2", "add3"):
        shutil.copytree(models_dir / "add", root / name)
    shutil.copytree(models_dir / "add", outside / "add_out")
    (root / "escape").symlink_to(outside / "add_out", target_is_directory=True)
    token_file = base / "admin_token"
    token_file.write_text(TOKEN + "\n")
    return {"root": root.resolve(), "outside": outside.resolve(), "token_file": token_file, "served": base / "served"}


def _start(name: str, repo: dict[str, Path], extra: list[str]) -> ServerProcess:
    srv = ServerProcess(
        name,
        ["--model_name=add", f"--model_base_path={repo['served'] / 'add'}", "--file_system_poll_wait_seconds=1"]
        + extra,
        ready_models=["add"],
    )
    return srv.start()


@pytest.fixture(scope="module")
def control(repo) -> ServerProcess:
    srv = _start("control", repo, ["--enable_model_control", f"--model_root={repo['root']}", NO_TOKEN])
    yield srv
    assert srv.stop() == 0


@pytest.fixture(scope="module")
def guarded(repo) -> ServerProcess:
    srv = _start(
        "guarded",
        repo,
        ["--enable_model_control", f"--model_root={repo['root']}", f"--admin_token_file={repo['token_file']}"],
    )
    yield srv
    assert srv.stop() == 0


def http_client(srv: ServerProcess) -> httpclient.InferenceServerClient:
    return httpclient.InferenceServerClient(url=f"127.0.0.1:{srv.rest_port}", network_timeout=HTTP_TIMEOUT_S)


def grpc_client(srv: ServerProcess) -> grpcclient.InferenceServerClient:
    return grpcclient.InferenceServerClient(url=f"127.0.0.1:{srv.grpc_port}")


def tfs_stub(srv: ServerProcess) -> tuple[grpc.Channel, model_service_pb2_grpc.ModelServiceStub]:
    channel = grpc.insecure_channel(f"127.0.0.1:{srv.grpc_port}")
    return channel, model_service_pb2_grpc.ModelServiceStub(channel)


def reload_request(entries: list[tuple[str, Path | str]]) -> model_management_pb2.ReloadConfigRequest:
    request = model_management_pb2.ReloadConfigRequest()
    for name, base_path in entries:
        request.config.model_config_list.config.add(name=name, base_path=str(base_path), model_platform="onnx")
    return request


def infer_add_rest(srv: ServerProcess, model: str) -> requests.Response:
    """A KServe infer of the add model's inputs; a model that is not served answers 400, as Triton's unknown model."""
    body = {
        "inputs": [
            {"name": "a", "shape": list(ADD_A.shape), "datatype": "FP32", "data": ADD_A.ravel().tolist()},
            {"name": "b", "shape": list(ADD_B.shape), "datatype": "FP32", "data": ADD_B.ravel().tolist()},
        ]
    }
    return post_json(srv, f"/v2/models/{model}/infer", body)


def assert_add_serves(srv: ServerProcess, model: str) -> None:
    r = infer_add_rest(srv, model)
    assert r.status_code == 200, r.text[:500]
    out = jloads(r.content)["outputs"][0]
    np.testing.assert_array_equal(np.array(out["data"], np.float32).reshape(out["shape"]), ADD_A + ADD_B)


def grpc_code(exc: InferenceServerException) -> str:
    return str(exc.status())


# ----------------------------------------------------------------------------------------------------------
# off by default
# ----------------------------------------------------------------------------------------------------------


def test_rest_routes_refused_by_default(small_server):
    for path in CONTROL_ROUTES + ["/v2/repository/models/nope/load", "/v2/repository/whatever", "/v2/repository"]:
        for headers in ({}, {"Authorization": f"Bearer {TOKEN}"}):
            r = post_json(small_server, path, {}, headers=headers)
            assert r.status_code == 403, f"{path}: {r.status_code} {r.text[:300]}"
            assert "--enable_model_control" in error_of(r.content)
    r = requests.get(small_server.url + "/v2/repository/index", timeout=HTTP_TIMEOUT_S)
    assert r.status_code == 403
    # nothing was unloaded, and the server does not announce the extension
    assert_alive(small_server)
    assert "model_repository" not in requests.get(small_server.url + "/v2", timeout=HTTP_TIMEOUT_S).json()["extensions"]


def test_tritonclient_http_refused_by_default(small_server):
    client = http_client(small_server)
    calls = (client.get_model_repository_index, lambda: client.load_model("add"), lambda: client.unload_model("add"))
    for call in calls:
        with pytest.raises(InferenceServerException) as info:
            call()
        assert info.value.status() == "403", info.value
    assert client.is_model_ready("add")


def test_kserve_grpc_refused_by_default(small_server):
    client = grpc_client(small_server)
    calls = (
        lambda: client.get_model_repository_index(client_timeout=RPC_TIMEOUT_S),
        lambda: client.load_model("add", client_timeout=RPC_TIMEOUT_S),
        lambda: client.unload_model("add", client_timeout=RPC_TIMEOUT_S),
        lambda: client.unload_model("add", headers={"authorization": f"Bearer {TOKEN}"}, client_timeout=RPC_TIMEOUT_S),
    )
    for call in calls:
        with pytest.raises(InferenceServerException) as info:
            call()
        assert grpc_code(info.value) == "StatusCode.PERMISSION_DENIED", info.value
        assert "--enable_model_control" in info.value.message()
    assert client.is_model_ready("add")
    assert "model_repository" not in client.get_server_metadata(as_json=True)["extensions"]


def test_tfs_reload_config_refused_by_default(small_server, repo):
    channel, stub = tfs_stub(small_server)
    with channel:
        with pytest.raises(grpc.RpcError) as info:
            stub.HandleReloadConfigRequest(reload_request([("add2", repo["root"] / "add2")]), timeout=RPC_TIMEOUT_S)
        assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "--enable_model_control" in info.value.details()
        # GetModelStatus stays open
        request = get_model_status_pb2.GetModelStatusRequest()
        request.model_spec.name = "add"
        status = stub.GetModelStatus(request, timeout=RPC_TIMEOUT_S)
        assert 30 in [v.state for v in status.model_version_status]  # AVAILABLE
    assert_alive(small_server)


# ----------------------------------------------------------------------------------------------------------
# on, no token
# ----------------------------------------------------------------------------------------------------------


def test_index_lists_served_and_unloaded(control):
    r = post_json(control, "/v2/repository/index", "")
    assert r.status_code == 200, r.text
    index = r.json()
    assert {"name": "add", "version": "2", "state": "READY"} in index
    for name in ("add2", "add3", "escape"):
        assert {"name": name, "state": "UNAVAILABLE", "reason": "unloaded"} in index
    assert [e["name"] for e in index] == sorted(e["name"] for e in index)
    ready = post_json(control, "/v2/repository/index", {"ready": True}).json()
    assert ready == [{"name": "add", "version": "2", "state": "READY"}]
    assert "model_repository" in requests.get(control.url + "/v2", timeout=HTTP_TIMEOUT_S).json()["extensions"]


def test_rest_load_infer_unload(control):
    client = http_client(control)
    assert infer_add_rest(control, "add2").status_code == 400
    client.load_model("add2", headers=JSON)
    assert client.is_model_ready("add2")
    assert_add_serves(control, "add2")
    assert {"name": "add2", "version": "2", "state": "READY"} in client.get_model_repository_index(headers=JSON)
    client.unload_model("add2", headers=JSON)
    r = infer_add_rest(control, "add2")
    assert r.status_code == 400, r.text  # not served: Triton's answer for an unknown model
    assert not client.is_model_ready("add2")
    assert {"name": "add2", "state": "UNAVAILABLE", "reason": "unloaded"} in client.get_model_repository_index(
        headers=JSON)
    # unloading what is not served: NOT_FOUND
    r = post_json(control, "/v2/repository/models/add2/unload", {})
    assert r.status_code == 404, r.text
    assert_alive(control)


def test_grpc_load_infer_unload(control):
    client = grpc_client(control)
    client.load_model("add3", client_timeout=RPC_TIMEOUT_S)
    assert client.is_model_ready("add3")
    inputs = [grpcclient.InferInput(n, list(ADD_A.shape), "FP32") for n in ("a", "b")]
    inputs[0].set_data_from_numpy(ADD_A)
    inputs[1].set_data_from_numpy(ADD_B)
    result = client.infer("add3", inputs, client_timeout=RPC_TIMEOUT_S)
    np.testing.assert_array_equal(result.as_numpy("sum"), ADD_A + ADD_B)
    index = client.get_model_repository_index(as_json=True, client_timeout=RPC_TIMEOUT_S)["models"]
    assert {"name": "add3", "version": "2", "state": "READY"} in index
    client.unload_model("add3", client_timeout=RPC_TIMEOUT_S)
    with pytest.raises(InferenceServerException) as info:
        client.infer("add3", inputs, client_timeout=RPC_TIMEOUT_S)
    assert grpc_code(info.value) == "StatusCode.INVALID_ARGUMENT", info.value  # Triton's code: unknown model
    with pytest.raises(InferenceServerException) as info:
        client.unload_model("add3", client_timeout=RPC_TIMEOUT_S)
    assert grpc_code(info.value) == "StatusCode.NOT_FOUND", info.value
    assert "model_repository" in client.get_server_metadata(as_json=True)["extensions"]


def test_grpc_index_ready_only(control):
    stub_channel = grpc.insecure_channel(f"127.0.0.1:{control.grpc_port}")
    with stub_channel:
        stub = service_pb2_grpc.GRPCInferenceServiceStub(stub_channel)
        everything = stub.RepositoryIndex(service_pb2.RepositoryIndexRequest(), timeout=RPC_TIMEOUT_S)
        ready = stub.RepositoryIndex(service_pb2.RepositoryIndexRequest(ready=True), timeout=RPC_TIMEOUT_S)
        assert len(everything.models) > len(ready.models) >= 1
        assert all(m.state == "READY" for m in ready.models)
        with pytest.raises(grpc.RpcError) as info:
            stub.RepositoryIndex(service_pb2.RepositoryIndexRequest(repository_name="other"), timeout=RPC_TIMEOUT_S)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_load_refuses_escapes_missing_models_and_overrides(control, repo):
    # a symlink under the root that points outside it
    r = post_json(control, "/v2/repository/models/escape/load", {})
    assert r.status_code == 403, r.text
    # the error names the directory, but not where the server's files live
    assert "outside/add_out" in error_of(r.content) and str(repo["outside"]) not in error_of(r.content)
    client = grpc_client(control)
    with pytest.raises(InferenceServerException) as info:
        client.load_model("escape", client_timeout=RPC_TIMEOUT_S)
    assert grpc_code(info.value) == "StatusCode.PERMISSION_DENIED", info.value
    assert infer_add_rest(control, "escape").status_code == 400
    # no such directory; an invalid name; a ".." that the HTTP layer would otherwise resolve
    assert post_json(control, "/v2/repository/models/nope/load", {}).status_code == 400
    status, _ = raw_request(control, "POST", "/v2/repository/models/bad%20name/load", b"{}", headers=JSON)
    assert status == 400
    status, _ = raw_request(control, "POST", "/v2/repository/models/..%2Foutside/load", b"{}", headers=JSON)
    assert status in (400, 404)
    # Triton's config / file overrides: a network-settable model is refused
    for params in ({"config": "{}"}, {"file:1/model.onnx": "AAAA"}):
        r = post_json(control, "/v2/repository/models/add2/load", {"parameters": params})
        assert r.status_code == 400, r.text
        assert "not supported" in error_of(r.content)
    with pytest.raises(InferenceServerException) as info:
        client.load_model("add2", config="{}", client_timeout=RPC_TIMEOUT_S)
    assert grpc_code(info.value) == "StatusCode.INVALID_ARGUMENT", info.value
    assert infer_add_rest(control, "add2").status_code == 400
    # wrong methods, unknown routes, hostile bodies
    assert requests.get(control.url + "/v2/repository/index", timeout=HTTP_TIMEOUT_S).status_code == 405
    assert post_json(control, "/v2/repository/other", {}).status_code == 404
    assert post_json(control, "/v2/repository/index", "[" * 500000).status_code == 400
    assert post_json(control, "/v2/repository/index", {"ready": "yes"}).status_code == 400
    assert_alive(control)


# ----------------------------------------------------------------------------------------------------------
# TF Serving HandleReloadConfigRequest
# ----------------------------------------------------------------------------------------------------------


def test_reload_config(repo):
    srv = _start("reload", repo, ["--enable_model_control", f"--model_root={repo['root']}", NO_TOKEN])
    try:
        channel, stub = tfs_stub(srv)
        with channel:
            # an entry outside the root (the started model's own path), or through the escaping symlink,
            # refuses the whole reload and changes nothing
            outside = [
                ("add", repo["served"] / "add"),
                ("esc", repo["root"] / "escape"),
                ("up", f"{repo['root']}/../outside/add_out"),
            ]
            for bad in outside:
                request = reload_request([("add2", repo["root"] / "add2"), bad])
                with pytest.raises(grpc.RpcError) as info:
                    stub.HandleReloadConfigRequest(request, timeout=RPC_TIMEOUT_S)
                assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED, info.value
                assert "model_root" in info.value.details()
            assert_add_serves(srv, "add")
            assert infer_add_rest(srv, "add2").status_code == 400

            # custom_model_config is not a model_config_list
            custom = model_management_pb2.ReloadConfigRequest()
            custom.config.custom_model_config.type_url = "type.googleapis.com/x.Y"
            with pytest.raises(grpc.RpcError) as info:
                stub.HandleReloadConfigRequest(custom, timeout=RPC_TIMEOUT_S)
            assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            # an invalid entry (relative path) is refused by the same validation as --model_config_file
            with pytest.raises(grpc.RpcError) as info:
                stub.HandleReloadConfigRequest(reload_request([("add2", "relative/add2")]), timeout=RPC_TIMEOUT_S)
            assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT

            # a good reload serves exactly the new list
            response = stub.HandleReloadConfigRequest(
                reload_request([("add2", repo["root"] / "add2"), ("other_name", repo["root"] / "add3")]),
                timeout=RPC_TIMEOUT_S,
            )
            assert response.status.error_code == 0 and response.status.error_message == ""
            assert_add_serves(srv, "add2")
            assert_add_serves(srv, "other_name")
            assert infer_add_rest(srv, "add").status_code == 400
    finally:
        assert srv.stop() == 0


# ----------------------------------------------------------------------------------------------------------
# admin token on every protocol
# ----------------------------------------------------------------------------------------------------------


def test_rest_token(guarded):
    for path in CONTROL_ROUTES:
        r = post_json(guarded, path, {})
        assert r.status_code == 401, f"{path}: {r.status_code} {r.text}"
        assert r.headers.get("WWW-Authenticate") == "Bearer"
        for wrong in (f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", TOKEN, f"Basic {TOKEN}", "Bearer "):
            r = post_json(guarded, path, {}, headers={"Authorization": wrong})
            assert r.status_code == 401, f"{path} with {wrong!r}: {r.status_code} {r.text}"
    assert_add_serves(guarded, "add")  # the refused unloads did nothing
    good = {"Authorization": f"Bearer {TOKEN}"}
    r = post_json(guarded, "/v2/repository/index", {}, headers=good)
    assert r.status_code == 200 and {"name": "add", "version": "2", "state": "READY"} in r.json()
    client = http_client(guarded)
    client.load_model("add2", headers=good)
    assert_add_serves(guarded, "add2")
    client.unload_model("add2", headers=good)
    assert infer_add_rest(guarded, "add2").status_code == 400
    # the inference routes never ask for the token
    assert_alive(guarded)


def test_kserve_grpc_token(guarded):
    client = grpc_client(guarded)
    for headers in (None, {"authorization": f"Bearer {TOKEN}0"}, {"authorization": "Bearer"}):
        for call in (
            lambda: client.get_model_repository_index(headers=headers, client_timeout=RPC_TIMEOUT_S),
            lambda: client.load_model("add3", headers=headers, client_timeout=RPC_TIMEOUT_S),
            lambda: client.unload_model("add", headers=headers, client_timeout=RPC_TIMEOUT_S),
        ):
            with pytest.raises(InferenceServerException) as info:
                call()
            assert grpc_code(info.value) == "StatusCode.UNAUTHENTICATED", info.value
    assert client.is_model_ready("add")
    good = {"authorization": f"Bearer {TOKEN}"}
    client.load_model("add3", headers=good, client_timeout=RPC_TIMEOUT_S)
    assert client.is_model_ready("add3")
    index = client.get_model_repository_index(headers=good, as_json=True, client_timeout=RPC_TIMEOUT_S)["models"]
    assert {"name": "add3", "version": "2", "state": "READY"} in index
    client.unload_model("add3", headers=good, client_timeout=RPC_TIMEOUT_S)
    # Not served any more: Triton's ModelReady answers an unknown model with INVALID_ARGUMENT.
    with pytest.raises(InferenceServerException) as info:
        client.is_model_ready("add3")
    assert grpc_code(info.value) == "StatusCode.INVALID_ARGUMENT", info.value


def test_tfs_reload_token(repo):
    srv = _start(
        "reload-token",
        repo,
        ["--enable_model_control", f"--model_root={repo['root']}", f"--admin_token_file={repo['token_file']}"],
    )
    try:
        channel, stub = tfs_stub(srv)
        with channel:
            request = reload_request([("add2", repo["root"] / "add2")])
            for metadata in (None, (("authorization", f"Bearer {TOKEN[1:]}"),)):
                with pytest.raises(grpc.RpcError) as info:
                    stub.HandleReloadConfigRequest(request, metadata=metadata, timeout=RPC_TIMEOUT_S)
                assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED, info.value
            assert_add_serves(srv, "add")
            response = stub.HandleReloadConfigRequest(
                request, metadata=(("authorization", f"Bearer {TOKEN}"),), timeout=RPC_TIMEOUT_S
            )
            assert response.status.error_code == 0
            assert_add_serves(srv, "add2")
            assert infer_add_rest(srv, "add").status_code == 400
    finally:
        assert srv.stop() == 0


def test_cross_site_requests_do_not_control(control):
    """A page on another site can make a browser POST text/plain, a form, or no body without asking first;
    none of those may unload. application/json (which a browser must ask for) may, unless the Origin is
    another site."""
    unload = "/v2/repository/models/add/unload"
    for headers, body in (({"Content-Type": "text/plain"}, "{}"), ({}, ""),
                          ({"Content-Type": "application/x-www-form-urlencoded"}, "a=b"),
                          ({"Content-Type": "multipart/form-data; boundary=x"}, "--x--")):
        r = requests.post(control.url + unload, data=body, headers=headers, timeout=HTTP_TIMEOUT_S)
        assert r.status_code == 415, f"{headers}: {r.status_code} {r.text[:200]}"
        assert "application/json" in error_of(r.content)
    for origin in ("http://evil.example", "null", f"http://127.0.0.1:{control.rest_port + 1}", "file://"):
        r = requests.post(control.url + unload, data="{}", headers={**JSON, "Origin": origin}, timeout=HTTP_TIMEOUT_S)
        assert r.status_code == 403, f"{origin}: {r.status_code} {r.text[:200]}"
        assert "origin" in error_of(r.content)
    assert_add_serves(control, "add")  # none of them unloaded it
    # same origin, and an empty body with the JSON type: fine
    r = requests.post(control.url + "/v2/repository/index", data="",
                      headers={**JSON, "Origin": f"http://127.0.0.1:{control.rest_port}"}, timeout=HTTP_TIMEOUT_S)
    assert r.status_code == 200, r.text[:200]
    r = requests.post(control.url + "/v2/repository/models/add2/load", data="",
                      headers={"Content-Type": "Application/JSON; charset=utf-8"}, timeout=HTTP_TIMEOUT_S)
    assert r.status_code == 200, r.text[:200]
    assert_add_serves(control, "add2")
    r = requests.post(control.url + "/v2/repository/models/add2/unload", data="", headers=JSON, timeout=HTTP_TIMEOUT_S)
    assert r.status_code == 200, r.text[:200]


def test_rest_token_also_stops_cross_site_requests(guarded):
    """With a token an Authorization header is needed anyway (a browser must ask before sending one), so
    tritonclient's body-without-Content-Type works; a foreign Origin is still refused."""
    good = {"Authorization": f"Bearer {TOKEN}"}
    r = requests.post(guarded.url + "/v2/repository/index", data="", headers=good, timeout=HTTP_TIMEOUT_S)
    assert r.status_code == 200, r.text[:200]
    r = requests.post(guarded.url + "/v2/repository/models/add/unload", data="{}",
                      headers={**good, **JSON, "Origin": "http://evil.example"}, timeout=HTTP_TIMEOUT_S)
    assert r.status_code == 403, r.text[:200]
    assert_add_serves(guarded, "add")


def test_control_without_a_token_needs_the_loud_flag(models_dir, tmp_path):
    proc = subprocess.run(
        [str(require_binary()), "--model_name=add", f"--model_base_path={models_dir / 'add'}", "--enable_model_control",
         f"--model_root={tmp_path}", "--port=0", "--rest_api_port=0"],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "--admin_token_file" in out and NO_TOKEN in out, out[-2000:]


def test_control_needs_a_model_root(models_dir):
    """--enable_model_control without --model_root does not start (server_options.cc)."""
    proc = subprocess.run(
        [str(require_binary()), "--model_name=add", f"--model_base_path={models_dir / 'add'}", "--enable_model_control",
         "--port=0", "--rest_api_port=0"],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode != 0
    assert "--model_root" in proc.stdout + proc.stderr
