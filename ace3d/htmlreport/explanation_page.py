"""The explanation report: one video explained, as a person wants to see it. Per clip: the clip, the same clip
with the heatmap and each concept's outline, and the comparison methods' heatmaps side by side (one player,
the same frame everywhere); the concept table; the self-check scores; deletion and insertion curves of the
explanation and of every comparison method, drawn; and the class scores."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ace3d import report
from ace3d.evaluation import metrics
from ace3d.evaluation.methods import Attribution, build
from ace3d.htmlreport import media
from ace3d.htmlreport.page import document, esc, fmt_p, player, table
from ace3d.method.explainer import Explainer, Request
from ace3d.method.results import VideoExplanation
from ace3d.method.video import Video
from ace3d.models.engine import ForwardEngine
from ace3d.serving import messages
from ace3d.v1 import explanation_pb2 as pb


@dataclass
class Ranked:
    """One ranking of a clip's regions and what it did to the target: the explanation's own or a method's."""

    name: str
    heatmap: np.ndarray
    deletion: tuple[np.ndarray, np.ndarray]
    insertion: tuple[np.ndarray, np.ndarray]
    seconds: float
    forwards: int | None
    regions: int


def rank(engine: ForwardEngine, name: str, frames: np.ndarray, masks: np.ndarray, heatmap: np.ndarray, target: int,
         seconds: float, forwards: int | None) -> Ranked:
    """Deletion and insertion curves of a ranking of regions (metrics.py), in the order the method ranks them."""
    return Ranked(name, heatmap, metrics.deletion_curve(engine, frames, masks, target),
                  metrics.insertion_curve(engine, frames, masks, target), seconds, forwards, len(masks))


def from_attribution(engine: ForwardEngine, name: str, frames: np.ndarray, a: Attribution, target: int) -> Ranked:
    return rank(engine, name, frames, a.masks, display_heat(a.heatmap), target, a.seconds, a.forwards)


def display_heat(heatmap: np.ndarray) -> np.ndarray:
    """A heatmap's positive part scaled for the eye: to the 99th percentile of its positive voxels, so that
    a voxel method whose few extreme voxels would leave the rest invisible still shows where it points."""
    heat = np.clip(np.asarray(heatmap, np.float32), 0, None)
    pos = heat[heat > 0]
    return np.clip(heat / float(np.percentile(pos, 99)), 0, 1) if pos.size else heat


def explain(explainer: Explainer, video: Video, request: Request, methods: list[str]) \
        -> tuple[VideoExplanation, list[list[Ranked]]]:
    """Explain the video, then rank the same clips' regions with each comparison method (on the explanation's
    own supervoxels where a method takes regions, so region methods rank the same regions). Per clip: the
    explanation's ranking first."""
    exp = explainer.explain(video, explainer.resolve(request))
    target, engine = exp.target, explainer.engine
    compared = [build(name, engine, bank=explainer.bank, slic=explainer.slic, removal=explainer.removal)
                for name in methods]
    rankings = []
    for r in exp.explained:
        rows = [rank(engine, "3D ACE (this explanation)", r.clip.frames, r.masks, r.heatmap, target,
                     sum(r.timings.values()), None)]
        for m in compared:
            regions = r.supervoxels if m.takes_regions else None
            rows.append(from_attribution(engine, m.name, r.clip.frames,
                                         m.attribute(r.clip, target, regions=regions), target))
        rankings.append(rows)
    return exp, rankings


def _scores(exp: pb.Explanation) -> str:
    rows = []
    for s in exp.scores:
        cls = "bar target" if s.index == exp.target_index else "bar"
        rows.append(f'<span>{esc(s.name)}{" (explained)" if s.index == exp.target_index else ""}</span>'
                    f'<div class="{cls}" style="width:{max(1.0, 300 * s.probability):.0f}px"></div>'
                    f"<span>{s.probability:.3f} (logit {s.logit:.2f})</span>")
    return '<div class="bars">' + "".join(rows) + "</div>"


def _concepts(clip: pb.ClipExplanation) -> str:
    rows = []
    for v, c in enumerate(clip.concepts, start=1):
        bank = c.HasField("tcav_score")
        sig = ('<span class="badge sig">yes</span>' if c.significant else '<span class="badge ns">no</span>') \
            if bank else "-"
        rows.append([f'<span class="swatch" style="background:{media.colour_hex(v)}"></span>{v}', esc(c.name),
                     f"{c.importance:.3f}", f"{c.tcav_score:.2f}" if bank else "-",
                     fmt_p(c.p_value_raw) if bank else "-", fmt_p(c.p_value) if bank else "-", sig,
                     f"{c.coverage:.1%}", str(c.supervoxels)])
    return table(["#", "concept", "importance", "TCAV", "p (raw)", "p (corrected)", "significant", "covers",
                  "supervoxels"], rows, left=2, cls="data concepts")


def _self_check(clip: pb.ClipExplanation) -> str:
    rows = [["target logit, clip unchanged", f"{clip.instance_score:.3f}"],
            ["top concept removed", f"{clip.top_concept_removed_score:.3f}"],
            ["every present concept removed", f"{clip.baseline_score:.3f}"]]
    out = table(["self-check (target logit)", "value"], rows, cls="data selfcheck")
    if clip.collapsed:  # the served flag (ace3d/method/collapse.py): one definition of a collapsed map
        out += (f'<p class="note"><b>Warning:</b> the top concept covers {clip.top_coverage:.0%} of the '
                "clip even after concepts over half of it were split into their connected parts: this "
                "explanation says little about where the evidence is.</p>")
    return out


def _comparison(rows: list[Ranked]) -> str:
    body = [[esc(r.name), str(r.regions), f"{np.trapezoid(r.deletion[1], r.deletion[0]):.3f}",
             f"{np.trapezoid(r.insertion[1], r.insertion[0]):.3f}", f"{r.seconds:.2f}",
             "-" if r.forwards is None else str(r.forwards)] for r in rows]
    return table(["ranking", "regions", "deletion AUC (lower: better)", "insertion AUC (higher: better)",
                  "seconds", "forwards"], body, cls="data comparison")


def render(v: VideoExplanation, rankings: list[list[Ranked]], source: str = "", fps: float = 6.0) -> str:
    """The whole explanation report as one HTML document (the answer as a client sees it, and its arrays)."""
    exp, results = messages.explanation(v), v.explained
    predicted = exp.scores[0].name if exp.scores else "?"
    body = [f"<h1>Explanation of <code>{esc(source or 'a video')}</code></h1>",
            f'<p class="meta">model <code>{esc(exp.model_name)}</code> · bank <code>{esc(exp.bank_id or "none")}'
            f'</code> · features <code>{esc(exp.feature_mode or "-")}</code> · predicted <b>{esc(predicted)}</b>'
            f' · explained class <b>{esc(exp.target_class)}</b> · {len(results)} of {exp.clip_count} clips '
            f'explained · {exp.timings_ms["total"]:.0f} ms</p>',
            "<h2>Class scores</h2>", _scores(exp)]
    for clip, r, rows in zip(exp.clips, results, rankings, strict=False):
        frames = r.clip.frames
        t, h, w = frames.shape[:3]
        fr = list(clip.frame_indices)
        body.append(f"<h2>Clip {clip.clip_index} <span class=\"meta\">· source frames {fr[0]}-{fr[-1]}, region "
                    f"{clip.region.x},{clip.region.y} {clip.region.width}x{clip.region.height}, "
                    f"{clip.supervoxel_count} supervoxels</span></h2>")
        panels = [("clip", media.strip_uri(frames), h, w),
                  ("3D ACE: heatmap + concept outlines", media.strip_uri(report.overlay_frames(frames, clip)), h, w)]
        panels += [(f"{x.name}: heatmap", media.strip_uri(report.blend_heat(frames, x.heatmap)), h, w)
                   for x in rows[1:]]
        body.append(player(panels, t, fps))
        body.append('<p class="note">Red: how much each voxel carries the explained class (each method scaled to '
                    "the 99th percentile of its positive voxels). Outlines: the concepts present, in the colours "
                    "of the table below.</p>")
        body.append("<h3>Concepts present</h3>" + (_concepts(clip) if clip.concepts else "<p>none</p>"))
        body.append('<p class="note">Importance: the drop of the target logit when the concept is removed from '
                    "the clip. TCAV and p-values: the bank's, from offline testing; significant after "
                    "Benjamini-Hochberg correction. clip/group_n: groups of this clip's own supervoxels (the bank "
                    "has no concepts for the class).</p>")
        body.append("<h3>Self-check</h3>" + _self_check(clip))
        body.append("<h3>Deletion and insertion</h3>")
        dele = {x.name: x.deletion for x in rows}
        ins = {x.name: x.insertion for x in rows}
        body.append('<div class="plots">'
                    + media.svg_plot(dele, "deletion: ranked regions removed", "share of the clip removed",
                                     f"p({exp.target_class})")
                    + media.svg_plot(ins, "insertion: ranked regions put back", "share of the clip kept",
                                     f"p({exp.target_class})") + "</div>")
        body.append(_comparison(rows))
        body.append('<p class="note">Each ranking removes (deletion) or keeps (insertion) its regions most '
                    "important first, cumulatively; the x axis is the share of voxels, so rankings of different "
                    "region counts compare. Area under the curve in the legend.</p>")
    return document(f"ace3d explanation {source}", body)
