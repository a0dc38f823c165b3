"""`ace3d client --tls-ca` against a TorchServe whose gRPC inference API is TLS-only (a second, short-lived
server with a self-signed certificate for 127.0.0.1; skipped where the openssl command is missing)."""

from __future__ import annotations

import shutil
import subprocess

import grpc
import pytest

from ace3d.serving.client import Ace3dClient, RemoteError

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def tls_server(served, tmp_path_factory):
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    from ace3d.serving.server import LocalServer, Ports

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
