"""Faithfulness on real video, where nothing marks the ground truth (`ace3d evaluate --videos ...`): over the
clips of each video, how far the target probability falls when the explanation's top concept is removed,
against removing a random concept of similar size from the same explanation; and the deletion and insertion
curves of the explanation's ranking. A faithful explanation's top concept matters more than a random one of
the same size (the size is matched so that "removed more of the clip" cannot explain the gap)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ace3d.evaluation.metrics import deletion_curve, insertion_curve, ranking_aucs
from ace3d.method.bank import ConceptBank
from ace3d.method.explainer import Explainer, Request
from ace3d.method.removal import remove
from ace3d.method.video import limits_for, make_clips, read_file
from ace3d.models.engine import ForwardEngine

GRID = np.linspace(0.0, 1.0, 21)  # the common x of the averaged curves


def similar_size(sizes: np.ndarray, rng: np.random.Generator) -> int | None:
    """A random concept other than the top one (index 0) whose size is within a factor 2 of the top's; the
    nearest in size when none is; None when there is no other concept."""
    if len(sizes) < 2:
        return None
    others = np.arange(1, len(sizes))
    close = others[(sizes[others] >= sizes[0] / 2) & (sizes[others] <= sizes[0] * 2)]
    if len(close):
        return int(rng.choice(close))
    return int(others[np.argmin(np.abs(np.log(sizes[others] / sizes[0])))])


def evaluate_videos(engine: ForwardEngine, videos: list[str | Path], bank: ConceptBank | None = None,
                    removal: str = "input", max_clips: int = 4, seed: int = 0, progress: bool = True) -> dict:
    """The measures above over up to `max_clips` clips of each video, explained with `bank` (`removal`)."""
    rng = np.random.default_rng(seed)
    clf = engine.clf
    explainer = Explainer(clf, bank, removal=removal, engine=engine)
    rows, deletion, insertion = [], [], []
    for path in tqdm(videos, desc="real videos", disable=not progress):
        video = read_file(path, limits_for(clf.clip_shape))
        exp = explainer.explain(video, Request(max_clips=max_clips))
        target = exp.target
        for r in exp.explained:
            if not len(r.masks):
                continue
            sizes = r.masks.reshape(len(r.masks), -1).sum(1).astype(np.float64)
            j = similar_size(sizes, rng)
            xd, yd = deletion_curve(engine, r.clip.frames, r.masks, target)
            p0, p_top = float(yd[0]), float(yd[1])  # the unchanged clip, then the top concept removed
            p_rand = float("nan")
            if j is not None:
                removed = remove(r.clip.frames, torch.from_numpy(r.masks[j:j + 1]))
                p_rand = float(engine.logits(removed).softmax(1)[0, target])
            xi, yi = insertion_curve(engine, r.clip.frames, r.masks, target)
            deletion.append(np.interp(GRID, xd, yd))
            insertion.append(np.interp(GRID, xi, yi))
            rows.append({"video": Path(path).name, "clip": r.clip.index, "target": exp.target_class,
                         "probability": p0, "drop_top": p0 - p_top, "drop_random_similar_size": p0 - p_rand,
                         "top_coverage": float(sizes[0] / r.masks[0].size),
                         "random_coverage": float(sizes[j] / r.masks[0].size) if j is not None else None,
                         "concepts": len(r.masks), "source": r.source,
                         "deletion_auc": float(np.trapezoid(yd, xd)), "insertion_auc": float(np.trapezoid(yi, xi))})
    top = np.array([r["drop_top"] for r in rows])
    rnd = np.array([r["drop_random_similar_size"] for r in rows])
    rnd = rnd[np.isfinite(rnd)]
    out = {"model": clf.name, "videos": [Path(v).name for v in videos], "clips": len(rows),
           "drop_top": {"median": float(np.median(top)), "mean": float(np.mean(top))} if len(top) else None,
           "drop_random_similar_size": {"median": float(np.median(rnd)), "mean": float(np.mean(rnd))}
           if len(rnd) else None,
           "deletion_auc_mean": float(np.mean([r["deletion_auc"] for r in rows])) if rows else None,
           "insertion_auc_mean": float(np.mean([r["insertion_auc"] for r in rows])) if rows else None,
           "curves": {"x": GRID.tolist(), "deletion_mean": np.mean(deletion, 0).tolist() if deletion else [],
                      "insertion_mean": np.mean(insertion, 0).tolist() if insertion else []},
           "per_clip": rows}
    if len(top) and len(rnd):
        out["ratio_of_means_top_to_random"] = float(np.mean(top) / np.mean(rnd)) if np.mean(rnd) > 0 else None
        out["ratio_of_medians_top_to_random"] = (float(np.median(top) / np.median(rnd)) if np.median(rnd) > 0
                                                  else None)
    return out


def compare_methods(engine: ForwardEngine, videos: list[str | Path], method_names: list[str],
                    bank: ConceptBank | None = None, removal: str = "input", max_clips: int = 1,
                    progress: bool = True) -> dict:
    """Each method on the same clips of real videos (no ground truth): deletion AUC with the project's fill
    and with a blur, insertion AUC, and seconds per explanation, for the model's predicted class."""
    from ace3d.evaluation import methods

    clf = engine.clf
    clips = []
    for path in videos:
        video = read_file(path, limits_for(clf.clip_shape))
        clips += make_clips(video, clf.clip_shape, max_clips=max_clips, frame_rate=clf.frame_rate)
    targets = [int(engine.classify([c.frames])[1][0].argmax()) for c in clips]
    out: dict = {"model": clf.name, "videos": [Path(v).name for v in videos], "clips": len(clips), "methods": {}}
    for name in method_names:
        method = methods.build(name, engine, bank=bank, removal=removal)
        rows = {"deletion": [], "deletion_blur": [], "insertion": [], "seconds": [], "regions": []}
        for clip, t in tqdm(list(zip(clips, targets, strict=True)), desc=name, disable=not progress):
            a = method.attribute(clip, t)
            rows["seconds"].append(a.seconds)
            rows["regions"].append(len(a.masks))
            if len(a.masks):
                for k, v in ranking_aucs(engine, clip.frames, a.masks, t).items():
                    rows[k].append(v)
        out["methods"][name] = {k: float(np.mean(v)) if v else float("nan") for k, v in rows.items()}
    return out


def methods_table(result: dict) -> str:
    """`compare_methods` as plain text, a column per method."""
    names = list(result["methods"])
    rows = (("deletion AUC (lower: better)", "deletion"), ("deletion AUC, blur fill", "deletion_blur"),
            ("insertion AUC (higher: better)", "insertion"), ("regions per clip", "regions"),
            ("seconds per explanation", "seconds"))
    lines = [f"{result['model']}, {result['clips']} clips of {len(result['videos'])} videos",
             f"{'measure':<30}" + "".join(f"{n:>24}" for n in names)]
    for label, key in rows:
        lines.append(f"{label:<30}" + "".join(f"{result['methods'][n][key]:>24.3f}" for n in names))
    return "\n".join(lines)


def plot(result: dict, path: str | Path) -> Path:
    """The averaged deletion and insertion curves, and the two drops, as one PNG a person can read."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ace3d.files import atomic_write

    c = result["curves"]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.6))
    a.plot(c["x"], c["deletion_mean"], label=f"deletion (AUC {result['deletion_auc_mean']:.3f}, lower is better)")
    a.plot(c["x"], c["insertion_mean"], label=f"insertion (AUC {result['insertion_auc_mean']:.3f}, higher is better)")
    a.set_xlabel("share of the clip removed (deletion) / kept (insertion)")
    a.set_ylabel("target probability")
    a.set_title(f"{result['model']}: {result['clips']} clips of {len(result['videos'])} real videos")
    a.legend(fontsize=8)
    rows = result["per_clip"]
    b.scatter([r["drop_random_similar_size"] for r in rows], [r["drop_top"] for r in rows], s=14)
    lim = min(1.0, max([0.05] + [abs(r["drop_top"]) for r in rows]
                       + [abs(r["drop_random_similar_size"] or 0) for r in rows]) * 1.05)
    b.plot([-lim, lim], [-lim, lim], "k:", lw=1)
    b.set_xlabel("probability drop, random concept of similar size")
    b.set_ylabel("probability drop, top concept")
    b.set_title("each clip; above the diagonal, the top concept matters more", fontsize=9)
    fig.tight_layout()
    out = atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    plt.close(fig)
    return out
