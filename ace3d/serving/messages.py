"""An explanation as the wire schema's messages (proto/ace3d/v1/explanation.proto): the method answers plain
data (`VideoExplanation` of `ClipResult`s, ace3d.method.results); this module, at the serving edge, turns it
into `Explanation` and `ClipExplanation`."""

from __future__ import annotations

import numpy as np
import torch

from ace3d.method.bank import ConceptBank
from ace3d.method.groups import group_name
from ace3d.method.results import ClassifiedClip, ClipResult, VideoExplanation
from ace3d.method.video import Clip
from ace3d.v1 import explanation_pb2 as pb
from ace3d.wire import to_volume


def scores(class_names: list[str], probs: np.ndarray, logits: np.ndarray, top_k: int) -> list[pb.ClassScore]:
    """The `top_k` classes by probability, with their logits."""
    top = torch.topk(torch.from_numpy(np.asarray(probs)), min(top_k, len(probs)))
    return [pb.ClassScore(name=class_names[i], index=i, probability=float(probs[i]), logit=float(logits[i]))
            for i in top.indices.tolist()]


def region(r: tuple[int, int, int, int]) -> pb.Region:
    x, y, w, h = r
    return pb.Region(x=x, y=y, width=w, height=h)


def explanation(v: VideoExplanation) -> pb.Explanation:
    """The whole answer: model, bank, prediction, target, every clip of `v` and its timings in milliseconds."""
    msg = pb.Explanation(model_name=v.model_name, bank_id=v.bank_id,
                         scores=scores(v.class_names, v.probabilities, v.logits, v.top_k),
                         target_class=v.target_class, target_index=v.target, feature_mode=v.feature_mode)
    msg.clip_count = v.clip_count
    msg.scored_clips = v.scored_clips
    if v.partial:
        msg.partial = True
    for c in v.clips:
        if isinstance(c, ClipResult):
            msg.clips.append(explained_clip(c, v.bank, v.class_names, v.top_k, v.target))
        else:
            msg.clips.append(classified_clip(c, v.class_names, v.target, v.top_k))
    for stage, seconds in v.timings.items():
        msg.timings_ms[str(stage)] = seconds * 1000.0
    return msg


def _head(clip: Clip, class_names: list[str], probs: np.ndarray, logits: np.ndarray, top_k: int,
          **fields) -> pb.ClipExplanation:
    return pb.ClipExplanation(clip_index=clip.index, frame_indices=clip.frame_indices, region=region(clip.region),
                              scores=scores(class_names, probs, logits, top_k), **fields)


def classified_clip(c: ClassifiedClip, class_names: list[str], target: int, top_k: int) -> pb.ClipExplanation:
    """A clip answered with its prediction only (classify_only)."""
    return _head(c.clip, class_names, c.probabilities, c.logits, top_k, instance_score=float(c.logits[target]))


def concept(cid: int, importance: float, coverage: float, supervoxels: int, bank: ConceptBank | None,
            source: str) -> pb.ConceptInstance:
    """A bank concept with its TCAV statistics, or a group of the clip's own supervoxels without them."""
    if source == "clip":
        return pb.ConceptInstance(id=cid, name=group_name(cid), importance=importance, coverage=coverage,
                                  supervoxels=supervoxels, source=pb.ConceptInstance.CLIP)
    return pb.ConceptInstance(
        id=cid, name=bank.names[cid], importance=importance, tcav_score=float(bank.tcav[cid]),
        p_value=float(bank.p_corrected[cid]), p_value_raw=float(bank.p_raw[cid]),
        significant=bool(bank.p_corrected[cid] <= bank.alpha), coverage=coverage, supervoxels=supervoxels)


def explained_clip(r: ClipResult, bank: ConceptBank | None, class_names: list[str], top_k: int,
                   target: int) -> pb.ClipExplanation:
    """A clip's explanation: its concepts with importance (and TCAV statistics for bank concepts), the volumes
    and the scores that let a client judge the explanation itself, with the collapsed-map flag."""
    n_vox = float(np.prod(r.heatmap.shape))
    counts = r.supervoxel_counts or [0] * len(r.concept_ids)
    concepts = [concept(cid, float(imp), float(r.masks[v].sum() / n_vox), n, bank, r.source)
                for v, (cid, imp, n) in enumerate(zip(r.concept_ids, r.importance, counts, strict=True))]
    msg = _head(r.clip, class_names, r.probabilities, r.logits, top_k, concepts=concepts,
                concept_map=to_volume(r.concept_map), heatmap=to_volume(r.heatmap.astype(np.float16)),
                instance_score=r.instance, top_concept_removed_score=r.top_removed, baseline_score=r.baseline,
                supervoxel_count=len(r.supervoxels), instance_probability=float(r.probabilities[target]),
                collapsed=r.collapsed, top_coverage=r.top_coverage)
    if r.top_removed_logits is not None:
        removed = torch.from_numpy(np.asarray(r.top_removed_logits, np.float32)).softmax(0)
        msg.top_concept_removed_probability = float(removed[target])
        msg.top_concept_removed_class = int(removed.argmax())
    return msg
