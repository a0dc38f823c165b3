"""The real set's split by time: no source frame is both in a build clip and in the held-out part."""

import json

import numpy as np
import pytest

from ace3d.errors import Ace3dError
from ace3d.jobs import realset
from ace3d.jobs.realset_fetch import debian_mirror, sha256
from ace3d.method.video import write_mp4


@pytest.mark.parametrize("count", [0, 5, 16, 20, 31, 32, 40, 100, 1000])
def test_split_parts_never_share_a_frame(count):
    sp = realset.split(count, 0.7, max_build=12, max_heldout=6)
    build = {f for s in sp.build for f in range(s, s + realset.CLIP_LEN)}
    held = {f for s in sp.heldout for f in range(s, s + realset.CLIP_LEN)}
    assert not build & held
    assert all(f < sp.boundary for f in build) and all(f >= sp.boundary for f in held)
    assert all(f < max(count, realset.CLIP_LEN) for f in build | held)
    if count >= realset.CLIP_LEN:
        assert sp.heldout, "a video of one clip or more keeps a held-out clip"
    assert len(sp.build) <= 12 and len(sp.heldout) <= 6


def _manifest(tmp_path, frames: np.ndarray, fps: int) -> dict:
    write_mp4(tmp_path / "v.mp4", frames, fps=fps)
    return {"frame_rate": 25, "split": 0.7, "bank_classes": ["a"], "sources": {},
            "videos": [{"file": "v.mp4", "source": "x", "classes": ["a"], "sha256": sha256(tmp_path / "v.mp4")}]}


def test_cut_writes_disjoint_build_and_heldout_clips(tmp_path):
    # 90 frames at 30 fps (3 s), each frame's grey level its index, so a clip's frames tell where they came from
    frames = np.repeat(np.repeat((np.arange(90, dtype=np.uint8) * 2)[:, None, None, None], 32, 1), 48, 2)
    frames = np.repeat(frames, 3, 3)
    index = realset.cut(_manifest(tmp_path, frames, 30), tmp_path, tmp_path / "out")
    build = [e for e in index["files"] if e["part"] == "build"]
    held = [e for e in index["files"] if e["part"] != "build"]
    assert build and held and all((tmp_path / "out" / e["file"]).is_file() for e in index["files"])
    assert all(e["file"].startswith("build/a/") for e in build)
    last_build = max(e["source_frames"][1] for e in build)
    assert last_build < min(e["source_frames"][0] for e in held)
    # what the files hold agrees with the index: the build clips' grey levels stay below the held-out part's
    from ace3d.method.video import read_file

    top = max(read_file(tmp_path / "out" / e["file"]).frames.mean() for e in build)
    low = min(read_file(tmp_path / "out" / e["file"]).frames.mean() for e in held)
    assert top < low
    assert json.loads((tmp_path / "out" / "index.json").read_text())["files"] == index["files"]


def test_missing_video_is_named(tmp_path):
    manifest = {"frame_rate": 25, "split": 0.7, "bank_classes": [], "sources": {},
                "videos": [{"file": "gone.mp4", "source": "x", "classes": [], "sha256": "0"}]}
    with pytest.raises(Ace3dError, match="gone.mp4"):
        realset.cut(manifest, tmp_path, tmp_path / "out")


def test_shipped_manifest_names_kinetics_classes():
    m = realset.load_manifest()
    assert len(m["videos"]) >= 16 and all(len(v["sha256"]) == 64 for v in m["videos"])
    assert all(v["source"] in m["sources"] for v in m["videos"])
    assert set(m["bank_classes"]) <= {c for v in m["videos"] for c in v["classes"]}


def test_shipped_i3d_bank_covers_the_manifest_bank_classes():
    from ace3d.method import bank
    from ace3d.models import ASSETS

    b = bank.load(ASSETS / "i3d_kinetics400_bank.npz")
    assert len(b.class_names) == 400
    sig = b.significant()
    for name in realset.load_manifest()["bank_classes"]:
        idx = b.concepts_of(b.class_names.index(name))
        assert len(idx) and sig[idx].any(), f"{name}: no significant concept in the shipped bank"


def test_debian_mirror_is_read_from_the_machines_apt_sources(tmp_path):
    d = tmp_path / "sources.list.d"
    d.mkdir()
    (d / "debian.sources").write_text("Types: deb\nURIs: http://mirror.example.test/debian-security\n\n"
                                      "Types: deb\n# a comment\nURIs: http://mirror.example.test/debian/\n")
    assert debian_mirror((d,)) == "http://mirror.example.test/debian"
    old = tmp_path / "sources.list"
    old.write_text("# nothing\ndeb [arch=amd64] http://old.example.test/debian bookworm main\n")
    assert debian_mirror((old,)) == "http://old.example.test/debian"
    (tmp_path / "empty.list").write_text("")
    with pytest.raises(Ace3dError, match="REALVIDEOS_LOCAL"):
        debian_mirror((tmp_path / "empty.list",))
