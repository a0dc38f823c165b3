"""The explanation table a person reads, made from the Explanation message alone, so a local and a served
answer (and the Node client's, clients/node) print the same way."""

from __future__ import annotations

from ace3d_client.v1 import explanation_pb2 as pb


def table(exp: pb.Explanation) -> str:
    """A plain-text summary: prediction, then per clip the concepts and what removing them did."""
    lines = [f"model {exp.model_name}  bank {exp.bank_id or 'none'}  features {exp.feature_mode or '-'}"]
    lines.append("prediction: " + ", ".join(f"{s.name} {s.probability:.3f}" for s in exp.scores)
                 + (f"  (mean of {exp.scored_clips} clips)" if exp.scored_clips > 1 else ""))
    lines.append(f"target: {exp.target_class}")
    for clip in exp.clips:
        fr = clip.frame_indices
        span = f"frames {fr[0]}-{fr[-1]}" if fr else "frames -"
        lines.append(f"\nclip {clip.clip_index} ({span}, region {clip.region.x},{clip.region.y} "
                     f"{clip.region.width}x{clip.region.height}, {clip.supervoxel_count} supervoxels)")
        if not clip.concepts:
            lines.append("  (classification only)" if not clip.HasField("heatmap") else "  no concepts present")
            continue
        lines.append(f"  target logit {clip.instance_score:.3f}; top concept removed "
                     f"{clip.top_concept_removed_score:.3f}; all present concepts removed {clip.baseline_score:.3f}")
        if clip.collapsed:
            lines.append(f"  collapsed concept map: the top concept covers {clip.top_coverage:.1%} of the clip, "
                         "so it says little about where the evidence is")
        lines.append(f"  {'#':>2} {'concept':<26} {'importance':>10} {'TCAV':>6} {'p(BH)':>8} {'p(raw)':>8} "
                     f"{'cover':>6}")
        for i, c in enumerate(clip.concepts, start=1):
            sig = "*" if c.significant else " "
            if c.HasField("tcav_score"):
                stats = f"{c.tcav_score:>6.2f} {c.p_value:>8.2g} {c.p_value_raw:>8.2g}{sig}"
            else:  # a group of the clip's own supervoxels: nothing was tested offline
                stats = f"{'-':>6} {'-':>8} {'-':>8} "
            lines.append(f"  {i:>2} {c.name:<26} {c.importance:>10.3f} {stats}{c.coverage:>6.1%}")
    if any(c.HasField("tcav_score") for clip in exp.clips for c in clip.concepts):
        lines.append("\n* significant after Benjamini-Hochberg correction")
    if any(c.source == pb.ConceptInstance.CLIP for clip in exp.clips for c in clip.concepts):
        lines.append("clip/group_<n>: groups of this clip's own supervoxels (the bank has no concepts for the target)")
    return "\n".join(lines)
