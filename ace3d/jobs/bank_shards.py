"""Per-video results on disk: one shard file per video in a work directory, so that a bank build that stops
(a killed job, a lost node, Ctrl-C) resumes where it was, and the per-class stage of a distributed build reads
its videos from a shared volume instead of through the driver.

A shard is an .npz of plain arrays (read with allow_pickle=False) plus a JSON record. Its name is a hash of
everything its content depends on: the video file (path, size, modification time), the model (fingerprint,
layer, input), the recipe (feature mode, SLIC parameters) and the video's target class; change any of them
and the shard is simply not found, never reused stale. Files are written atomically (a killed writer leaves
no half shard)."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import numpy as np

from ace3d.files import write_bytes
from ace3d.jobs.bank_stages import VideoResult
from ace3d.method.stills import THUMB
from ace3d.models import Classifier

SHARD_VERSION = 1
SUFFIX = ".shard.npz"


def key(path: str | Path, target: int, clf: Classifier, params) -> str:
    """The shard name of one video under one model and recipe (`params`: a BankParams)."""
    p = Path(path).resolve()
    st = p.stat() if p.exists() else None
    record = {
        "v": SHARD_VERSION, "path": str(p), "size": st.st_size if st else -1, "mtime": st.st_mtime_ns if st else -1,
        "target": target, "model": [clf.fingerprint, clf.layer, list(clf.clip_shape), list(clf.mean),
                                    list(clf.std), clf.frame_rate],
        "feature_mode": params.feature_mode, "slic": params.slic.to_dict(), "thumb": THUMB,
    }
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()[:24]


def path_of(work_dir: str | Path, k: str) -> Path:
    return Path(work_dir) / k[:2] / (k + SUFFIX)  # 256 folders: a Kinetics build is ~10^5 files


def save(work_dir: str | Path, k: str, result: VideoResult, info: dict | None = None) -> Path:
    record = {"error": result.error, "seconds": result.seconds, **(info or {})}
    buf = io.BytesIO()
    np.savez(buf, record=np.frombuffer(json.dumps(record).encode(), np.uint8), features=result.features,
             gradient=result.gradient, thumbnails=result.thumbnails)
    return write_bytes(path_of(work_dir, k), buf.getvalue())


def record(work_dir: str | Path, k: str) -> dict | None:
    """The shard's JSON record (error, seconds, ...) without reading its arrays; None when there is no
    readable shard (missing, or damaged: then it is computed again)."""
    try:
        with np.load(path_of(work_dir, k), allow_pickle=False) as z:
            return json.loads(bytes(z["record"]).decode())
    except Exception:  # noqa: BLE001 - missing, truncated or foreign: all mean "compute it again"
        return None


def load(work_dir: str | Path, k: str) -> VideoResult:
    with np.load(path_of(work_dir, k), allow_pickle=False) as z:
        rec = json.loads(bytes(z["record"]).decode())
        return VideoResult(z["features"], z["gradient"], z["thumbnails"], rec["seconds"], rec["error"])


class ShardStore:
    """Per-video results kept as shards in `work_dir`: survive the run, seen by every node of a cluster."""

    def __init__(self, work_dir: str | Path) -> None:
        self.work_dir = Path(work_dir)

    def record(self, k: str) -> dict | None:
        return record(self.work_dir, k)

    def load(self, k: str) -> VideoResult:
        return load(self.work_dir, k)

    def save(self, k: str, result: VideoResult, info: dict | None = None) -> None:
        save(self.work_dir, k, result, info)


class MemoryStore:
    """Per-video results kept in this process for one run (a local build without a work directory)."""

    def __init__(self) -> None:
        self.results: dict[str, VideoResult] = {}

    def record(self, k: str) -> dict | None:
        return None  # nothing outlives a run: no video is ever resumed

    def load(self, k: str) -> VideoResult:
        return self.results[k]

    def save(self, k: str, result: VideoResult, info: dict | None = None) -> None:
        self.results[k] = result
