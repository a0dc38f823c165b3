import io
import json

import numpy as np
import pytest

from ace3d.errors import BankError
from ace3d.method import bank as bank_mod


def test_roundtrip_and_metadata(tiny_bank, tiny_model, tiny_bank_path):
    b = bank_mod.load(tiny_bank_path)
    assert b.bank_id == tiny_bank.bank_id
    assert b.meta["model"]["fingerprint"] == tiny_model.fingerprint
    for key in ("layer", "clip_shape", "mean", "std"):
        assert key in b.meta["model"]
    assert b.meta["slic"]["n_segments"] == [15, 50] and b.meta["slic"]["method"] == "torch"
    assert b.feature_mode == "pooled"
    assert b.meta["correction"] == "benjamini-hochberg"
    assert len(b.names) == len(b.class_index) == len(b.cav) == len(b.thumbnails)
    assert (b.p_corrected >= b.p_raw - 1e-12).all()
    assert b.thumbnails.dtype == np.uint8 and b.thumbnails.shape[2:] == (32, 32, 3)
    b.check_model(tiny_model)


def test_mismatched_model_refused(tiny_bank, tiny_model):
    import copy

    other = copy.copy(tiny_model)
    other.fingerprint = "0" * 16
    with pytest.raises(BankError, match="does not match the model"):
        tiny_bank.check_model(other)
    other = copy.copy(tiny_model)
    other.layer = "blocks.1"  # not the bank's layer
    with pytest.raises(BankError, match="layer"):
        tiny_bank.check_model(other)


def test_no_pickle_and_bad_files(tmp_path, tiny_bank):
    buf = io.BytesIO()
    np.savez(buf, meta=np.array([{"evil": 1}], dtype=object))
    with pytest.raises(BankError, match="not a readable"):
        bank_mod.from_bytes(buf.getvalue())
    with pytest.raises(BankError, match="not found"):
        bank_mod.load(tmp_path / "none.npz")
    with pytest.raises(BankError, match="not a readable"):
        bank_mod.from_bytes(b"garbage")
    # a future format version is refused with instructions
    data = np.load(io.BytesIO(tiny_bank.to_bytes()), allow_pickle=False)
    arrays = {k: data[k] for k in data.files}
    meta = json.loads(bytes(arrays["meta"]).decode())
    meta["version"] = 99
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    out = io.BytesIO()
    np.savez(out, **arrays)
    with pytest.raises(BankError, match="version 99"):
        bank_mod.from_bytes(out.getvalue())
