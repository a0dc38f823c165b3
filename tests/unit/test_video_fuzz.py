"""Hostile bytes straight into the decoder (no server): every outcome is a decoded video or an
Ace3dError with a status, never another exception. The server-side suite (tests/reliability) sends the
same generator's cases over gRPC."""

import pytest

from ace3d.errors import Ace3dError
from ace3d.method.video import DecodeLimits, decode
from tests import fuzz_inputs as fuzz


@pytest.mark.parametrize("seed", [0, 1])
def test_decoder_never_raises_anything_but_ace3d_errors(seed):
    limits = fuzz.Limits()
    cases = [c for c in fuzz.generate(400, seed=seed, limits=limits) if "video" in c.inputs]
    assert len(cases) > 100
    dl = DecodeLimits(max_bytes=limits.max_bytes, max_frames=limits.max_frames, max_pixels=limits.max_pixels)
    for case in cases:
        try:
            v = decode(case.inputs["video"], dl)
        except Ace3dError as exc:
            assert exc.status in (400, 413) and str(exc), case.id
        else:
            assert v.num_frames > 0 and v.frames.dtype.name == "uint8", case.id
