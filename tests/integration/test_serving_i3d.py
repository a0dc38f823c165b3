"""The Kinetics-400 I3D served by a real TorchServe with the shipped real bank (`make serve
MODEL=i3d_kinetics400` packs it): a real "using segway" video, a class the bank covers, is explained over gRPC
with significant bank concepts; DeepMind's sample clip (cricket, a class the bank has no concepts for) with the
clip's own supervoxel groups in the same answer format; bad input is still refused with a clear status while
the worker keeps serving."""

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
REAL_BANK = ROOT / "ace3d" / "assets" / "i3d_kinetics400_bank.npz"
SEGWAY = "k400_using_segway_R6llTwEh07w.mp4"  # a Kinetics-400 validation video of the real set (realset.json)


@pytest.fixture(scope="module")
def segway_video(tmp_path_factory) -> bytes:
    """The real set's segway video: copied from ../shared/data/realvideos or data/realvideos when there with the
    manifest's hash, else taken from its package as `make realset` does."""
    from ace3d.jobs.realset import load_manifest
    from ace3d.jobs.realset_fetch import fetch

    manifest = load_manifest()
    one = {**manifest, "videos": [v for v in manifest["videos"] if v["file"] == SEGWAY]}
    [path] = fetch(one, tmp_path_factory.mktemp("real"), local=[ROOT.parent / "shared" / "data" / "realvideos",
                                                               ROOT / "data" / "realvideos"])
    return path.read_bytes()


@pytest.fixture(scope="module")
def i3d_server(tmp_path_factory):
    config = (ROOT / "model_store" / "model-config-i3d.yaml").read_text() + "minWorkers: 1\nmaxWorkers: 1\n"
    with serving(tmp_path_factory.mktemp("i3d"), "i3d_kinetics400", REAL_BANK, NAME, config, 8 * 1024 * 1024,
                 "TorchServe with the I3D") as (server, archive):
        yield server, archive


def _client(server):
    from ace3d_client.client import Ace3dClient

    return Ace3dClient(server.grpc_target, NAME, token=server.keys()["inference"], deadline=600)


def test_the_archive_carries_the_weights_and_the_real_bank(i3d_server):
    import json
    import zipfile

    names = zipfile.ZipFile(i3d_server[1]).namelist()
    assert "model/i3d_kinetics400.pt" in names and "bank.npz" in names
    serving_json = json.loads(zipfile.ZipFile(i3d_server[1]).read("serving.json"))
    assert serving_json["model"] == "i3d_kinetics400:model/i3d_kinetics400.pt" and serving_json["bank"]


def test_a_bank_class_is_explained_with_significant_bank_concepts(i3d_server, segway_video):
    from ace3d.method import bank as banks

    bank = banks.load(REAL_BANK)
    with _client(i3d_server[0]) as c:
        exp = c.explain(segway_video, pb.ExplainOptions(target_class="using segway"))
    assert exp.bank_id == bank.bank_id and exp.scored_clips == 2 and len(exp.clips) == 1  # the I3D's default
    concepts = exp.clips[0].concepts
    assert concepts and all(k.source == pb.ConceptInstance.BANK for k in concepts)
    assert all(k.name.startswith("using segway/") for k in concepts)
    assert any(k.significant for k in concepts) and all(k.HasField("tcav_score") for k in concepts)


def test_another_class_is_explained_with_clip_groups(i3d_server):
    with _client(i3d_server[0]) as c:
        exp = c.explain(SAMPLE.read_bytes(), pb.ExplainOptions(top_k=3))
    assert exp.target_class == "playing cricket" and exp.scores[0].probability >= 0.5
    assert exp.model_name == "i3d_kinetics400"
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
