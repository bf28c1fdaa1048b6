"""TLS and mTLS on both ports (--ssl_config_file, TF Serving's SSLConfig), with real clients: requests with a CA
bundle, tritonclient http/grpc with ssl=True, and TF Serving's gRPC stubs over grpc.ssl_channel_credentials.
Certificates are made here with the openssl CLI (a throw-away CA, a server certificate for 127.0.0.1/localhost,
a client certificate, and a client certificate from a second, untrusted CA)."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import gevent.ssl
import grpc
import numpy as np
import pytest
import requests
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from conftest import STARTUP_TIMEOUT_S, ServerProcess

A = np.linspace(-2, 2, 16, dtype=np.float32).reshape(1, 16)
TFS_ADD = {"inputs": {"a": A.tolist(), "b": A.tolist()}}


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_ca(d: Path, name: str) -> None:
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
            "-keyout", f"{name}.key", "-out", f"{name}.pem", "-subj", f"/CN=serval test {name}", cwd=d)


def make_leaf(d: Path, ca: str, name: str, extensions: str) -> None:
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", f"{name}.key",
            "-out", f"{name}.csr", "-subj", f"/CN={name}", cwd=d)
    (d / f"{name}.ext").write_text(extensions)
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key", "-CAcreateserial",
            "-days", "2", "-out", f"{name}.pem", "-extfile", f"{name}.ext", cwd=d)


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("tls")
    make_ca(d, "ca")
    make_ca(d, "rogue_ca")
    make_leaf(d, "ca", "server", "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    make_leaf(d, "ca", "client", "extendedKeyUsage=clientAuth\n")
    make_leaf(d, "rogue_ca", "rogue_client", "extendedKeyUsage=clientAuth\n")
    return d


def text_proto_string(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def write_ssl_config(certs: Path, client_verify: bool) -> Path:
    path = certs / f"ssl_{int(client_verify)}.config"
    path.write_text(
        f"server_key: {text_proto_string((certs / 'server.key').read_text())}\n"
        f"server_cert: {text_proto_string((certs / 'server.pem').read_text())}\n"
        f"custom_ca: {text_proto_string((certs / 'ca.pem').read_text())}\n"
        f"client_verify: {'true' if client_verify else 'false'}\n"
    )
    return path


class TlsServer(ServerProcess):
    """A ServerProcess whose REST port speaks HTTPS; readiness is polled over TLS (with the client
    certificate when the server demands one)."""

    def __init__(self, name, args, ca: Path, client_cert: tuple[str, str] | None, ready_models=()):
        super().__init__(name, args, ready_models=ready_models)
        self.ca = str(ca)
        self.client_cert = client_cert

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.rest_port}"

    def _wait_ready(self) -> tuple[bool, str]:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        last = "no answer"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False, f"exited with status {self.proc.returncode} during start-up"
            try:
                r = requests.get(self.url + "/v1/models/add", verify=self.ca, cert=self.client_cert, timeout=2)
                last = f"{r.status_code} {r.text[:200]}"
                if r.status_code == 200 and '"AVAILABLE"' in r.text:
                    return True, ""
            except requests.RequestException as e:
                last = f"{type(e).__name__}: {e}"
            time.sleep(0.1)
        return False, f"not ready after {STARTUP_TIMEOUT_S:.0f}s (last: {last})"


def start(models_dir: Path, certs: Path, client_verify: bool) -> TlsServer:
    config = write_ssl_config(certs, client_verify)
    client = (str(certs / "client.pem"), str(certs / "client.key")) if client_verify else None
    srv = TlsServer(f"tls{int(client_verify)}",
                    ["--model_name=add", f"--model_base_path={models_dir / 'add'}", f"--ssl_config_file={config}"],
                    ca=certs / "ca.pem", client_cert=client)
    return srv.start()


@pytest.fixture(scope="module")
def tls_server(models_dir, certs):
    srv = start(models_dir, certs, client_verify=False)
    yield srv
    assert srv.stop() == 0


@pytest.fixture(scope="module")
def mtls_server(models_dir, certs):
    srv = start(models_dir, certs, client_verify=True)
    yield srv
    assert srv.stop() == 0


def tfs_predict(channel: grpc.Channel) -> np.ndarray:
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "add"
    for name in ("a", "b"):
        tensor = request.inputs[name]
        tensor.dtype = 1  # DT_FLOAT
        tensor.tensor_shape.dim.add().size = 1
        tensor.tensor_shape.dim.add().size = 16
        tensor.float_val.extend(A.ravel().tolist())
    response = stub.Predict(request, timeout=10)
    out = next(iter(response.outputs.values()))
    return np.array(out.float_val, dtype=np.float32)


def triton_inputs(module):
    inputs = []
    for name in ("a", "b"):
        i = module.InferInput(name, [1, 16], "FP32")
        i.set_data_from_numpy(A)
        inputs.append(i)
    return inputs


def plain_http_to(port: int) -> bytes:
    """Sends a plaintext HTTP request to a TLS port; returns what came back before the server closed."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"GET /v1/models/add HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while True:
            try:
                chunk = s.recv(4096)
            except (ConnectionResetError, TimeoutError):
                break
            if not chunk:
                break
            data += chunk
        return data


def test_https_rest_with_a_ca_bundle(tls_server, certs):
    r = requests.post(tls_server.url + "/v1/models/add:predict", json=TFS_ADD, verify=str(certs / "ca.pem"),
                      timeout=10)
    assert r.status_code == 200, r.text
    np.testing.assert_allclose(np.array(r.json()["outputs"], dtype=np.float32).ravel(), (A + A).ravel())
    # The server is not trusted without the CA: the client refuses it.
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(tls_server.url + "/v2/health/ready", timeout=10)


def test_tritonclient_http_and_grpc_with_ssl(tls_server, certs):
    http = httpclient.InferenceServerClient(f"127.0.0.1:{tls_server.rest_port}", ssl=True,
                                            ssl_options={"ca_certs": str(certs / "ca.pem")},
                                            ssl_context_factory=gevent.ssl.create_default_context)
    assert http.is_server_ready()
    result = http.infer("add", triton_inputs(httpclient))
    np.testing.assert_allclose(result.as_numpy(result.get_response()["outputs"][0]["name"]), A + A)
    http.close()
    g = grpcclient.InferenceServerClient(f"127.0.0.1:{tls_server.grpc_port}", ssl=True,
                                         root_certificates=str(certs / "ca.pem"))
    assert g.is_server_ready()
    result = g.infer("add", triton_inputs(grpcclient))
    out = result.get_response().outputs[0].name
    np.testing.assert_allclose(result.as_numpy(out), A + A)
    g.close()


def test_tf_serving_stubs_over_ssl_channel(tls_server, certs):
    credentials = grpc.ssl_channel_credentials(root_certificates=(certs / "ca.pem").read_bytes())
    with grpc.secure_channel(f"127.0.0.1:{tls_server.grpc_port}", credentials) as channel:
        np.testing.assert_allclose(tfs_predict(channel), (A + A).ravel())
    # A plaintext gRPC client gets no service from the TLS port.
    with grpc.insecure_channel(f"127.0.0.1:{tls_server.grpc_port}") as channel:
        with pytest.raises(grpc.RpcError) as err:
            tfs_predict(channel)
        assert err.value.code() == grpc.StatusCode.UNAVAILABLE


def test_plain_http_to_the_tls_port_fails_cleanly(tls_server, certs):
    for _ in range(3):
        answer = plain_http_to(tls_server.rest_port)
        assert not answer.startswith(b"HTTP/1.1 200"), answer[:200]
    assert tls_server.alive()
    r = requests.get(tls_server.url + "/v2/health/ready", verify=str(certs / "ca.pem"), timeout=10)
    assert r.status_code == 200


def test_mtls_accepts_the_client_certificate(mtls_server, certs):
    cert = (str(certs / "client.pem"), str(certs / "client.key"))
    r = requests.post(mtls_server.url + "/v1/models/add:predict", json=TFS_ADD, verify=str(certs / "ca.pem"),
                      cert=cert, timeout=10)
    assert r.status_code == 200, r.text
    http = httpclient.InferenceServerClient(
        f"127.0.0.1:{mtls_server.rest_port}", ssl=True,
        ssl_options={"ca_certs": str(certs / "ca.pem"), "certfile": cert[0], "keyfile": cert[1]},
        ssl_context_factory=gevent.ssl.create_default_context)
    assert http.is_server_ready()
    http.close()
    credentials = grpc.ssl_channel_credentials(root_certificates=(certs / "ca.pem").read_bytes(),
                                               private_key=(certs / "client.key").read_bytes(),
                                               certificate_chain=(certs / "client.pem").read_bytes())
    with grpc.secure_channel(f"127.0.0.1:{mtls_server.grpc_port}", credentials) as channel:
        np.testing.assert_allclose(tfs_predict(channel), (A + A).ravel())
    g = grpcclient.InferenceServerClient(f"127.0.0.1:{mtls_server.grpc_port}", ssl=True,
                                         root_certificates=str(certs / "ca.pem"), private_key=cert[1],
                                         certificate_chain=cert[0])
    assert g.is_server_ready()
    g.close()


@pytest.mark.parametrize("who", ["no certificate", "untrusted CA"])
def test_mtls_refuses_clients_without_a_trusted_certificate(mtls_server, certs, who):
    cert = None if who == "no certificate" else (str(certs / "rogue_client.pem"), str(certs / "rogue_client.key"))
    with pytest.raises((requests.exceptions.SSLError, requests.exceptions.ConnectionError)):
        requests.get(mtls_server.url + "/v2/health/ready", verify=str(certs / "ca.pem"), cert=cert, timeout=10)
    kwargs = {"root_certificates": (certs / "ca.pem").read_bytes()}
    if cert:
        kwargs.update(private_key=Path(cert[1]).read_bytes(), certificate_chain=Path(cert[0]).read_bytes())
    with grpc.secure_channel(f"127.0.0.1:{mtls_server.grpc_port}", grpc.ssl_channel_credentials(**kwargs)) as ch:
        with pytest.raises(grpc.RpcError) as err:
            tfs_predict(ch)
        assert err.value.code() == grpc.StatusCode.UNAVAILABLE
    # Plain HTTP is refused too, and the server keeps serving the right client.
    assert not plain_http_to(mtls_server.rest_port).startswith(b"HTTP/1.1 200")
    assert mtls_server.alive()
    r = requests.get(mtls_server.url + "/v2/health/ready", verify=str(certs / "ca.pem"),
                     cert=(str(certs / "client.pem"), str(certs / "client.key")), timeout=10)
    assert r.status_code == 200


def test_unusable_certificates_stop_start_up(models_dir, certs):
    bad = certs / "bad.config"
    bad.write_text('server_key: "not a key"\nserver_cert: "not a certificate"\n')
    srv = ServerProcess("tls-bad", ["--model_name=add", f"--model_base_path={models_dir / 'add'}",
                                    f"--ssl_config_file={bad}"])
    with pytest.raises(RuntimeError, match="exited with status"):
        srv.start()
    assert "server_cert" in srv.log_path.read_text() or "certificate" in srv.log_path.read_text()


# --- certificate reload: --ssl_config_file is read again; new connections get the new certificates --------


def write_config(path: Path, key: Path, cert: Path, ca: Path) -> None:
    """Replaces the SSLConfig at `path` in one rename, as an operator's tooling (or a Kubernetes Secret) does."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(f"server_key: {text_proto_string(key.read_text())}\n"
                   f"server_cert: {text_proto_string(cert.read_text())}\n"
                   f"custom_ca: {text_proto_string(ca.read_text())}\n")
    tmp.replace(path)


def grpc_works(port: int, ca: Path) -> bool:
    credentials = grpc.ssl_channel_credentials(root_certificates=ca.read_bytes())
    with grpc.secure_channel(f"127.0.0.1:{port}", credentials) as channel:
        try:
            return np.allclose(tfs_predict(channel), (A + A).ravel())
        except grpc.RpcError:
            return False


def rest_works(url: str, ca: Path) -> bool:
    try:
        return requests.get(url + "/v1/models/add", verify=str(ca), timeout=5).status_code == 200
    except requests.exceptions.SSLError:
        return False


def test_certificates_reload_without_dropping_connections(models_dir, certs, tmp_path):
    make_ca(certs, "ca2")
    make_leaf(certs, "ca2", "server2", "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    config = tmp_path / "ssl.config"
    write_config(config, certs / "server.key", certs / "server.pem", certs / "ca.pem")
    srv = TlsServer("tls-reload", ["--model_name=add", f"--model_base_path={models_dir / 'add'}",
                                   f"--ssl_config_file={config}", "--ssl_config_file_poll_wait_seconds=1"],
                    ca=certs / "ca.pem", client_cert=None).start()
    try:
        # Connections opened with the first certificate, kept open across the reload.
        session = requests.Session()
        assert session.get(srv.url + "/v1/models/add", verify=str(certs / "ca.pem"), timeout=5).status_code == 200
        old_channel = grpc.secure_channel(f"127.0.0.1:{srv.grpc_port}", grpc.ssl_channel_credentials(
            root_certificates=(certs / "ca.pem").read_bytes()))
        np.testing.assert_allclose(tfs_predict(old_channel), (A + A).ravel())

        write_config(config, certs / "server2.key", certs / "server2.pem", certs / "ca.pem")
        deadline = time.monotonic() + 20
        while not (rest_works(srv.url, certs / "ca2.pem") and grpc_works(srv.grpc_port, certs / "ca2.pem")):
            assert time.monotonic() < deadline, "the new certificate was not served within 20 s on both ports"
            time.sleep(0.25)
        # New connections get the new certificate only: a client that trusts only the old CA is refused...
        assert not rest_works(srv.url, certs / "ca.pem")
        assert not grpc_works(srv.grpc_port, certs / "ca.pem")
        # ...while the connections opened before the reload keep working (nothing was dropped).
        r = session.get(srv.url + "/v1/models/add", verify=str(certs / "ca.pem"), timeout=5)
        assert r.status_code == 200, r.text
        np.testing.assert_allclose(tfs_predict(old_channel), (A + A).ravel())
        old_channel.close()
        session.close()

        # An unusable file changes nothing: a key that is not the certificate's, then text that is not a config.
        write_config(config, certs / "server.key", certs / "server2.pem", certs / "ca.pem")
        time.sleep(2.5)
        assert rest_works(srv.url, certs / "ca2.pem") and grpc_works(srv.grpc_port, certs / "ca2.pem")
        config.write_text("server_key: 12 this is not an SSLConfig")
        time.sleep(2.5)
        assert rest_works(srv.url, certs / "ca2.pem") and grpc_works(srv.grpc_port, certs / "ca2.pem")
        assert srv.alive()
        log = srv.log_path.read_text()
        assert "key values mismatch" in log, log[-2000:]  # OpenSSL's reason for the mismatched pair
        assert log.count("certificates not reloaded") >= 2, log[-2000:]
    finally:
        assert srv.stop() == 0
