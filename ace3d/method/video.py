"""Video in and out: bounded decoding of container bytes or .npy arrays, clip sampling, writing.

Decoding is where hostile input arrives, so every step is bounded (bytes, frames, pixels, wall time) and
every failure becomes a `VideoError` / `TooLargeError` that names the problem."""

from __future__ import annotations

import dataclasses
import io
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ace3d.errors import TooLargeError, VideoError

NPY_MAGIC = b"\x93NUMPY"


@dataclass(frozen=True)
class DecodeLimits:
    """Upper bounds on one decoded video; a request over any of them is refused with status 413."""

    max_bytes: int = 64 * 1024 * 1024
    max_frames: int = 1800
    max_pixels: int = 1920 * 1088
    max_seconds: float = 30.0
    # Frames are kept at most this many pixels on the long side (the clip is far smaller), which bounds
    # the memory of a long high-resolution video to max_frames * keep_side^2 * 3 bytes.
    keep_side: int = 256


@dataclass
class Video:
    """Decoded frames (uint8, T x H x W x 3) and the size of the source they came from."""

    frames: np.ndarray
    source_size: tuple[int, int]  # (width, height) of the source frames
    fps: float = 0.0

    @property
    def num_frames(self) -> int:
        return int(self.frames.shape[0])


@dataclass
class Clip:
    """One model input cut from a video: uint8 frames at the model's clip size, and where they came from."""

    frames: np.ndarray  # uint8, T x H x W x 3
    frame_indices: list[int]
    region: tuple[int, int, int, int]  # (x, y, width, height) in source pixels
    index: int = 0


def limits_for(clip_shape: tuple[int, int, int], base: DecodeLimits = DecodeLimits()) -> DecodeLimits:
    """`base` with frames kept at least twice the clip's side, so that a centre crop of a wide video still
    has the clip's resolution (a 640 x 272 video kept at 256 px would give a 224-pixel model a 109-pixel crop)."""
    return dataclasses.replace(base, keep_side=max(base.keep_side, 2 * max(clip_shape[1:])))


def read_file(path: str | Path, limits: DecodeLimits = DecodeLimits()) -> Video:
    """Decode a video file from disk, with the same checks as bytes from a request."""
    path = Path(path)
    if not path.exists():
        raise VideoError(f"video file not found: {path}", reason="missing_file")
    if path.is_dir():
        raise VideoError(f"expected a video file, got a directory: {path}", reason="missing_file")
    size = path.stat().st_size
    if size > limits.max_bytes:
        raise TooLargeError(f"video is {size} bytes, over the limit of {limits.max_bytes} bytes")
    return decode(path.read_bytes(), limits)


def decode(data: bytes, limits: DecodeLimits = DecodeLimits()) -> Video:
    """Decode mp4/webm/avi/mkv bytes (PyAV) or an .npy uint8 array T x H x W x 3 into a `Video`."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise VideoError(f"video must be bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) == 0:
        raise VideoError("video is empty (0 bytes)", reason="empty_video")
    if len(data) > limits.max_bytes:
        raise TooLargeError(f"video is {len(data)} bytes, over the limit of {limits.max_bytes} bytes")
    if data.startswith(NPY_MAGIC):
        return _decode_npy(data, limits)
    return _decode_container(data, limits)


def _check_npy_header(data: bytes, limits: DecodeLimits) -> None:
    """Refuse by the header alone, before numpy allocates what the header claims."""
    f = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(f)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read(f)
    except Exception as exc:  # noqa: BLE001 - any malformed header is the caller's malformed file
        raise VideoError(f"npy video is malformed: {exc}") from exc
    if dtype.hasobject:
        raise VideoError(f"npy video holds Python objects (dtype {dtype}), which would need pickle and are "
                         "never loaded; send a uint8 T x H x W x 3 array")
    if dtype != np.uint8:
        raise VideoError(f"npy video must have dtype uint8, got {dtype}")
    if len(shape) != 4 or shape[-1] != 3:
        raise VideoError(f"npy video must have shape T x H x W x 3, got {tuple(shape)}")
    if shape[0] > limits.max_frames:
        raise TooLargeError(f"video has {shape[0]} frames, over the limit of {limits.max_frames}")
    if shape[1] * shape[2] > limits.max_pixels:
        raise TooLargeError(f"video frames are {shape[2]}x{shape[1]}, over the limit of {limits.max_pixels} pixels")


def _decode_npy(data: bytes, limits: DecodeLimits) -> Video:
    _check_npy_header(data, limits)
    try:
        arr = np.load(io.BytesIO(data), allow_pickle=False)
    except ValueError as exc:  # object arrays need pickle, which is refused
        raise VideoError(f"npy video cannot be loaded without pickle or is malformed: {exc}") from exc
    except Exception as exc:  # noqa: BLE001 - any parse failure is the caller's malformed file
        raise VideoError(f"npy video is malformed: {exc}") from exc
    if arr.dtype != np.uint8:
        raise VideoError(f"npy video must have dtype uint8, got {arr.dtype}")
    if arr.ndim != 4 or arr.shape[-1] != 3:
        raise VideoError(f"npy video must have shape T x H x W x 3, got {tuple(arr.shape)}")
    t, h, w, _ = arr.shape
    if t == 0 or h == 0 or w == 0:
        raise VideoError(f"npy video has no frames or empty frames: shape {tuple(arr.shape)}",
                         reason="empty_video")
    if t > limits.max_frames:
        raise TooLargeError(f"video has {t} frames, over the limit of {limits.max_frames}")
    if h * w > limits.max_pixels:
        raise TooLargeError(f"video frames are {w}x{h}, over the limit of {limits.max_pixels} pixels")
    frames = np.stack([_shrink(f, limits.keep_side) for f in arr]) if max(h, w) > limits.keep_side else arr
    return Video(frames=np.ascontiguousarray(frames), source_size=(w, h))


def _shrink(frame: np.ndarray, keep_side: int) -> np.ndarray:
    import torch  # here and in resize_frames, not at the top: thin clients decode without torch
    import torch.nn.functional as F

    h, w = frame.shape[:2]
    scale = keep_side / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    t = torch.from_numpy(np.ascontiguousarray(frame)).permute(2, 0, 1)[None].float()
    out = F.interpolate(t, size=(nh, nw), mode="area")
    return out[0].permute(1, 2, 0).round().clamp(0, 255).to(torch.uint8).numpy()


def _decode_container(data: bytes, limits: DecodeLimits) -> Video:
    import av  # imported here: the npy path and the rest of the library do not need FFmpeg

    start = time.monotonic()
    try:
        container = av.open(io.BytesIO(data), mode="r")
    except Exception as exc:  # noqa: BLE001 - PyAV raises many types for garbage
        raise VideoError(f"cannot decode video: not a readable mp4/webm/avi/mkv container ({exc})",
                         reason="undecodable") from exc
    try:
        if not container.streams.video:
            raise VideoError("container has no video stream", reason="empty_video")
        stream = container.streams.video[0]
        ctx = stream.codec_context
        if ctx is None:  # a corrupt header can leave the stream without a decoder
            raise VideoError("video stream has no decodable codec", reason="undecodable")
        stream.thread_type = "AUTO"
        w, h = ctx.width, ctx.height
        if w and h and w * h > limits.max_pixels:
            raise TooLargeError(f"video frames are {w}x{h}, over the limit of {limits.max_pixels} pixels")
        try:
            fps = float(stream.average_rate) if stream.average_rate else 0.0
        except (ArithmeticError, ValueError, TypeError):
            fps = 0.0  # a broken rate field does not stop decoding
        frames: list[np.ndarray] = []
        src_w = src_h = 0
        try:
            for frame in container.decode(stream):
                if frame.width * frame.height > limits.max_pixels:
                    raise TooLargeError(f"video frames are {frame.width}x{frame.height}, over the limit "
                                        f"of {limits.max_pixels} pixels")
                if len(frames) >= limits.max_frames:
                    raise TooLargeError(f"video has more than {limits.max_frames} frames, over the limit")
                if time.monotonic() - start > limits.max_seconds:
                    raise TooLargeError(f"decoding took over {limits.max_seconds:.0f} s, over the limit")
                src_w, src_h = frame.width, frame.height
                scale = min(1.0, limits.keep_side / max(src_w, src_h))
                kw, kh = max(2, round(src_w * scale)), max(2, round(src_h * scale))
                if (kw, kh) != (src_w, src_h):
                    frame = frame.reformat(width=kw, height=kh)
                frames.append(frame.to_ndarray(format="rgb24"))
        except (TooLargeError, VideoError):
            raise
        except Exception as exc:  # noqa: BLE001 - corrupt streams raise from deep inside FFmpeg
            if not frames:
                raise VideoError(f"cannot decode video stream: {exc}", reason="undecodable") from exc
            # A truncated tail: keep what decoded cleanly.
        if not frames:
            raise VideoError("video has zero decodable frames", reason="empty_video")
        if len({f.shape for f in frames}) > 1:
            raise VideoError("video frames change size mid-stream", reason="undecodable")
        return Video(frames=np.stack(frames), source_size=(src_w, src_h), fps=fps)
    finally:
        container.close()


def clip_indices(num_frames: int, clip_len: int, max_clips: int = 1, step: float | None = None) -> list[list[int]]:
    """Frame indices of up to `max_clips` clips. Without `step`: spread over the video, each `clip_len` frames
    sampled uniformly over its own equal share of it. With `step` (source frames per model frame, from the
    model's and the video's frame rates): windows of `clip_len` frames at that step, as the model was trained,
    spread evenly over the video (one clip: the middle window). Short videos repeat frames."""
    if num_frames <= 0:
        raise VideoError("video has zero frames", reason="empty_video")
    if step:
        window = clip_len * step
        n_clips = max(1, min(max_clips, int(num_frames // window)))
        span = max(0.0, num_frames - window)
        starts = np.linspace(0, span, n_clips) if n_clips > 1 else np.array([span / 2])  # one clip: the middle
        return [[int(j) for j in (np.floor(s + 0.5) + np.arange(clip_len) * step).round().astype(int)
                 .clip(0, num_frames - 1)] for s in starts]
    n_clips = max(1, min(max_clips, num_frames // clip_len))
    bounds = np.linspace(0, num_frames, n_clips + 1)
    out = []
    for i in range(n_clips):
        lo, hi = bounds[i], bounds[i + 1] - 1
        idx = np.linspace(lo, hi, clip_len).round().astype(int).clip(0, num_frames - 1)
        out.append([int(j) for j in idx])
    return out


def center_region(width: int, height: int, aspect: float = 1.0) -> tuple[int, int, int, int]:
    """The largest centred box of the given aspect (w/h) inside a width x height frame."""
    if width / height > aspect:
        rw, rh = round(height * aspect), height
    else:
        rw, rh = width, round(width / aspect)
    return ((width - rw) // 2, (height - rh) // 2, rw, rh)


def make_clips(video: Video, clip_shape: tuple[int, int, int], max_clips: int = 1,
               frame_rate: float | None = None) -> list[Clip]:
    """Cut a video into model clips: sample frames (at the model's `frame_rate` when it has one and the video
    says its own), centre-crop to the clip's aspect, resize."""
    t, ch, cw = clip_shape
    kh, kw = video.frames.shape[1:3]
    sw, sh = video.source_size
    x, y, rw, rh = center_region(kw, kh, cw / ch)
    sx, sy = sw / kw, sh / kh
    region = (round(x * sx), round(y * sy), round(rw * sx), round(rh * sy))
    clips = []
    step = video.fps / frame_rate if frame_rate and video.fps > 0 else None
    for i, idx in enumerate(clip_indices(video.num_frames, t, max_clips, step)):
        crop = video.frames[idx, y:y + rh, x:x + rw]
        clips.append(Clip(frames=resize_frames(crop, (ch, cw)), frame_indices=idx, region=region, index=i))
    return clips


def resize_frames(frames: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize uint8 T x H x W x 3 frames to size (H, W) with antialiasing."""
    if frames.shape[1:3] == tuple(size):
        return np.ascontiguousarray(frames)
    import torch
    import torch.nn.functional as F

    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float()
    x = F.interpolate(x, size=size, mode="bilinear", antialias=True, align_corners=False)
    return x.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()


def write_mp4(path: str | Path, frames: np.ndarray, fps: int = 8) -> None:
    """Write uint8 T x H x W x 3 frames as H.264 mp4 (near-lossless, so synthetic ground truth holds)."""
    import av

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    t, h, w, _ = frames.shape
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = w, h
        stream.pix_fmt = "yuv420p"
        # no macroblock-tree rate control: with it, libx264 here encoded the same frames differently now and
        # then (3 of 250 synthetic videos between two runs of `ace3d synth`, pixels up to 19 levels apart, also
        # with one thread and no B-frames); without it 1,000 encodes in four processes were identical to the
        # byte, so a synthetic data set is the same on every run (files ~25% larger)
        stream.options = {"crf": "12", "preset": "veryfast", "x264-params": "mbtree=0"}
        for f in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
