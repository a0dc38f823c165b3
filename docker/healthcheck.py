"""Container health check: TorchServe's /ping answers 200 "Healthy" only while every model has its minimum
number of healthy workers (500 "Unhealthy" otherwise).

With token authorization on (TorchServe 0.12's default), /ping itself needs the inference key: TorchServe
writes it to key_file.json in its working directory ($HOME here), so this check reads it from there and sends
it as a Bearer token. Without a key file (token authorization disabled) it sends none. Standard library only.
Exit status 0 = healthy, 1 = not.
"""

import json
import os
import sys
import urllib.error
import urllib.request

URL = os.environ.get("ACE3D_HEALTH_URL", "http://127.0.0.1:8080/ping")
KEY_FILE = os.path.join(os.environ.get("HOME", "."), "key_file.json")


def inference_key(path: str = KEY_FILE) -> str | None:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)["inference"]["key"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


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


def main() -> int:
    ok, detail = check()
    print(("healthy: " if ok else "unhealthy: ") + detail.replace("\n", " "))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
