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
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ace3d.method import collapse
from ace3d.method import features as feats
from ace3d.method.bank import ConceptBank
from ace3d.method.groups import MAX_GROUPS, clip_groups
from ace3d.method.removal import fill_removed, remove_features
from ace3d.method.results import ClassifiedClip, ClipResult, VideoExplanation
from ace3d.method.slic_params import SlicParams
from ace3d.method.stages import Stage
from ace3d.method.supervoxels import Supervoxels, segment
from ace3d.method.video import Clip, Video, make_clips
from ace3d.models.classifier import Classifier
from ace3d.models.engine import ForwardEngine, normalise

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
    max_clips: int = 1  # clips explained (and classified)
    score_clips: int = 0  # clips classified for the video's class scores; 0: the model's `score_clips`
    classify_only: bool = False
    target_index: int | None = None


class Explainer:
    """3D ACE for one model and its bank: `stream(video, request)` yields per-clip partial answers and the final
    `VideoExplanation`, `explain` returns the final one, `explain_clip` is the per-clip method on arrays.

    The bank is checked against the model once, here, so a mismatched pair never serves. Without a bank, or
    for a target class the bank has no concepts for, the concepts are groups of the clip's own supervoxels."""

    def __init__(self, clf: Classifier, bank: ConceptBank | None, slic: SlicParams | None = None,
                 batch_size: int = 16, removal: str = "input", precision: str = "auto",
                 max_groups: int = MAX_GROUPS, engine: ForwardEngine | None = None) -> None:
        """`engine`: an engine of `clf` to share (its batch size and precision then apply), so that every
        forward of several users is counted in one place."""
        if bank is not None:
            bank.check_model(clf)
        if removal not in REMOVALS:
            raise ValueError(f"unknown removal {removal!r}: use one of {REMOVALS}")
        self.clf, self.bank = clf, bank
        self.slic = slic or (bank.slic if bank is not None else SlicParams())
        self.removal = removal
        self.max_groups = max_groups
        if engine is not None and engine.clf is not clf:
            raise ValueError("the engine runs another classifier than the explainer's")
        self.engine = engine or ForwardEngine(clf, batch_size, precision)

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
        """The clips classified: `max_clips`, or more when the class scores come from more (`score_clips`)."""
        scored = max(request.max_clips, request.score_clips or self.clf.score_clips)
        return make_clips(video, self.clf.clip_shape, scored, self.clf.frame_rate)

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
        """The method on one clip: supervoxels and their features, each joined to a concept of `target`, a
        concept over most of the clip split into its connected parts (collapse.py), importance by removal,
        heatmap and concept map, and the self-check scores."""
        timings: dict[Stage, float] = {}
        t0 = time.perf_counter()
        sv = segment(clip.frames, self.slic, self.clf.device)
        t1 = time.perf_counter()
        timings[Stage.SUPERVOXELS] = t1 - t0
        f = self.features(clip, activation, sv, target)
        t2 = time.perf_counter()
        timings[Stage.FEATURES] = t2 - t1
        shape = tuple(clip.frames.shape[:3])
        instance = float(instance_logits[target])
        if len(sv) == 0:
            timings[Stage.IMPORTANCE] = 0.0  # nothing to remove: the stage ran and cost nothing
            empty = np.zeros(shape, np.float32)
            return ClipResult(clip=clip, supervoxels=sv, concept_ids=[], importance=np.zeros(0),
                              masks=np.zeros((0, *shape), bool), heatmap=empty, concept_map=np.zeros(shape, np.uint8),
                              instance=instance, top_removed=instance, baseline=instance, timings=timings)
        nearest, rows, source = self.assign(f, target)
        present = sorted(set(nearest.tolist()))
        groups = [np.flatnonzero(nearest == k) for k in present]
        # a concept over collapse.SHARE of the clip becomes its connected parts, each ranked on its own
        inst = collapse.split(sv, groups, sv.concept_masks(groups))
        masks = inst.masks
        logits, change = self.removed_logits(clip, activation, with_union(masks))
        importance = instance - logits[:-1, target].numpy()
        order = np.argsort(-importance, kind="stable")
        if max_concepts:
            order = order[:max_concepts]
        ids = [int(rows[present[inst.concept[j]]]) for j in order]
        counts = [len(inst.groups[j]) for j in order]
        heat, cmap = heatmap(importance[order], change[torch.from_numpy(order.copy())].numpy(), masks[order])
        top_removed, baseline, top_row = self.self_check(clip, masks, logits, order, target, instance)
        top_cover = float(collapse.coverage(masks[order[:1]]).sum())
        timings[Stage.IMPORTANCE] = time.perf_counter() - t2
        return ClipResult(clip=clip, supervoxels=sv, concept_ids=ids, importance=importance[order],
                          masks=masks[order], heatmap=heat, concept_map=cmap, instance=instance,
                          top_removed=top_removed, baseline=baseline, timings=timings, supervoxel_counts=counts,
                          source=source, top_removed_logits=top_row, top_coverage=top_cover,
                          collapsed=collapse.is_collapsed(top_cover))

    def features(self, clip: Clip, activation: torch.Tensor, sv: Supervoxels, target: int) -> np.ndarray:
        """Supervoxel features N x C as the concepts they are matched to were made: ACE-style (one forward per
        supervoxel) for an "ace" bank with concepts of `target`, else pooled from the prediction's activation
        (always for the clip's own groups)."""
        if self.bank is not None and self.bank.feature_mode == "ace" and len(self.bank.concepts_of(target)):
            return feats.ace(self.engine, clip.frames, sv)
        return feats.pool(activation[None], sv)

    def assign(self, features: np.ndarray, target: int) -> tuple[np.ndarray, np.ndarray, str]:
        """Each supervoxel's concept: (index into rows per supervoxel, rows, source). The nearest bank concept of
        `target` (source "bank"); without one, the clip's own groups numbered by their k-means label ("clip")."""
        if self.bank is not None and len(self.bank.concepts_of(target)):
            nearest, rows = self.bank.assign(features, target)
            return nearest, rows, "bank"
        return clip_groups(features, self.max_groups), np.arange(self.max_groups), "clip"

    def self_check(self, clip: Clip, masks: np.ndarray, logits: torch.Tensor, order: np.ndarray, target: int,
                   instance: float) -> tuple[float, float, np.ndarray | None]:
        """Scores of the clip with its top concept removed and with every concept removed, and every class's
        logit with the top one removed: from the ranking's forwards, or (removal "ranked") measured in the
        clip itself."""
        if not len(order):
            return instance, float(logits[-1, target]), None
        if self.removal == "ranked":
            mt = torch.from_numpy(masks)
            check, _ = self.input_removed_logits(clip, torch.stack([mt[order[0]], mt.any(0)]))
            return float(check[0, target]), float(check[1, target]), check[0].float().numpy()
        return float(logits[order[0], target]), float(logits[-1, target]), logits[order[0]].float().numpy()

    # ------------------------------------------------------------------------------------ entry points
    def stream(self, video: Video, request: Request = Request()) -> Iterator[VideoExplanation]:
        """Yield one partial explanation per clip as soon as it is done (when the video has several clips),
        then the final one with every clip and the timings of each stage."""
        request = self.resolve(request)
        t0 = time.perf_counter()
        clips = self.clips(video, request)
        acts, logits = self.classify(clips)
        t_cls = time.perf_counter() - t0
        probs = logits.softmax(1)
        mean_probs, mean_logits = probs.mean(0).numpy(), logits.mean(0).numpy()
        target = request.target_index if request.target_index is not None else int(mean_probs.argmax())
        shown = answered_clips(probs[:, target].numpy(), request.max_clips)

        def answer(parts: list, partial: bool = False) -> VideoExplanation:
            return VideoExplanation(model_name=self.clf.name, class_names=self.clf.class_names, bank=self.bank,
                                    probabilities=mean_probs, logits=mean_logits, target=target,
                                    top_k=request.top_k, clip_count=len(shown), clips=parts, partial=partial,
                                    scored_clips=len(clips))

        final = answer([])
        timings: dict[Stage, float] = {Stage.CLASSIFY: t_cls}
        for k, i in enumerate(shown):
            clip = dataclasses.replace(clips[i], index=k)  # numbered in the answer; frame_indices say where
            if request.classify_only:
                final.clips.append(ClassifiedClip(clip, probs[i].numpy(), logits[i].numpy()))
                continue
            r = self.explain_clip(clip, acts[i], logits[i], target, request.max_concepts)
            r.probabilities, r.logits = probs[i].numpy(), logits[i].numpy()
            for stage, seconds in r.timings.items():
                timings[stage] = timings.get(stage, 0.0) + seconds
            final.clips.append(r)
            if len(shown) > 1:
                yield answer([r], partial=True)
        timings[Stage.TOTAL] = time.perf_counter() - t0
        final.timings = timings
        yield final

    def explain(self, video: Video, request: Request = Request()) -> VideoExplanation:
        """The final explanation of a video (streamed parts are skipped)."""
        *_, final = self.stream(video, request)
        return final


def answered_clips(target_probs: np.ndarray, max_clips: int) -> list[int]:
    """Which of the classified clips the answer explains, in time order: all of them, or when the class scores
    came from more clips than `max_clips`, the `max_clips` where the target class is most probable (the
    clips that show the class best)."""
    if len(target_probs) <= max_clips:
        return list(range(len(target_probs)))
    return sorted(np.argsort(-target_probs, kind="stable")[:max_clips].tolist())


def with_union(masks: np.ndarray) -> torch.Tensor:
    """The concepts' masks and, last, their union (everything present removed: the baseline score)."""
    mt = torch.from_numpy(masks)
    return torch.cat([mt, mt.any(0, keepdim=True)])


def heatmap(importance: np.ndarray, change: np.ndarray, masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The heatmap (float32 in [0, 1]) and concept map (v > 0: the v-th concept) of concepts ranked most important
    first. A concept's drop is shared out over its voxels by how much removing it changed each one (`change`):
    the moving thing that removal took away, not the static background around it, carries the heat."""
    shape = masks.shape[1:]
    heat = np.zeros(shape, np.float32)
    cmap = np.zeros(shape, np.uint16 if len(masks) > 255 else np.uint8)
    for v in range(len(masks) - 1, -1, -1):  # most important written last, so it wins overlaps
        total = float(change[v].sum())
        if total > 0:
            heat += max(float(importance[v]), 0.0) / total * change[v]
        cmap[masks[v]] = v + 1
    if heat.max() > 0:
        heat /= heat.max()
    return heat, cmap
