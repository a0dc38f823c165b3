# syntax=docker/dockerfile:1
# ace3d: the TorchServe 0.12 service that explains 3D video models (gRPC 7070, REST 8080, metrics 8082).
# One image for GPU and CPU nodes: the pinned torch wheels carry their CUDA libraries and the node's driver
# comes from the NVIDIA container runtime. Build:  docker build -t REGISTRY/ace3d:TAG .   (or podman build)
# Build arguments (docs/DEPLOY.md, "Build behind a proxy"):
#   PIP_INDEX_URL, PIP_EXTRA_INDEX_URL   where pip finds the packages (a company mirror, a private index)
#   EXTRA_CA_CERTS    PEM text of extra CA certificates to trust (a proxy that re-signs TLS), added to the
#                     image's trust store, which pip is told to use:  --build-arg EXTRA_CA_CERTS="$(cat ca.pem)"
#   BASE_IMAGE        the Python 3.11 Debian bookworm base (default: Docker Hub's python:3.11-slim-bookworm)
# Mounting your own model and bank instead of the default archive: docs/DEPLOY.md.
#
# hadolint (make lint-deploy) runs on this file; the rules ignored below carry their reason beside them:
#   DL3008 (pin apt versions): Debian's security archive drops superseded versions, so exact pins break
#          rebuilds within weeks; the base image tag fixes the Debian release (bookworm) instead.
# ---------------------------------------------------------------------------------------------------------
# builder: every pinned package of requirements-serve.txt (the service's needs: no test or lint tools) as a
# wheel in /opt/wheels: downloaded, or built here once for the source-only ones (iopath, fvcore, pytorchvideo)
# with the pinned setuptools and wheel. The runtime stage installs from these wheels only.
# checkov:skip=CKV_DOCKER_7:the base is the BASE_IMAGE build argument, whose default is a fixed tag (3.11-slim-bookworm)
ARG BASE_IMAGE=python:3.11-slim-bookworm
FROM ${BASE_IMAGE} AS builder
ARG PIP_INDEX_URL=https://pypi.org/simple
ARG PIP_EXTRA_INDEX_URL=""
ARG EXTRA_CA_CERTS=""
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
COPY docker/trust-ca-certs.sh /usr/local/sbin/
RUN sh /usr/local/sbin/trust-ca-certs.sh && python -m venv /opt/build-venv
ENV PATH=/opt/build-venv/bin:$PATH
WORKDIR /opt/ace3d/src
COPY requirements-serve.txt docker/wheel_lock.py ./
# Every file is hash-checked (requirements-serve.txt carries the sha256 of each pin; --require-hashes): the build
# tools first, then every pinned file downloaded, the source-only ones built into wheels from those checked
# archives, and the lock of the wheel folder written (the built wheels have no published hash) for the runtime
# stage, which installs from it with --require-hashes too. A changed file on the index fails the build here.
RUN python -c "import re, sys; t = open('requirements-serve.txt').read().replace(chr(92) + chr(10), ' '); \
        print(chr(10).join(l for l in t.splitlines() if re.match('(pip|setuptools|wheel)==', l)))" > build-tools.txt \
    && pip install --no-cache-dir --require-hashes --no-deps -r build-tools.txt \
    && pip download --no-cache-dir --require-hashes --no-deps --dest /opt/downloads -r requirements-serve.txt \
    && pip wheel --no-cache-dir --require-hashes --no-deps --no-build-isolation --no-index \
        --find-links /opt/downloads --wheel-dir /opt/wheels -r requirements-serve.txt \
    && python wheel_lock.py requirements-serve.txt /opt/wheels > /opt/wheels/requirements.lock \
    && rm -rf /opt/downloads

# ---------------------------------------------------------------------------------------------------------
# runtime: Python 3.11, a Java 17 runtime for TorchServe's frontend, tini as PID 1, a fixed non-root user, the
# venv installed from the builder's wheels (no index, no compiler), and the ace3d package with the default
# model archive built once, at image build time.
FROM ${BASE_IMAGE} AS runtime
ARG EXTRA_CA_CERTS=""
COPY docker/trust-ca-certs.sh /usr/local/sbin/
# (the man1 folder: slim images drop it, and the JRE's postinst links its man pages there)
# hadolint ignore=DL3008
RUN sh /usr/local/sbin/trust-ca-certs.sh \
    && mkdir -p /usr/share/man/man1 \
    && apt-get update \
    && apt-get install -y --no-install-recommends openjdk-17-jre-headless tini \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 ace3d \
    && useradd --system --uid 10001 --gid 10001 --home-dir /home/ace3d --create-home --shell /usr/sbin/nologin ace3d
WORKDIR /opt/ace3d/src
COPY requirements-serve.txt pyproject.toml ./
# The venv (5 GB, mostly torch's CUDA libraries) is one layer that changes only with requirements-serve.txt;
# the wheels are mounted from the builder, not copied (so a cached build does not re-hash gigabytes).
# --no-index: a package missing from the pins fails the build instead of coming in unpinned; --require-hashes
# against the builder's lock (one wheel per pin of requirements-serve.txt, checked there).
RUN --mount=type=bind,from=builder,source=/opt/wheels,target=/opt/wheels \
    python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir --require-hashes --no-deps --no-index --only-binary :all: \
        --find-links /opt/wheels -r /opt/wheels/requirements.lock \
    && /opt/venv/bin/pip check
ENV PATH=/opt/venv/bin:$PATH \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
# The source tree stays at /opt/ace3d/src (an editable install): `ace3d archive` finds the handler and the
# default model-config.yaml beside the package, at build time and in the running container alike.
COPY clients/python/ clients/python/
COPY ace3d/ ace3d/
COPY handlers/ handlers/
COPY proto/ proto/
COPY model_store/ model_store/
COPY docker/container_config.py docker/
# The image's default config: the serving reference with public endpoints on 0.0.0.0 and absolute paths
# (token authorization stays as model_store/config.properties sets it).
# (the two local projects come from this source tree, with no dependency left to fetch: nothing to hash)
RUN pip install --no-cache-dir --no-deps --no-build-isolation -e clients/python -e . \
    && mkdir -p /opt/ace3d/model_store \
    && cp model_store/metrics.yaml /opt/ace3d/model_store/ \
    && python docker/container_config.py model_store/config.properties /opt/ace3d/model_store/config.properties \
    && ace3d archive --model demo --bank ace3d/assets/demo_bank.npz --name demo --out /opt/ace3d/model_store/ \
    && test -s /opt/ace3d/model_store/demo.mar
COPY docker/entrypoint.sh docker/healthcheck.py docker/log4j2.xml /opt/ace3d/docker/
# HOME is the only place TorchServe writes besides /tmp: key_file.json (token authorization) lands in the
# working directory. Logs go to stdout (docker/log4j2.xml); LOG_LOCATION only matters with another log
# config. Kubernetes mounts emptyDirs on /tmp and HOME (read-only root).
ENV HOME=/home/ace3d \
    TEMP=/tmp \
    LOG_LOCATION=/home/ace3d/logs \
    METRICS_LOCATION=/home/ace3d/logs \
    MPLCONFIGDIR=/tmp/matplotlib \
    PYTHONUNBUFFERED=1 \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility \
    ACE3D_TS_CONFIG=/opt/ace3d/model_store/config.properties \
    ACE3D_MODEL_STORE=/opt/ace3d/model_store \
    ACE3D_MODELS=demo=demo.mar
USER 10001:10001
WORKDIR /home/ace3d
# gRPC inference, REST inference, Prometheus metrics. Management (8081) stays on loopback: not exposed.
EXPOSE 7070 8080 8082
HEALTHCHECK --interval=30s --timeout=10s --start-period=300s --retries=3 \
    CMD ["python", "/opt/ace3d/docker/healthcheck.py", "--ready"]
# tini is PID 1 and forwards SIGTERM to the entrypoint, which stops TorchServe gracefully (gRPC drains
# in-flight calls) and exits with TorchServe's status.
ENTRYPOINT ["/usr/bin/tini", "--", "/opt/ace3d/docker/entrypoint.sh"]
