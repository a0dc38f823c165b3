"""Explain one video with a concept bank: the prediction, the concepts present, how much each drove the
target class in THIS video, and masks a person can look at.

Per clip: one forward gives the prediction and the bottleneck activation; supervoxels get features
(pooled from that activation, or ACE-style when the bank was built that way) and each joins the nearest
concept of the target class; each concept present is removed from the clip (removal.py) and all removals go
through the model in batched forwards; the target-logit drop is the concept's importance. Like Google's
explanation API, each clip reports the unchanged (instance) score, the score with the top concept removed
and the score with every present concept removed (baseline)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from ace3d.method import features as feats
from ace3d.method import messages
from ace3d.method.bank import ConceptBank
from ace3d.method.groups import MAX_GROUPS, clip_groups
from ace3d.method.removal import fill_removed, remove_features
from ace3d.method.slic_params import SlicParams
from ace3d.method.supervoxels import Supervoxels, segment
from ace3d.method.video import Clip, Video, make_clips
from ace3d.models.classifier import Classifier
from ace3d.models.engine import ForwardEngine, normalise
from ace3d.v1 import explanation_pb2 as pb

# How a concept is taken out: "input" in the clip (every forward is a full one); "bottleneck" in the concept
# layer's activation, re-running only the later layers; "ranked": ranked at the bottleneck, with the self-check
# scores (top concept removed, everything removed) measured in the clip. Faithfulness of each: docs.
REMOVALS = ("input", "bottleneck", "ranked")


@dataclass(frozen=True)
class Request:
    """What to explain in one video (ExplainOptions in proto/ace3d/v1/explanation.proto, already validated).
    `target_index` is set by `Explainer.resolve`, once, from `target_class`."""

    target_class: str | None = None
    top_k: int = 5
    max_concepts: int = 0  # 0: all present
    max_clips: int = 1
    classify_only: bool = False
    target_index: int | None = None


@dataclass
class ClipResult:
    """A clip's explanation as arrays, before it becomes a message (for evaluation and overlays)."""

    clip: Clip
    supervoxels: Supervoxels
    concept_ids: list[int]  # bank rows (or, for source "clip", group numbers), most important first
    importance: np.ndarray
    masks: np.ndarray  # bool K x T x H x W, one per concept in `concept_ids`
    heatmap: np.ndarray  # float32 T x H x W in [0, 1]
    concept_map: np.ndarray  # T x H x W, v > 0: concept_ids[v - 1]
    instance: float
    top_removed: float
    baseline: float
    timings: dict[str, float] = field(default_factory=dict)
    assigned: dict[int, int] = field(default_factory=dict)  # concept id -> supervoxels assigned to it
    source: str = "bank"  # "clip": the concepts are groups of this clip's supervoxels (groups.py)
    top_removed_logits: np.ndarray | None = None  # every class's logit with the top concept removed


class Explainer:
    """3D ACE for one model and its bank: `stream(video, request)` yields per-clip parts and the final
    Explanation, `explain` returns the final one, `explain_clip` is the per-clip method on arrays.

    The bank is checked against the model once, here, so a mismatched pair never serves. Without a bank, or
    for a target class the bank has no concepts for, the concepts are groups of the clip's own supervoxels."""

    def __init__(self, clf: Classifier, bank: ConceptBank | None, slic: SlicParams | None = None,
                 batch_size: int = 16, removal: str = "input", precision: str = "auto",
                 max_groups: int = MAX_GROUPS) -> None:
        if bank is not None:
            bank.check_model(clf)
        if removal not in REMOVALS:
            raise ValueError(f"unknown removal {removal!r}: use one of {REMOVALS}")
        self.clf, self.bank = clf, bank
        self.slic = slic or (bank.slic if bank is not None else SlicParams())
        self.removal = removal
        self.max_groups = max_groups
        self.engine = ForwardEngine(clf, batch_size, precision)
        self._centroids = torch.from_numpy(bank.centroid) if bank is not None else None

    @property
    def batch_size(self) -> int:
        return self.engine.batch_size

    @property
    def precision(self) -> str:
        return self.engine.precision

    @property
    def bf16(self) -> bool:
        return self.engine.bf16

    def warmup(self, max_batch: int | None = None) -> float:
        return self.engine.warmup(max_batch)

    # ------------------------------------------------------------------------------------ steps
    def resolve(self, request: Request) -> Request:
        """The request with its target class looked up: an unknown class is refused here, before any work."""
        if request.target_class and request.target_index is None:
            return dataclasses.replace(request, target_index=self.clf.class_index(request.target_class))
        return request

    def clips(self, video: Video, request: Request) -> list[Clip]:
        return make_clips(video, self.clf.clip_shape, request.max_clips, self.clf.frame_rate)

    def classify(self, clips: list[Clip]) -> tuple[torch.Tensor, torch.Tensor]:
        """Bottleneck activations and logits of all clips (batched float32 forwards)."""
        return self.engine.classify([c.frames for c in clips])

    def removed_logits(self, clip: Clip, activation: torch.Tensor,
                       masks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits of the clip with each mask (bool K x T x H x W) removed, by the explainer's removal, and how
        much the removal changed each voxel (float K x T x H x W: colour distance in the clip; at the
        bottleneck, the mask itself)."""
        if self.removal in ("bottleneck", "ranked"):
            act = activation.float().cpu()
            w = F.adaptive_avg_pool3d(self.clf.input_reach(masks).float(), tuple(act.shape[1:]))
            return self.engine.head_logits(remove_features(act, w).to(activation.dtype)), masks.float()
        return self.input_removed_logits(clip, masks)

    def input_removed_logits(self, clip: Clip, masks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """`removed_logits` by removal in the clip itself."""
        dev = self.clf.device
        x = normalise(torch.from_numpy(np.ascontiguousarray(clip.frames)).to(dev).float(), self.clf.mean, self.clf.std)
        removed = fill_removed(x, masks.to(dev))  # already in the model's units: no pass over K clips
        d = (removed - x[None]).abs_()
        # colour distance in pixel units, channel by channel (a reduction over a last axis of 3 is slower)
        std = [s * 255.0 for s in self.clf.std]
        change = d[..., 0] * std[0] + d[..., 1] * std[1] + d[..., 2] * std[2]
        return self.engine.logits(removed, fast=True, normalised=True), change.cpu()

    def explain_clip(self, clip: Clip, activation: torch.Tensor, instance_logits: torch.Tensor, target: int,
                     max_concepts: int = 0) -> ClipResult:
        """The method on one clip: supervoxels, features, nearest concepts of `target`, importance by removal,
        heatmap and concept map."""
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        sv = segment(clip.frames, self.slic, self.clf.device)
        t1 = time.perf_counter()
        timings["supervoxels"] = t1 - t0
        rows = self.bank.concepts_of(target) if self.bank is not None else np.zeros(0, np.int64)
        if len(rows) and self.bank.feature_mode == "ace":
            f = feats.ace(self.clf, clip.frames, sv, self.batch_size)
        else:  # pooled bank features, and always for the clip's own groups
            f = feats.pool(activation[None], sv)
        t2 = time.perf_counter()
        timings["features"] = t2 - t1
        shape = tuple(clip.frames.shape[:3])
        instance = float(instance_logits[target])
        if len(sv) == 0:
            timings["importance"] = 0.0  # nothing to remove: the stage ran and cost nothing
            empty = np.zeros(shape, np.float32)
            return ClipResult(clip=clip, supervoxels=sv, concept_ids=[], importance=np.zeros(0),
                              masks=np.zeros((0, *shape), bool), heatmap=empty, concept_map=np.zeros(shape, np.uint8),
                              instance=instance, top_removed=instance, baseline=instance, timings=timings)
        source = "bank" if len(rows) else "clip"
        if len(rows):  # each supervoxel joins the nearest concept of the target class
            nearest = torch.cdist(torch.from_numpy(f), self._centroids[rows]).argmin(1).numpy()
        else:  # no concept of this class: the clip's own groups, numbered by their k-means label
            nearest, rows = clip_groups(f, self.max_groups), np.arange(self.max_groups)
        present = sorted(set(nearest.tolist()))
        masks = sv.concept_masks([np.flatnonzero(nearest == k) for k in present])
        mt = torch.from_numpy(masks)
        all_logits, change = self.removed_logits(clip, activation, torch.cat([mt, mt.any(0, keepdim=True)]))
        logits = all_logits[:, target].numpy()
        importance = instance - logits[:-1]
        order = np.argsort(-importance, kind="stable")
        if max_concepts:
            order = order[:max_concepts]
        ids = [int(rows[present[j]]) for j in order]
        imp, masks = importance[order], masks[order]
        counts = {int(rows[present[j]]): int((nearest == present[j]).sum()) for j in order}
        heat = np.zeros(shape, np.float32)
        cmap = np.zeros(shape, np.uint16 if len(ids) > 255 else np.uint8)
        change = change[torch.from_numpy(order.copy())].numpy()
        for v in range(len(ids) - 1, -1, -1):  # most important written last, so it wins overlaps
            # a concept's drop shared out over its voxels by how much removing it changed each one: the
            # moving thing that removal took away, not the static background around it, carries the heat
            total = float(change[v].sum())
            if total > 0:
                heat += max(float(imp[v]), 0.0) / total * change[v]
            cmap[masks[v]] = v + 1
        if heat.max() > 0:
            heat /= heat.max()
        top_removed, baseline = (float(logits[order[0]]) if len(order) else instance), float(logits[-1])
        top_row = all_logits[order[0]].float().numpy() if len(order) else None
        if self.removal == "ranked" and len(order):  # the self-check scores measured in the clip itself
            check, _ = self.input_removed_logits(clip, torch.stack([mt[order[0]], mt.any(0)]))
            top_removed, baseline = float(check[0, target]), float(check[1, target])
            top_row = check[0].float().numpy()
        timings["importance"] = time.perf_counter() - t2
        return ClipResult(clip=clip, supervoxels=sv, concept_ids=ids, importance=imp, masks=masks, heatmap=heat,
                          concept_map=cmap, instance=instance, top_removed=top_removed,
                          baseline=baseline, timings=timings, assigned=counts,
                          source=source, top_removed_logits=top_row)

    # ------------------------------------------------------------------------------------ entry points
    def stream(self, video: Video, request: Request = Request()) -> Iterator[tuple[pb.Explanation, list[ClipResult]]]:
        """Yield one partial Explanation per clip as soon as it is done (when the video has several clips),
        then the final aggregate with every clip. Each item comes with the clip results behind it."""
        request = self.resolve(request)
        t0 = time.perf_counter()
        clips = self.clips(video, request)
        acts, logits = self.classify(clips)
        t_cls = time.perf_counter() - t0
        probs = logits.softmax(1)
        mean_probs, mean_logits = probs.mean(0), logits.mean(0)
        target = request.target_index if request.target_index is not None else int(mean_probs.argmax())
        names = self.clf.class_names

        def head() -> pb.Explanation:
            return messages.explanation(self.clf.name, names, self.bank, mean_probs, mean_logits, target,
                                        request.top_k)

        final = head()
        final.clip_count = len(clips)
        timings = {"classify": t_cls}
        results: list[ClipResult] = []
        for i, clip in enumerate(clips):
            if request.classify_only:
                final.clips.append(messages.classified_clip(clip, names, probs[i], logits[i], target, request.top_k))
                continue
            r = self.explain_clip(clip, acts[i], logits[i], target, request.max_concepts)
            results.append(r)
            for k, v in r.timings.items():
                timings[k] = timings.get(k, 0.0) + v
            msg = messages.explained_clip(r, self.bank, names, probs[i], logits[i], request.top_k, target)
            final.clips.append(msg)
            if len(clips) > 1:
                part = head()
                part.clip_count, part.partial = len(clips), True
                part.clips.append(msg)
                yield part, [r]
        for k, v in timings.items():
            final.timings_ms[k] = v * 1000.0
        final.timings_ms["total"] = (time.perf_counter() - t0) * 1000.0
        yield final, results

    def explain(self, video: Video, request: Request = Request()) -> tuple[pb.Explanation, list[ClipResult]]:
        """The final Explanation of a video and its clip results (streamed parts are skipped)."""
        *_, final = self.stream(video, request)
        return final
