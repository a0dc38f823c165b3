"""The real set as files the other commands read: each video of the manifest (ace3d/assets/realset.json)
resampled to the model's frame rate, centre-cropped, and split by time. The first part (`split` of the video,
less when the rest would hold no clip) gives bank-building clips, the rest held-out clips, so nothing is tested
on footage a bank was built from. Layout under OUT (what `ace3d build-bank --data` and `evaluate --videos` read):

    OUT/build/<class>/<video>_<k>.mp4   clips of a bank class's videos (one clip per file)
    OUT/build/random/<video>_<k>.mp4    clips of every other video (TCAV's random set)
    OUT/heldout/clips/<video>_<k>.mp4   held-out clips, every video
    OUT/heldout/parts/<video>.mp4       each video's whole held-out part (classification over several clips)
    OUT/index.json                      every file with its video, part, source frames and classes

Usage: python -m ace3d.jobs.realset fetch --dest DIR [--local DIR] | clips --videos DIR --out OUT"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from ace3d.errors import Ace3dError
from ace3d.jobs.synth import RANDOM_DIR
from ace3d.method.video import center_region, resize_frames, write_mp4

CLIP_LEN = 16
SIDE = 224


def load_manifest(path: str | Path | None = None) -> dict:
    """The manifest shipped with the package, or the one at `path`."""
    text = Path(path).read_text() if path else resources.files("ace3d").joinpath("assets/realset.json").read_text()
    return json.loads(text)


@dataclass(frozen=True)
class Split:
    """A video's frames at the model's rate (`count`), the first model frame of the held-out part, and the
    clips' start frames in each part (model frames; a clip covers CLIP_LEN of them)."""

    count: int
    boundary: int
    build: list[int]
    heldout: list[int]


def _starts(lo: int, hi: int, most: int) -> list[int]:
    """Start frames of non-overlapping clips inside [lo, hi), at most `most`, spread evenly."""
    n = (hi - lo) // CLIP_LEN
    if n <= 0:
        return []
    if n <= most:
        return [lo + i * CLIP_LEN for i in range(n)]
    return [int(s) for s in np.linspace(lo, hi - CLIP_LEN, most).round()]


def split(count: int, share: float, max_build: int, max_heldout: int) -> Split:
    """Cut `count` model frames at `share`, moved earlier when the held-out part would hold no clip."""
    if count < CLIP_LEN:
        return Split(count, 0, [], [0] if count else [])
    boundary = max(0, min(round(share * count), count - CLIP_LEN))
    return Split(count, boundary, _starts(0, boundary, max_build), _starts(boundary, count, max_heldout))


def source_index(model_frame: int, fps: float, frame_rate: float) -> int:
    """The source frame shown at model frame `model_frame` (nearest in time)."""
    return int(round(model_frame * fps / frame_rate))


def _open(path: Path):
    import av

    return av.open(str(path), metadata_errors="ignore")


def count_frames(path: Path) -> tuple[int, float]:
    """Source frames (demuxed packets, no decoding) and frames per second."""
    with _open(path) as c:
        s = c.streams.video[0]
        if not s.average_rate:
            raise Ace3dError(f"{path.name}: the video states no frame rate; the real set needs one")
        return sum(1 for p in c.demux(s) if p.size), float(s.average_rate)


def decode_some(path: Path, wanted: set[int]) -> dict[int, np.ndarray]:
    """The source frames of `wanted`, centre-cropped square and resized to SIDE (the only ones kept)."""
    out = {}
    with _open(path) as c:
        for i, frame in enumerate(c.decode(c.streams.video[0])):
            if i in wanted:
                img = frame.to_ndarray(format="rgb24")
                x, y, w, h = center_region(img.shape[1], img.shape[0])
                out[i] = resize_frames(img[None, y:y + h, x:x + w], (SIDE, SIDE))[0]
            if i >= max(wanted):
                break
    return out


def cut(manifest: dict, videos: str | Path, out: str | Path, max_build: int = 12, max_heldout: int = 6) -> dict:
    """Write the layout above for every video of the manifest found in `videos`; returns the index."""
    videos, out = Path(videos), Path(out)
    rate, share = float(manifest["frame_rate"]), float(manifest["split"])
    bank = set(manifest["bank_classes"])
    index = {"frame_rate": rate, "split": share, "clip_frames": CLIP_LEN, "files": []}
    for v in manifest["videos"]:
        path = videos / v["file"]
        if not path.is_file():
            raise Ace3dError(f"{path} not found (run `make realset`, which fetches the manifest's videos)")
        n, fps = count_frames(path)
        count = int((n - 1) * rate / fps) + 1
        sp = split(count, share, max_build, max_heldout)
        stem = Path(v["file"]).stem
        part = range(sp.boundary, count)
        wanted = {source_index(f, fps, rate) for s in sp.build + sp.heldout for f in range(s, s + CLIP_LEN)}
        wanted |= {source_index(f, fps, rate) for f in part}
        frames = decode_some(path, wanted)

        def model_frames(first: int, length: int, frames=frames, fps=fps) -> np.ndarray:
            last = max(frames)
            return np.stack([frames[min(source_index(f, fps, rate), last)] for f in range(first, first + length)])

        cls_dir = next((c for c in v["classes"] if c in bank), RANDOM_DIR)
        for part_name, starts, folder in (("build", sp.build, out / "build" / cls_dir),
                                          ("heldout", sp.heldout, out / "heldout" / "clips")):
            for k, s in enumerate(starts):
                f = folder / f"{stem}_{k:02d}.mp4"
                write_mp4(f, model_frames(s, min(CLIP_LEN, count - s)), fps=int(rate))
                index["files"].append(_entry(f, out, v, part_name, s, fps, rate))
        f = out / "heldout" / "parts" / f"{stem}.mp4"
        write_mp4(f, model_frames(sp.boundary, count - sp.boundary), fps=int(rate))
        index["files"].append(_entry(f, out, v, "heldout_part", sp.boundary, fps, rate, count - sp.boundary))
    (out / "index.json").write_text(json.dumps(index, indent=1))
    return index


def _entry(f: Path, out: Path, v: dict, part: str, start: int, fps: float, rate: float,
           length: int = CLIP_LEN) -> dict:
    return {"file": str(f.relative_to(out)), "video": v["file"], "part": part, "classes": v["classes"],
            "source_frames": [source_index(start, fps, rate), source_index(start + length - 1, fps, rate)]}


def subset(build: str | Path, out: str | Path, per_video: int, per_video_random: int) -> dict[str, int]:
    """A smaller build set of links to the clips of `build` (a bank build's cost grows with its clips): at most
    `per_video` clips of each class video and `per_video_random` of each random one, spread over the video."""
    build, out = Path(build), Path(out)
    counts = {}
    for d in sorted(p for p in build.iterdir() if p.is_dir()):
        most = per_video_random if d.name == RANDOM_DIR else per_video
        by_video: dict[str, list[Path]] = {}
        for f in sorted(d.glob("*.mp4")):
            by_video.setdefault(f.stem.rsplit("_", 1)[0], []).append(f)
        (out / d.name).mkdir(parents=True, exist_ok=True)
        for files in by_video.values():
            for i in sorted({int(round(x)) for x in np.linspace(0, len(files) - 1, min(most, len(files)))}):
                link = out / d.name / files[i].name
                if not link.exists():
                    link.symlink_to(files[i].resolve())
        counts[d.name] = len(list((out / d.name).glob("*.mp4")))
    return counts


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m ace3d.jobs.realset", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fetch", help="bring the manifest's videos, hash-checked")
    f.add_argument("--dest", required=True)
    f.add_argument("--local", nargs="*", default=[], help="folders that may already hold them (copied)")
    c = sub.add_parser("clips", help="cut the videos into build and held-out clips")
    c.add_argument("--videos", required=True)
    c.add_argument("--out", required=True)
    c.add_argument("--max-build", type=int, default=12, help="build clips per video, at most")
    c.add_argument("--max-heldout", type=int, default=6, help="held-out clips per video, at most")
    b = sub.add_parser("subset", help="a smaller build set: links to some clips of each video")
    b.add_argument("--build", required=True)
    b.add_argument("--out", required=True)
    b.add_argument("--per-video", type=int, default=6)
    b.add_argument("--per-video-random", type=int, default=2)
    for p in (f, c, b):
        p.add_argument("--manifest", default=None, help="default: the one shipped, ace3d/assets/realset.json")
    args = ap.parse_args(argv)
    manifest = load_manifest(args.manifest)
    if args.cmd == "fetch":
        from ace3d.jobs.realset_fetch import fetch

        paths = fetch(manifest, args.dest, [p for p in args.local if Path(p).is_dir()])
        print(f"{len(paths)} videos in {args.dest}, SHA-256 checked")
    elif args.cmd == "subset":
        print(f"{args.out}: {subset(args.build, args.out, args.per_video, args.per_video_random)}")
    else:
        index = cut(manifest, args.videos, args.out, args.max_build, args.max_heldout)
        parts = {}
        for e in index["files"]:
            parts[e["part"]] = parts.get(e["part"], 0) + 1
        print(f"{args.out}: " + ", ".join(f"{k} {v}" for k, v in parts.items()))


if __name__ == "__main__":
    main()
