"""The committed Python stubs in the client distribution (clients/python/ace3d_client/v1) must be what proto/
generates now (run `make proto` if not)."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("proto_stubs", ROOT / "scripts" / "proto_stubs.py")
proto_stubs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(proto_stubs)


def test_stubs_are_fresh(tmp_path):
    for fresh in proto_stubs.generate(tmp_path):
        committed = ROOT / proto_stubs.DEST / fresh.name
        assert committed.is_file(), f"{proto_stubs.DEST / fresh.name} is missing: run `make proto` and commit it"
        assert fresh.read_text() == committed.read_text(), \
            f"{proto_stubs.DEST / fresh.name} is stale: run `make proto` and commit the result"


def test_the_service_uses_the_client_distributions_messages():
    """One set of generated classes: ace3d.v1's modules are the client distribution's, not copies."""
    from ace3d_client.v1 import explanation_pb2 as client_pb

    from ace3d.v1 import explanation_pb2 as service_pb

    assert service_pb is client_pb
    assert service_pb.Explanation is client_pb.Explanation
