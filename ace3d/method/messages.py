"""An explanation as the wire schema's messages (proto/ace3d/v1/explanation.proto): the method computes
arrays (`ClipResult`), this module turns them into `Explanation` and `ClipExplanation`."""

from __future__ import annotations

import numpy as np
import torch

from ace3d.method.bank import ConceptBank
from ace3d.method.groups import group_name
from ace3d.method.video import Clip
from ace3d.v1 import explanation_pb2 as pb
from ace3d.wire import to_volume


def scores(class_names: list[str], probs: torch.Tensor, logits: torch.Tensor, top_k: int) -> list[pb.ClassScore]:
    """The `top_k` classes by probability, with their logits."""
    top = torch.topk(probs, min(top_k, len(probs)))
    return [pb.ClassScore(name=class_names[i], index=i, probability=float(probs[i]), logit=float(logits[i]))
            for i in top.indices.tolist()]


def region(r: tuple[int, int, int, int]) -> pb.Region:
    x, y, w, h = r
    return pb.Region(x=x, y=y, width=w, height=h)


def explanation(model_name: str, class_names: list[str], bank: ConceptBank | None, probs: torch.Tensor,
                logits: torch.Tensor, target: int, top_k: int) -> pb.Explanation:
    """The video-level part of an answer: model, bank, prediction and target (clips are appended)."""
    return pb.Explanation(model_name=model_name, bank_id=bank.bank_id if bank else "",
                          scores=scores(class_names, probs, logits, top_k), target_class=class_names[target],
                          target_index=target, feature_mode=bank.feature_mode if bank else "")


def classified_clip(clip: Clip, class_names: list[str], probs: torch.Tensor, logits: torch.Tensor, target: int,
                    top_k: int) -> pb.ClipExplanation:
    """A clip answered with its prediction only (classify_only)."""
    return pb.ClipExplanation(clip_index=clip.index, frame_indices=clip.frame_indices, region=region(clip.region),
                              scores=scores(class_names, probs, logits, top_k), instance_score=float(logits[target]))


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


def explained_clip(r, bank: ConceptBank | None, class_names: list[str], probs: torch.Tensor, logits: torch.Tensor,
                   top_k: int, target: int) -> pb.ClipExplanation:
    """A clip's explanation (`ClipResult` r): its concepts with importance (and TCAV statistics for bank
    concepts), the volumes and the scores that let a client judge the explanation itself."""
    n_vox = float(np.prod(r.heatmap.shape))
    concepts = [concept(cid, float(imp), float(r.masks[v].sum() / n_vox), r.assigned.get(cid, 0), bank, r.source)
                for v, (cid, imp) in enumerate(zip(r.concept_ids, r.importance, strict=True))]
    msg = pb.ClipExplanation(
        clip_index=r.clip.index, frame_indices=r.clip.frame_indices, region=region(r.clip.region),
        scores=scores(class_names, probs, logits, top_k), concepts=concepts, concept_map=to_volume(r.concept_map),
        heatmap=to_volume(r.heatmap.astype(np.float16)), instance_score=r.instance,
        top_concept_removed_score=r.top_removed, baseline_score=r.baseline, supervoxel_count=len(r.supervoxels),
        instance_probability=float(probs[target]))
    if r.top_removed_logits is not None:
        removed = torch.from_numpy(np.asarray(r.top_removed_logits, np.float32)).softmax(0)
        msg.top_concept_removed_probability = float(removed[target])
        msg.top_concept_removed_class = int(removed.argmax())
    return msg
