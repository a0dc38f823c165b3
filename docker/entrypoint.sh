#!/bin/sh
# Container entrypoint: runs TorchServe in the foreground as this script's child and turns SIGTERM/SIGINT
# into `torchserve --stop`, so a pod stop drains instead of being killed. tini (PID 1) forwards the signal
# here. On SIGTERM TorchServe's frontend shuts its gRPC server down gracefully (in-flight calls finish, new
# ones are refused) and unregisters the models; the pod's terminationGracePeriodSeconds bounds the wait.
#
# Environment (defaults set in the Dockerfile):
#   ACE3D_TS_CONFIG      config.properties to use (Kubernetes mounts its ConfigMap and points here)
#   ACE3D_MODEL_STORE    folder with the .mar archives (default: the image's, with demo.mar)
#   ACE3D_MODELS         what to load at start, TorchServe's --models syntax (default: demo=demo.mar)
#   ACE3D_LOG_CONFIG     log4j2 configuration (default: docker/log4j2.xml beside this script: stdout only)
#   ACE3D_MODEL_FILE,    your own model and concept bank, mounted into the container: when both are set,
#   ACE3D_BANK_FILE      `ace3d archive` packs them at start into $HOME/model_store as
#   ACE3D_MODEL_NAME     ACE3D_MODEL_NAME (default: demo), which is then served instead of the default.
#   ACE3D_WORKERS        pins that archive's workers (minWorkers/maxWorkers); unset: the config decides
#   ACE3D_MODEL_FILE is a model spec as `ace3d explain --model` takes it: demo:/models/my_model.json for a
#   model trained with `ace3d train`, or ARCH:/models/checkpoint.pyth for a pytorchvideo checkpoint.
# Any arguments are passed on to `torchserve --start` (e.g. --disable-token-auth for a local try-out).
set -eu

config="${ACE3D_TS_CONFIG:-/opt/ace3d/model_store/config.properties}"
store="${ACE3D_MODEL_STORE:-/opt/ace3d/model_store}"
models="${ACE3D_MODELS:-demo=demo.mar}"
# Logs go to stdout only (docker/log4j2.xml), not to rolling files in the pod's small emptyDir.
log_config="${ACE3D_LOG_CONFIG:-$(cd "$(dirname "$0")" && pwd)/log4j2.xml}"

# TorchServe writes key_file.json into its working directory (and, with its own log config, logs under
# LOG_LOCATION).
cd "${HOME:?HOME must be set}"
mkdir -p "${LOG_LOCATION:-$HOME/logs}" "${MPLCONFIGDIR:-$HOME/.config/matplotlib}"

if [ -n "${ACE3D_MODEL_FILE:-}" ] || [ -n "${ACE3D_BANK_FILE:-}" ]; then
    : "${ACE3D_MODEL_FILE:?set both ACE3D_MODEL_FILE and ACE3D_BANK_FILE}"
    : "${ACE3D_BANK_FILE:?set both ACE3D_MODEL_FILE and ACE3D_BANK_FILE}"
    name="${ACE3D_MODEL_NAME:-demo}"
    store="$HOME/model_store"
    mkdir -p "$store"
    echo "entrypoint: archiving $ACE3D_MODEL_FILE with bank $ACE3D_BANK_FILE as $store/$name.mar"
    # workers: pinned in the archive only when ACE3D_WORKERS is set; otherwise the config's
    # default_workers_per_model decides (2 per GPU in the GPU overlay)
    ace3d archive --model "$ACE3D_MODEL_FILE" --bank "$ACE3D_BANK_FILE" --name "$name" --out "$store/" \
        ${ACE3D_WORKERS:+--workers "$ACE3D_WORKERS"}
    models="$name=$name.mar"
fi

echo "entrypoint: torchserve --ts-config $config --model-store $store --models $models"
torchserve --start --foreground --ncs --ts-config "$config" --model-store "$store" --models "$models" \
    --log-config "$log_config" "$@" &
child=$!

stopping=0
on_signal() {
    if [ "$stopping" -eq 0 ]; then
        stopping=1
        echo "entrypoint: signal received, stopping TorchServe (in-flight gRPC calls finish first)"
        torchserve --stop || kill -TERM "$child" 2>/dev/null || true
    fi
}
trap on_signal TERM INT

# `wait` returns early (status > 128) when a trapped signal arrives; the child is then still running or an
# unreaped zombie, so `kill -0` succeeds and the next `wait` collects its real exit status.
status=0
while :; do
    if wait "$child"; then status=0; else status=$?; fi
    kill -0 "$child" 2>/dev/null || break
done
echo "entrypoint: TorchServe exited with status $status"
exit "$status"
