"""The Kinetics-400 I3D served by a real TorchServe without a bank: DeepMind's sample clip (a real video,
224 x 224) is explained over gRPC with the clip's own supervoxel groups, the answer matches the local
explanation, and bad input is still refused with a clear status while the worker keeps serving."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from ace3d_client.client import RemoteError

from ace3d.v1 import explanation_pb2 as pb
from tests.integration.conftest import serving

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "v_CricketShot_g04_c01_rgb.gif"
ROOT = Path(__file__).resolve().parents[2]
NAME = "i3d_it"


@pytest.fixture(scope="module")
def i3d_server(tmp_path_factory):
    config = (ROOT / "model_store" / "model-config-i3d.yaml").read_text() + "minWorkers: 1\nmaxWorkers: 1\n"
    with serving(tmp_path_factory.mktemp("i3d"), "i3d_kinetics400", None, NAME, config, 8 * 1024 * 1024,
                 "TorchServe with the I3D") as (server, archive):
        yield server, archive


def _client(server):
    from ace3d_client.client import Ace3dClient

    return Ace3dClient(server.grpc_target, NAME, token=server.keys()["inference"], deadline=600)


def test_the_archive_carries_the_weights_and_no_bank(i3d_server):
    import json
    import zipfile

    names = zipfile.ZipFile(i3d_server[1]).namelist()
    assert "model/i3d_kinetics400.pt" in names and "bank.npz" not in names
    serving_json = json.loads(zipfile.ZipFile(i3d_server[1]).read("serving.json"))
    assert serving_json["model"] == "i3d_kinetics400:model/i3d_kinetics400.pt" and serving_json["bank"] is None


def test_real_video_explained_over_grpc(i3d_server):
    with _client(i3d_server[0]) as c:
        exp = c.explain(SAMPLE.read_bytes(), pb.ExplainOptions(top_k=3))
    assert exp.target_class == "playing cricket" and exp.scores[0].probability >= 0.5  # one 16-frame window
    assert exp.bank_id == "" and exp.model_name == "i3d_kinetics400"
    clip = exp.clips[0]
    assert clip.concepts and all(k.source == pb.ConceptInstance.CLIP for k in clip.concepts)
    assert clip.instance_score > clip.top_concept_removed_score  # removing the top group lowers the score
    assert tuple(clip.heatmap.shape) == (16, 224, 224)


def test_bad_input_refused_and_the_worker_keeps_serving(i3d_server):
    with _client(i3d_server[0]) as c:
        with pytest.raises(RemoteError) as err:
            c.explain(b"this is not a video")
        assert err.value.code == grpc.StatusCode.INVALID_ARGUMENT
        with pytest.raises(RemoteError) as err:
            c.explain(SAMPLE.read_bytes(), pb.ExplainOptions(max_clips=5))
        assert err.value.code == grpc.StatusCode.INVALID_ARGUMENT and "max_clips" in str(err.value)
        assert c.classify(SAMPLE.read_bytes()).scores[0].name == "playing cricket"
