"""Add the sha256 of every pinned file to requirement files, so that `pip install --require-hashes` refuses a file
that changed on an index (a tampered wheel, a re-uploaded release) or a pin that changed without its hashes.

    python scripts/hash_requirements.py requirements-serve.txt requirements.txt bench/locust/requirements.txt

For each `name==version` line pip resolves the pin without installing or downloading it (`pip install --dry-run
--no-deps --report`: the indexes give each file's sha256) twice: with this machine's pip configuration (its local
indexes, `pip config list`) and `--isolated` against PyPI (what the image build uses), and writes the union of
the hashes: one per source that serves a different file. Comments, `-r` lines and the order are kept; lines that
already carry hashes get them recomputed."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")
PYPI = "https://pypi.org/simple"


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def logical_lines(text: str) -> list[str]:
    """Lines with their backslash continuations joined (a hashed pin spans several)."""
    out, cur = [], ""
    for line in text.splitlines():
        if line.rstrip().endswith("\\"):
            cur += line.rstrip()[:-1] + " "
            continue
        out.append(cur + line)
        cur = ""
    if cur:
        out.append(cur)
    return out


def resolved_hashes(pins: list[str], isolated: bool) -> dict[str, set[str]]:
    """name -> sha256s of the files pip would install for `pins`, from the machine's indexes or from PyPI."""
    with tempfile.TemporaryDirectory() as tmp:
        req, report = Path(tmp) / "pins.txt", Path(tmp) / "report.json"
        req.write_text("\n".join(pins) + "\n")
        cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--no-deps", "--quiet",
               "--report", str(report), "-r", str(req)]
        if isolated:  # no pip.conf, no constraints, no local index: PyPI's files
            cmd[3:3] = ["--isolated"]
            cmd[5:5] = ["--index-url", PYPI]
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode != 0:
            where = "PyPI" if isolated else "local"
            raise SystemExit(f"pip could not resolve the pins ({where}):\n{res.stderr[-3000:]}")
        out: dict[str, set[str]] = {}
        for item in json.loads(report.read_text())["install"]:
            hashes = (item["download_info"].get("archive_info") or {}).get("hashes", {})
            if "sha256" in hashes:
                out.setdefault(norm(item["metadata"]["name"]), set()).add(hashes["sha256"])
        return out


def hash_file(path: Path, pypi: bool = True) -> int:
    lines = logical_lines(path.read_text())
    pins = [PIN.match(line.strip()).group(0) for line in lines if PIN.match(line.strip())]
    hashes = resolved_hashes(pins, isolated=False)
    if pypi:
        for name, found in resolved_hashes(pins, isolated=True).items():
            hashes.setdefault(name, set()).update(found)
    out = []
    for line in lines:
        m = PIN.match(line.strip())
        if not m:
            out.append(line)
            continue
        found = sorted(hashes.get(norm(m.group(1)), ()))
        if not found:
            raise SystemExit(f"{path}: no sha256 for {m.group(0)}")
        out.append(f"{m.group(0)} \\\n" + " \\\n".join(f"    --hash=sha256:{h}" for h in found))
    path.write_text("\n".join(out) + "\n")
    return len(pins)


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--local-only"]
    for name in args:
        print(f"{name}: {hash_file(Path(name), pypi='--local-only' not in sys.argv)} pins hashed")
