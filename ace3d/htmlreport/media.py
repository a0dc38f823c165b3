"""Pictures for the HTML report, as data URIs and inline SVG: animated GIFs (every browser decodes them, no
codec needed), frame strips that the page's script steps through, and line plots of curves."""

from __future__ import annotations

import base64
import io
from html import escape

import numpy as np
from PIL import Image

from ace3d.report import PALETTE, blend_heat  # noqa: F401 - blend_heat: the one heat colouring


def _uri(mime: str, data: bytes) -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")


def png_uri(image: np.ndarray) -> str:
    """A uint8 H x W x 3 image as a PNG data URI."""
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buf, format="PNG", optimize=True)
    return _uri("image/png", buf.getvalue())


def gif_uri(frames: np.ndarray, fps: float = 6.0) -> str:
    """uint8 T x H x W x 3 frames as an endlessly looping animated GIF data URI (scaled up by the page's CSS,
    not here, to keep the file small)."""
    imgs = [Image.fromarray(np.ascontiguousarray(f)) for f in frames]
    buf = io.BytesIO()
    imgs[0].save(buf, format="GIF", save_all=True, append_images=imgs[1:], duration=int(1000 / fps), loop=0,
                 disposal=1)
    return _uri("image/gif", buf.getvalue())


def strip_uri(frames: np.ndarray) -> str:
    """T x H x W x 3 frames side by side in one PNG: the page's player shows one at a time, so every panel of
    a comparison shows the same frame."""
    return png_uri(np.concatenate(list(frames), axis=1))


def colour_hex(v: int) -> str:
    """The palette colour of concept number v (1-based) as #rrggbb, to match its outline in the table."""
    r, g, b = (int(c) for c in PALETTE[(v - 1) % len(PALETTE)])
    return f"#{r:02x}{g:02x}{b:02x}"


PLOT_COLOURS = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#7f7f7f",
                "#bcbd22", "#17becf"]


def svg_plot(curves: dict[str, tuple[np.ndarray, np.ndarray]], title: str, xlabel: str, ylabel: str,
             width: int = 360, height: int = 240) -> str:
    """Line plot of named curves (x and y in [0, 1]) as an inline SVG element, with the area under each curve
    in the legend."""
    left, right, top, bottom = 44, 10, 24, 38
    pw, ph = width - left - right, height - top - bottom
    height += 15 * len(curves) + 4  # the legend, one row per curve, under the axes
    def px(x: float) -> float:
        return left + float(np.clip(x, 0, 1)) * pw

    def py(y: float) -> float:
        return top + (1 - float(np.clip(y, 0, 1))) * ph

    parts = [f'<svg class="plot" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
             f'<text x="{width / 2}" y="15" text-anchor="middle" class="ptitle">{escape(title)}</text>',
             f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" class="pframe"/>']
    for v in (0.0, 0.25, 0.5, 0.75, 1.0):
        parts.append(f'<line x1="{px(v)}" y1="{top}" x2="{px(v)}" y2="{top + ph}" class="pgrid"/>'
                     f'<line x1="{left}" y1="{py(v)}" x2="{left + pw}" y2="{py(v)}" class="pgrid"/>'
                     f'<text x="{px(v)}" y="{top + ph + 13}" text-anchor="middle" class="ptick">{v:g}</text>'
                     f'<text x="{left - 4}" y="{py(v) + 4}" text-anchor="end" class="ptick">{v:g}</text>')
    parts.append(f'<text x="{left + pw / 2}" y="{top + ph + bottom - 4}" text-anchor="middle" class="plabel">'
                 f'{escape(xlabel)}</text>')
    parts.append(f'<text transform="translate(11 {top + ph / 2}) rotate(-90)" text-anchor="middle" '
                 f'class="plabel">{escape(ylabel)}</text>')
    for i, (name, (x, y)) in enumerate(curves.items()):
        c = PLOT_COLOURS[i % len(PLOT_COLOURS)]
        pts = " ".join(f"{px(a):.1f},{py(b):.1f}" for a, b in zip(x, y, strict=True))
        auc = float(np.trapezoid(y, x)) if len(x) > 1 else float("nan")
        parts.append(f'<polyline points="{pts}" fill="none" stroke="{c}" stroke-width="2"/>')
        ly = top + ph + bottom + 13 + 15 * i
        parts.append(f'<line x1="{left}" y1="{ly - 4}" x2="{left + 18}" y2="{ly - 4}" stroke="{c}" '
                     f'stroke-width="2"/><text x="{left + 24}" y="{ly}" class="plegend">{escape(name)}: area '
                     f'{auc:.3f}</text>')
    parts.append("</svg>")
    return "".join(parts)
