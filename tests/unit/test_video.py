import io

import numpy as np
import pytest

from ace3d.errors import TooLargeError, VideoError
from ace3d.method.video import DecodeLimits, clip_indices, decode, limits_for, make_clips, read_file, write_mp4


def _npy(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=True)
    return buf.getvalue()


def test_mp4_roundtrip(tmp_path):
    frames = np.zeros((10, 48, 64, 3), np.uint8)
    frames[:, 10:20, 10:30] = 200
    write_mp4(tmp_path / "v.mp4", frames)
    v = read_file(tmp_path / "v.mp4")
    assert v.frames.shape == (10, 48, 64, 3)
    assert v.source_size == (64, 48)
    assert abs(int(v.frames[0, 15, 20, 0]) - 200) < 12  # near-lossless encode


def test_npy_accepted_and_validated():
    ok = decode(_npy(np.zeros((4, 8, 8, 3), np.uint8)))
    assert ok.frames.shape == (4, 8, 8, 3)
    with pytest.raises(VideoError, match="dtype uint8"):
        decode(_npy(np.zeros((4, 8, 8, 3), np.float32)))
    with pytest.raises(VideoError, match="T x H x W x 3"):
        decode(_npy(np.zeros((8, 8, 3), np.uint8)))
    with pytest.raises(VideoError, match="pickle"):  # refused from the header: never unpickled
        decode(_npy(np.array([{"a": 1}], dtype=object)))
    with pytest.raises(VideoError, match="no frames"):
        decode(_npy(np.zeros((0, 8, 8, 3), np.uint8)))


@pytest.mark.parametrize("data,match", [(b"", "empty"), (b"\x00garbage" * 50, "cannot decode")])
def test_bad_bytes(data, match):
    with pytest.raises(VideoError, match=match):
        decode(data)


def test_limits():
    with pytest.raises(TooLargeError, match="bytes"):
        decode(b"x" * 100, DecodeLimits(max_bytes=10))
    with pytest.raises(TooLargeError, match="frames"):
        decode(_npy(np.zeros((20, 8, 8, 3), np.uint8)), DecodeLimits(max_frames=10))
    with pytest.raises(TooLargeError, match="pixels"):
        decode(_npy(np.zeros((2, 100, 100, 3), np.uint8)), DecodeLimits(max_pixels=50 * 50))
    assert TooLargeError("x").status == 413 and VideoError("x").status == 400


def test_missing_file(tmp_path):
    with pytest.raises(VideoError, match="not found"):
        read_file(tmp_path / "nope.mp4")


def test_clip_indices_spread_and_repeat():
    one = clip_indices(100, 16, 1)
    assert len(one) == 1 and one[0][0] == 0 and one[0][-1] == 99
    three = clip_indices(100, 16, 3)
    assert len(three) == 3 and three[0][-1] < three[1][0] and three[2][-1] == 99
    short = clip_indices(5, 16, 4)  # fewer frames than a clip: one clip, frames repeated
    assert len(short) == 1 and len(short[0]) == 16 and max(short[0]) == 4


def test_clip_indices_at_the_models_frame_rate():
    """A model trained at 25 fps sees consecutive frames of a 25 fps video, and every second frame of a 50 fps
    one; several clips spread over the video, one clip sits in the middle."""
    one = clip_indices(250, 16, 1, step=1.0)
    assert one == [list(range(117, 133))]
    four = clip_indices(250, 16, 4, step=1.0)
    assert [c[0] for c in four] == [0, 78, 156, 234] and all(c[-1] - c[0] == 15 for c in four)
    fast = clip_indices(100, 16, 1, step=2.0)
    assert fast[0][1] - fast[0][0] == 2 and len(fast[0]) == 16
    short = clip_indices(10, 16, 3, step=1.0)  # shorter than one window: one clip, the last frame repeated
    assert len(short) == 1 and short[0][:10] == list(range(10)) and set(short[0][10:]) == {9}
    video = decode(_npy(np.zeros((40, 8, 8, 3), np.uint8)))
    video.fps = 50.0
    assert make_clips(video, (8, 8, 8), frame_rate=25.0)[0].frame_indices == list(range(12, 28, 2))


def test_limits_for_a_model_keep_the_clip_resolution():
    assert limits_for((16, 224, 224)).keep_side == 448 and limits_for((16, 64, 64)).keep_side == 256
    assert limits_for((16, 224, 224), DecodeLimits(max_frames=9)).max_frames == 9


def test_make_clips_centre_crop_region():
    frames = np.zeros((20, 60, 100, 3), np.uint8)
    clips = make_clips(decode(_npy(frames)), (8, 32, 32), max_clips=2)
    assert len(clips) == 2
    assert clips[0].frames.shape == (8, 32, 32, 3)
    assert clips[0].region == (20, 0, 60, 60)  # centred square of a 100x60 source


def test_npy_header_claiming_huge_shape_is_413_without_allocating():
    import ast

    header = repr({"descr": "|u1", "fortran_order": False, "shape": (10**6, 1080, 1920, 3)})
    header += " " * (63 - (len(header) + 10) % 64) + "\n"
    data = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode() + b"x" * 64
    assert ast.literal_eval(header.strip())["shape"][0] == 10**6
    with pytest.raises(TooLargeError, match="frames"):
        decode(data)
