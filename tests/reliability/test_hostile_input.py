"""Hostile input: >= 1,000 seeded malformed requests (tests/fuzz_inputs.py) over gRPC to one real TorchServe.

Every refused case must get INVALID_ARGUMENT or RESOURCE_EXHAUSTED with a message; valid-but-odd cases must
get OK; mutated containers either. No INTERNAL, UNAVAILABLE or hang, no worker restart, nothing unpickled,
and a valid request succeeds afterwards."""

from __future__ import annotations

import os
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, wait

import grpc
import pytest
from ace3d_client.client import RemoteError
from rel_helpers import MAX_BYTES, MAX_FRAMES, MAX_PIXELS, record

from tests import fuzz_inputs as fuzz

pytestmark = pytest.mark.reliability

N = int(os.environ.get("ACE3D_FUZZ_N", "1000"))
SEED = int(os.environ.get("ACE3D_FUZZ_SEED", "0"))
CONCURRENCY = 3
DEADLINE = 60.0  # per request
BUDGET = 360.0  # the whole run; a healthy one takes ~1-2 min here
REFUSED_CODES = {"INVALID_ARGUMENT", "RESOURCE_EXHAUSTED"}


def _send(server, case: fuzz.Case) -> fuzz.Outcome:
    t0 = time.monotonic()
    with server.client(deadline=DEADLINE) as c:
        try:
            exp = c.predict(case.inputs)
            return fuzz.Outcome(case, "OK", seconds=time.monotonic() - t0,
                                extra={"clips": len(exp.clips), "scores": len(exp.scores)})
        except RemoteError as exc:
            return fuzz.Outcome(case, exc.code.name, str(exc), time.monotonic() - t0)


def _acceptable(o: fuzz.Outcome) -> bool:
    c = o.case
    if o.code == "OK":
        return c.expect in (fuzz.OK, fuzz.ANY) and o.extra.get("scores", 0) > 0
    refused = o.code in REFUSED_CODES and len(o.message) > len("server answered INVALID_ARGUMENT: ") + 5
    return refused and c.expect in (fuzz.REFUSED, fuzz.ANY)


def test_generator_is_seeded_and_covers_every_family():
    """Same seed, same bytes; every family and every expectation is present."""
    limits = fuzz.Limits(MAX_BYTES, MAX_FRAMES, MAX_PIXELS)
    a = fuzz.Generator(7, limits, ["a", "b"]).generate(120)
    b = fuzz.Generator(7, limits, ["a", "b"]).generate(120)
    assert [(x.id, x.inputs) for x in a] == [(y.id, y.inputs) for y in b]
    c = fuzz.Generator(8, limits, ["a", "b"]).generate(120)
    assert [x.inputs for x in a] != [y.inputs for y in c]
    assert set(fuzz.summary(a)) == set(fuzz.FAMILIES)
    assert {x.expect for x in a} == {fuzz.OK, fuzz.REFUSED, fuzz.ANY}


def test_hostile_requests_get_a_clear_status_and_never_hurt_the_worker(rel_server, valid_video):
    limits = fuzz.Limits(MAX_BYTES, MAX_FRAMES, MAX_PIXELS)
    t0 = time.monotonic()
    cases = fuzz.Generator(SEED, limits, rel_server.class_names).generate(N)
    gen_s = time.monotonic() - t0
    assert len(cases) >= N >= 1
    pid, deaths = rel_server.worker_pid(), rel_server.worker_deaths()

    t0 = time.monotonic()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        futures = [pool.submit(_send, rel_server, c) for c in cases]
        done, pending = wait(futures, timeout=BUDGET)
        for f in pending:
            f.cancel()
    run_s = time.monotonic() - t0
    assert not pending, f"{len(pending)} of {len(cases)} requests unanswered after {BUDGET:.0f} s"
    outcomes = [f.result() for f in futures]

    bad = [o for o in outcomes if not _acceptable(o)]
    by = Counter((o.case.family, o.case.expect, o.code) for o in outcomes)
    slowest = max(outcomes, key=lambda o: o.seconds)
    figures = {"requests": len(outcomes), "seed": SEED, "concurrency": CONCURRENCY, "generate_s": round(gen_s, 1),
               "run_s": round(run_s, 1), "codes": dict(Counter(o.code for o in outcomes)),
               "by_family_expect_code": {"/".join(k): v for k, v in sorted(by.items())},
               "slowest_s": round(slowest.seconds, 2), "slowest_case": slowest.case.id,
               "unacceptable": [f"{o.case.id}: {o.code}: {o.message[:200]}" for o in bad[:20]]}
    record("hostile_input", figures)
    assert not bad, f"{len(bad)} unacceptable answers, e.g.:\n" + "\n".join(figures["unacceptable"])

    # The worker never restarted, never ran a pickle, and still serves.
    assert rel_server.worker_pid() == pid, "the worker was restarted during the hostile run"
    assert rel_server.worker_deaths() == deaths, "TorchServe logged a worker death during the hostile run"
    assert "ace3d-fuzz: pickle executed" not in rel_server.log_text()
    with rel_server.client() as c:
        assert c.classify(valid_video).scores
        assert c.explain(valid_video).clips[0].supervoxel_count > 0
    assert by.get(("odd_valid", fuzz.OK, "OK"), 0) > 0 and by.get(("npy", fuzz.REFUSED, "INVALID_ARGUMENT"), 0) > 0


def test_a_refusal_names_the_problem(rel_server):
    """Spot checks of the messages: the caller can tell what to fix."""
    g = fuzz.Generator(SEED, fuzz.Limits(MAX_BYTES, MAX_FRAMES, MAX_PIXELS), rel_server.class_names)
    pixels, frames = g.media.refused["bomb_pixels_mp4"], g.media.refused["bomb_frames_mp4"]
    checks = [({"video": pixels}, grpc.StatusCode.RESOURCE_EXHAUSTED, "4096x4096, over the limit"),
              ({"video": frames}, grpc.StatusCode.RESOURCE_EXHAUSTED, f"more than {MAX_FRAMES} frames"),
              ({"video": fuzz.npy_cases(g.rng, g.limits)[0][1]}, grpc.StatusCode.INVALID_ARGUMENT, "pickle"),
              ({}, grpc.StatusCode.INVALID_ARGUMENT, "no video in the request"),
              ({"video": g.valid_video, "deadline": b"soon"}, grpc.StatusCode.INVALID_ARGUMENT,
               "deadline must be absolute Unix seconds")]
    with rel_server.client() as c:
        for inputs, code, text in checks:
            with pytest.raises(RemoteError) as err:
                c.predict(inputs)
            assert err.value.code == code and text in str(err.value), err.value
