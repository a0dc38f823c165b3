"""Write the hash lock of the image's wheel folder: one `name==version --hash=sha256:...` line per wheel, after
checking that the wheels are exactly the pins of the requirement file (one per pin, nothing else).

The builder stage downloads every pinned file with `pip download --require-hashes` (the hashes of
requirements-serve.txt are checked there) and builds the source-only ones into wheels; those built wheels have
no published hash, so the runtime stage installs from this lock (`pip install --require-hashes`), written from
the files the builder has just verified or built.

    python docker/wheel_lock.py requirements-serve.txt /opt/wheels > /opt/wheels/requirements.lock
"""

from __future__ import annotations

import hashlib
import re
import sys
from pathlib import Path


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", line.strip())
        if m:
            out[norm(m.group(1))] = m.group(2)
    return out


def main(requirements: str, folder: str) -> int:
    wanted, found, lines = pins(Path(requirements)), {}, []
    for whl in sorted(Path(folder).glob("*.whl")):
        name, version = whl.name.split("-")[:2]
        found[norm(name)] = version
        digest = hashlib.sha256(whl.read_bytes()).hexdigest()
        lines.append(f"{name}=={version} --hash=sha256:{digest}")
    if found != wanted:
        missing = sorted(f"{n}=={v}" for n, v in wanted.items() if found.get(n) != v)
        extra = sorted(f"{n}=={v}" for n, v in found.items() if wanted.get(n) != v)
        print(f"the wheels are not the pins of {requirements}: missing {missing}, not pinned {extra}", file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
