"""The bank build's KubeRay RayJob (k8s/bank-build) as rendered by kustomize: the entrypoint is a command the
CLI accepts, every Ray pod sees the videos and the work volume at the paths the entrypoint names, the GPU group
is placed like the serving GPU overlay, the image and Ray version are the project's, and the local RayJob schema
that `make lint-deploy` validates with rejects what the API server would."""

from __future__ import annotations

import copy
import json
import re
import shlex

import pytest
import yaml
from deploy_helpers import K8S, ROOT, kubectl, one, render

pytestmark = pytest.mark.skipif(kubectl() is None, reason="kubectl not found: cannot render k8s/ with kustomize")


@pytest.fixture(scope="module")
def docs():
    return render("bank-build")


def _ray_pods(job: dict) -> dict[str, dict]:
    cluster = job["spec"]["rayClusterSpec"]
    pods = {"head": cluster["headGroupSpec"]["template"]}
    pods.update({g["groupName"]: g["template"] for g in cluster["workerGroupSpecs"]})
    return pods


def _entrypoint(job: dict):
    from ace3d.cli import parser

    argv = shlex.split(job["spec"]["entrypoint"])
    assert argv[:2] == ["ace3d", "build-bank"]
    return parser().parse_args(argv[1:])


def test_objects_and_lifecycle(docs):
    assert sorted(d["kind"] for d in docs) == ["ConfigMap", "NetworkPolicy", "PersistentVolumeClaim",
                                               "PersistentVolumeClaim", "RayJob"]
    assert {d["metadata"]["namespace"] for d in docs} == {"ace3d"}
    job = one(docs, "RayJob")
    assert job["apiVersion"] == "ray.io/v1"
    assert job["spec"]["shutdownAfterJobFinishes"] is True and job["spec"]["backoffLimit"] >= 1
    args = _entrypoint(job)
    assert args.engine == "ray" and args.address == "auto"


def test_every_ray_pod_mounts_the_data_and_work_the_entrypoint_uses(docs):
    job = one(docs, "RayJob")
    args = _entrypoint(job)
    claims = {d["metadata"]["name"]: d for d in docs if d["kind"] == "PersistentVolumeClaim"}
    for group, pod in _ray_pods(job).items():
        volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
        (container,) = pod["spec"]["containers"]
        mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
        data, work = mounts["/data"], mounts["/work"]
        assert data["readOnly"] is True, group
        assert volumes[data["name"]]["persistentVolumeClaim"]["claimName"] in claims
        work_claim = volumes[work["name"]]["persistentVolumeClaim"]["claimName"]
        assert "ReadWriteMany" in claims[work_claim]["spec"]["accessModes"]  # every node writes shards
        assert "emptyDir" in volumes[mounts["/tmp"]["name"]] and "emptyDir" in volumes[mounts["/dev/shm"]["name"]]
    assert args.data.startswith("/data/")
    assert args.out.startswith("/work/") and args.work_dir.startswith("/work/")


def test_gpu_group_placed_like_the_serving_gpu_overlay(docs):
    pods = _ray_pods(one(docs, "RayJob"))
    serving = one(render("overlays/gpu"), "Deployment")["spec"]["template"]["spec"]
    gpu = pods["gpu"]["spec"]
    assert gpu["tolerations"] == serving["tolerations"] and gpu["nodeSelector"] == serving["nodeSelector"]
    assert gpu["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == 1
    for group in ("head", "cpu"):
        assert "nvidia.com/gpu" not in pods[group]["spec"]["containers"][0]["resources"]["limits"]
    head = one(docs, "RayJob")["spec"]["rayClusterSpec"]["headGroupSpec"]
    assert head["rayStartParams"]["num-cpus"] == "0"  # the head runs the driver, not the work


def test_image_ray_version_and_security_match_the_project(docs):
    job = one(docs, "RayJob")
    base = yaml.safe_load((K8S / "base" / "kustomization.yaml").read_text())["images"][0]
    # the pin line ends in a backslash: its hashes follow
    pin = re.search(r"^ray==([^\s\\]+)", (ROOT / "requirements-serve.txt").read_text(), flags=re.M).group(1)
    assert job["spec"]["rayClusterSpec"]["rayVersion"] == pin
    uid = int(re.findall(r"^USER\s+(\d+)", (ROOT / "Dockerfile").read_text(), flags=re.M)[-1].split(":")[0])
    pods = {**_ray_pods(job), "submitter": job["spec"]["submitterPodTemplate"]}
    policy = one(docs, "NetworkPolicy")["spec"]["podSelector"]["matchLabels"]
    for name, pod in pods.items():
        spec = pod["spec"]
        assert spec["automountServiceAccountToken"] is False, name
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert policy.items() <= pod["metadata"]["labels"].items(), name  # the NetworkPolicy covers it
        for c in spec["containers"]:
            assert c["image"] == f"{base['newName']}:{base['newTag']}", name
            sc = c["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
            assert sc["runAsUser"] == uid and sc["capabilities"]["drop"] == ["ALL"]
            assert {"cpu", "memory"} <= set(c["resources"]["limits"]), name


def test_local_rayjob_schema_rejects_what_the_api_server_would(docs):
    import jsonschema

    schema = json.loads((K8S / "schemas" / "rayjob-ray.io-v1.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    job = one(docs, "RayJob")
    assert not list(validator.iter_errors(job))

    def errors(mutate) -> list[str]:
        bad = copy.deepcopy(job)
        mutate(bad)
        return [e.message for e in validator.iter_errors(bad)]

    assert errors(lambda j: j["spec"].update(entrypointt="typo"))  # unknown field
    assert errors(lambda j: j["spec"]["rayClusterSpec"]["headGroupSpec"]["rayStartParams"].update({"num-cpus": 0}))
    assert errors(lambda j: j["spec"]["rayClusterSpec"]["workerGroupSpecs"][0].pop("groupName"))
    assert errors(lambda j: j["spec"]["rayClusterSpec"].pop("headGroupSpec"))
    assert errors(lambda j: j["spec"].update(submissionMode="Sometimes"))


def test_login_shell_finds_ray_in_the_image_venv(docs, tmp_path):
    """KubeRay runs `ray start` through `bash -lc`; Debian's /etc/profile resets PATH, so every Ray container
    mounts the ConfigMap's bash_profile as $HOME/.bash_profile, which puts /opt/venv/bin (the image's venv,
    Dockerfile) back first."""
    import shutil
    import subprocess

    job = one(docs, "RayJob")
    config = one(docs, "ConfigMap")
    dockerfile = (ROOT / "Dockerfile").read_text()
    home = re.findall(r"^(?:ENV)?\s+HOME=(\S+)", dockerfile, flags=re.M)[-1]  # the runtime stage's, the last
    venv = re.findall(r"^ENV PATH=(\S+?):", dockerfile, flags=re.M)[-1]
    for group, pod in _ray_pods(job).items():
        volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
        (mount,) = [m for m in pod["spec"]["containers"][0]["volumeMounts"]
                    if m["mountPath"] == f"{home}/.bash_profile"]
        assert volumes[mount["name"]]["configMap"]["name"] == config["metadata"]["name"], group
        assert mount["subPath"] in config["data"]
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("no bash here")
    (tmp_path / ".bash_profile").write_text(config["data"]["bash_profile"])
    out = subprocess.run([bash, "-lc", "echo $PATH"], env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
                         capture_output=True, text=True, check=True, timeout=30).stdout
    assert out.strip().split(":")[0] == venv
