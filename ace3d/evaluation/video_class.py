"""The video's class from several clips (the Kinetics protocol): for each labelled video of the real set, the
class probabilities averaged over N clips spread across the video (as the explainer's `max_clips` does), and
top-1 / top-5 accuracy by N against the manifest's classes (any of a video's classes counts as right).

Usage: python -m ace3d.evaluation.video_class --videos DIR [--clips 1 2 4 8] [--json OUT]"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from ace3d.jobs import realset
from ace3d.method.video import Video, make_clips


def model_rate_video(path: Path, rate: float) -> Video:
    """The whole video at the model's frame rate, centre-cropped square at the clip side (a 98-second video
    is 2,450 frames of 224 x 224, decoded without the service's frame limit)."""
    n, fps = realset.count_frames(path)
    count = int((n - 1) * rate / fps) + 1
    frames = realset.decode_some(path, {realset.source_index(f, fps, rate) for f in range(count)})
    last = max(frames)
    stack = np.stack([frames[min(realset.source_index(f, fps, rate), last)] for f in range(count)])
    return Video(frames=stack, source_size=(realset.SIDE, realset.SIDE), fps=rate)


def measure(engine, manifest: dict, videos: Path, clip_counts: list[int]) -> dict:
    """Accuracy by number of clips over the manifest's labelled videos; per video the predicted classes."""
    clf = engine.clf
    names = clf.class_names
    rows = []
    for v in manifest["videos"]:
        if not v["classes"]:
            continue
        video = model_rate_video(videos / v["file"], float(manifest["frame_rate"]))
        truth = {names.index(c) for c in v["classes"]}
        row = {"video": v["file"], "classes": v["classes"], "by_clips": {}}
        for n in clip_counts:
            clips = make_clips(video, clf.clip_shape, n, clf.frame_rate)
            t0 = time.perf_counter()
            probs = engine.classify([c.frames for c in clips])[1].softmax(1).mean(0)
            seconds = time.perf_counter() - t0
            top5 = torch.topk(probs, 5).indices.tolist()
            row["by_clips"][str(n)] = {"clips": len(clips), "top1": top5[0] in truth, "top5": bool(truth & set(top5)),
                                       "predicted": names[top5[0]], "p_predicted": float(probs[top5[0]]),
                                       "p_true": float(max(probs[i] for i in truth)), "seconds": seconds}
        rows.append(row)
        print(v["file"], {n: (r["predicted"], round(r["p_true"], 3)) for n, r in row["by_clips"].items()}, flush=True)
    summary = {str(n): {"top1": float(np.mean([r["by_clips"][str(n)]["top1"] for r in rows])),
                        "top5": float(np.mean([r["by_clips"][str(n)]["top5"] for r in rows])),
                        "mean_p_true": float(np.mean([r["by_clips"][str(n)]["p_true"] for r in rows])),
                        "seconds_median": float(np.median([r["by_clips"][str(n)]["seconds"] for r in rows]))}
               for n in clip_counts}
    return {"model": clf.name, "videos": len(rows), "by_clips": summary, "per_video": rows}


def table(result: dict) -> str:
    lines = [f"{result['model']}, {result['videos']} labelled real videos",
             "| clips | top-1 | top-5 | mean P(true class) | classification, s (median) |", "|---|---|---|---|---|"]
    for n, s in result["by_clips"].items():
        lines.append(f"| {n} | {s['top1']:.3f} | {s['top5']:.3f} | {s['mean_p_true']:.3f} "
                     f"| {s['seconds_median']:.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    from ace3d import models
    from ace3d.models.engine import ForwardEngine as Engine

    ap = argparse.ArgumentParser(prog="python -m ace3d.evaluation.video_class", description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="i3d_kinetics400")
    ap.add_argument("--videos", required=True, help="the manifest's videos (make realset puts them in data/realvideos)")
    ap.add_argument("--manifest", default=None)
    ap.add_argument("--clips", type=int, nargs="+", default=[1, 2, 4, 8])
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    result = measure(Engine(models.load(args.model)), realset.load_manifest(args.manifest), Path(args.videos),
                     args.clips)
    print(table(result))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
