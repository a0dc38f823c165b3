"""The HTML report's pieces without a browser: the page is self-contained, the bank gallery has one card per
concept with the bank's own statistics, the plots draw what they are given, and bad options fail clearly
before any work (tests/integration/test_report_browser.py opens the pages in Chromium)."""

from __future__ import annotations

import re

import numpy as np

from ace3d import cli
from ace3d.htmlreport import bank_page, media
from ace3d.htmlreport.explanation_page import display_heat
from ace3d.method import bank as bank_mod
from ace3d.models import ASSETS


def test_bank_page_is_self_contained_with_one_card_per_concept():
    bank = bank_mod.load(ASSETS / "demo_bank.npz")
    html = bank_page.render(bank, source="demo")
    names = re.findall(r'class="concept(?: ns)?" data-name="([^"]+)"', html)
    assert sorted(names) == sorted(bank.names)
    assert html.count('class="badge sig"') == int(bank.significant().sum())
    # nothing is fetched: every picture is inline, no script or style comes from elsewhere
    assert not re.search(r'(src|href)="(?!data:|#)', html)
    assert "url(http" not in html and "@import" not in html
    assert "default-src 'none'" in html
    k = int(np.argmax(bank.tcav))
    card = html[html.index(f'data-name="{bank.names[k]}"'):]
    assert f"{bank.tcav[k]:.2f} ± {bank.tcav_std[k]:.2f}" in card[:card.index("</dl>")]


def test_plot_draws_each_curve_with_its_area():
    x = np.linspace(0, 1, 11)
    svg = media.svg_plot({"a": (x, 1 - x), "b": (x, x ** 2)}, "deletion", "share", "p")
    assert svg.count("<polyline") == 2
    assert "a: area 0.500" in svg and f"b: area {np.trapezoid(x ** 2, x):.3f}" in svg


def test_display_heat_shows_a_voxel_method_with_a_few_extreme_voxels():
    heat = np.full((2, 8, 8), 0.01, np.float32)
    heat[0, 0, 0] = 1.0  # one extreme voxel: scaled to the maximum, the rest would be invisible
    shown = display_heat(heat)
    assert shown.max() == 1.0 and np.median(shown) == 1.0
    assert display_heat(-heat).max() == 0.0  # negative evidence is not drawn


def test_report_refuses_bad_options_before_any_work(capsys, tmp_path):
    out = tmp_path / "r.html"
    assert cli.main(["report", "--model", "demo", "missing.mp4", "--methods", "ace,nope", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "nope" in err and "integrated_gradients" in err
    assert cli.main(["report", "--model", "demo", "--bank", "none", "--out", str(out)]) == 2
    assert "give a bank" in capsys.readouterr().err
    assert not out.exists()
