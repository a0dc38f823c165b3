# Serving targets, included from the Makefile (`include serve.mk`; BIN and the `venv` target come from it).
# The server runs in the background from $(SERVE_RUNTIME) (config, logs, key file, pid); see model_store/README.md.
SERVE_RUNTIME ?= out/serve
MODEL_STORE ?= model_store
MODEL ?= demo
SERVE_NAME ?= $(MODEL)
# The I3D packs its own limits and needs its converted weights (make weights).
MODEL_CONFIG ?= $(MODEL_STORE)/$(if $(filter i3d_kinetics400,$(MODEL)),model-config-i3d.yaml,model-config.yaml)
MODEL_WEIGHTS := $(if $(filter i3d_kinetics400,$(MODEL)),$(I3D_WEIGHTS))
# The I3D is served with the bank built from the real set (docs/REAL_MODEL.md): its classes are explained with
# bank concepts, every other class with the clip's own groups. MODEL_BANK=none serves it without a bank.
MODEL_BANK ?= $(if $(filter i3d_kinetics400,$(MODEL)),ace3d/assets/i3d_kinetics400_bank.npz)
GRPC_PORT ?= 7070
REST_PORT ?= 8080
MANAGEMENT_PORT ?= 8081
METRICS_PORT ?= 8082
GRPC_MANAGEMENT_PORT ?= 7071
DEMO_MAR := $(MODEL_STORE)/$(SERVE_NAME).mar
# The archive is rebuilt when what it packs changes: the default model and bank, the handler, the configs, ace3d.
DEMO_MAR_INPUTS := $(wildcard ace3d/assets/demo_model.* ace3d/assets/demo_bank.npz) handlers/ace3d_handler.py \
	$(MODEL_CONFIG) $(MODEL_STORE)/metrics.yaml $(shell find ace3d -name "*.py") $(MODEL_WEIGHTS) \
	$(filter-out none,$(MODEL_BANK))

.PHONY: archive serve stop

## archive: build model_store/$(MODEL).mar (default: the committed demo model and bank; MODEL=i3d_kinetics400: the I3D)
archive: $(DEMO_MAR)

$(DEMO_MAR): $(DEMO_MAR_INPUTS) | venv
	$(BIN)/ace3d archive --model $(MODEL) --name $(SERVE_NAME) --out $(MODEL_STORE) --config $(MODEL_CONFIG) \
		$(if $(MODEL_BANK),--bank $(MODEL_BANK))

## serve: start TorchServe in the background with model_store/$(MODEL).mar; returns once it is ready
serve: venv $(DEMO_MAR)
	$(BIN)/ace3d serve --archive $(SERVE_NAME) --name $(SERVE_NAME) --model-store $(MODEL_STORE) \
		--runtime $(SERVE_RUNTIME) --grpc-port $(GRPC_PORT) --inference-port $(REST_PORT) \
		--management-port $(MANAGEMENT_PORT) --metrics-port $(METRICS_PORT) \
		--grpc-management-port $(GRPC_MANAGEMENT_PORT)

## stop: stop the TorchServe that `make serve` started (frontend and workers)
stop:
	$(BIN)/ace3d stop --runtime $(SERVE_RUNTIME)
