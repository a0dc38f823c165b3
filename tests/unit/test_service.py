"""The transport-neutral service layer, without TorchServe: what a request gets back, and every refusal with
its status and reason (the integration tests check the same through the real server)."""

import time
from pathlib import Path

import numpy as np
import pytest

from ace3d.errors import Ace3dError, OptionsError, TooLargeError, VideoError
from ace3d.method.explainer import Explainer
from ace3d.method.video import DecodeLimits, read_file, write_mp4
from ace3d.serving import protocol
from ace3d.serving.service import (
    ExplainService,
    ServiceConfig,
    parse_deadline,
    resolve_spec,
)
from ace3d.v1 import explanation_pb2 as pb


@pytest.fixture(scope="module")
def service(tiny_model, tiny_bank):
    return ExplainService(Explainer(tiny_model, tiny_bank), ServiceConfig(max_clips=4))


@pytest.fixture(scope="module")
def video(synth_dir) -> bytes:
    return sorted((synth_dir / "move_left").glob("*.mp4"))[0].read_bytes()


def _answers(service, inputs, can_stream=True) -> list[pb.Explanation]:
    return list(service.answer(inputs, can_stream=can_stream))


def test_one_final_answer_with_decode_timing(service, video):
    answers = _answers(service, {protocol.VIDEO: video})
    assert len(answers) == 1 and not answers[0].partial
    final = answers[0]
    assert final.target_class in service.explainer.clf.class_names and len(final.clips) == 1
    assert final.timings_ms["decode"] > 0 and final.timings_ms["total"] >= final.timings_ms["decode"]
    assert final.clips[0].HasField("heatmap")


def test_partials_only_when_asked_and_the_transport_can(service, synth_dir, tmp_path):
    frames = read_file(sorted((synth_dir / "move_up").glob("*.mp4"))[0]).frames
    write_mp4(tmp_path / "long.mp4", np.concatenate([frames] * 2))  # two clips' worth of frames
    long = (tmp_path / "long.mp4").read_bytes()
    opts = pb.ExplainOptions(max_clips=2).SerializeToString()
    streamed = _answers(service, {protocol.VIDEO: long, protocol.OPTIONS: opts, protocol.STREAM: b"1"})
    plain = _answers(service, {protocol.VIDEO: long, protocol.OPTIONS: opts})
    rest = _answers(service, {protocol.VIDEO: long, protocol.OPTIONS: opts, protocol.STREAM: b"1"}, can_stream=False)
    assert streamed[-1].clip_count == 2
    assert [m.partial for m in streamed] == [True, True, False]
    assert [m.partial for m in plain] == [False] and [m.partial for m in rest] == [False]


@pytest.mark.parametrize("inputs, error, reason", [
    ({}, VideoError, "missing_video"),
    ({protocol.VIDEO: 12345}, VideoError, "bad_video"),
    ({protocol.VIDEO: b"not a video at all"}, VideoError, None),
    ({protocol.VIDEO: b"x", protocol.OPTIONS: b'{"topK": 1000}'}, OptionsError, "bad_options"),
    ({protocol.VIDEO: b"x", protocol.OPTIONS: b'{"maxClips": 5}'}, OptionsError, "bad_options"),
    ({protocol.VIDEO: b"x", protocol.DEADLINE: b"soon"}, OptionsError, "bad_options"),
])
def test_refusals_name_the_problem(service, inputs, error, reason):
    with pytest.raises(error) as exc:
        _answers(service, inputs)
    assert exc.value.status == 400 and (reason is None or exc.value.reason == reason)


def test_unknown_class_is_refused_before_decoding(service):
    opts = pb.ExplainOptions(target_class="no_such_class").SerializeToString()
    with pytest.raises(OptionsError) as exc:  # the bytes are no video: decoding never ran
        _answers(service, {protocol.VIDEO: b"garbage", protocol.OPTIONS: opts})
    assert exc.value.reason == "unknown_class"


def test_passed_deadline_is_dropped_with_504(service, video):
    with pytest.raises(Ace3dError) as exc:
        _answers(service, {protocol.VIDEO: video, protocol.DEADLINE: f"{time.time() - 5:.3f}".encode()})
    assert exc.value.status == 504 and exc.value.reason == "deadline_exceeded"
    assert parse_deadline(None) is None and parse_deadline(b"1764172800.25") == 1764172800.25


def test_decode_limits_come_from_the_config(tiny_model, tiny_bank, video):
    small = ExplainService(Explainer(tiny_model, tiny_bank), ServiceConfig(limits=DecodeLimits(max_bytes=100)))
    with pytest.raises(TooLargeError) as exc:
        _answers(small, {protocol.VIDEO: video})
    assert exc.value.status == 413


def test_config_from_the_handler_section():
    cfg = ServiceConfig.from_mapping({"max_bytes": 10, "max_frames": 20, "max_clips": 1000, "warmup": False})
    assert cfg.limits.max_bytes == 10 and cfg.limits.max_frames == 20
    assert cfg.max_clips == protocol.MAX_CLIPS and cfg.warmup is False and cfg.keep_freed_memory is True
    assert ServiceConfig.from_mapping(None) == ServiceConfig()
    cfg = ServiceConfig.from_mapping({"memory_budget_mb": 1200, "removal": "ranked"})
    assert cfg.memory_budget_mb == 1200 and cfg.removal == "ranked"
    assert ServiceConfig.from_mapping({"max_clips": 4, "score_clips": 6}).score_clips == 4  # never over the limit


def test_observations_cover_every_stage(service, video):
    final = _answers(service, {protocol.VIDEO: video})[-1]
    obs = ExplainService.observations(final)
    stages = {dims[0] for name, _, dims in obs if name == "ace3d_stage_latency_seconds"}
    assert stages == set(protocol.STAGES)
    assert ("ace3d_clips_per_request", 1, []) in obs
    assert ("ace3d_concepts_per_clip", len(final.clips[0].concepts), []) in obs


def test_every_stage_the_explainer_times_is_a_stage_the_service_reports(tiny_model, tiny_bank, video):
    """A stage renamed in the method renames its metric: the explainer's timings are keyed by `Stage`, and the
    service reports every `Stage` (a key it does not know would be skipped, losing that metric silently)."""
    from ace3d.method.stages import Stage
    from ace3d.method.video import decode

    timed = set(Explainer(tiny_model, tiny_bank).explain(decode(video)).timings)
    assert timed and timed <= set(protocol.STAGES) and all(isinstance(s, Stage) for s in timed)
    assert set(protocol.STAGES) == {str(s) for s in Stage} == timed | {Stage.DECODE}
    docs = Path(__file__).resolve().parents[2] / "docs"
    row = next(line for line in (docs / "OPERATIONS.md").read_text().splitlines()
               if line.startswith("| `ace3d_stage_latency_seconds`"))
    assert all(f" {s}," in row or f" {s} |" in row or f" {s}:" in row for s in Stage), row  # the docs list each


def test_relative_model_paths_resolve_inside_the_archive(tmp_path):
    assert resolve_spec("demo:model/m.json", tmp_path) == f"demo:{tmp_path / 'model/m.json'}"
    assert resolve_spec("demo", tmp_path) == "demo"
    assert resolve_spec("torchscript:/abs/x.pt", tmp_path) == "torchscript:/abs/x.pt"
