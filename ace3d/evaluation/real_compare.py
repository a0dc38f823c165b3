"""Methods compared on the real set's held-out clips (`make evaluate-realset`), with 95% bootstrap intervals
over videos: deletion AUC with the project's fill and with a blur, insertion AUC, the target-probability drop
when the top region is removed against a random region of similar size, regions and seconds per explanation.

Every (clip, method) result is one line of ROWS (JSON lines), written as soon as it is computed, so a run that
stops resumes where it was; clips are taken one per video in turn (every video's first clip, then every
video's second...), so a short run still covers many videos. The target is the model's predicted class, or with
`--target bank-class` the clip's labelled class where the bank has concepts for it (other clips are left out):
what a caller asking "why playing piano?" gets, so the bank is measured on every clip of its classes.

Methods: any of `ace3d evaluate --methods`, and `ace_bank` (the explanation with BANK) beside `ace` (bankless);
`ace_bank_heat` and `ace_heat` rank the pieces of each concept by the answer's heatmap, `ace_bank_pieces` and
`ace_pieces` those of the first two concepts by their own removal, `ace_bank_core` and `ace_core` put the top
concept's core first (methods/ace.py). Each ranks concepts by their removal in the clip; with `_ranked` at the end
(`ace_ranked`, `ace_bank_ranked`, ...) by removal at the concept layer, as model-config-i3d.yaml serves the I3D.

Usage: python -m ace3d.evaluation.real_compare --realset DIR --rows ROWS [--bank BANK] [--methods ...]
       [--max-clips N] [--table OUT.md]"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ace3d.evaluation.metrics import ranking_aucs
from ace3d.evaluation.real_video import similar_size
from ace3d.method.removal import remove
from ace3d.method.video import limits_for, make_clips, read_file
from ace3d.models.engine import ForwardEngine, model_input

CURVE_POINTS = 6  # curves measured at every fifth of the clip's voxels, then wherever they move (metrics._curve)
METHODS = ("ace_bank_ranked", "ace_ranked", "ace_bank", "ace", "ace_bank_heat", "ace_heat", "ace_bank_pieces",
           "ace_pieces", "ace_bank_core", "ace_core", "grad_cam", "integrated_gradients", "occlusion",
           "captum_feature_ablation", "random")
MEASURES = (("deletion", "deletion AUC, project's fill (lower: better)"),
            ("deletion_blur", "deletion AUC, blur fill (lower: better)"),
            ("insertion", "insertion AUC (higher: better)"),
            ("drop_top", "drop of P(target), top region removed"),
            ("drop_random", "drop, random region of similar size"),
            ("regions", "regions per clip"), ("seconds", "seconds per explanation"))


def heldout_clips(realset: Path, max_per_video: int) -> list[dict]:
    """The held-out clips of the real set's index, one per video in turn."""
    index = json.loads((realset / "index.json").read_text())
    by_video: dict[str, list[dict]] = {}
    for e in index["files"]:
        if e["part"] == "heldout":
            by_video.setdefault(e["video"], []).append(e)
    out = []
    for k in range(max_per_video):
        out += [clips[k] for clips in by_video.values() if k < len(clips)]
    return out


def ace_variant(name: str) -> tuple[bool, str, str]:
    """A comparison name of the explanation -> (with the bank, `within`, removal): "ace_bank_pieces_ranked" is
    the bank's concepts ranked as served with removal "ranked" (at the concept layer), cut into pieces."""
    from ace3d.evaluation.methods import ACE_VARIANTS

    removal = "ranked" if name.endswith("_ranked") else "input"
    base = name.removesuffix("_ranked")
    with_bank = base.startswith("ace_bank")
    base = base.replace("ace_bank", "ace")
    if base not in ACE_VARIANTS:
        raise ValueError(f"unknown explanation variant {name!r}: {', '.join(ACE_VARIANTS)}, with _bank after ace "
                         "and/or _ranked at the end")
    return with_bank, ACE_VARIANTS[base], removal


def bank_class(clip: dict, class_names: list[str], bank) -> int | None:
    """The first of the clip's labelled classes the bank has concepts for (None: none)."""
    for name in clip.get("classes", []):
        if name in class_names and len(bank.concepts_of(class_names.index(name))):
            return class_names.index(name)
    return None


def drops(engine: ForwardEngine, frames: np.ndarray, masks: np.ndarray, target: int,
          rng: np.random.Generator) -> dict:
    """P(target) unchanged, with the top region removed, and with a random region of similar size removed."""
    sizes = masks.reshape(len(masks), -1).sum(1).astype(np.float64)
    j = similar_size(sizes, rng)
    picks = [0] + ([j] if j is not None else [])
    removed = remove(frames, torch.from_numpy(np.concatenate([np.zeros_like(masks[:1]), masks[picks]])))
    with torch.inference_mode():
        p = engine.forward(model_input(engine.clf, removed)).float().softmax(1)[:, target].cpu().numpy()
    return {"p": float(p[0]), "drop_top": float(p[0] - p[1]),
            "drop_random": float(p[0] - p[2]) if j is not None else None,
            "top_coverage": float(sizes[0] / masks[0].size)}


def run(explainers: dict, realset: Path, rows_path: Path, method_names: list[str], max_per_video: int,
        seed: int = 0, shard: tuple[int, int] = (0, 1), curve_points: int = CURVE_POINTS,
        occlusion_overlap: int = 1, target: str = "predicted") -> list[dict]:
    """Compute every missing (clip, method) row; `explainers`: {"bank": Explainer, "none": Explainer}; `target`:
    "predicted" (the model's call) or "bank-class" (the labelled class the bank covers; other clips skipped). With
    `shard` (i, n), only every n-th clip with results missing, from the i-th: n processes share the work (and
    one file). Per clip, the methods that rank supervoxels share one segmentation and all methods share the
    curves' points already measured (`metrics._curve`'s cache), so nothing is computed twice."""
    from ace3d.evaluation import methods
    from ace3d.evaluation.methods.ace import AceMethod
    from ace3d.method.supervoxels import segment

    if target not in ("predicted", "bank-class"):
        raise ValueError(f"target must be 'predicted' or 'bank-class', not {target!r}")
    done = {(r["clip"], r["method"]) for r in read_rows(rows_path)}
    clf = explainers["none"].clf
    engine = explainers["none"].engine
    built = {}
    variant = {name: ace_variant(name) for name in method_names if name.startswith("ace")}
    # the whole-concept explanations every ace row is made from (the _heat and _pieces rows cut them into pieces),
    # one per (bank or not, removal)
    whole = {(b, rm): AceMethod(ex.engine, bank=ex.bank, slic=ex.slic, removal=rm)
             for b, ex in ((False, explainers["none"]), (True, explainers["bank"])) for rm in ("input", "ranked")}
    for name in method_names:
        ex = explainers["bank"] if name.startswith("ace_bank") else explainers["none"]
        if name in variant:  # ace, ace_bank, their _heat, _pieces, _core and _ranked variants
            _, within, removal = variant[name]
            built[name] = AceMethod(ex.engine, bank=ex.bank, slic=ex.slic, removal=removal, within=within)
        else:
            built[name] = methods.build(name, ex.engine, bank=ex.bank, slic=ex.slic)
        if name == "occlusion":
            built[name].overlap = occlusion_overlap
    bank = explainers["bank"].bank
    clips = heldout_clips(realset, max_per_video)
    labelled = {}  # clip -> the labelled class it is explained for, with --target bank-class
    if target == "bank-class":
        if bank is None:
            raise ValueError("--target bank-class needs a bank (--bank)")
        labelled = {c["file"]: bank_class(c, clf.class_names, bank) for c in clips}
        clips = [c for c in clips if labelled[c["file"]] is not None]
    todo = [c for c in clips if any((c["file"], m) not in done for m in method_names)][shard[0]::shard[1]]
    print(f"{len(clips)} held-out clips of {len({c['video'] for c in clips})} videos; {len(todo)} clips with "
          f"results to compute, {len(done)} results already in {rows_path}", flush=True)
    rows_path.parent.mkdir(parents=True, exist_ok=True)
    for i, c in enumerate(tqdm(todo, desc="held-out clips", unit="clip")):
        clip = make_clips(read_file(realset / c["file"], limits_for(clf.clip_shape)), clf.clip_shape, 1,
                          clf.frame_rate)[0]
        t = labelled[c["file"]] if labelled else int(engine.classify([clip.frames])[1][0].argmax())
        regions, cache, seg_seconds, explained = None, {}, 0.0, {}
        # a class the bank has no concepts for is explained with the clip's groups, as without a bank: one
        # explanation serves ace and ace_bank (and its curves' points are all in the cache)
        bank_used = bank is not None and len(bank.concepts_of(t)) > 0
        for name in method_names:
            if (c["file"], name) in done:
                continue
            m = built[name]
            if m.takes_regions and regions is None:
                t0 = time.perf_counter()
                regions = segment(clip.frames, m.slic, clf.device)
                seg_seconds = time.perf_counter() - t0
            if name in variant:
                with_bank, _, removal = variant[name]
                key = (with_bank and bank_used, removal)
                if key not in explained:
                    explained[key] = whole[key].attribute(clip, t)
                a = explained[key] if m.within == "concepts" else m.refine(explained[key], t)
            else:
                a = m.attribute(clip, t, regions=regions if m.takes_regions else None)
            seconds = a.seconds + (seg_seconds if m.takes_regions else 0.0)  # each method's own segmentation
            row = {"clip": c["file"], "video": c["video"], "classes": c["classes"], "method": name,
                   "target": clf.class_names[t], "seconds": seconds, "regions": len(a.masks),
                   "forwards": a.clips_evaluated, "source": getattr(a.detail, "source", None),
                   "curve_points": curve_points}
            if len(a.masks):
                row.update(ranking_aucs(engine, clip.frames, a.masks, t, curve_points, cache))
                row.update(drops(engine, clip.frames, a.masks, t, np.random.default_rng([seed, i])))
            with open(rows_path, "a") as f:
                f.write(json.dumps(row) + "\n")
            tqdm.write(f"{c['file']} {name}: {seconds:.0f} s, {len(a.masks)} regions, "
                       f"deletion {row.get('deletion', float('nan')):.3f}")
    return read_rows(rows_path)


def read_rows(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def bootstrap(values: dict[str, list[float]], n: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """Mean over clips and its 95% interval, resampling videos (`values`: video -> its clips' values)."""
    videos = [v for v in values if values[v]]
    allv = [x for v in videos for x in values[v]]
    rng = np.random.default_rng(seed)
    means = []
    for _ in range(n):
        pick = rng.choice(len(videos), len(videos))
        xs = [x for k in pick for x in values[videos[k]]]
        means.append(np.mean(xs))
    lo, hi = np.percentile(means, [2.5, 97.5])
    return float(np.mean(allv)), float(lo), float(hi)


def summarise(rows: list[dict], method_names: list[str]) -> dict:
    """Per method and measure: mean and 95% interval over the clips every method has a result for."""
    by = {}
    for r in rows:
        by.setdefault(r["clip"], {})[r["method"]] = r
    common = [c for c, ms in by.items() if all(m in ms and "deletion" in ms[m] for m in method_names)]
    out = {"clips": len(common), "videos": len({by[c][method_names[0]]["video"] for c in common}), "methods": {}}
    for m in method_names:
        out["methods"][m] = {}
        for key, _ in MEASURES:
            vals: dict[str, list[float]] = {}
            for c in common:
                x = by[c][m].get(key)
                if x is not None:
                    vals.setdefault(by[c][m]["video"], []).append(float(x))
            out["methods"][m][key] = bootstrap(vals) if vals else None
    return out


def table(summary: dict) -> str:
    names = list(summary["methods"])
    lines = [f"{summary['clips']} held-out clips of {summary['videos']} videos; mean [95% interval, bootstrap over "
             "videos]", "", "| measure | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for key, label in MEASURES:
        cells = []
        for n in names:
            v = summary["methods"][n][key]
            cells.append("n/a" if v is None else f"{v[0]:.3f} [{v[1]:.3f}, {v[2]:.3f}]")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    from ace3d import models
    from ace3d.method import bank as banks
    from ace3d.method.explainer import Explainer

    ap = argparse.ArgumentParser(prog="python -m ace3d.evaluation.real_compare", description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="i3d_kinetics400")
    ap.add_argument("--realset", default="data/realset")
    ap.add_argument("--rows", required=True, help="JSON lines, appended to (a rerun resumes)")
    ap.add_argument("--bank", default=None, help="the bank of ace_bank")
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--max-clips", type=int, default=3, help="held-out clips per video, at most")
    ap.add_argument("--table", default=None, help="write the table (markdown) here")
    ap.add_argument("--shard", default="0/1", help="I/N: this process computes every N-th missing result from "
                    "the I-th (N processes on one ROWS file)")
    ap.add_argument("--target", choices=("predicted", "bank-class"), default="predicted",
                    help="the class explained: the model's call, or the clip's labelled class where the bank has "
                    "concepts for it (clips of other classes left out)")
    ap.add_argument("--summary-only", action="store_true", help="only summarise the rows there are")
    ap.add_argument("--curve-points", type=int, default=CURVE_POINTS,
                    help="points per deletion/insertion curve (0: every region's; the first union reaching each "
                    "step of the clip's voxels otherwise)")
    ap.add_argument("--occlusion-overlap", type=int, default=1,
                    help="Occlusion's windows per stride (2 is `ace3d evaluate`'s, 8 times the forwards of 1)")
    args = ap.parse_args(argv)
    names = [m.strip() for m in args.methods.split(",") if m.strip()]
    if any(n.startswith("ace_bank") for n in names) and not args.bank and not args.summary_only:
        ap.error("ace_bank needs --bank")
    rows_path = Path(args.rows)
    if args.summary_only:
        rows = read_rows(rows_path)
    else:
        clf = models.load(args.model)
        explainers = {"none": Explainer(clf, None)}
        explainers["bank"] = Explainer(clf, banks.load(args.bank)) if args.bank else explainers["none"]
        i, n = (int(x) for x in args.shard.split("/"))
        rows = run(explainers, Path(args.realset), rows_path, names, args.max_clips, shard=(i, n),
                   curve_points=args.curve_points, occlusion_overlap=args.occlusion_overlap, target=args.target)
    text = table(summarise(rows, names))
    print(text)
    if args.table:
        Path(args.table).write_text(text + "\n")


if __name__ == "__main__":
    main()
