"""The supply chain: every pin of every requirement file carries its sha256, every install of them is
hash-checked, and pip really refuses a tampered wheel or a changed pin (a real pip, a real wheel of
requirements-serve.txt, a fresh virtual environment)."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from deploy_helpers import ROOT

FILES = ("requirements-serve.txt", "requirements.txt", "requirements-lint.txt", "bench/locust/requirements.txt")
PROBE = "tabulate"  # a small pure-Python pin of requirements-serve.txt
OTHER = "0.9.0"  # another release of it (requirements-lint.txt pins this one)


def _blocks(path: Path) -> dict[str, str]:
    """name -> the pin's whole entry (its line and hash lines) of a requirement file."""
    text = path.read_text().replace("\\\n", " ")
    out = {}
    for line in text.splitlines():
        m = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==", line)
        if m:
            out[re.sub(r"[-_.]+", "-", m.group(1)).lower()] = line
    return out


@pytest.mark.parametrize("name", FILES)
def test_every_pin_carries_a_sha256(name):
    text = (ROOT / name).read_text().replace("\\\n", " ")
    entries = [line for line in text.splitlines() if line.strip() and not line.startswith(("#", "-r"))]
    assert entries, name
    for entry in entries:
        assert re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]*==\S+\s", entry), f"{name}: not an exact pin: {entry[:80]}"
        hashes = re.findall(r"--hash=sha256:([0-9a-f]+)", entry)
        assert hashes and all(len(h) == 64 for h in hashes), f"{name}: no sha256 for {entry.split()[0]}"


def test_every_install_of_the_requirement_files_requires_hashes():
    installs = []
    for path in ("Makefile", "deploy.mk", "Dockerfile", "docker/locust.Dockerfile"):
        text = (ROOT / path).read_text().replace("\\\n", " ")
        commands = [cmd for line in text.splitlines() for cmd in re.split(r"&&|;", line)]
        installs += [(path, cmd) for cmd in commands
                     if re.search(r"pip (install|download|wheel)\b.*(-r|--requirement)\s", cmd)]
    # make venv, the lint venv, the image's build tools, download, wheel build and install, the Locust image
    assert len(installs) >= 7, installs
    for path, line in installs:
        assert "--require-hashes" in line, f"{path}: {line.strip()}"


@pytest.fixture(scope="module")
def probe(tmp_path_factory) -> tuple[Path, str]:
    """(a folder with the probe's real wheel, fetched hash-checked, and another release's; the probe's entry)."""
    tmp = tmp_path_factory.mktemp("supply")
    entry = _blocks(ROOT / "requirements-serve.txt")[PROBE]
    req = tmp / "probe.txt"
    req.write_text(entry + "\n")
    wheels = tmp / "wheels"
    res = subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--require-hashes",
                          "--only-binary", ":all:", "--dest", str(wheels), "-r", str(req)],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-3000:]
    res = subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary", ":all:",
                          "--dest", str(wheels), f"{PROBE}=={OTHER}"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-3000:]
    return wheels, entry


def _install(wheels: Path, req_text: str, tmp: Path) -> subprocess.CompletedProcess:
    """Install into a fresh venv of its own (nothing already satisfied)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp / "venv")], check=True)
    python = tmp / "venv" / "bin" / "python"
    req = tmp / "req.txt"
    req.write_text(req_text + "\n")
    # the development venv's pip installs into the fresh venv (--python): no index, only the wheel folder
    return subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-index",
                           "--find-links", str(wheels), "--require-hashes", "--no-deps", "-r", str(req)],
                          capture_output=True, text=True)


def test_the_pinned_wheel_installs(probe, tmp_path):
    wheels, entry = probe
    res = _install(wheels, entry, tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]


def test_a_tampered_wheel_fails_with_a_hash_error(probe, tmp_path):
    wheels, entry = probe
    (whl,) = [w for w in wheels.glob("*.whl") if f"-{OTHER}-" not in w.name]
    bad = tmp_path / "wheels"
    bad.mkdir()
    # same name, one file inside changed: what a compromised index or mirror would serve
    with zipfile.ZipFile(whl) as src, zipfile.ZipFile(bad / whl.name, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename.endswith(".py") and b"import" in data:
                data = data.replace(b"import", b"import os; import", 1)
            dst.writestr(item, data)
    res = _install(bad, entry, tmp_path)
    assert res.returncode != 0
    assert "THESE PACKAGES DO NOT MATCH THE HASHES" in res.stderr, res.stderr[-3000:]
    assert whl.name in res.stderr or PROBE in res.stderr


def test_a_changed_pin_fails_with_a_hash_error(probe, tmp_path):
    wheels, entry = probe
    version = entry.split("==")[1].split()[0]
    # the version changed, the hashes kept: they do not describe the other release's file, which is there
    res = _install(wheels, entry.replace(f"=={version}", f"=={OTHER}", 1), tmp_path)
    assert res.returncode != 0
    assert "THESE PACKAGES DO NOT MATCH THE HASHES" in res.stderr, res.stderr[-3000:]
    # a pin changed and its hashes dropped: refused before anything is installed
    res = _install(wheels, f"{PROBE}=={OTHER}", tmp_path / "again")
    assert res.returncode != 0
    assert "Hashes are required in --require-hashes mode" in res.stderr, res.stderr[-3000:]
