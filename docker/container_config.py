"""Derive the image's default TorchServe config from model_store/config.properties (the serving reference).

Run at image build time:  python docker/container_config.py model_store/config.properties OUT
Inside a container the served endpoints must bind 0.0.0.0 (127.0.0.1 is unreachable through `docker run -p`),
and relative paths must become absolute because TorchServe resolves them against its working directory.
Everything else, token authorization included, is kept as the serving side set it. Kubernetes does not use
this file: it mounts k8s/*/config.properties from a ConfigMap.
"""

import re
import sys

STORE = "/opt/ace3d/model_store"
# Endpoints a client or Prometheus reaches from outside the container; management stays on loopback.
PUBLIC_URL_KEYS = ("inference_address", "metrics_address")
LOOPBACK = ("127.0.0.1", "localhost")


def _host_to_any(url: str) -> str:
    return re.sub(r"^(https?://)(127\.0\.0\.1|localhost)(:\d+)", r"\g<1>0.0.0.0\3", url)


def container_config(text: str, store: str = STORE) -> str:
    out: list[str] = []
    seen: set[str] = set()
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", "!")) or "=" not in stripped:
            out.append(line)
            continue
        key, value = (part.strip() for part in stripped.split("=", 1))
        seen.add(key)
        if key in PUBLIC_URL_KEYS:
            value = _host_to_any(value)
        elif key == "grpc_inference_address" and value in LOOPBACK:
            value = "0.0.0.0"
        elif key == "model_store":
            value = store
        elif key == "metrics_config" and not value.startswith("/"):
            value = f"{store}/{value.rsplit('/', 1)[-1]}"
        out.append(f"{key}={value}")
    if "grpc_inference_address" not in seen:  # TorchServe's default is 127.0.0.1
        out.append("grpc_inference_address=0.0.0.0")
    if "model_store" not in seen:
        out.append(f"model_store={store}")
    return "\n".join(out) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(f"usage: {argv[0]} SOURCE_CONFIG OUT", file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        text = container_config(f.read())
    with open(argv[2], "w", encoding="utf-8") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
