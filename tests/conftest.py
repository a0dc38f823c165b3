"""Shared fixtures: a small synthetic data set, a tiny model trained on it for one epoch, and a bank
built from that model — made once per test session, in a temporary directory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(scope="session")
def synth_dir(tmp_path_factory) -> Path:
    from ace3d.jobs.synth import generate

    out = tmp_path_factory.mktemp("synth")
    return generate(out, per_class=6, seed=3, n_random=6, progress=False)


@pytest.fixture(scope="session")
def tiny_model_json(synth_dir, tmp_path_factory) -> Path:
    """A small X3D at 16 x 32 x 32, trained for one epoch: real weights, seconds to make. Returns the
    config path, which `--model demo:PATH` loads."""
    from ace3d.jobs.train import TrainConfig, train

    out = tmp_path_factory.mktemp("model") / "tiny"
    cfg = TrainConfig(clip_shape=(16, 32, 32), epochs=1, batch_size=8,
                      builder={"width_factor": 0.5, "depth_factor": 0.5, "bottleneck_factor": 2.0,
                               "head_dim_out": 64, "stem_dim_in": 8, "dropout": 0.0})
    train(synth_dir, out, cfg, progress=False)
    return out.with_suffix(".json")


@pytest.fixture(scope="session")
def tiny_model(tiny_model_json):
    from ace3d import models

    return models.load("demo:" + str(tiny_model_json))


@pytest.fixture(scope="session")
def tiny_bank_path(tiny_model, synth_dir, tmp_path_factory) -> Path:
    from ace3d.jobs.bank_params import BankParams
    from ace3d.jobs.build_bank import build
    from ace3d.method.concepts import ConceptParams

    params = BankParams(n_random_sets=5, random_set_size=10, concepts=ConceptParams(n_clusters=20, min_members=3))
    bank = build(tiny_model, synth_dir, params=params, progress=False)
    return bank.save(tmp_path_factory.mktemp("bank") / "tiny_bank.npz")


@pytest.fixture(scope="session")
def tiny_bank(tiny_bank_path):
    from ace3d.method import bank

    return bank.load(tiny_bank_path)
