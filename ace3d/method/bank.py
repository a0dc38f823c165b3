"""The concept bank: what `build-bank` learned offline, in one self-describing, versioned file.

The file is a NumPy .npz of plain arrays plus one JSON metadata record, read with allow_pickle=False, so
loading a bank never executes code. The metadata records how the features were made (model fingerprint,
layer, clip shape, normalisation, SLIC parameters, feature mode) and `check_model` refuses a bank whose
record does not match the model it is used with."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from ace3d.errors import BankError
from ace3d.files import write_bytes
from ace3d.method.supervoxels import SlicParams
from ace3d.models import Classifier

FORMAT = "ace3d-concept-bank"
VERSION = 1
ARRAYS = ("class_index", "centroid", "cav", "tcav", "tcav_std", "p_raw", "p_corrected", "members",
          "videos", "thumbnails", "baseline_feature")


@dataclass
class ConceptBank:
    """Concepts of every class. Row k of each array describes concept k; `names[k]` is
    "<class>/concept_<n>"."""

    meta: dict
    class_index: np.ndarray  # int32 K: the class each concept was discovered for
    centroid: np.ndarray  # float32 K x C
    cav: np.ndarray  # float32 K x C (unit)
    tcav: np.ndarray  # float32 K: mean TCAV score over random sets
    tcav_std: np.ndarray  # float32 K
    p_raw: np.ndarray  # float64 K
    p_corrected: np.ndarray  # float64 K (Benjamini-Hochberg over all concepts)
    members: np.ndarray  # int32 K: cluster size
    videos: np.ndarray  # int32 K: distinct videos in the cluster
    thumbnails: np.ndarray  # uint8 K x n x h x w x 3: example supervoxels for people to look at
    baseline_feature: np.ndarray  # float32 C: mean feature of random videos' supervoxels
    names: list[str] = field(default_factory=list)

    @property
    def class_names(self) -> list[str]:
        return list(self.meta["class_names"])

    @property
    def bank_id(self) -> str:
        return self.meta["bank_id"]

    @property
    def feature_mode(self) -> str:
        return self.meta["feature_mode"]

    @property
    def slic(self) -> SlicParams:
        return SlicParams.from_dict(self.meta["slic"])

    @property
    def alpha(self) -> float:
        return float(self.meta.get("alpha", 0.01))

    def concepts_of(self, class_index: int) -> np.ndarray:
        return np.flatnonzero(self.class_index == class_index)

    def distances(self, features: np.ndarray, class_index: int) -> tuple[np.ndarray, np.ndarray]:
        """Euclidean distance of each of N features (N x C) to each concept of the class: (N x R, the R rows)."""
        rows = self.concepts_of(class_index)
        return torch.cdist(torch.from_numpy(features), torch.from_numpy(self.centroid[rows])).numpy(), rows

    def assign(self, features: np.ndarray, class_index: int) -> tuple[np.ndarray, np.ndarray]:
        """The nearest concept of the class for each of N features: (index into rows per feature, the rows).
        The one nearest-concept step: explanations, the reference pipeline and the bank's examples use it."""
        rows = self.concepts_of(class_index)
        if not len(rows):
            raise ValueError(f"the bank has no concepts of class {class_index}")
        d, rows = self.distances(features, class_index)
        return d.argmin(1), rows

    def significant(self) -> np.ndarray:
        return self.p_corrected <= self.alpha

    def check_model(self, clf: Classifier) -> None:
        """Refuse to explain `clf` with a bank built from another model or another feature recipe."""
        m = self.meta["model"]
        problems = []
        if m["fingerprint"] != clf.fingerprint:
            problems.append(f"model fingerprint {clf.fingerprint} != bank's {m['fingerprint']} ({m['name']})")
        if m["layer"] != clf.layer:
            problems.append(f"layer {clf.layer!r} != bank's {m['layer']!r}")
        if tuple(m["clip_shape"]) != tuple(clf.clip_shape):
            problems.append(f"clip shape {tuple(clf.clip_shape)} != bank's {tuple(m['clip_shape'])}")
        if not np.allclose(m["mean"], clf.mean) or not np.allclose(m["std"], clf.std):
            problems.append("input normalisation differs")
        if len(self.meta["class_names"]) != len(clf.class_names):
            problems.append(f"{len(clf.class_names)} model classes != bank's {len(self.meta['class_names'])}")
        if problems:
            raise BankError("concept bank does not match the model: " + "; ".join(problems)
                            + ". Build a bank for this model with `ace3d build-bank`.", reason="bank_mismatch")

    # ------------------------------------------------------------------------------------------- i/o
    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        meta = json.dumps({**self.meta, "names": self.names}).encode()
        np.savez_compressed(buf, meta=np.frombuffer(meta, np.uint8),
                            **{k: getattr(self, k) for k in ARRAYS})
        return buf.getvalue()

    def save(self, path: str | Path) -> Path:
        """Write atomically: a failed build never leaves a half-written bank behind."""
        return write_bytes(path, self.to_bytes())


def content_id(arrays: dict[str, np.ndarray], meta: dict) -> str:
    h = hashlib.sha256(json.dumps(meta, sort_keys=True).encode())
    for k in sorted(arrays):
        h.update(np.ascontiguousarray(arrays[k]).tobytes())
    return h.hexdigest()[:12]


def path_for(model: str, bank: str | None) -> Path | None:
    """The bank a command uses: the given file; by default the committed bank for the demo model and none for
    other models (their explanations then use each clip's own supervoxel groups); 'none': no bank."""
    from ace3d.models import ASSETS

    if bank == "none" or (bank in (None, "demo") and model != "demo"):
        return None
    return ASSETS / "demo_bank.npz" if bank in (None, "demo") else Path(bank)


def load(path: str | Path) -> ConceptBank:
    """Read a bank file; never unpickles."""
    path = Path(path)
    if not path.is_file():
        raise BankError(f"concept bank not found: {path} (build one with `ace3d build-bank`)",
                        reason="missing_file")
    return from_bytes(path.read_bytes(), str(path))


def from_bytes(data: bytes, where: str = "bank") -> ConceptBank:
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            meta = json.loads(bytes(z["meta"]).decode())
            arrays = {k: z[k] for k in ARRAYS}
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the same problem for the user
        raise BankError(f"{where} is not a readable ace3d concept bank: {exc}") from exc
    if meta.get("format") != FORMAT:
        raise BankError(f"{where} is not an ace3d concept bank (format {meta.get('format')!r})")
    if meta.get("version") != VERSION:
        raise BankError(f"{where} has bank format version {meta.get('version')}; this ace3d reads "
                        f"version {VERSION}. Rebuild it with `ace3d build-bank`.")
    names = meta.pop("names", [])
    return ConceptBank(meta=meta, names=names, **arrays)


# ------------------------------------------------------------------------------------ writing a new bank
@dataclass(frozen=True)
class ConceptRow:
    """One concept as a build's per-class stage finds it: row k of the bank's arrays before the p-values are
    corrected across every class."""

    name: str  # "<class>/concept_<n>"
    class_index: int
    centroid: np.ndarray  # float32 C
    cav: np.ndarray  # float32 C
    tcav: float
    tcav_std: float
    p_raw: float
    members: int
    videos: int
    thumbnails: np.ndarray  # uint8 n x h x w x 3


class Recipe(Protocol):
    """What a bank records of how it was built (the build's BankParams has these fields)."""

    feature_mode: str
    slic: SlicParams
    concepts: Any  # method.concepts.ConceptParams: n_clusters, min_members, max_members
    n_random_sets: int
    random_set_size: int
    alpha: float
    seed: int


def from_rows(rows: Sequence[ConceptRow], p_corrected: np.ndarray, baseline_feature: np.ndarray, clf: Classifier,
              recipe: Recipe, *, classes_built: list[str], videos_per_class: dict[str, int], random_videos: int,
              seconds: float, extra: dict | None = None) -> ConceptBank:
    """A new bank of `rows` (in order), the file's metadata written here and nowhere else."""
    arrays = {
        "class_index": np.array([r.class_index for r in rows], np.int32),
        "centroid": np.stack([r.centroid for r in rows]).astype(np.float32),
        "cav": np.stack([r.cav for r in rows]).astype(np.float32),
        "tcav": np.array([r.tcav for r in rows], np.float32),
        "tcav_std": np.array([r.tcav_std for r in rows], np.float32),
        "p_raw": np.array([r.p_raw for r in rows]),
        "p_corrected": np.asarray(p_corrected),
        "members": np.array([r.members for r in rows], np.int32),
        "videos": np.array([r.videos for r in rows], np.int32),
        "thumbnails": np.stack([r.thumbnails for r in rows]),
        "baseline_feature": np.asarray(baseline_feature).astype(np.float32),
    }
    c = recipe.concepts
    meta = {
        "format": FORMAT, "version": VERSION,
        "model": {"name": clf.name, "fingerprint": clf.fingerprint, "layer": clf.layer,
                  "clip_shape": list(clf.clip_shape), "mean": list(clf.mean), "std": list(clf.std)},
        "class_names": list(clf.class_names), "classes_built": list(classes_built),
        "feature_mode": recipe.feature_mode,
        "slic": recipe.slic.to_dict(),
        "concepts": {"n_clusters": c.n_clusters, "min_members": c.min_members, "max_members": c.max_members},
        "n_random_sets": recipe.n_random_sets, "random_set_size": recipe.random_set_size,
        "random_videos": random_videos, "alpha": recipe.alpha, "correction": "benjamini-hochberg",
        "test": "paired t-test of TCAV scores, concept vs random-vs-random, per random set",
        "videos_per_class": dict(videos_per_class),
        "build_seconds": round(seconds, 1), "seed": recipe.seed,
        **(extra or {}),
    }
    meta["bank_id"] = content_id(arrays, meta)
    return ConceptBank(meta=meta, names=[r.name for r in rows], **arrays)
