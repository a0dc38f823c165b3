"""podman for the container test: the settings file, the base image (Docker Hub's, else the Debian stand-in),
the cached image build with the host's extra CA certificates, and a throwaway CA kept between runs.

Everything the test keeps between runs lives in podman's own storage (the layer cache, the images) and in
build/container/ (the throwaway CA, the build log), so a warm run rebuilds nothing."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

from deploy_helpers import ROOT

CONTAINERS_CONF = Path(__file__).with_name("containers.conf")
WORK = ROOT / "build" / "container"
CA_CERT = WORK / "throwaway-ca.pem"  # the throwaway CA the image trusts (throwaway_ca)
UPSTREAM_BASE = "docker.io/library/python:3.11-slim-bookworm"
STANDIN_BASE = "localhost/ace3d-base:3.11-slim-bookworm"
IMAGE = "localhost/ace3d:container-test"
# Debian's place for locally added CA certificates: what a host behind a re-signing proxy trusts beyond Mozilla's
HOST_EXTRA_CAS = Path("/usr/local/share/ca-certificates")
# Disk a build takes at its peak beyond what it keeps free, in GB (df sampled every 5 s during the container
# test; docs/DEPLOY.md section 7): from nothing, 33 GB (the venv layer's commit: its files, the layer's blob in
# podman's copy directory and the layer in storage); with the image present, only the source layers rebuild.
COLD_BUILD_GB = 36
WARM_BUILD_GB = 4


def env() -> dict[str, str]:
    return {**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF)}


def podman(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(["podman", *args], env=env(), capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"podman {' '.join(args[:3])} ... failed ({result.returncode}):\n"
                             f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def unusable_reason() -> str | None:
    """Why podman cannot run containers here (None: it can)."""
    if shutil.which("podman") is None:
        return "podman is not installed (make sysdeps installs it from debian-packages.txt)"
    info = podman("info", "--format", "{{.Host.OCIRuntime.Name}}", check=False, timeout=60)
    if info.returncode != 0:
        return f"podman cannot run here: {info.stderr.strip()[-500:]}"
    return None


def _existing(path: Path) -> Path:
    """The path, or its nearest existing parent (podman makes its directories on first use)."""
    while not path.exists():
        path = path.parent
    return path


def _cache_holds() -> bool:
    """Whether podman's layer cache will serve the venv layer: the image is there, built after the files its
    big layers depend on last changed (a fresh clone's files are all new), the throwaway CA among them (a CA
    made after the image changes a build argument, and every layer after it rebuilds)."""
    created = podman("image", "inspect", "--format", "{{.Created.Unix}}", IMAGE, check=False)
    if created.returncode != 0 or not created.stdout.strip().isdigit() or not CA_CERT.is_file():
        return False
    inputs = [ROOT / "Dockerfile", ROOT / "requirements-serve.txt", CA_CERT, *(ROOT / "docker").glob("*")]
    return all(p.stat().st_mtime < int(created.stdout.strip()) for p in inputs if p.is_file())


def disk_shortfall() -> str | None:
    """Why a build would run out of disk here (None: it fits): the free space on podman's storage and its
    copy directory (TMPDIR, else containers.conf's image_copy_tmp_dir) against a cold build's peak, or a warm
    one's when the layer cache will hold (`_cache_holds`)."""
    info = podman("info", "--format", "{{.Store.GraphRoot}}|{{.Store.ImageCopyTmpDir}}", check=False, timeout=60)
    root, _, copy_dir = info.stdout.strip().partition("|")
    warm = _cache_holds()
    need = WARM_BUILD_GB if warm else COLD_BUILD_GB
    places = {Path(root or "/var/lib/containers/storage"), Path(os.environ.get("TMPDIR") or copy_dir or "/var/tmp")}
    devices = {_existing(p).stat().st_dev: p for p in sorted(places)}  # one file system: checked once
    for place in devices.values():
        free = shutil.disk_usage(_existing(place)).free / 1e9
        if free < need:
            return (f"a {'warm' if warm else 'cold'} build of the image needs about {need} GB free at its peak; "
                    f"{place} has {free:.1f} GB free (free some disk, e.g. `podman image prune`, and rerun)")
    return None


def base_image(log) -> str:
    """ACE3D_BASE_IMAGE if set; else Docker Hub's python:3.11-slim-bookworm if present or pullable; else the
    stand-in built from Debian (scripts/build-base-image.sh: root and debootstrap, built once and kept)."""
    if os.environ.get("ACE3D_BASE_IMAGE"):
        return os.environ["ACE3D_BASE_IMAGE"]
    for image in (UPSTREAM_BASE, STANDIN_BASE):
        if podman("image", "exists", image, check=False).returncode == 0:
            return image
    pulled = subprocess.run(["timeout", "90", "podman", "pull", "--quiet", UPSTREAM_BASE], env=env(),
                            capture_output=True, text=True)
    if pulled.returncode == 0:
        return UPSTREAM_BASE
    log(f"{UPSTREAM_BASE} not pullable ({pulled.stderr.strip()[-200:]}): building the Debian stand-in")
    subprocess.run([str(ROOT / "scripts" / "build-base-image.sh"), STANDIN_BASE], env=env(), check=True,
                   timeout=1800)
    return STANDIN_BASE


def throwaway_ca() -> tuple[Path, Path]:
    """A CA made for this test (certificate, key), kept in build/container/ so that the build cache, which
    keys on the CA text passed in, stays warm between runs."""
    WORK.mkdir(parents=True, exist_ok=True)
    cert, key = CA_CERT, WORK / "throwaway-ca.key"
    if not (cert.is_file() and key.is_file()):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650",
                        "-subj", f"/CN=ace3d container test CA {os.getpid()}-{int(time.time())}",
                        "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True, timeout=60)
    return cert, key


def server_cert(ca: tuple[Path, Path], out: Path) -> tuple[Path, Path]:
    """A TLS certificate for 127.0.0.1/localhost signed by the throwaway CA (certificate, key)."""
    cert, key, csr, ext = out / "server.pem", out / "server.key", out / "server.csr", out / "server.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n")
    subprocess.run(["openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
                    "-keyout", str(key), "-out", str(csr)], check=True, capture_output=True, timeout=60)
    subprocess.run(["openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca[0]), "-CAkey", str(ca[1]),
                    "-CAserial", str(out / "ca.srl"), "-CAcreateserial", "-days", "2", "-extfile", str(ext),
                    "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    return cert, key


def extra_ca_pem(throwaway: Path) -> str:
    """The CA text passed to the build, as a user behind a re-signing proxy would pass it: the host's locally
    added CAs (where the proxy's lives), here plus the throwaway CA the test checks for."""
    host = sorted(HOST_EXTRA_CAS.rglob("*.crt")) if HOST_EXTRA_CAS.is_dir() else []
    return "\n".join(p.read_text().strip() for p in [*host, throwaway])


def _podman_build(base: str, extra_ca: str, *extra: str) -> tuple[int, float]:
    t0 = time.monotonic()
    with open(WORK / "build.log", "w") as out:
        result = subprocess.run(
            ["nice", "-n", "10", "podman", "build", "--format", "docker", "--layers", "--network", "host", *extra,
             "--build-arg", f"BASE_IMAGE={base}", "--build-arg", f"EXTRA_CA_CERTS={extra_ca}",
             "--tag", IMAGE, str(ROOT)], env=env(), stdout=out, stderr=subprocess.STDOUT, timeout=3600)
    return result.returncode, time.monotonic() - t0


# podman 4.3 (Debian bookworm's) mounts an empty /opt/wheels into the runtime stage when the builder stage came
# whole from the cache but the runtime stage's venv layer did not (another clone's build had replaced the image
# and its layers): seen on a development machine after a fresh clone's run. Only then is the build redone
# without the cache.
STALE_STAGE_MOUNT = "No such file or directory: '/opt/wheels/requirements.lock'"


def build(base: str, extra_ca: str, log) -> float:
    """`podman build` of the project's Dockerfile with podman's layer cache; returns the seconds it took."""
    WORK.mkdir(parents=True, exist_ok=True)
    before = podman("image", "inspect", "--format", "{{.Id}}", IMAGE, check=False).stdout.strip()
    code, seconds = _podman_build(base, extra_ca)
    if code != 0 and STALE_STAGE_MOUNT in (WORK / "build.log").read_text():
        log(f"podman build: the cached builder stage mounted empty ({seconds:.0f} s); building without the cache")
        code, again = _podman_build(base, extra_ca, "--no-cache")
        seconds += again
    if code != 0:
        raise AssertionError(f"podman build failed after {seconds:.0f} s; end of {WORK / 'build.log'}:\n"
                             + (WORK / "build.log").read_text()[-4000:])
    # the previous image, untagged by this build, is removed; the layers the new one shares stay cached
    after = podman("image", "inspect", "--format", "{{.Id}}", IMAGE).stdout.strip()
    if before and before != after:
        podman("rmi", before, check=False, timeout=300)
    log(f"podman build: {seconds:.0f} s (base {base})")
    return seconds
