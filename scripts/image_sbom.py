"""A CycloneDX SBOM of an image's Python environment (/opt/venv), and its comparison with requirements-serve.txt.

cyclonedx-bom (pinned, with its dependencies, in requirements.txt and requirements-serve.txt) is installed
hash-checked into a folder and run inside the image from a read-only mount, so that the tool is not part of
what it lists. The SBOM must name exactly the packages and versions of requirements-serve.txt, plus the two
projects of this source tree (ace3d, ace3d-client).

    .venv/bin/python scripts/image_sbom.py registry.example.com/ace3d:0.1.0 out/image-sbom.cdx.json [--engine docker]
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# cyclonedx-bom 7.5.0 and what it needs
TOOLS = ("cyclonedx-bom", "arrow", "attrs", "boolean-py", "chardet", "cyclonedx-python-lib", "defusedxml", "fqdn",
         "idna", "isoduration", "jsonpointer", "jsonschema-specifications", "jsonschema", "lark", "license-expression",
         "lxml", "packageurl-python", "packaging", "pip-requirements-parser", "py-serializable", "pyparsing",
         "python-dateutil", "referencing", "rfc3339-validator", "rfc3986-validator", "rfc3987-syntax", "rpds-py",
         "six", "sortedcontainers", "typing-extensions", "tzdata", "uri-template", "webcolors")
LOCAL = ("ace3d", "ace3d-client")
RUN = ("import runpy, sys; sys.path.insert(0, '/opt/sbom'); sys.argv = ['cyclonedx-py', 'environment', "
       "'--output-format', 'JSON', '--output-file', '/out/sbom.json', '/opt/venv/bin/python']; "
       "runpy.run_module('cyclonedx_py', run_name='__main__')")


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def entries(*files: str) -> dict[str, str]:
    """name -> the whole hashed entry of each pin in the requirement files."""
    out = {}
    for req in files:
        for line in (ROOT / req).read_text().replace("\\\n", " ").splitlines():
            m = re.match(r"^([A-Za-z0-9][\w.-]*)==(\S+)", line)
            if m:
                out[norm(m.group(1))] = line
    return out


def serve_pins() -> dict[str, str]:
    """name -> version of requirements-serve.txt."""
    return {n: e.split("==")[1].split()[0] for n, e in entries("requirements-serve.txt").items()}


def install_tools(dest: Path) -> None:
    pins = entries("requirements.txt", "requirements-serve.txt")
    missing = [t for t in TOOLS if t not in pins]
    if missing:
        raise SystemExit(f"not pinned in requirements.txt or requirements-serve.txt: {missing}")
    req = dest.parent / "sbom-tools.txt"
    req.write_text("\n".join(pins[t] for t in TOOLS) + "\n")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--require-hashes", "--no-deps",
                    "--only-binary", ":all:", "--target", str(dest), "-r", str(req)], check=True)


def image_sbom(image: str, out: Path, engine: str = "podman", env: dict[str, str] | None = None) -> dict:
    """Write the image's SBOM to `out` and return it. `env`: the engine's environment (e.g. CONTAINERS_CONF)."""
    with tempfile.TemporaryDirectory(prefix="sbom-") as tmp:
        tools, dump = Path(tmp) / "tools", Path(tmp) / "out"
        install_tools(tools)
        dump.mkdir()
        dump.chmod(0o777)  # the image's user writes there
        run = subprocess.run([engine, "run", "--rm", "-v", f"{tools}:/opt/sbom:ro", "-v", f"{dump}:/out",
                              "--entrypoint", "python", image, "-c", RUN], capture_output=True, text=True, timeout=600,
                             env=env)
        if run.returncode != 0:
            raise SystemExit(f"{engine} run {image} (cyclonedx-py) failed with status {run.returncode}: "
                             f"{run.stderr.strip()[-2000:]}")
        sbom = json.loads((dump / "sbom.json").read_text())
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(sbom, indent=1))
    return sbom


def differences(sbom: dict) -> dict[str, list[str]]:
    """What the SBOM lists beyond requirements-serve.txt's pins (and the local projects), and what it lacks."""
    listed = {norm(c["name"]): c.get("version") for c in sbom.get("components", [])}
    for name in LOCAL:
        listed.pop(name, None)
    pins = serve_pins()
    return {"not pinned": sorted(f"{n}=={v}" for n, v in listed.items() if pins.get(n) != v),
            "missing": sorted(f"{n}=={v}" for n, v in pins.items() if listed.get(n) != v)}


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--engine")]
    engine = next((a.split("=", 1)[1] for a in sys.argv[1:] if a.startswith("--engine=")), "podman")
    diff = differences(image_sbom(args[0], Path(args[1]), engine))
    print(json.dumps(diff, indent=1))
    sys.exit(1 if diff["not pinned"] or diff["missing"] else 0)
