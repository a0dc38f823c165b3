"""The served explainer end to end: real TorchServe, real gRPC and REST, the real archive (see conftest.py)."""

from __future__ import annotations

import http.client
import io
import json
import socket
import urllib.error
import urllib.parse
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor

import grpc
import numpy as np
import pytest
from ace3d_client.client import RemoteError

from ace3d.v1 import explanation_pb2 as pb
from ace3d.wire import explanation_from_json, from_volume

pytestmark = pytest.mark.integration

MAX_CLIP_ANSWER = 256 * 1024


def _npy(arr: np.ndarray, allow_pickle: bool = False) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=allow_pickle)
    return buf.getvalue()


def _no_frames(ext: str, codec: str) -> bytes:
    """A container whose header is written and that holds no frame (mp4 then lists no video stream)."""
    import tempfile
    from pathlib import Path

    import av

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / f"empty.{ext}"
        c = av.open(str(path), mode="w")
        s = c.add_stream(codec, rate=8)
        s.width, s.height, s.pix_fmt = 32, 32, "yuv420p"
        c.start_encoding()
        c.close()
        return path.read_bytes()


def _rest(served, body: bytes, content_type: str, accept: str | None = None, token: str | None = "default"):
    req = urllib.request.Request(served.rest_url, data=body, method="POST")
    req.add_header("Content-Type", content_type)
    if token:
        req.add_header("Authorization", f"Bearer {served.token if token == 'default' else token}")
    if accept:
        req.add_header("Accept", accept)
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Content-Type", ""), exc.read()


def _rest_oversized_status(served, body: bytes) -> int:
    """The REST status of a body over the frontend's limit, asked with `Expect: 100-continue` so that the
    frontend can refuse it before any byte of the body is sent: posted plainly, the frontend answers 413 and
    closes while the client is still sending, and on a busy machine the client sees only the reset."""
    u = urllib.parse.urlsplit(served.rest_url)
    with socket.create_connection((u.hostname, u.port), timeout=120) as sock:
        head = (f"POST {u.path} HTTP/1.1\r\nHost: {u.hostname}:{u.port}\r\nContent-Type: application/octet-stream\r\n"
                f"Authorization: Bearer {served.token}\r\nContent-Length: {len(body)}\r\n"
                "Expect: 100-continue\r\nConnection: close\r\n\r\n")
        sock.sendall(head.encode())
        first = b""
        while b"\r\n\r\n" not in first:  # the interim or the final answer's head
            chunk = sock.recv(4096)
            if not chunk:
                break
            first += chunk
        status = int(first.split(b" ", 2)[1])
        if status != 100:
            return status
        sock.sendall(body)  # the frontend asked for the body: its answer follows it
        resp = http.client.HTTPResponse(sock, method="POST")
        resp.begin()
        return resp.status


def _multipart(video: bytes, options: dict | None) -> tuple[bytes, str]:
    b = uuid.uuid4().hex
    parts = [f'--{b}\r\nContent-Disposition: form-data; name="video"; filename="v.mp4"\r\n'
             f"Content-Type: application/octet-stream\r\n\r\n".encode() + video + b"\r\n"]
    if options is not None:
        parts.append(f'--{b}\r\nContent-Disposition: form-data; name="options"\r\n'
                     f"Content-Type: application/json\r\n\r\n{json.dumps(options)}\r\n".encode())
    return b"".join(parts) + f"--{b}--\r\n".encode(), f"multipart/form-data; boundary={b}"


def _check_explained(exp: pb.Explanation, served, clips: int = 1) -> None:
    assert not exp.HasField("error")
    assert not exp.partial and exp.clip_count == clips and len(exp.clips) == clips
    assert exp.target_class in served.class_names and exp.scores
    for stage in ("decode", "classify", "supervoxels", "features", "total"):
        assert exp.timings_ms[stage] > 0, stage
    if any(clip.concepts for clip in exp.clips):  # the core times importance only where concepts are present
        assert exp.timings_ms["importance"] > 0
    for clip in exp.clips:
        heat, cmap = from_volume(clip.heatmap), from_volume(clip.concept_map)
        assert heat.shape == cmap.shape and heat.ndim == 3
        assert clip.supervoxel_count > 0
        assert int(cmap.max()) <= len(clip.concepts)  # overlapping concepts: the most important wins a voxel
        imps = [c.importance for c in clip.concepts]
        assert imps == sorted(imps, reverse=True)
        assert clip.ByteSize() < MAX_CLIP_ANSWER


# ------------------------------------------------------------------------------------------------ gRPC
def test_ping(served):
    with served.client() as c:
        assert "Healthy" in c.ping()


def test_token_is_required(served, video_bytes):
    """Token authorization is on: no key or a wrong key is refused (0.12 answers PERMISSION_DENIED)."""
    for token in (None, "wrong"):
        with served.client(token=token) as c, pytest.raises(RemoteError) as err:
            c.classify(video_bytes)
        assert err.value.code == grpc.StatusCode.PERMISSION_DENIED
        assert "Token Authorization failed" in str(err.value)


def test_predictions_explains(served, video_bytes):
    with served.client() as c:
        exp = c.explain(video_bytes, pb.ExplainOptions(top_k=2))
    _check_explained(exp, served)
    assert len(exp.scores) == 2


def test_predictions_target_class(served, video_bytes):
    target = served.class_names[-1]
    with served.client() as c:
        exp = c.explain(video_bytes, {"targetClass": target, "maxConcepts": 1})
    assert exp.target_class == target and exp.target_index == len(served.class_names) - 1
    assert all(len(clip.concepts) <= 1 for clip in exp.clips)


def test_stream_multi_clip_sends_partials_then_final(served, long_video):
    with served.client() as c:
        msgs = list(c.stream(long_video, pb.ExplainOptions(max_clips=3)))
    assert [m.partial for m in msgs] == [True, True, True, False]
    assert [m.clips[0].clip_index for m in msgs[:3]] == [0, 1, 2]
    assert all(m.clip_count == 3 and len(m.clips) == 1 for m in msgs[:3])
    final = msgs[-1]
    _check_explained(final, served, clips=3)
    for part, clip in zip(msgs[:3], final.clips, strict=True):
        assert part.clips[0] == clip  # the final aggregate repeats exactly what was streamed
    starts = [clip.frame_indices[0] for clip in final.clips]
    assert starts == sorted(starts) and len(set(starts)) == 3


def test_stream_single_clip_ends_cleanly(served, video_bytes):
    """One clip: no partial, only the final answer (the ts_stream_next fix keeps the worker alive)."""
    with served.client() as c:
        msgs = list(c.stream(video_bytes))
        assert [m.partial for m in msgs] == [False]
        assert c.classify(video_bytes).scores  # the worker still serves


def test_unary_multi_clip_gets_only_the_final(served, long_video):
    with served.client() as c:
        exp = c.explain(long_video, pb.ExplainOptions(max_clips=2))
    _check_explained(exp, served, clips=2)


def test_classify_only(served, video_bytes):
    with served.client() as c:
        exp = c.classify(video_bytes, top_k=3)
        full = c.explain(video_bytes, pb.ExplainOptions(top_k=3))
    assert len(exp.scores) == 3 and exp.clip_count == 1
    clip = exp.clips[0]
    assert not clip.concepts and not clip.HasField("heatmap") and not clip.HasField("concept_map")
    assert [s.name for s in exp.scores] == [s.name for s in full.scores]
    assert exp.scores[0].probability == pytest.approx(full.scores[0].probability, abs=1e-5)
    assert "supervoxels" not in exp.timings_ms


# ------------------------------------------------------------------------------------------------ REST
def test_rest_multipart_json(served, video_bytes):
    body, ctype = _multipart(video_bytes, {"topK": 2, "maxConcepts": 3})
    status, rtype, data = _rest(served, body, ctype)
    assert status == 200 and rtype.startswith("application/json")
    exp = explanation_from_json(data)
    _check_explained(exp, served)
    assert len(exp.scores) == 2 and all(len(c.concepts) <= 3 for c in exp.clips)


def test_rest_raw_body_and_protobuf_accept(served, video_bytes):
    status, rtype, data = _rest(served, video_bytes, "application/octet-stream")
    assert status == 200 and rtype.startswith("application/json")
    as_json = explanation_from_json(data)
    status, rtype, data = _rest(served, video_bytes, "application/octet-stream", accept="application/x-protobuf")
    assert status == 200 and rtype.startswith("application/x-protobuf")
    as_pb = pb.Explanation.FromString(data)
    assert as_pb.target_class == as_json.target_class and len(as_pb.clips) == 1


def test_rest_classify_only(served, video_bytes):
    body, ctype = _multipart(video_bytes, {"classifyOnly": True})
    status, _, data = _rest(served, body, ctype)
    exp = explanation_from_json(data)
    assert status == 200 and exp.scores and not exp.clips[0].concepts


def test_rest_bad_input_has_status_and_message(served):
    status, rtype, data = _rest(served, b"definitely not a video", "application/octet-stream")
    assert status == 400 and rtype.startswith("application/json")
    err = json.loads(data)
    assert err["code"] == 400 and "cannot decode video" in err["message"]
    body, ctype = _multipart(b"x" * 16, {"targetClass": "no_such_class"})
    status, _, data = _rest(served, body, ctype)
    assert status == 400 and "unknown target class 'no_such_class'" in json.loads(data)["message"]
    b = uuid.uuid4().hex  # options but no video part
    body = (f'--{b}\r\nContent-Disposition: form-data; name="options"\r\nContent-Type: application/json\r\n\r\n'
            f'{{"topK": 1}}\r\n--{b}--\r\n').encode()
    status, _, data = _rest(served, body, f"multipart/form-data; boundary={b}")
    err = json.loads(data)
    assert status == 400 and err["type"] == "missing_video" and "input key 'video'" in err["message"]


def test_rest_requires_token(served, video_bytes):
    """TorchServe 0.12 answers a missing REST token with 400 InvalidKeyException."""
    status, _, data = _rest(served, video_bytes, "application/octet-stream", token=None)
    assert status == 400 and json.loads(data)["type"] == "InvalidKeyException"


# ------------------------------------------------------------------------------------------ bad input
def _bad_input(case: str, max_bytes: int, max_frames: int) -> tuple:
    """(video, raw options or None, expected code, text the message must contain), built on demand."""
    cases = {
        "undecodable": lambda: (b"\x00\x01 these bytes are no container", None, grpc.StatusCode.INVALID_ARGUMENT,
                        "cannot decode video"),
        "empty": lambda: (b"", None, grpc.StatusCode.INVALID_ARGUMENT, "video is empty"),
        "zero_frames_npy": lambda: (_npy(np.zeros((0, 8, 8, 3), np.uint8)), None, grpc.StatusCode.INVALID_ARGUMENT,
                            "no frames"),
        "zero_frames_avi": lambda: (_no_frames("avi", "mpeg4"), None, grpc.StatusCode.INVALID_ARGUMENT,
                            "zero decodable frames"),
        "zero_frames_mp4": lambda: (_no_frames("mp4", "libx264"), None, grpc.StatusCode.INVALID_ARGUMENT,
                            "no video stream"),
        "npy_float": lambda: (_npy(np.zeros((4, 8, 8, 3), np.float32)), None, grpc.StatusCode.INVALID_ARGUMENT,
                      "dtype uint8"),
        "npy_shape": lambda: (_npy(np.zeros((8, 8, 3), np.uint8)), None, grpc.StatusCode.INVALID_ARGUMENT,
                      "T x H x W x 3"),
        "npy_pickle": lambda: (_npy(np.array([{"x": 1}], dtype=object), allow_pickle=True), None,
                       grpc.StatusCode.INVALID_ARGUMENT, "pickle"),
        "options_garbage": lambda: (b"ignored", b"\xff\xfe\x00garbage", grpc.StatusCode.INVALID_ARGUMENT,
                                    "malformed options"),
        "options_bad_json": lambda: (b"ignored", b'{"topK": "many"}', grpc.StatusCode.INVALID_ARGUMENT,
                                     "malformed options"),
        "options_over_limit": lambda: (b"ignored", pb.ExplainOptions(max_clips=99).SerializeToString(),
                               grpc.StatusCode.INVALID_ARGUMENT, "max_clips 99"),
        "unknown_class": lambda: (b"ignored", pb.ExplainOptions(target_class="no_such_class").SerializeToString(),
                          grpc.StatusCode.INVALID_ARGUMENT, "unknown target class 'no_such_class'"),
        "too_many_bytes": lambda: (b"\x00" * (max_bytes + 1), None, grpc.StatusCode.RESOURCE_EXHAUSTED,
                           f"over the limit of {max_bytes} bytes"),
        "too_many_frames": lambda: (_npy(np.zeros((max_frames + 1, 4, 4, 3), np.uint8)), None,
                            grpc.StatusCode.RESOURCE_EXHAUSTED, "frames, over the limit"),
    }
    return cases[case]()


BAD_CASES = ["undecodable", "empty", "zero_frames_npy", "zero_frames_avi", "zero_frames_mp4", "npy_float",
             "npy_shape", "npy_pickle", "options_garbage", "options_bad_json", "options_over_limit", "unknown_class",
             "too_many_bytes", "too_many_frames"]


@pytest.mark.parametrize("case", BAD_CASES)
def test_bad_input_is_refused_with_a_clear_status(served, video_bytes, case):
    video, options, code, text = _bad_input(case, served.max_bytes, served.max_frames)
    inputs = {"video": video} if options is None else {"video": video, "options": options}
    with served.client() as c:
        with pytest.raises(RemoteError) as err:
            c.predict(inputs)  # raw inputs, as any gRPC client may send them
        assert err.value.code == code, err.value
        assert text in str(err.value)
        assert c.classify(video_bytes).scores  # then a valid request succeeds ...
    assert served.current_worker_pid() == served.worker_pid  # ... on the same worker


def test_bad_input_over_streampredictions(served):
    with served.client() as c, pytest.raises(RemoteError) as err:
        list(c.stream(b"not a video at all"))
    assert err.value.code == grpc.StatusCode.INVALID_ARGUMENT and "cannot decode video" in str(err.value)


def test_request_over_frontend_limit(served, video_bytes):
    """Over TorchServe's max_request_size the frontend resets the stream (CANCELLED, no message: 0.12's gRPC
    server), which is why the handler's own byte limit sits below it. A client whose send limit matches the
    server's refuses such a request itself, with RESOURCE_EXHAUSTED."""
    too_big = b"\x00" * (served.max_request + 1024)
    with served.client() as c:
        with pytest.raises(RemoteError) as err:
            c.explain(too_big)
        assert err.value.code in (grpc.StatusCode.CANCELLED, grpc.StatusCode.RESOURCE_EXHAUSTED)
        assert c.classify(video_bytes).scores
    with served.client(max_message=served.max_request) as c, pytest.raises(RemoteError) as err:
        c.explain(too_big)
    assert err.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert _rest_oversized_status(served, too_big) == 413


# --------------------------------------------------------------------------------------------- batching
def test_concurrent_requests_are_answered_independently(served, video_bytes, long_video):
    """Eight concurrent calls, two of them bad: TorchServe batches them (batchSize 4, 300 ms delay); every
    good call gets its own right answer and every bad call its own error, whatever it was batched with."""
    jobs = [("explain", video_bytes, pb.ExplainOptions()), ("classify", video_bytes, None),
            ("bad_video", b"garbage bytes", None), ("explain2", long_video, pb.ExplainOptions(max_clips=2)),
            ("classify", long_video, None), ("bad_class", video_bytes, pb.ExplainOptions(target_class="nope")),
            ("classify", video_bytes, None), ("explain", video_bytes, pb.ExplainOptions(top_k=1))]

    def run(job):
        kind, video, opts = job
        with served.client() as c:
            try:
                return c.classify(video) if kind == "classify" else c.explain(video, opts)
            except RemoteError as exc:
                return exc

    before = _histogram_totals(served, "ace3d_batch_size")
    with ThreadPoolExecutor(len(jobs)) as pool:
        results = list(pool.map(run, jobs))
    for (kind, _, opts), res in zip(jobs, results, strict=True):
        if kind == "bad_video":
            assert isinstance(res, RemoteError) and res.status == 400 and "cannot decode video" in str(res)
        elif kind == "bad_class":
            assert isinstance(res, RemoteError) and res.status == 400 and "unknown target class 'nope'" in str(res)
        else:
            assert isinstance(res, pb.Explanation), res
            if kind == "classify":
                assert not res.clips[0].concepts
            else:
                _check_explained(res, served, clips=2 if kind == "explain2" else 1)
                assert len(res.scores) == min(opts.top_k or 5, len(served.class_names))
    after = _histogram_totals(served, "ace3d_batch_size")
    calls, requests = after[0] - before[0], after[1] - before[1]
    assert requests == len(jobs)
    assert calls < len(jobs), "no two requests shared a batch: batching is not exercised"


def test_bad_request_batched_with_a_good_one_gets_its_error_in_the_answer(served, video_bytes):
    """Two calls sent together share a batch (300 ms batch delay); TorchServe 0.12 cannot fail one gRPC
    request of a batch, so the bad one is answered OK with Explanation.error set, the good one normally."""
    from ace3d.v1 import inference_pb2

    def raw(video):
        with served.client() as c:
            req = inference_pb2.PredictionsRequest(model_name=served.model, input={"video": video})
            return c.stub.Predictions(req, timeout=60, metadata=c.metadata)

    with ThreadPoolExecutor(2) as pool:
        good, bad = pool.map(raw, [video_bytes, b"garbage, not a video"])
    good, bad = pb.Explanation.FromString(good.prediction), pb.Explanation.FromString(bad.prediction)
    assert not good.HasField("error") and good.scores
    assert bad.HasField("error") and not bad.scores and not bad.clips
    assert bad.error.status == 400 and bad.error.reason == "undecodable"
    assert "cannot decode video" in bad.error.message


# ---------------------------------------------------------------------------------------------- metrics
def _scrape(served) -> dict:
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(served.metrics_url, timeout=30) as r:
        text = r.read().decode()
    return {f.name: f for f in text_string_to_metric_families(text)}


def _histogram_totals(served, name: str) -> tuple[float, float]:
    """(observations, sum) of a histogram over all label sets."""
    fam = _scrape(served).get(name)
    if fam is None:
        return 0.0, 0.0
    count = sum(s.value for s in fam.samples if s.name == f"{name}_count")
    total = sum(s.value for s in fam.samples if s.name == f"{name}_sum")
    return count, total


def test_metrics_endpoint(served, video_bytes):
    with served.client() as c:
        c.explain(video_bytes)
        with pytest.raises(RemoteError):
            c.explain(b"not a video")
    fams = _scrape(served)
    lat = fams["ace3d_stage_latency_seconds"]
    assert lat.type == "histogram"
    counts = {s.labels["Stage"]: s.value for s in lat.samples if s.name.endswith("_count")}
    for stage in ("decode", "classify", "supervoxels", "features", "importance", "total"):
        assert counts.get(stage, 0) >= 1, stage
    assert all(s.labels.get("ModelName") == served.model for s in lat.samples)
    for name in ("ace3d_clips_per_request", "ace3d_supervoxels_per_clip", "ace3d_concepts_per_clip"):
        fam = fams[name]
        assert fam.type == "histogram"
        assert sum(s.value for s in fam.samples if s.name.endswith("_count")) >= 1, name
    sv = fams["ace3d_supervoxels_per_clip"]
    assert sum(s.value for s in sv.samples if s.name.endswith("_sum")) > 0
    errors = {s.labels["Reason"]: s.value for s in fams["ace3d_errors"].samples if s.name.endswith("_total")}
    assert errors.get("undecodable", 0) >= 1
    assert "ts_inference_requests" in fams  # TorchServe's own metrics sit beside ours
