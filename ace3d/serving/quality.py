"""Explanation quality as production signals, read from an answered clip (`ClipExplanation`) alone, so that a
client can compute the same figures from the answer it got.

* Top-concept fall: how far the target class's probability fell, relative to its value, when the clip's
  most important concept was removed: 1 when the top concept carried the whole decision, 0 (or below) when
  removing it changed nothing.
* Effect: what removing the top concept did, in one word (`EFFECTS`). An explanation whose top concept
  changes nothing says nothing about the decision: a drifting model, a stale bank, or a collapsed concept map.
* Unknown coverage: the share of the clip's voxels covered by concepts the bank does not know (the clip's
  own groups, `ConceptInstance.CLIP`): traffic of classes the bank was not built for.

docs/OPERATIONS.md says what an operator does when these move; monitoring/ace3d-rules.yml alerts on them."""

from __future__ import annotations

from ace3d.v1 import explanation_pb2 as pb

# A top concept whose removal lowers the target probability by less than this share of it, and leaves the
# prediction as it was, "changes nothing".
NOTHING_BELOW = 0.1

PREDICTION_CHANGED = "prediction_changed"  # the clip's predicted class changed
SCORE_FELL = "score_fell"  # the target probability fell by NOTHING_BELOW of itself or more
NOTHING = "nothing"  # neither
NO_CONCEPTS = "no_concepts"  # the clip had no concept to remove (no supervoxels)
EFFECTS = (PREDICTION_CHANGED, SCORE_FELL, NOTHING, NO_CONCEPTS)


def explained(clip: pb.ClipExplanation) -> bool:
    """A clip the method explained (classification-only clips carry no heatmap)."""
    return clip.HasField("heatmap")


def top_concept_fall(clip: pb.ClipExplanation) -> float | None:
    """The relative fall of the target probability with the top concept removed; None without concepts."""
    if not clip.HasField("top_concept_removed_probability") or clip.instance_probability <= 0:
        return None
    return (clip.instance_probability - clip.top_concept_removed_probability) / clip.instance_probability


def top_concept_effect(clip: pb.ClipExplanation) -> str:
    """One of EFFECTS for an explained clip."""
    fall = top_concept_fall(clip)
    if fall is None:
        return NO_CONCEPTS
    predicted = clip.scores[0].index if clip.scores else None
    if clip.HasField("top_concept_removed_class") and clip.top_concept_removed_class != predicted:
        return PREDICTION_CHANGED
    return SCORE_FELL if fall >= NOTHING_BELOW else NOTHING


def unknown_coverage(clip: pb.ClipExplanation) -> float:
    """Share of the clip's voxels covered by concepts unknown to the bank (0..1)."""
    return min(1.0, sum(c.coverage for c in clip.concepts if c.source == pb.ConceptInstance.CLIP))
