# syntax=docker/dockerfile:1
# The Locust image of k8s/locust: locust and the Python client distribution (clients/python), pinned and
# hash-checked (bench/locust/requirements.txt), the locustfile (bench/locust/locustfile.py) and the videos it
# sends (the UCF-101 clip of tests/data and data/real/*.mp4: run `make realdata` first). No torch.
# Build from the repository root:  docker build -f docker/locust.Dockerfile -t REGISTRY/ace3d-locust:TAG .
# (docker/locust.Dockerfile.dockerignore is its build context's filter.)
# checkov:skip=CKV_DOCKER_7:the base is the BASE_IMAGE build argument, whose default is a fixed tag (3.11-slim-bookworm)
ARG BASE_IMAGE=python:3.11-slim-bookworm
FROM ${BASE_IMAGE}
ARG PIP_INDEX_URL=https://pypi.org/simple
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /opt/locust
COPY bench/locust/requirements.txt ./
COPY clients/python/ ./client/
# every file hash-checked; the client, built here from source, has no dependencies left to fetch (--no-deps)
RUN pip install --no-cache-dir --require-hashes --only-binary :all: -r requirements.txt \
    && pip install --no-cache-dir --no-deps --no-build-isolation ./client \
    && rm -rf ./client \
    && groupadd --system --gid 10001 locust \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin locust
COPY bench/locust/locustfile.py ./
COPY tests/data/v_CricketShot_g04_c01_rgb.gif data/real/*.mp4 ./videos/
USER 10001:10001
EXPOSE 8089 5557
HEALTHCHECK --interval=30s --timeout=5s CMD ["python", "-c", "import os; os.kill(1, 0)"]
ENTRYPOINT ["locust", "-f", "/opt/locust/locustfile.py"]
