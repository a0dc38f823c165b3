"""A real TorchServe per module of the reliability suite (hostile input, security, faults, soak), on free
loopback ports, started on first use and always stopped at the end of the module (the whole process group).
A start takes seconds; a fresh server per module keeps the modules independent (the fault tests kill its
worker; the soak measures a worker that only it has used).

It differs from tests/integration's server on purpose: batchSize 1 (every request is alone in its batch, so a
refusal is a real gRPC status, never an answer with Explanation.error), a 60 s response timeout (a hung
worker is killed well inside the suite), and one torch thread (the suite shares a small machine). The model
and bank are the ones tests/integration uses (committed default, else a tiny pair built in ~20 s).

Every server has its own free ports and runtime directory (LocalServer), so the modules run in any order and
next to tests/integration's session server.
Knobs: ACE3D_FUZZ_N (hostile requests, default 1000), ACE3D_FUZZ_SEED (0), ACE3D_SOAK_SECONDS (45),
ACE3D_RELIABILITY_REPORT (a JSON file the tests add their figures to)."""

from __future__ import annotations

from pathlib import Path

import pytest
from rel_helpers import FRONTEND_MAX_REQUEST, MODEL_CONFIG, MODEL_NAME, Server, model_and_bank, serving


def pytest_configure(config):
    config.addinivalue_line("markers", "reliability: hostile input, faults, soak and security against a real "
                                       "TorchServe (tests/reliability)")


@pytest.fixture(scope="session")
def model_pair(tmp_path_factory) -> tuple[str, Path]:
    return model_and_bank(tmp_path_factory.mktemp("rel-model"))


@pytest.fixture(scope="module")
def rel_server(model_pair, tmp_path_factory) -> Server:
    from ace3d import models

    tmp = tmp_path_factory.mktemp("rel-serving")
    spec, bank = model_pair
    with serving(tmp, spec, bank, MODEL_NAME, MODEL_CONFIG, FRONTEND_MAX_REQUEST,
                 "reliability TorchServe") as (server, archive):
        yield Server(server, MODEL_NAME, server.keys()["inference"], list(models.load(spec).class_names), spec,
                     bank, archive)


@pytest.fixture(scope="session")
def valid_video() -> bytes:
    from ace3d.jobs.synth import default_video_bytes

    return default_video_bytes()
