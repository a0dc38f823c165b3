"""Security of the running server: what listens where, what the management API refuses, keys, and that
nothing a request or an archive brings is unpickled.

Already covered elsewhere (not repeated here): gRPC without / with a wrong key -> PERMISSION_DENIED and REST
without a key -> 400 InvalidKeyException (tests/integration/test_serving.py::test_token_is_required,
::test_rest_requires_token); gRPC over TLS with a self-signed certificate and `ace3d client --tls-ca`
(tests/integration/test_serving_tls.py); the remote-URL refusal by `allowed_urls` (test_startup_faults.py); the
non-root container user (tests/deploy/test_dockerfile.py)."""

from __future__ import annotations

import urllib.parse
from pathlib import Path

import grpc
import numpy as np
import pytest
from ace3d_client.client import RemoteError
from rel_helpers import http

from ace3d.models.checkpoints import read_state
from ace3d.tooling.project import project_root
from ace3d.tooling.server import default_properties, read_properties

REPO = project_root()
DEFAULT_PROPERTIES = default_properties()

pytestmark = pytest.mark.reliability


def _listeners() -> dict[int, set[str]]:
    """Listening TCP ports of this machine -> the addresses they are bound to (from /proc/net/tcp{,6})."""
    out: dict[int, set[str]] = {}
    for name, width in (("tcp", 8), ("tcp6", 32)):
        path = Path("/proc/net") / name
        if not path.is_file():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            local, state = fields[1], fields[3]
            if state != "0A":  # LISTEN
                continue
            addr_hex, port_hex = local.split(":")
            if width == 8:
                addr = ".".join(str(b) for b in reversed(bytes.fromhex(addr_hex)))
            else:
                addr = "v6:" + addr_hex
            out.setdefault(int(port_hex, 16), set()).add(addr)
    return out


def test_every_endpoint_of_the_server_listens_on_loopback_only(rel_server):
    if not Path("/proc/net/tcp").is_file():
        pytest.skip("no /proc/net/tcp on this system")
    listeners = _listeners()
    ports = rel_server.server.ports
    for name, port in vars(ports).items():
        assert port in listeners, f"{name} port {port} is not listening"
        assert listeners[port] <= {"127.0.0.1", "v6:0000000000000000FFFF00000100007F"}, (name, listeners[port])


@pytest.mark.parametrize("props", [DEFAULT_PROPERTIES, REPO / "k8s/base/config.properties",
                                   REPO / "k8s/overlays/gpu/config.properties"], ids=lambda p: p.parent.name)
def test_shipped_configs_keep_management_on_loopback_and_the_model_api_off(props):
    if not props.is_file():
        pytest.skip(f"{props} not in this checkout")
    cfg = read_properties(props)
    assert urllib.parse.urlsplit(cfg["management_address"]).hostname == "127.0.0.1"
    assert cfg.get("grpc_management_address", "127.0.0.1") == "127.0.0.1"
    assert cfg["enable_model_api"] == "false"
    assert "model_store" in cfg["allowed_urls"] and "http" not in cfg["allowed_urls"]
    if props == DEFAULT_PROPERTIES:  # the cluster turns keys off on purpose (docs/DEPLOY.md): NetworkPolicy instead
        assert cfg.get("disable_token_authorization", "false") != "true"


def test_model_registration_and_removal_are_refused(rel_server):
    """enable_model_api=false: even with the management key, no model can be registered or unregistered."""
    mgmt, key = rel_server.management_url, rel_server.server.keys()["management"]
    url = urllib.parse.urlencode({"url": f"file://{rel_server.archive}", "model_name": "intruder"})
    status, body = http("POST", f"{mgmt}/models?{url}", key)
    assert status in (400, 403, 405), (status, body)
    status, body = http("POST", f"{mgmt}/models?url=https%3A%2F%2Fexample.com%2Fevil.mar", key)
    assert status in (400, 403, 405), (status, body)
    status, body = http("DELETE", f"{mgmt}/models/{rel_server.model}", key)
    assert status in (400, 403, 405), (status, body)
    status, body = http("GET", f"{mgmt}/models", key)
    assert status == 200 and "intruder" not in body and rel_server.model in body


def test_management_api_needs_the_management_key(rel_server):
    mgmt, keys = rel_server.management_url, rel_server.server.keys()
    for token in (None, keys["inference"], "not-a-key"):
        status, body = http("GET", f"{mgmt}/models", token)
        assert status in (400, 401, 403), (token, status, body)
        assert rel_server.model not in body
    assert http("GET", f"{mgmt}/models", keys["management"])[0] == 200


def test_inference_key_required_on_grpc_and_rest_and_the_right_one_passes(rel_server, valid_video):
    """A compact recheck on this suite's server (the full cases are in tests/integration)."""
    with rel_server.client(token=rel_server.server.keys()["management"]) as c, pytest.raises(RemoteError) as err:
        c.classify(valid_video)  # the management key is not an inference key
    assert err.value.code in (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAUTHENTICATED)
    with rel_server.client() as c:
        assert c.classify(valid_video).scores
    headers = {"Content-Type": "application/octet-stream"}
    status, body = http("POST", rel_server.rest_url, None, valid_video, headers, timeout=60)
    assert status in (400, 401, 403) and "scores" not in body
    status, body = http("POST", rel_server.rest_url, rel_server.token, valid_video, headers, timeout=60)
    assert status == 200 and "scores" in body


class _Evil:
    def __reduce__(self):
        return (Path.touch, (Path("/tmp/ace3d-unpickled-marker"),))


def test_nothing_from_a_bank_or_a_checkpoint_is_unpickled(tmp_path, model_pair):
    """A bank with a pickled object array and a checkpoint with a code-running pickle are refused, and the
    pickle never runs (the marker file it would create does not appear)."""
    import torch

    from ace3d.errors import BankError, ModelError
    from ace3d.method import bank as banks

    marker = Path("/tmp/ace3d-unpickled-marker")
    marker.unlink(missing_ok=True)
    _, bank_path = model_pair
    with np.load(bank_path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    first = sorted(k for k in arrays if k != "meta")[0]
    arrays[first] = np.array([_Evil()], dtype=object)
    evil_bank = tmp_path / "evil_bank.npz"
    np.savez(evil_bank, **arrays)
    with pytest.raises(BankError):
        banks.load(evil_bank)
    evil_ckpt = tmp_path / "evil.pt"
    torch.save({"model_state": {"w": torch.zeros(1)}, "x": _Evil()}, evil_ckpt)
    with pytest.raises(ModelError):
        read_state(evil_ckpt)
    assert not marker.exists(), "a pickle was executed"
