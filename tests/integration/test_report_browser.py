"""`ace3d report` opened in a real headless Chromium (Debian's `chromium`, installed by `make sysdeps`): what a
person sees, checked in the browser itself. The gallery has one entry per concept of the bank, with pictures
the browser decoded; the example animations and the clip player move; the player's controls work; the page
logs no console error (its Content-Security-Policy forbids any fetch, so a reference to the network would
log one); and a screenshot of the page is not blank."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
from headless_chromium import CHROMIUM, Chromium
from PIL import Image

from ace3d import cli
from ace3d.method import bank as bank_mod


@pytest.fixture(scope="module")
def browser():
    assert os.access(CHROMIUM, os.X_OK), f"{CHROMIUM} is missing: run `make sysdeps` (debian-packages.txt)"
    with Chromium(width=1280, height=900) as b:
        yield b


def _png(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def _changes(browser: Chromium, selector: str, wait: float = 1.2) -> bool:
    """Whether the pixels inside `selector` differ between two screenshots `wait` seconds apart."""
    box = browser.box(selector)
    assert box["width"] > 0 and box["height"] > 0, f"{selector} is not displayed"
    first = _png(browser.screenshot(clip=box))
    browser.pump(wait)
    return not np.array_equal(first, _png(browser.screenshot(clip=box)))


def test_bank_report_shows_every_concept_with_moving_examples(browser, tiny_model_json, tiny_bank_path, synth_dir,
                                                              tmp_path):
    out = tmp_path / "bank.html"
    spec = "demo:" + str(tiny_model_json)
    assert cli.main(["report", "--model", spec, "--bank", str(tiny_bank_path), "--data", str(synth_dir),
                     "--example-videos", "2", "--out", str(out)]) == 0
    bank = bank_mod.load(tiny_bank_path)
    browser.open(out)
    browser.pump(0.5)
    names = browser.evaluate("Array.from(document.querySelectorAll('.gallery .concept')).map(e => e.dataset.name)")
    assert sorted(names) == sorted(bank.names)  # one entry per concept, none twice
    # every example picture was decoded by the browser, and they are the animated ones
    decoded = browser.evaluate("Array.from(document.querySelectorAll('.concept img')).map(i => i.complete && "
                               "i.naturalWidth > 0)")
    assert decoded and all(decoded)
    kinds = browser.evaluate("Array.from(document.querySelectorAll('.concept')).map(e => e.dataset.examples)")
    assert set(kinds) == {"animated"}
    sig = browser.evaluate("document.querySelectorAll('.concept .badge.sig').length")
    assert sig == int(bank.significant().sum())
    assert _changes(browser, ".gallery"), "the example animations do not move"
    shot = _png(browser.screenshot())
    assert shot.shape[:2] == (900, 1280) and shot.std() > 10  # something drawn, not a blank page
    (tmp_path / "bank.png").write_bytes(browser.screenshot(full_page=True))
    assert browser.errors == []


def test_explanation_report_plays_the_clip_and_draws_the_curves(browser, tiny_model_json, tiny_bank_path,
                                                                synth_dir, tmp_path):
    out = tmp_path / "explanation.html"
    video = sorted(Path(synth_dir, "move_right").glob("*.mp4"))[0]
    assert cli.main(["report", "--model", "demo:" + str(tiny_model_json), "--bank", str(tiny_bank_path),
                     str(video), "--methods", "integrated_gradients", "--out", str(out)]) == 0
    browser.open(out)
    captions = browser.evaluate("Array.from(document.querySelectorAll('.player figcaption')).map(e => e.textContent)")
    assert len(captions) == 3 and captions[0] == "clip" and captions[2].startswith("integrated_gradients")
    # the clip plays: the displayed frame number advances and the pixels change
    f0 = int(browser.evaluate("document.querySelector('.player').dataset.frame"))
    assert _changes(browser, ".player .panels"), "the clip does not play"
    assert int(browser.evaluate("document.querySelector('.player').dataset.frame")) != f0
    # pause stops it; the slider shows the frame asked for
    browser.evaluate("document.querySelector('.player button.play').click()")
    assert not _changes(browser, ".player .panels", wait=0.6), "the clip moves while paused"
    browser.evaluate("(function () { var s = document.querySelector('.player input[type=range]'); s.value = '5'; "
                     "s.dispatchEvent(new Event('input')); })()")
    assert browser.evaluate("document.querySelector('.player').dataset.frame") == "5"
    assert browser.evaluate("document.querySelector('.player .fno').textContent") == "frame 6 / 16"
    # the concept table, the self-check and one curve per ranking in each plot
    assert browser.evaluate("document.querySelectorAll('table.concepts tr').length") >= 2
    assert browser.evaluate("document.querySelectorAll('table.selfcheck tr').length") == 4
    curves = browser.evaluate("Array.from(document.querySelectorAll('svg.plot')).map(s => "
                              "s.querySelectorAll('polyline').length)")
    assert curves == [2, 2]
    (tmp_path / "explanation.png").write_bytes(browser.screenshot(full_page=True))
    assert browser.errors == []
