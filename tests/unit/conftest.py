"""tests/unit is self-contained: no model is trained and no bank is built here, nothing is downloaded, and no
server, Node or browser is started (`make test-unit`). The model fixtures of tests/conftest.py (a tiny model
trained for one epoch, a bank built from it) are replaced for this directory by the committed demo model and
bank (ace3d/assets): shipped files, loaded in seconds, whose bank belongs to that model.

Tests that need training, the I3D weights, Node or a browser live in tests/jobs, tests/component and
tests/integration."""

from __future__ import annotations

from pathlib import Path

import pytest

from ace3d.models import ASSETS

DEMO_MODEL_JSON = ASSETS / "demo_model.json"
DEMO_BANK = ASSETS / "demo_bank.npz"


@pytest.fixture(scope="session")
def tiny_model_json() -> Path:
    """The demo model's config (`--model demo:PATH` loads it)."""
    return DEMO_MODEL_JSON


@pytest.fixture(scope="session")
def tiny_model(tiny_model_json):
    from ace3d import models

    return models.load("demo:" + str(tiny_model_json))


@pytest.fixture(scope="session")
def tiny_bank_path() -> Path:
    return DEMO_BANK


@pytest.fixture(scope="session")
def tiny_bank(tiny_bank_path):
    from ace3d.method import bank

    return bank.load(tiny_bank_path)
