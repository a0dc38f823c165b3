"""Package a model and its concept bank as a TorchServe model archive (`ace3d archive`).

NAME.mar holds the handler, the part of the ace3d package that the handler imports (served.py derives it from
the imports: no training, evaluation, benchmarking, load-testing or fuzzing code) so the archive serves the
code it was built with, the model files, the bank, `serving.json` (which model spec and bank the handler
loads), model-config.yaml and metrics.yaml. The model and bank are loaded and checked against each other
first, so a mismatched pair is refused here rather than by a worker that never becomes ready. TorchServe is
imported nowhere: this module only runs its archiver."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ace3d.serving import protocol
from ace3d.tooling.project import ServeError, project_file
from ace3d.tooling.served import copy_served_package


# --------------------------------------------------------------------------------------------- archive
def _stage_model(spec: str, dest: Path) -> str:
    """Copy the files a model spec points at into `dest` and return the spec relative to the archive root."""
    from ace3d.models import ASSETS, FAMILIES

    kind, _, path_s = spec.partition(":")
    dest.mkdir(parents=True, exist_ok=True)
    if kind == "demo":
        cfg_path = Path(path_s) if path_s else ASSETS / "demo_model.json"
        if not cfg_path.is_file():
            raise ServeError(f"model config not found: {cfg_path}")
        cfg = json.loads(cfg_path.read_text())
        weights = cfg_path.with_name(cfg["weights"])
        if not weights.is_file():
            raise ServeError(f"model weights not found: {weights}")
        shutil.copy2(cfg_path, dest / cfg_path.name)
        shutil.copy2(weights, dest / weights.name)
        return f"demo:{dest.name}/{cfg_path.name}"
    family = FAMILIES.get(kind)
    path = Path(path_s) if path_s else (family.default_path() if family and family.default_path else None)
    if path is None or not path.is_file():
        raise ServeError(f"model spec {spec!r} must name an existing checkpoint file (KIND:PATH)")
    shutil.copy2(path, dest / path.name)
    if path.with_suffix(".sha256").is_file():  # the loader checks the weights against it
        shutil.copy2(path.with_suffix(".sha256"), dest / path.with_suffix(".sha256").name)
    return f"{kind}:{dest.name}/{path.name}"


def _model_config(base: Path, device: str, batch_size: int | None, workers: int | None) -> str:
    """model-config.yaml text: `base` with the command line's overrides appended (YAML's last key wins is
    not guaranteed, so overridden keys are removed from the text first)."""
    text = base.read_text()
    overrides: dict[str, object] = {}
    if device in ("cpu", "gpu"):
        overrides["deviceType"] = device
    if batch_size:
        overrides["batchSize"] = batch_size
    if workers:
        overrides["minWorkers"] = overrides["maxWorkers"] = workers
    for key in overrides:
        text = re.sub(rf"(?m)^{key}:.*\n", "", text)
    return text + "".join(f"{k}: {v}\n" for k, v in overrides.items())


def build_archive(model: str, bank: str | Path | None, name: str, out: str | Path, *, layer: str | None = None,
                  config: str | Path | None = None, device: str = "auto", batch_size: int | None = None,
                  workers: int | None = None, check: bool = True, version: str = "1.0") -> Path:
    """Build `out/NAME.mar` and return its path (replaced if it exists). Without a bank the served model
    explains with each clip's own supervoxel groups."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
        raise ServeError(f"archive name {name!r} must be letters, digits, '_', '.', '-'")
    bank_path = Path(bank) if bank else None
    if bank_path is not None and not bank_path.is_file():
        raise ServeError(f"concept bank not found: {bank_path}")
    if check:
        from ace3d import models
        from ace3d.method import bank as banks

        clf = models.load(model, layer=layer)  # a model that cannot load is refused here, not by a worker
        if bank_path is not None:
            banks.load(bank_path).check_model(clf)  # BankError on a mismatch
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ace3d-archive-") as tmp:
        stage = Path(tmp) / "extra"
        stage.mkdir()
        copy_served_package(stage)
        spec = _stage_model(model, stage / "model")
        if bank_path is not None:
            shutil.copy2(bank_path, stage / "bank.npz")
        shutil.copy2(project_file("model_store/metrics.yaml"), stage / protocol.METRICS_FILE)
        serving = {"model": spec, "layer": layer, "bank": "bank.npz" if bank_path else None, "name": name,
                   "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        (stage / protocol.SERVING_FILE).write_text(json.dumps(serving, indent=1))
        cfg = Path(tmp) / "model-config.yaml"
        base = Path(config) if config else project_file("model_store/model-config.yaml")
        cfg.write_text(_model_config(base, device, batch_size, workers))
        handler = Path(tmp) / "handler"
        handler.mkdir()
        handler_py = project_file("handlers/ace3d_handler.py")
        shutil.copy2(handler_py, handler / handler_py.name)
        # --extra-files copies a folder's contents to the archive root (its own name dropped): passing the
        # staging folder puts ace3d/, model/, bank.npz ... at the root, where the handler expects them.
        extra = str(stage)
        cmd = [str(Path(sys.executable).with_name("torch-model-archiver")), "--model-name", name,
               "--version", version, "--handler", f"{handler / handler_py.stem}:handle", "--extra-files", extra,
               "--config-file", str(cfg), "--export-path", str(out), "--force"]
        # The archiver stages files in $TMPDIR/<name>: a private TMPDIR keeps concurrent builds apart.
        env = {**os.environ, "TMPDIR": tmp}
        res = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if res.returncode != 0:
            raise ServeError(f"torch-model-archiver failed: {(res.stderr or res.stdout).strip()[-2000:]}")
    return out / f"{name}.mar"


# ------------------------------------------------------------------------------------------------- CLI
def cmd_archive(args) -> None:
    from ace3d.method.bank import path_for

    path = build_archive(args.model, path_for(args.model, args.bank), args.name,
                         args.out or project_file("model_store"), layer=args.layer, config=args.config,
                         device=args.device, batch_size=args.batch_size, workers=args.workers)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")


def add_parser(sub) -> None:
    """Register `ace3d archive`."""
    sp = sub.add_parser("archive", help="build a TorchServe model archive (.mar) from a model and a bank")
    sp.add_argument("--model", default="demo", help="model spec, as for `ace3d explain` (default: demo)")
    sp.add_argument("--bank", default=None, help="concept bank file, or 'none' (default: the committed bank with "
                    "--model demo, none otherwise)")
    sp.add_argument("--layer", default=None, help="bottleneck layer (default: the model's)")
    sp.add_argument("--name", default="demo", help="archive and model name (default: demo)")
    sp.add_argument("--out", default=None, help="output directory (default: the project's model_store/)")
    sp.add_argument("--config", default=None, help="model-config.yaml to pack (default: model_store/'s)")
    sp.add_argument("--device", choices=("auto", "cpu", "gpu"), default="auto",
                    help="auto: a GPU when TorchServe sees one (default)")
    sp.add_argument("--batch-size", type=int, default=None, help="override batchSize of the config")
    sp.add_argument("--workers", type=int, default=None, help="override min/maxWorkers of the config")
    sp.set_defaults(func=cmd_archive)
