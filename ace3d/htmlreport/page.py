"""The page around the pictures: one HTML document with its CSS and its one small script inline.

The script is the clip player: a `.player` holds panels whose picture is a strip of T frames side by side
(media.strip_uri); it shows frame t of every panel at once, so a person compares the methods on the same
frame, and steps t on a timer (play/pause, a slider to scrub). The current frame is the player's
`data-frame` attribute, which the browser test reads."""

from __future__ import annotations

from collections.abc import Iterable
from html import escape

import numpy as np

CSS = """
:root { --fg:#1d2330; --muted:#5b6475; --line:#d9dde5; --bg:#f6f7f9; --card:#fff; --ok:#1a7f37; --no:#8a8f98; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: var(--fg);
       background: var(--bg); margin: 0; padding: 20px 28px 40px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 18px; margin: 28px 0 10px; border-bottom: 1px solid
var(--line); padding-bottom: 4px; } h3 { font-size: 15px; margin: 18px 0 8px; }
.meta { color: var(--muted); margin: 0 0 6px; } .meta code { color: var(--fg); }
.note { color: var(--muted); font-size: 13px; max-width: 70em; }
table.data { border-collapse: collapse; background: var(--card); margin: 6px 0 10px; }
table.data th, table.data td { border: 1px solid var(--line); padding: 3px 9px; text-align: right; }
table.data th { background: #eef0f4; font-weight: 600; } table.data td.l, table.data th.l { text-align: left; }
.swatch { display: inline-block; width: 11px; height: 11px; border-radius: 2px; margin-right: 6px;
          vertical-align: -1px; border: 1px solid #0003; }
.badge { display: inline-block; border-radius: 9px; padding: 0 8px; font-size: 12px; color: #fff; }
.badge.sig { background: var(--ok); } .badge.ns { background: var(--no); }
.gallery { display: flex; flex-wrap: wrap; gap: 12px; }
.concept { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 8px 10px;
           width: 262px; } .concept.ns { opacity: .72; }
.concept .name { font-weight: 600; margin-bottom: 6px; display: flex; justify-content: space-between; }
.concept .examples { display: flex; gap: 6px; margin-bottom: 6px; }
.concept .examples img { width: 76px; height: 76px; image-rendering: pixelated; border-radius: 4px;
                         border: 1px solid var(--line); background: #ddd; }
.concept dl { display: grid; grid-template-columns: auto 1fr; gap: 0 10px; margin: 0; font-size: 13px; }
.concept dt { color: var(--muted); } .concept dd { margin: 0; text-align: right; font-variant-numeric: tabular-nums; }
.player { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 10px;
          display: inline-block; }
.panels { display: flex; flex-wrap: wrap; gap: 10px; }
.panels figure { margin: 0; } .panels figcaption { font-size: 13px; color: var(--muted); text-align: center; }
.frame { image-rendering: pixelated; background-repeat: no-repeat; border-radius: 4px; }
.controls { margin-top: 8px; display: flex; gap: 10px; align-items: center; font-size: 13px; }
.controls button { font: inherit; padding: 2px 12px; } .controls input { width: 260px; }
.bars { display: grid; grid-template-columns: max-content 300px max-content; justify-content: start;
        gap: 3px 12px; align-items: center; }
.bar { height: 12px; background: #4b7bd8; border-radius: 2px; } .bar.target { background: #d62728; }
.plots { display: flex; flex-wrap: wrap; gap: 14px; }
svg.plot { background: var(--card); border: 1px solid var(--line); border-radius: 6px; }
svg.plot .pframe { fill: none; stroke: #999; } svg.plot .pgrid { stroke: #eee; }
svg.plot text { font: 11px system-ui, "DejaVu Sans", sans-serif; fill: #333; } svg.plot .ptitle { font-weight: 600;
font-size: 12px; } svg.plot .plegend { font-size: 10.5px; }
"""

SCRIPT = """
(function () {
  function setup(player) {
    var n = parseInt(player.dataset.frames, 10), fps = parseFloat(player.dataset.fps) || 6;
    var frames = player.querySelectorAll('.frame'), slider = player.querySelector('input[type=range]');
    var label = player.querySelector('.fno'), button = player.querySelector('button.play'), t = 0, timer = null;
    function show(i) {
      t = ((i % n) + n) % n;
      var x = n > 1 ? (100 * t / (n - 1)) : 0;
      for (var k = 0; k < frames.length; k++) { frames[k].style.backgroundPositionX = x + '%'; }
      player.dataset.frame = String(t);
      if (slider) { slider.value = String(t); }
      if (label) { label.textContent = 'frame ' + (t + 1) + ' / ' + n; }
    }
    function play() { if (!timer) { timer = setInterval(function () { show(t + 1); }, 1000 / fps); }
                      if (button) { button.textContent = 'pause'; } }
    function pause() { if (timer) { clearInterval(timer); timer = null; } if (button) { button.textContent = 'play'; } }
    if (button) { button.addEventListener('click', function () { if (timer) { pause(); } else { play(); } }); }
    if (slider) { slider.addEventListener('input', function () { pause(); show(parseInt(slider.value, 10)); }); }
    show(0);
    if (n > 1) { play(); }
  }
  document.querySelectorAll('.player').forEach(setup);
})();
"""


def esc(x: object) -> str:
    return escape(str(x), quote=True)


def fmt_p(p: float) -> str:
    """A p-value as people read them: 3 significant digits, scientific below 0.001."""
    return "-" if p is None or not np.isfinite(p) else (f"{p:.2e}" if p < 1e-3 else f"{p:.3f}")


def document(title: str, body: Iterable[str]) -> str:
    """A complete HTML document: nothing in it is fetched from anywhere."""
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            # no network: forbid every fetch except the inline data the page carries
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; "
            "style-src 'unsafe-inline'; script-src 'unsafe-inline'\">"
            f"<title>{esc(title)}</title><style>{CSS}</style></head><body>\n"
            + "\n".join(body) + f"\n<script>{SCRIPT}</script></body></html>\n")


LEFT = ' class="l"'


def table(header: list[str], rows: list[list[str]], left: int = 1, cls: str = "data") -> str:
    """An HTML table; cells are already HTML (escape with `esc`); the first `left` columns align left."""
    def cells(tag: str, row: list[str]) -> str:
        return "".join(f"<{tag}{LEFT if i < left else ''}>{c}</{tag}>" for i, c in enumerate(row))

    head = f"<tr>{cells('th', header)}</tr>"
    return f'<table class="{cls}">{head}' + "".join(f"<tr>{cells('td', r)}</tr>" for r in rows) + "</table>"


def player(panels: list[tuple[str, str, int, int]], n_frames: int, fps: float = 6.0, display: int = 192) -> str:
    """A clip player: panels of (caption, strip data URI, frame height, frame width), all showing the same
    frame; each drawn `display` pixels high."""
    figs = []
    for caption, uri, h, w in panels:
        dw = round(display * w / h)
        figs.append(f'<figure style="width:{dw}px"><div class="frame" role="img" aria-label="{esc(caption)}" '
                    f'style="width:{dw}px;height:{display}px;background-image:url({uri});'
                    f'background-size:{n_frames * 100}% 100%">'
                    f'</div><figcaption>{esc(caption)}</figcaption></figure>')
    return (f'<div class="player" data-frames="{n_frames}" data-fps="{fps:g}"><div class="panels">{"".join(figs)}'
            f'</div><div class="controls"><button class="play" type="button">play</button>'
            f'<input type="range" min="0" max="{n_frames - 1}" value="0" aria-label="frame">'
            f'<span class="fno"></span></div></div>')
