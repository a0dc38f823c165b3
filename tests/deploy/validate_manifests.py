"""Validate rendered Kubernetes manifests offline (run by `make lint-deploy` with .venv-lint's Python).

Every object of every file is checked against the Kubernetes OpenAPI schemas that kubernetes-validate ships
(no network: the schemas are package data), in strict mode (unknown fields are errors), for each version
given. Custom resources that no Kubernetes release defines are checked against a local JSON schema from
k8s/schemas/ (named KIND-GROUP-VERSION.json). An object with neither is an error, never a silent skip. A local
schema may name the pod templates embedded in its resource (`x-ace3d-pod-templates`, as a KubeRay RayJob holds
its cluster's pods): each is then validated as a Kubernetes PodTemplate, strictly, like any built-in object.

    python tests/deploy/validate_manifests.py -k 1.30.0 -k 1.37.0 build/k8s/gpu.yaml ...
"""

import argparse
import json
import pathlib
import sys

import jsonschema
import kubernetes_validate
import yaml

SCHEMA_DIR = pathlib.Path(__file__).resolve().parents[2] / "k8s" / "schemas"


def local_schema(doc: dict) -> dict | None:
    group_version = doc.get("apiVersion", "").replace("/", "-")
    path = SCHEMA_DIR / f"{doc.get('kind', '').lower()}-{group_version}.json"
    if path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))
    return None


def embedded_pod_templates(doc: dict, schema: dict) -> list[tuple[str, dict]]:
    """(path, template) for each pod template the schema's `x-ace3d-pod-templates` paths find in `doc`."""
    found = []
    for pattern in schema.get("x-ace3d-pod-templates", []):
        nodes = [("", doc)]
        for part in pattern.split("/"):
            step = []
            for where, node in nodes:
                if part == "*" and isinstance(node, list):
                    step += [(f"{where}/{i}", item) for i, item in enumerate(node)]
                elif isinstance(node, dict) and part in node:
                    step.append((f"{where}/{part}", node[part]))
            nodes = step
        found += [(where.lstrip("/"), node) for where, node in nodes]
    return found


def embedded_pods(doc: dict) -> list[dict]:
    """The pod templates inside a custom resource as Pod objects, named after their place in it."""
    schema = local_schema(doc)
    if schema is None:
        return []
    meta = doc.get("metadata", {})
    pods = []
    for where, template in embedded_pod_templates(doc, schema):
        tmeta = template.get("metadata", {})
        name = f"{meta.get('name')}-{where.replace('/', '-')}".lower()[:253]
        pods.append({"apiVersion": "v1", "kind": "Pod",
                     "metadata": {"name": name, "namespace": meta.get("namespace", "default"),
                                  "labels": {**meta.get("labels", {}), **tmeta.get("labels", {})},
                                  "annotations": tmeta.get("annotations", {})},
                     "spec": template.get("spec", {})})
    return pods


def validate_doc(doc: dict, versions: list[str]) -> list[str]:
    """Return one line per problem (empty when the object is valid for every version)."""
    name = f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
    schema = local_schema(doc)
    if schema is not None:
        validator = jsonschema.Draft202012Validator(schema)
        problems = [f"{name}: {'/'.join(map(str, e.absolute_path))}: {e.message} (local schema)"
                    for e in validator.iter_errors(doc)]
        for where, template in embedded_pod_templates(doc, schema):
            pod = {"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": "embedded"}, "template": template}
            problems += [p.replace("PodTemplate/embedded: template/", f"{name}: {where}/", 1)
                         for p in validate_doc(pod, versions)]
        return problems
    problems = []
    for version in versions:
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as e:
            problems.append(f"{name}: {'/'.join(map(str, e.path))}: {e.message} (Kubernetes {version}, strict)")
        except kubernetes_validate.SchemaNotFoundError as e:
            problems.append(f"{name}: {e.message}; add a schema to k8s/schemas/ if it is a custom resource")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-k", "--kubernetes-version", action="append", dest="versions", required=True)
    parser.add_argument("--embedded-pods", type=pathlib.Path, default=None,
                        help="write the pod templates embedded in custom resources here as Pods (for checkov, "
                        "which does not look inside custom resources)")
    parser.add_argument("files", nargs="+", type=pathlib.Path)
    args = parser.parse_args(argv)
    failures = 0
    pods = []
    for path in args.files:
        docs = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
        if not docs:
            print(f"FAIL {path}: no objects")
            failures += 1
            continue
        for doc in docs:
            problems = validate_doc(doc, args.versions)
            pods += embedded_pods(doc)
            label = f"{path}: {doc.get('apiVersion')} {doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
            if problems:
                failures += 1
                print(f"FAIL {label}")
                for p in problems:
                    print(f"     {p}")
            else:
                how = "local schema" if local_schema(doc) is not None else "Kubernetes " + ", ".join(args.versions)
                print(f"ok   {label} ({how})")
    print(f"{failures} invalid object(s)" if failures else "all objects valid")
    if args.embedded_pods is not None:
        args.embedded_pods.write_text(yaml.safe_dump_all(pods, sort_keys=False), encoding="utf-8")
        print(f"wrote {len(pods)} embedded pod template(s) as Pods to {args.embedded_pods}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
