"""Statuses under load, against a TorchServe batching as the shipped model_store/model-config.yaml says.

gRPC: hostile requests sent in the middle of concurrent good traffic must each get a real INVALID_ARGUMENT or
RESOURCE_EXHAUSTED status (never OK with Explanation.error set, which TorchServe 0.12 forces on a bad request
that shares a batch with good ones), and every good request OK. Raw stubs, not Ace3dClient: the client turns an
answer with Explanation.error into the same exception as a real status, and that difference is the point.
REST: the hostile corpus's refused cases as multipart posts, each a 4xx with a JSON message, the worker alive.

The server differs from the suite's rel_server in one way on purpose: its batching keys (batchSize,
maxBatchDelay) are the shipped file's, so shipping a batch size that mixes requests again fails here."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest
import yaml
from ace3d_client.client import auth_metadata, channel_options, predictions_request
from rel_helpers import (
    FRONTEND_MAX_REQUEST,
    MAX_BYTES,
    MAX_CLIPS,
    MAX_FRAMES,
    MAX_PIXELS,
    Server,
    http,
    record,
    serving,
)

from ace3d.v1 import explanation_pb2 as pb
from ace3d.v1 import inference_pb2, inference_pb2_grpc
from tests import fuzz_inputs as fuzz

pytestmark = pytest.mark.reliability

SHIPPED_CONFIG = Path(__file__).resolve().parents[2] / "model_store" / "model-config.yaml"
MODEL_NAME = "ace3d_load"
REFUSED_CODES = {grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.RESOURCE_EXHAUSTED}
GOOD_THREADS = 6
HOSTILE_PER_FAMILY = 2  # hostile gRPC requests per family of refused cases
DEADLINE = 90.0


def load_test_config() -> str:
    """The shipped model-config.yaml's TorchServe keys (batching included) with this suite's small handler
    limits, one worker and one torch thread."""
    shipped = yaml.safe_load(SHIPPED_CONFIG.read_text())
    cfg = {k: v for k, v in shipped.items() if k != "handler"}
    cfg.update(minWorkers=1, maxWorkers=1, startupTimeout=120)
    cfg["handler"] = {"max_clips": MAX_CLIPS, "max_bytes": MAX_BYTES, "max_frames": MAX_FRAMES,
                      "max_pixels": MAX_PIXELS, "max_decode_seconds": 20, "threads": 1}
    return yaml.safe_dump(cfg, sort_keys=False)


@pytest.fixture(scope="module")
def load_server(model_pair, tmp_path_factory) -> Server:
    from ace3d import models

    tmp = tmp_path_factory.mktemp("load-serving")
    spec, bank = model_pair
    with serving(tmp, spec, bank, MODEL_NAME, load_test_config(), FRONTEND_MAX_REQUEST,
                 "TorchServe with the shipped batching") as (server, archive):
        yield Server(server, MODEL_NAME, server.keys()["inference"], list(models.load(spec).class_names), spec,
                     bank, archive)


@pytest.fixture(scope="module")
def refused_cases(load_server) -> list[fuzz.Case]:
    """Every variant of the corpus's sweep that the server must refuse (random bytes, empty containers and
    bombs, bad npy, bad options, malformed request maps, too large)."""
    limits = fuzz.Limits(MAX_BYTES, MAX_FRAMES, MAX_PIXELS)
    return [c for c in fuzz.Generator(0, limits, load_server.class_names).generate(1) if c.expect == fuzz.REFUSED]


def _call(stub, metadata, inputs: dict[str, bytes]) -> tuple[grpc.StatusCode, pb.Explanation | None, str]:
    """(status, answer, details) of one raw Predictions call: an OK answer is returned as it came."""
    req = inference_pb2.PredictionsRequest(model_name=MODEL_NAME, input=inputs)
    try:
        resp = stub.Predictions(req, timeout=DEADLINE, metadata=metadata)
    except grpc.RpcError as exc:
        return exc.code(), None, exc.details() or ""
    return grpc.StatusCode.OK, pb.Explanation.FromString(resp.prediction), ""


def test_hostile_requests_amid_concurrent_good_traffic_get_real_statuses(load_server, refused_cases, valid_video):
    by_family: dict[str, list[fuzz.Case]] = {}
    for c in refused_cases:
        by_family.setdefault(c.family, []).append(c)
    hostile = [c for cases in by_family.values() for c in cases[:HOSTILE_PER_FAMILY]]
    assert len(by_family) >= 5 and len(hostile) >= 10

    channel = grpc.insecure_channel(load_server.grpc_target, options=channel_options())
    stub = inference_pb2_grpc.InferenceAPIsServiceStub(channel)
    metadata = auth_metadata(load_server.token)
    stop = threading.Event()
    in_flight = [0]
    lock = threading.Lock()
    good: list[tuple[grpc.StatusCode, pb.Explanation | None, str]] = []

    def good_traffic() -> None:
        while not stop.is_set():
            with lock:
                in_flight[0] += 1
            req = predictions_request(MODEL_NAME, valid_video, None, DEADLINE)
            good.append(_call(stub, metadata, dict(req.input)))
            with lock:
                in_flight[0] -= 1

    try:
        with ThreadPoolExecutor(GOOD_THREADS) as pool:
            workers = [pool.submit(good_traffic) for _ in range(GOOD_THREADS)]
            while len(good) < GOOD_THREADS:  # the queue is full before the first hostile request
                time.sleep(0.05)
            answers = []
            for case in hostile:
                with lock:
                    busy = in_flight[0]
                answers.append((case, busy, _call(stub, metadata, case.inputs)))
            stop.set()
            for w in workers:
                w.result(timeout=2 * DEADLINE)
        with load_server.client() as c:
            assert c.explain(valid_video).clips  # still serving
    finally:
        stop.set()
        channel.close()

    record("statuses_under_load_grpc", {
        "batch_size": yaml.safe_load(SHIPPED_CONFIG.read_text())["batchSize"], "good_threads": GOOD_THREADS,
        "hostile": len(answers), "hostile_codes": dict(Counter(code.name for _, _, (code, _, _) in answers)),
        "good_in_flight_at_each_hostile": [busy for _, busy, _ in answers], "good": len(good),
        "good_codes": dict(Counter(code.name for code, _, _ in good))})
    wrong = [f"{case.id}: {code.name} {'(Explanation.error: ' + exp.error.message[:80] + ')' if exp else details[:80]}"
             for case, _, (code, exp, details) in answers if code not in REFUSED_CODES]
    assert not wrong, f"{len(wrong)} of {len(answers)} hostile requests without a refusing status:\n" + "\n".join(wrong)
    assert all(len(details) > 10 for _, _, (_, _, details) in answers)  # a message that says what to fix
    # They really met a loaded server: most were sent while several good requests waited or ran.
    assert sum(busy >= 2 for _, busy, _ in answers) >= len(answers) // 2, [busy for _, busy, _ in answers]
    bad_good = [(code.name, exp.error.message if exp else details) for code, exp, details in good
                if code != grpc.StatusCode.OK or exp is None or exp.HasField("error") or not exp.scores]
    assert not bad_good, f"{len(bad_good)} of {len(good)} good requests failed: {bad_good[:3]}"
    assert len(good) >= 2 * GOOD_THREADS


def _multipart(inputs: dict[str, bytes]) -> tuple[bytes, str]:
    b = uuid.uuid4().hex
    parts = [f'--{b}\r\nContent-Disposition: form-data; name="{name}"; filename="{name}.bin"\r\n'
             "Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n"
             for name, data in inputs.items()]
    return b"".join(parts) + f"--{b}--\r\n".encode(), f"multipart/form-data; boundary={b}"


def test_hostile_corpus_over_rest_gets_4xx_with_a_message(load_server, refused_cases, valid_video):
    pid = load_server.worker_pid()
    deaths = load_server.worker_deaths()

    def post(case: fuzz.Case) -> tuple[fuzz.Case, int, str]:
        body, ctype = _multipart(case.inputs) if case.inputs else (b"", "application/octet-stream")
        status, text = http("POST", load_server.rest_url, load_server.token, body, {"Content-Type": ctype},
                            timeout=DEADLINE)
        return case, status, text

    t0 = time.monotonic()
    with ThreadPoolExecutor(3) as pool:
        answers = list(pool.map(post, refused_cases))
    record("hostile_input_rest", {"requests": len(answers), "seconds": round(time.monotonic() - t0, 1),
                                  "statuses": dict(Counter(str(s) for _, s, _ in answers)),
                                  "samples": {c.id: t[:160] for c, _, t in answers[::15]}})
    wrong = []
    for case, status, text in answers:
        try:
            message = json.loads(text).get("message", "")
        except ValueError:
            message = ""
        if not (400 <= status < 500 and len(message) > 10):
            wrong.append(f"{case.id}: HTTP {status}: {text[:120]!r}")
    assert not wrong, f"{len(wrong)} of {len(answers)} refused cases without a 4xx and a message:\n" + "\n".join(wrong)
    assert {s for _, s, _ in answers} <= {400, 413} and len(answers) >= 50

    status, text = http("POST", load_server.rest_url, load_server.token, valid_video,
                        {"Content-Type": "application/octet-stream"}, timeout=DEADLINE)
    assert status == 200 and json.loads(text)["scores"]
    assert load_server.worker_pid() == pid and load_server.worker_deaths() == deaths
