"""`ace3d client --tls-ca` against a TorchServe whose gRPC inference API is TLS-only (a second, short-lived
server with a self-signed certificate for 127.0.0.1; skipped where the openssl command is missing)."""

from __future__ import annotations

import shutil
import subprocess

import grpc
import pytest
from ace3d_client.client import Ace3dClient, RemoteError

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def tls_server(served, tmp_path_factory):
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    from ace3d.tooling.server import LocalServer, Ports

    tmp = tmp_path_factory.mktemp("tls")
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key),
                    "-out", str(cert)], check=True, capture_output=True)
    server = LocalServer(runtime=tmp / "runtime", model_store=served.server.model_store, models=served.server.models,
                         ports=Ports.free(), overrides={"enable_grpc_ssl": "true", "certificate_file": str(cert),
                                                        "private_key_file": str(key)})
    server.start(timeout=240)
    try:
        yield server, cert
    finally:
        server.stop()


def test_tls_client(tls_server, served, video_bytes):
    server, cert = tls_server
    target = f"127.0.0.1:{server.ports.grpc_inference}"
    token = server.keys()["inference"]
    with Ace3dClient(target, served.model, token=token, tls_ca=cert, deadline=60) as c:
        assert c.classify(video_bytes).scores
    with Ace3dClient(target, served.model, token=token, deadline=10) as c, pytest.raises(RemoteError) as err:
        c.classify(video_bytes)  # plaintext to a TLS port
    assert err.value.code == grpc.StatusCode.UNAVAILABLE


def test_tls_node_client(tls_server, served, video_bytes, tmp_path):
    """The Node client (clients/node) with --tls-ca against the same TLS-only port."""
    from tests.integration.test_node_client import CLI, NODE_CLIENT

    node = shutil.which("node")
    if node is None or not (NODE_CLIENT / "node_modules" / "@grpc" / "grpc-js").is_dir():
        pytest.fail("needs node and clients/node/node_modules: run `make node-client`")
    server, cert = tls_server
    video = tmp_path / "v.mp4"
    video.write_bytes(video_bytes)
    args = [node, str(CLI), str(video), "--target", f"127.0.0.1:{server.ports.grpc_inference}", "--model",
            served.model, "--token", server.keys()["inference"], "--classify-only", "--deadline", "60"]
    res = subprocess.run([*args, "--tls-ca", str(cert)], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and "prediction:" in res.stdout, res.stderr
    res = subprocess.run([*args[:-2], "--deadline", "10"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and "UNAVAILABLE" in res.stderr  # plaintext to a TLS port
