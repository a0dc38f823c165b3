"""The planted-shortcut benchmark: does an explanation find a cue the model learned instead of the motion?

Data: `ace3d synth --cue CLASS` for training (a flickering corner square in most videos of CLASS), and two
test sets made with one seed, `--cue all` and `--cue none`: the same videos with and without the cue. A model
trained on the first uses the cue when its accuracy drops on the swapped sets. Per test video, the cue swap
says whether the decision rests on the cue: it does when the video with the cue is called CLASS and the same
video without it is not. Then, for each method:

- detection: of the videos whose decision rests on the cue, the share where the explanation of the cued
  video points at the cue (its top region lies on the cue; separately, its heatmap peak does);
- false alarm: the same share over cued videos whose decision does not rest on the cue (the swap leaves the
  prediction as it was); run on a model trained without the cue, every cued video counts here.

Detection is also reported over the calls that the cue made against the motion (a video of another class
called CLASS because of the cue): there nothing but the cue argues for the call, while in a cued video of
CLASS itself the actor's motion argues for it too and may rightly be the top region.

A region "lies on the cue" when it covers at least half of the cue's voxels and at least a quarter of the
region is the cue or its rim (`on_cue`): a concept that swallowed most of the clip also covers the cue, and
must not count as having found it. Such collapsed top regions (over half the clip: the explainer's own
threshold, ace3d/method/collapse.py) are counted apart, and for the concept explanation so is its own flag
(`ClipResult.collapsed`, set after it split concepts over half the clip into their connected parts)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ace3d.datasets import list_videos, mask_path
from ace3d.errors import Ace3dError
from ace3d.evaluation.faithfulness import clip_mask
from ace3d.evaluation.methods.base import ExplanationMethod
from ace3d.evaluation.metrics import dilated, peak_inside
from ace3d.method import collapse
from ace3d.method.bank import ConceptBank
from ace3d.method.video import make_clips, read_file
from ace3d.models.engine import ForwardEngine

# `evaluate --shortcut` without --methods
DEFAULT_METHODS = ("ace", "grad_cam", "integrated_gradients", "occlusion", "captum_feature_ablation", "random")
COVER = 0.5  # share of the cue a region must cover
PURITY = 0.25  # share of the region that must be the cue or its rim
RIM = 2  # pixels around the cue that count as the cue (resizing smears its edge)
COLLAPSED = collapse.SHARE  # a top region over this share of the clip says nothing about where the evidence is


def on_cue(region: np.ndarray, cue: np.ndarray, cover: float = COVER, purity: float = PURITY) -> bool:
    """Whether a region (bool T x H x W) lies on the cue (see the module's docstring)."""
    if not cue.any() or not region.any():
        return False
    covered = (region & cue).sum() / cue.sum()
    pure = (region & dilated(cue, RIM)).sum() / region.sum()
    return bool(covered >= cover and pure >= purity)


def peak_on_cue(heatmap: np.ndarray, cue: np.ndarray) -> bool:
    """Whether the heatmap's maximum lies on the cue or its rim."""
    if not cue.any() or heatmap.max() <= 0:
        return False
    return peak_inside(heatmap, cue, RIM)


@dataclass
class Pair:
    """One test video seen with and without the cue."""

    name: str
    label: int
    pred_with: int
    pred_without: int
    relies: bool  # the cue swap changes the call to or from the cue class


def pairs(with_cue: str | Path, without_cue: str | Path, classes: list[str]) -> list[tuple[Path, Path, int]]:
    """(cued video, same video without the cue, label) for every video present in both sets."""
    found = list_videos(with_cue, [c for c in classes if (Path(with_cue) / c).is_dir()])
    out = []
    for cname, paths in found.items():
        for p in paths:
            q = Path(without_cue) / cname / p.name
            if q.is_file():
                out.append((p, q, classes.index(cname)))
    if not out:
        raise Ace3dError(f"no video of {with_cue} has a namesake in {without_cue}: make both with `ace3d synth` "
                         "and the same --seed, one with --cue all and one with --cue none")
    return out


def _rate(flags: list[bool]) -> float:
    return float(np.mean(flags)) if flags else float("nan")


def evaluate_shortcut(engine: ForwardEngine, methods: dict[str, ExplanationMethod], with_cue: str | Path,
                      without_cue: str | Path, cue_class: str, limit: int = 0, bank: ConceptBank | None = None,
                      progress: bool = True) -> dict:
    """Accuracy with and without the cue, the calls that rest on it, and each method's detection and
    false-alarm rates (module docstring). `bank`: also report whether the top concept of a detection is a
    bank concept significant for the cue class."""
    classes = engine.clf.class_names
    if cue_class not in classes:
        raise Ace3dError(f"cue class {cue_class!r} is not one of the model's classes: {', '.join(classes)}")
    cue_index = classes.index(cue_class)
    items = pairs(with_cue, without_cue, classes)
    if limit:
        items = [it for c in range(len(classes)) for it in [i for i in items if i[2] == c][:limit]]
    calls: list[Pair] = []
    keys = ("top_rel", "peak_rel", "top_not", "peak_not", "top_over", "peak_over", "collapsed", "flagged",
            "significant")
    hits: dict[str, dict[str, list[bool]]] = {n: {k: [] for k in keys} for n in methods}
    for p, q, label in tqdm(items, desc=f"shortcut ({', '.join(methods)})", disable=not progress):
        clip = make_clips(read_file(p), engine.clf.clip_shape, frame_rate=engine.clf.frame_rate)[0]
        bare = make_clips(read_file(q), engine.clf.clip_shape, frame_rate=engine.clf.frame_rate)[0]
        _, logits = engine.classify([clip.frames, bare.frames])
        pw, po = int(logits[0].argmax()), int(logits[1].argmax())
        relies = (pw == cue_index) != (po == cue_index)
        calls.append(Pair(p.stem, label, pw, po, relies))
        cue = clip_mask(np.load(mask_path(p), allow_pickle=False)["cue"], clip)
        if not cue.any():
            continue
        for name, method in methods.items():
            a = method.attribute(clip, pw)
            h = hits[name]
            top = a.masks[0] if len(a.masks) else np.zeros(cue.shape, bool)
            key = "rel" if relies else "not"
            h[f"top_{key}"].append(on_cue(top, cue))
            h[f"peak_{key}"].append(peak_on_cue(a.heatmap, cue))
            if relies and label != cue_index:  # the cue overrode the motion: nothing else argues for the call
                h["top_over"].append(h["top_rel"][-1])
                h["peak_over"].append(h["peak_rel"][-1])
            h["collapsed"].append(bool(top.mean() > COLLAPSED))
            if hasattr(a.detail, "collapsed"):  # the concept explanation's own flag (a ClipResult)
                h["flagged"].append(bool(a.detail.collapsed))
            if bank is not None and relies and h["top_rel"][-1] and getattr(a.detail, "source", "") == "bank":
                k = int(a.ids[0])
                h["significant"].append(bool(bank.class_index[k] == cue_index and bank.significant()[k]))
    acc_with = _rate([c.pred_with == c.label for c in calls])
    acc_without = _rate([c.pred_without == c.label for c in calls])
    return {
        "videos": len(calls),
        "cue_class": cue_class,
        "accuracy_with_cue": acc_with,
        "accuracy_without_cue": acc_without,
        "called_cue_class_with_cue": _rate([c.pred_with == cue_index for c in calls]),
        "called_cue_class_without_cue": _rate([c.pred_without == cue_index for c in calls]),
        "relying": sum(c.relies for c in calls),
        "relying_against_the_motion": sum(c.relies and c.label != cue_index for c in calls),
        "not_relying": sum(not c.relies for c in calls),
        "methods": {n: {"detection_top": _rate(h["top_rel"]), "detection_peak": _rate(h["peak_rel"]),
                        "detection_top_against_the_motion": _rate(h["top_over"]),
                        "detection_peak_against_the_motion": _rate(h["peak_over"]),
                        "false_alarm_top": _rate(h["top_not"]), "false_alarm_peak": _rate(h["peak_not"]),
                        "collapsed_top": _rate(h["collapsed"]), "flagged_collapsed": _rate(h["flagged"]),
                        "detections_by_significant_bank_concept": _rate(h["significant"])}
                    for n, h in hits.items()},
    }


def table(cue: dict, control: dict | None = None) -> str:
    """The shortcut results as plain text: accuracies, then a row per method."""
    lines = [f"cue class {cue['cue_class']}: accuracy {cue['accuracy_with_cue']:.3f} with the cue in every video, "
             f"{cue['accuracy_without_cue']:.3f} without it; calls resting on the cue: {cue['relying']} of "
             f"{cue['videos']}"]
    if control is not None:
        lines.append(f"control model: accuracy {control['accuracy_with_cue']:.3f} with the cue, "
                     f"{control['accuracy_without_cue']:.3f} without; calls resting on the cue: {control['relying']} "
                     f"of {control['videos']}")
    head = f"{'method':<26}{'detect top':>11}{'detect peak':>12}{'f.a. top':>10}{'f.a. peak':>10}{'collapsed':>10}"
    if control is not None:
        head += f"{'ctl f.a. top':>13}{'ctl f.a. peak':>14}"
    lines.append(head)
    for name, m in cue["methods"].items():
        row = (f"{name:<26}{m['detection_top']:>11.3f}{m['detection_peak']:>12.3f}{m['false_alarm_top']:>10.3f}"
               f"{m['false_alarm_peak']:>10.3f}{m['collapsed_top']:>10.3f}")
        if control is not None and name in control["methods"]:
            c = control["methods"][name]
            row += f"{c['false_alarm_top']:>13.3f}{c['false_alarm_peak']:>14.3f}"
        lines.append(row)
    return "\n".join(lines)
