"""Container health check: TorchServe's /ping answers 200 "Healthy" only while every model has its minimum
number of healthy workers (500 "Unhealthy" otherwise).

With token authorization on (TorchServe 0.12's default), /ping itself needs the inference key: TorchServe
writes it to key_file.json in its working directory ($HOME here), so this check reads it from there and sends
it as a Bearer token. Without a key file (token authorization disabled) it sends none. Standard library only.
Exit status 0 = healthy, 1 = not.

`--ready` (the Kubernetes startup and readiness probes, and the image's HEALTHCHECK): also asks the management API
on the pod's loopback that every registered model has a worker in state READY. TorchServe 0.12's /ping answers
200 while a worker is still starting (state UNLOADING, model not loaded yet), so /ping alone would send a new pod
traffic that waits for the model to load (tests/deploy/test_container.py saw it pass a second after start).
"""

import json
import os
import sys
import urllib.error
import urllib.request

URL = os.environ.get("ACE3D_HEALTH_URL", "http://127.0.0.1:8080/ping")
MANAGEMENT_URL = os.environ.get("ACE3D_MANAGEMENT_URL", "http://127.0.0.1:8081")
KEY_FILE = os.path.join(os.environ.get("HOME", "."), "key_file.json")


def api_key(path: str = KEY_FILE, api: str = "inference") -> str | None:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)[api]["key"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def inference_key(path: str = KEY_FILE) -> str | None:
    return api_key(path, "inference")


def _get_json(url: str, key: str | None, timeout: float):
    request = urllib.request.Request(url)
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.load(response)


def workers_ready(url: str = MANAGEMENT_URL, key_file: str = KEY_FILE, timeout: float = 5.0) -> tuple[bool, str]:
    """Whether every registered model has a READY worker, from the management API."""
    key = api_key(key_file, "management")
    try:
        names = [m["modelName"] for m in _get_json(f"{url}/models", key, timeout)["models"]]
        if not names:
            return False, "no model registered"
        states = {n: [w.get("status") for w in _get_json(f"{url}/models/{n}", key, timeout)[0]["workers"]]
                  for n in names}
    except urllib.error.HTTPError as e:
        return False, f"management API: {e.code} {e.read(4096).decode('utf-8', 'replace').strip()}"
    except (urllib.error.URLError, OSError, ValueError, KeyError, IndexError, TypeError) as e:
        return False, f"management API: {e}"
    waiting = {n: s for n, s in states.items() if "READY" not in s}
    return not waiting, f"workers {states}"


def check(url: str = URL, key_file: str = KEY_FILE, timeout: float = 5.0) -> tuple[bool, str]:
    request = urllib.request.Request(url)
    key = inference_key(key_file)
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read(4096).decode("utf-8", "replace")
            return response.status == 200, f"{response.status} {body.strip()}"
    except urllib.error.HTTPError as e:
        return False, f"{e.code} {e.read(4096).decode('utf-8', 'replace').strip()}"
    except (urllib.error.URLError, OSError) as e:
        return False, f"unreachable: {e}"


def main(argv: list[str]) -> int:
    ok, detail = check()
    if ok and "--ready" in argv:
        ok, detail = workers_ready()
    print(("healthy: " if ok else "unhealthy: ") + detail.replace("\n", " "))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
