"""Sanity checks of the explanations (`ace3d evaluate --sanity`): tests an explanation must pass whatever its
scores, because a method that fails them explains something other than the model.

- Model-parameter randomisation (Adebayo et al. 2018), cascading from the top: the stages of the network are
  re-initialised one more at a time, from the output down, and each method explains the same clips again.
  An explanation of the model must change: the Spearman rank correlation of its heatmap with the trained
  model's falls. A method whose heatmap stays put shows the input, not the model.
- Random concepts (after SURF): each of the explanation's concepts against a random group of the clip's
  supervoxels of the same size. Removing the explanation's top concept must change the prediction far more
  often, and lower the target's probability far more, than removing its random twin.
- Bank stability: the bank built again with other seeds; each concept is matched to its most similar concept
  of the same class in the other bank (cosine of the centroids, one-to-one): how many find a match above a
  similarity, and how close the matches are."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from scipy.stats import spearmanr
from tqdm import tqdm

from ace3d.datasets import list_videos
from ace3d.evaluation.methods.base import ExplanationMethod
from ace3d.method.bank import ConceptBank
from ace3d.method.removal import remove
from ace3d.method.supervoxels import Supervoxels, segment
from ace3d.method.video import Clip, make_clips, read_file
from ace3d.models.classifier import Classifier
from ace3d.models.engine import ForwardEngine, model_input

DEFAULT_METHODS = ("ace", "grad_cam", "integrated_gradients")  # `evaluate --sanity` without --methods
MATCH = 0.9  # cosine similarity above which two banks' concepts count as the same concept


def sample_clips(clf: Classifier, data: str | Path, per_class: int) -> list[Clip]:
    """The first clip of the first `per_class` videos of each class of `data`."""
    videos = list_videos(data, [c for c in clf.class_names if (Path(data) / c).is_dir()])
    return [make_clips(read_file(p), clf.clip_shape, frame_rate=clf.frame_rate)[0]
            for paths in videos.values() for p in paths[:per_class]]


def parametric_stages(clf: Classifier) -> list[str]:
    """Names of the stages that hold parameters, from the output down (the order of the cascade)."""
    return [name for name, stage in reversed(clf.stages)
            if isinstance(stage, torch.nn.Module) and any(True for _ in stage.parameters())]


def randomised(clf: Classifier, stages: list[str], seed: int = 0) -> Classifier:
    """A copy of `clf` whose named stages are re-initialised (every submodule's `reset_parameters`)."""
    out = copy.deepcopy(clf)
    torch.manual_seed(seed)
    for name, stage in out.stages:
        if name in stages:
            for m in stage.modules():
                if hasattr(m, "reset_parameters"):
                    m.reset_parameters()
    return out


def rank_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation of two heatmaps (0 where either is constant)."""
    a, b = np.ravel(a), np.ravel(b)
    if a.std() == 0 or b.std() == 0:
        return 0.0
    return float(spearmanr(a, b).statistic)


def cascade(engine: ForwardEngine, build_method, clips: list[Clip], seed: int = 0,
            progress: bool = True) -> list[dict]:
    """Per cascade step: the stages randomised so far and the mean rank correlation of each clip's heatmap
    with the trained model's. `build_method(engine) -> ExplanationMethod`; each explains the trained model's
    predicted class, so the change measured is the explanation's, not the target's."""
    method, clf = build_method(engine), engine.clf
    targets, reference = [], []
    for clip in clips:
        targets.append(predicted(engine, clip.frames))
        reference.append(method.attribute(clip, targets[-1]).heatmap)
    steps, done = [], []
    for name in tqdm(parametric_stages(clf), desc="randomise stages", disable=not progress):
        done.append(name)
        method = build_method(ForwardEngine(randomised(clf, done, seed), engine.batch_size, engine.precision))
        corr = [rank_correlation(ref, method.attribute(c, t).heatmap)
                for c, t, ref in zip(clips, targets, reference, strict=True)]
        steps.append({"randomised": list(done), "spearman_mean": float(np.mean(corr)),
                      "spearman_max": float(np.max(corr))})
    return steps


def random_twin(supervoxels: Supervoxels, size: int, rng: np.random.Generator) -> np.ndarray:
    """A random group of the clip's supervoxels (the finest resolution) with about `size` voxels."""
    labels = supervoxels.labels[int(np.argmax([len(np.unique(lab)) for lab in supervoxels.labels]))]
    ids, counts = np.unique(labels, return_counts=True)
    order = rng.permutation(len(ids))
    taken = np.cumsum(counts[order])
    n = int(np.searchsorted(taken, size) + 1)
    return np.isin(labels, ids[order[:n]])


def predicted(engine: ForwardEngine, frames: np.ndarray) -> int:
    """The class the model predicts for one clip (one float32 forward)."""
    with torch.inference_mode():
        return int(engine.forward(model_input(engine.clf, frames))[0].argmax())


def _drop_and_flip(engine: ForwardEngine, frames: np.ndarray, masks: list[np.ndarray],
                   target: int) -> list[tuple[float, bool]]:
    """For each mask: the target probability's fall when it is removed, and whether the call changes."""
    clf = engine.clf
    with torch.inference_mode():
        base = engine.forward(model_input(clf, frames)).float().softmax(1)[0]
        x = remove(frames, torch.from_numpy(np.stack(masks)))
        probs = engine.forward(model_input(clf, x)).float().softmax(1)
    return [(float(base[target] - p[target]), int(p.argmax()) != int(base.argmax())) for p in probs]


def random_concepts(ace: ExplanationMethod, clips: list[Clip], seed: int = 0, progress: bool = True) -> dict:
    """The explanation's top concept against a random same-size group of supervoxels, per clip (forwards
    through the method's engine)."""
    rng = np.random.default_rng(seed)
    top, twin = [], []
    engine = ace.engine
    for clip in tqdm(clips, desc="random concepts", disable=not progress):
        t = predicted(engine, clip.frames)
        a = ace.attribute(clip, t)
        if not len(a.masks):
            continue
        sv = getattr(a.detail, "supervoxels", None) or segment(clip.frames, ace.explainer.slic, engine.clf.device)
        r = random_twin(sv, int(a.masks[0].sum()), rng)
        (d_top, f_top), (d_twin, f_twin) = _drop_and_flip(engine, clip.frames, [a.masks[0], r], t)
        top.append((d_top, f_top))
        twin.append((d_twin, f_twin))
    return {"clips": len(top),
            "top_concept": {"flip_rate": float(np.mean([f for _, f in top])) if top else float("nan"),
                            "probability_drop": float(np.mean([d for d, _ in top])) if top else float("nan")},
            "random_same_size": {"flip_rate": float(np.mean([f for _, f in twin])) if twin else float("nan"),
                                 "probability_drop": float(np.mean([d for d, _ in twin])) if twin else float("nan")}}


def match_banks(a: ConceptBank, b: ConceptBank, threshold: float = MATCH) -> dict:
    """One-to-one matching of two banks' concepts within each class by centroid cosine similarity."""
    sims = []
    for c in range(len(a.class_names)):
        ia, ib = a.concepts_of(c), b.concepts_of(c)
        if not len(ia) or not len(ib):
            continue
        ca = a.centroid[ia] / np.linalg.norm(a.centroid[ia], axis=1, keepdims=True).clip(1e-12)
        cb = b.centroid[ib] / np.linalg.norm(b.centroid[ib], axis=1, keepdims=True).clip(1e-12)
        s = ca @ cb.T
        rows, cols = linear_sum_assignment(-s)
        sims.extend(s[rows, cols].tolist())
    sims_arr = np.asarray(sims)
    return {"concepts": [len(a.class_index), len(b.class_index)], "pairs": len(sims),
            "matched": int((sims_arr >= threshold).sum()), "threshold": threshold,
            "similarity_median": float(np.median(sims_arr)) if len(sims) else float("nan")}


def bank_stability(banks: list[ConceptBank]) -> list[dict]:
    """`match_banks` for every pair of banks (built from the same data with different seeds)."""
    return [{"seeds": [i, j], **match_banks(banks[i], banks[j])}
            for i in range(len(banks)) for j in range(i + 1, len(banks))]


def table(result: dict) -> str:
    """The sanity checks as plain text."""
    lines = []
    for name, steps in result.get("cascade", {}).items():
        lines.append(f"parameter randomisation, {name}: Spearman of the heatmap with the trained model's")
        for s in steps:
            lines.append(f"  + {s['randomised'][-1]:<24} mean {s['spearman_mean']:+.3f}  max {s['spearman_max']:+.3f}")
    rc = result.get("random_concepts")
    if rc:
        top, twin = rc["top_concept"], rc["random_same_size"]
        lines.append(f"random concepts ({rc['clips']} clips): the top concept removed flips {top['flip_rate']:.3f} "
                     f"and drops p(target) by {top['probability_drop']:.3f}; a random same-size group flips "
                     f"{twin['flip_rate']:.3f} and drops {twin['probability_drop']:.3f}")
    for m in result.get("bank_stability", []):
        lines.append(f"bank stability, seeds {m['seeds']}: {m['matched']} of {m['pairs']} matched pairs above "
                     f"{m['threshold']} (concepts {m['concepts'][0]} and {m['concepts'][1]}), median similarity "
                     f"{m['similarity_median']:.3f}")
    return "\n".join(lines)


def bank_params_like(bank: ConceptBank, seed: int):
    """The build parameters recorded in `bank`'s metadata, with another seed (k-means and random sets)."""
    from ace3d.jobs.bank_params import BankParams
    from ace3d.method.concepts import ConceptParams

    m = bank.meta
    per_class = max(m.get("videos_per_class", {}).values(), default=0)
    return BankParams(feature_mode=m["feature_mode"], slic=bank.slic,
                      concepts=ConceptParams(**m["concepts"], seed=seed), n_random_sets=m["n_random_sets"],
                      random_set_size=m["random_set_size"], alpha=m["alpha"], max_videos_per_class=per_class,
                      seed=seed)


def run(engine: ForwardEngine, data: str | Path, method_names: list[str], bank: ConceptBank | None = None,
        per_class: int = 5, bank_data: str | Path | None = None, seeds: tuple[int, ...] = (0, 1, 2),
        progress: bool = True) -> dict:
    """Every sanity check for the engine's model: the cascade for each method (the concept method without a
    bank there: the bank belongs to the trained weights), random concepts against the bank's concepts, and,
    given the bank's data, bank stability over `seeds`."""
    from ace3d.evaluation import methods
    from ace3d.jobs.build_bank import build

    clf = engine.clf
    slic = bank.slic if bank is not None else None  # the explainer's recipe, for every method
    clips = sample_clips(clf, data, per_class)
    out: dict = {"clips": len(clips), "cascade": {}}
    for name in method_names:
        def build_method(e: ForwardEngine, name: str = name) -> ExplanationMethod:
            return methods.build(name, e, slic=slic)
        out["cascade"][name] = cascade(engine, build_method, clips, progress=progress)
    out["random_concepts"] = random_concepts(methods.build("ace", engine, bank=bank), clips, progress=progress)
    if bank_data is not None and bank is not None:
        banks = [build(clf, bank_data, classes=list(bank.meta["classes_built"]),
                       params=bank_params_like(bank, s), progress=progress) for s in seeds]
        out["bank_stability"] = bank_stability(banks)
    return out
