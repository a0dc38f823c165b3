"""Seeded malformed requests for the served explainer (the hostile-input suite, tests/reliability).

`generate(n, seed, ...)` returns `n` `Case`s, each a raw gRPC input map (`video`, `options`, ...) and what the
server must answer:

* `refused`: INVALID_ARGUMENT or RESOURCE_EXHAUSTED (or, inside a shared batch, Explanation.error with 400/413)
  with a message;
* `ok`: a valid but unusual input the service accepts (one frame, odd sizes, grayscale or 16-bit frames in a
  container, unknown binary option fields, Fortran-ordered npy);
* `any`: a mutated container (truncated, bit-flipped, patched header) that may still decode: either OK or
  refused as above. Never INTERNAL, UNAVAILABLE, a dead worker or a hang.

The same seed gives the same cases byte for byte. Base videos are made with PyAV (imported lazily); nothing
here imports TorchServe or grpc. Families and their counts are in `FAMILIES`."""

from __future__ import annotations

import io
import json
import pickle
import struct
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ace3d.v1 import explanation_pb2 as pb

REFUSED, OK, ANY = "refused", "ok", "any"
NPY_MAGIC = b"\x93NUMPY"


@dataclass(frozen=True)
class Case:
    id: str
    family: str
    inputs: dict[str, bytes]
    expect: str  # REFUSED | OK | ANY
    note: str = ""


@dataclass(frozen=True)
class Limits:
    """The server's handler limits the generator must cross (model-config.yaml `handler:`)."""

    max_bytes: int = 1024 * 1024
    max_frames: int = 300
    max_pixels: int = 1920 * 1088


# ------------------------------------------------------------------------------------------ media
def _frames(rng: np.random.Generator, t: int, h: int, w: int) -> np.ndarray:
    """Moving squares on noise: cheap, and not a degenerate all-zero clip."""
    base = rng.integers(0, 60, size=(1, h, w, 3), dtype=np.uint8).repeat(t, axis=0)
    side = max(1, min(h, w) // 3)
    for i in range(t):
        y, x = (i * 2) % max(1, h - side), (i * 3) % max(1, w - side)
        base[i, y:y + side, x:x + side] = (220, 40, 40)
    return base


def encode(frames: np.ndarray, fmt: str, codec: str, pix_fmt: str, src_fmt: str = "rgb24",
           options: dict | None = None) -> bytes:
    """Frames (T x H x W x C, or T x H x W for gray sources) into container bytes with PyAV."""
    import av

    with tempfile.TemporaryDirectory(prefix="ace3d-fuzz-") as d:
        path = Path(d) / f"v.{fmt}"
        with av.open(str(path), mode="w", options={"fflags": "+bitexact"}) as c:
            s = c.add_stream(codec, rate=8)
            s.height, s.width = frames.shape[1:3]
            s.pix_fmt = pix_fmt
            if options:
                s.options = options
            for f in frames:
                vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format=src_fmt)
                for p in s.encode(vf):
                    c.mux(p)
            for p in s.encode():
                c.mux(p)
        return path.read_bytes()


def empty_container(fmt: str, codec: str) -> bytes:
    """A container with a header and no frame."""
    import av

    with tempfile.TemporaryDirectory(prefix="ace3d-fuzz-") as d:
        path = Path(d) / f"e.{fmt}"
        c = av.open(str(path), mode="w", options={"fflags": "+bitexact"})
        s = c.add_stream(codec, rate=8)
        s.width, s.height, s.pix_fmt = 32, 32, "yuv420p"
        c.start_encoding()
        c.close()
        return path.read_bytes()


X264 = {"preset": "ultrafast"}


class Media:
    """The base files the mutations start from, made once per generator (a few seconds of encoding)."""

    def __init__(self, rng: np.random.Generator, limits: Limits) -> None:
        f = _frames(rng, 20, 32, 32)
        self.valid = {  # container -> bytes of a small valid video
            "mp4": encode(f, "mp4", "libx264", "yuv420p", options=X264),
            "webm": encode(f, "webm", "libvpx", "yuv420p"),
            "avi": encode(f, "avi", "mpeg4", "yuv420p"),
            "mkv": encode(f, "mkv", "libx264", "yuv420p", options=X264),
        }
        wide = _frames(rng, 6, 48, 320)  # > 255 wide: the mkv PixelWidth element takes two bytes
        self.valid_wide_mkv = encode(wide, "mkv", "ffv1", "yuv420p")
        gray = _frames(rng, 12, 32, 32)[..., 0]
        self.odd = {  # valid but unusual: the service must answer OK
            "one_frame_mp4": encode(f[:1], "mp4", "libx264", "yuv420p", options=X264),
            "one_frame_mkv_ffv1": encode(f[:1], "mkv", "ffv1", "yuv444p"),
            "two_frames_avi": encode(f[:2], "avi", "mpeg4", "yuv420p"),
            "odd_33x17_mkv_ffv1": encode(_frames(rng, 10, 17, 33), "mkv", "ffv1", "yuv444p"),
            "odd_7x5_mkv_ffv1": encode(_frames(rng, 10, 5, 7), "mkv", "ffv1", "yuv444p"),
            "odd_1x1_mkv_ffv1": encode(_frames(rng, 10, 1, 1), "mkv", "ffv1", "yuv444p"),
            "tall_8x200_mkv_ffv1": encode(_frames(rng, 10, 200, 8), "mkv", "ffv1", "yuv444p"),
            "gray_mkv_ffv1": encode(gray, "mkv", "ffv1", "gray", src_fmt="gray"),
            "gray_mp4_x264": encode(gray, "mp4", "libx264", "gray", src_fmt="gray", options=X264),
            "gray16_mkv_ffv1": encode(gray.astype(np.uint16) * 257, "mkv", "ffv1", "gray16le", src_fmt="gray16le"),
            "yuv16_mkv_ffv1": encode(f[:10], "mkv", "ffv1", "yuv444p16le"),
            "rgb48_avi_png": encode(f[:6].astype(np.uint16) * 257, "avi", "png", "rgb48be", src_fmt="rgb48le"),
            "yuv10_mp4_x264": encode(f[:10], "mp4", "libx264", "yuv420p10le", options=X264),
            "mjpeg_avi": encode(f[:10], "avi", "mjpeg", "yuvj420p"),
            "vp9_webm_444": encode(f[:8], "webm", "libvpx-vp9", "yuv444p", options={"deadline": "realtime"}),
        }
        self.refused = {  # decodes to nothing usable, or over a limit: the service must refuse
            "no_frames_avi": empty_container("avi", "mpeg4"),
            "no_frames_mkv": empty_container("mkv", "ffv1"),
            "no_frames_mp4": empty_container("mp4", "libx264"),
            "no_frames_webm": empty_container("webm", "libvpx"),
            # A decompression bomb: a few KB claiming 4096 x 4096 (16.8 M pixels) per frame.
            "bomb_pixels_mp4": encode(np.zeros((2, 4096, 4096, 3), np.uint8), "mp4", "libx264", "yuv420p",
                                      options=X264),
            # More frames than max_frames, a few KB.
            "bomb_frames_mp4": encode(np.zeros((limits.max_frames + 20, 16, 16, 3), np.uint8), "mp4", "libx264",
                                      "yuv420p", options=X264),
        }


# ------------------------------------------------------------------------------------------ mutations
def truncate(data: bytes, rng: np.random.Generator) -> bytes:
    return data[:int(rng.integers(1, max(2, len(data))))]


def bitflip(data: bytes, rng: np.random.Generator, header_only: bool = False) -> bytes:
    buf = bytearray(data)
    span = min(len(buf), 512) if header_only else len(buf)
    for _ in range(int(rng.integers(1, 65))):
        i = int(rng.integers(0, span))
        buf[i] ^= 1 << int(rng.integers(0, 8))
    return bytes(buf)


def splice(data: bytes, rng: np.random.Generator) -> bytes:
    """Random bytes written over, inserted into, or a chunk duplicated within the file."""
    i = int(rng.integers(0, len(data)))
    n = int(rng.integers(1, 257))
    junk = rng.bytes(n)
    mode = int(rng.integers(0, 3))
    if mode == 0:
        return data[:i] + junk + data[i + n:]
    if mode == 1:
        return data[:i] + junk + data[i:]
    j = int(rng.integers(0, len(data)))
    return data[:i] + data[j:j + n] + data[i:]


def _patch(data: bytes, tag: bytes, offset: int, fmt: str, value: int) -> bytes | None:
    i = data.find(tag)
    if i < 0 or i + offset + struct.calcsize(fmt) > len(data):
        return None
    buf = bytearray(data)
    struct.pack_into(fmt, buf, i + offset, value)
    return bytes(buf)


def claim_huge(kind: str, data: bytes, rng: np.random.Generator) -> bytes | None:
    """Headers that claim enormous dimensions or frame counts (the real data stays small)."""
    big32 = int(rng.choice([65535, 100000, 2**31 - 1, 2**32 - 1]))
    big16 = int(rng.choice([4096, 30000, 65535]))
    patches = {
        "avi_avih_size": [(b"avih", 40, "<I", big32), (b"avih", 44, "<I", big32)],
        "avi_strf_size": [(b"strf", 12, "<i", big32 & 0x7FFFFFFF), (b"strf", 16, "<i", big32 & 0x7FFFFFFF)],
        "avi_frames": [(b"avih", 24, "<I", big32)],
        "mp4_avc1_size": [(b"avc1", 28, ">H", big16), (b"avc1", 30, ">H", big16)],
        "mp4_tkhd_size": [(b"tkhd", 80, ">I", big16 << 16), (b"tkhd", 84, ">I", big16 << 16)],
        "mp4_stsz_count": [(b"stsz", 12, ">I", big32)],
        "mp4_mvhd_duration": [(b"mvhd", 20, ">I", big32)],
        "mkv_pixel_size": [(b"\xb0\x82", 2, ">H", 65535), (b"\xba\x81", 2, ">B", 255)],
    }
    out: bytes | None = data
    for tag, off, fmt, val in patches[kind]:
        out = _patch(out, tag, off, fmt, val) if out is not None else None
    return out


# ------------------------------------------------------------------------------------------ npy
def npy(arr: np.ndarray, allow_pickle: bool = False) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=allow_pickle)
    return buf.getvalue()


def npy_raw(header: dict | str, body: bytes = b"", version: tuple[int, int] = (1, 0)) -> bytes:
    """An .npy file with a hand-written header (whatever it claims) and body."""
    text = header if isinstance(header, str) else repr(header)
    text = text + " " * ((64 - (len(text) + 11) % 64) % 64) + "\n"
    hb = text.encode("latin1")
    size = struct.pack("<H", len(hb)) if version[0] == 1 else struct.pack("<I", len(hb))
    return NPY_MAGIC + bytes(version) + size + hb + body


class _Evil:
    """Unpickling this would call print(): harmless, but proof that pickle ran (it never must)."""

    def __reduce__(self):
        return (print, ("ace3d-fuzz: pickle executed",))


def npy_cases(rng: np.random.Generator, limits: Limits) -> list[tuple[str, bytes, str]]:
    """(variant, bytes, expect) for npy payloads."""
    t = int(rng.integers(1, 20))
    h, w = int(rng.integers(1, 40)), int(rng.integers(1, 40))
    shape = (t, h, w, 3)
    nan = np.full(shape, np.nan, np.float32)
    inf = np.where(rng.random(shape) < 0.5, np.inf, -np.inf).astype(np.float64)
    evil = pickle.dumps(np.array([_Evil()], dtype=object))
    huge_t = int(rng.choice([10**6, 10**9, 2**40]))
    out = [
        ("object_pickled", npy(np.array([{"a": 1}, None], dtype=object), allow_pickle=True), REFUSED),
        ("object_reduce", npy_raw({"descr": "|O", "fortran_order": False, "shape": (1,)}, evil[2:]), REFUSED),
        ("pickle_not_npy", NPY_MAGIC + pickle.dumps(_Evil()), REFUSED),
        ("float32_nan", npy(nan), REFUSED),
        ("float64_inf", npy(inf), REFUSED),
        ("float32_valid_range", npy(rng.random(shape, dtype=np.float32)), REFUSED),
        ("uint16", npy(rng.integers(0, 65535, shape, dtype=np.uint16)), REFUSED),
        ("uint16_be", npy(rng.integers(0, 65535, shape).astype(">u2")), REFUSED),
        ("int8", npy(rng.integers(-128, 127, shape, dtype=np.int8)), REFUSED),
        ("bool", npy(rng.random(shape) < 0.5), REFUSED),
        ("complex", npy(np.zeros(shape, np.complex64)), REFUSED),
        ("structured", npy(np.zeros(shape[:3], dtype=[("r", "u1"), ("g", "u1"), ("b", "u1")])), REFUSED),
        ("rank0", npy(np.array(7, np.uint8)), REFUSED),
        ("rank1", npy(np.zeros(t * 3, np.uint8)), REFUSED),
        ("rank2_image", npy(np.zeros((h, w), np.uint8)), REFUSED),
        ("rank3_gray", npy(np.zeros((t, h, w), np.uint8)), REFUSED),
        ("rank3_rgb_image", npy(np.zeros((h, w, 3), np.uint8)), REFUSED),
        ("rank5", npy(np.zeros((1, t, h, w, 3), np.uint8)), REFUSED),
        ("channels1", npy(np.zeros((t, h, w, 1), np.uint8)), REFUSED),
        ("channels4", npy(np.zeros((t, h, w, 4), np.uint8)), REFUSED),
        ("channels_first", npy(np.zeros((t, 3, h + 4, w + 4), np.uint8)), REFUSED),
        ("zero_frames", npy(np.zeros((0, h, w, 3), np.uint8)), REFUSED),
        ("zero_height", npy(np.zeros((t, 0, w, 3), np.uint8)), REFUSED),
        ("too_many_frames", npy(np.zeros((limits.max_frames + 1, 2, 2, 3), np.uint8)), REFUSED),
        ("claims_huge_shape", npy_raw({"descr": "|u1", "fortran_order": False, "shape": (huge_t, 1080, 1920, 3)},
                                      rng.bytes(64)), REFUSED),
        ("claims_negative_shape", npy_raw({"descr": "|u1", "fortran_order": False, "shape": (-1, 8, 8, 3)},
                                          rng.bytes(64)), REFUSED),
        ("truncated_body", npy(np.zeros(shape, np.uint8))[:-int(rng.integers(1, 1 + h * w * 3))], REFUSED),
        ("header_garbage", npy_raw("{'descr': '|u1', 'fortran_order': False, 'shape': (1, 2" + "(" * 50, b""),
         REFUSED),
        ("header_code", npy_raw("__import__('os').system('echo pwned')", b""), REFUSED),
        ("header_not_dict", npy_raw("[1, 2, 3]", b""), REFUSED),
        ("bad_version", npy_raw({"descr": "|u1", "fortran_order": False, "shape": (1, 1, 1, 3)}, b"\x00" * 3,
                                version=(9, 9)), REFUSED),
        ("magic_only", NPY_MAGIC, REFUSED),
        ("magic_random", NPY_MAGIC + rng.bytes(int(rng.integers(1, 2000))), REFUSED),
        ("valid_fortran_order", npy(np.asfortranarray(_frames(rng, t, h, w))), OK),
        ("valid_v2_header", npy_raw({"descr": "|u1", "fortran_order": False, "shape": shape},
                                    _frames(rng, t, h, w).tobytes(), version=(2, 0)), OK),
    ]
    return out


# ------------------------------------------------------------------------------------------ options
def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(num: int, wire: int, payload: bytes) -> bytes:
    return _varint((num << 3) | wire) + payload


def options_cases(rng: np.random.Generator, class_names: list[str]) -> list[tuple[str, bytes, str]]:
    """(variant, options bytes, expect): hostile options (sent with a valid video)."""
    word = "".join(chr(int(c)) for c in rng.integers(97, 123, int(rng.integers(1, 30))))
    absurd = int(rng.choice([2**31, 2**32 - 1, 10**9, 100000]))
    neg = -int(rng.integers(1, 2**31))
    cls = class_names[int(rng.integers(0, len(class_names)))] if class_names else "move_left"
    out = [
        ("json_wrong_type_topk", json.dumps({"topK": "many"}).encode(), REFUSED),
        ("json_wrong_type_clips", json.dumps({"maxClips": [1, 2]}).encode(), REFUSED),
        ("json_wrong_type_flag", json.dumps({"classifyOnly": "perhaps"}).encode(), REFUSED),
        ("json_wrong_type_class", json.dumps({"targetClass": 5}).encode(), REFUSED),
        ("json_object_class", json.dumps({"targetClass": {"a": 1}}).encode(), REFUSED),
        ("json_negative", json.dumps({"topK": neg}).encode(), REFUSED),
        ("json_fraction", json.dumps({"maxConcepts": 1.5}).encode(), REFUSED),
        ("json_absurd_clips", json.dumps({"maxClips": absurd}).encode(), REFUSED),
        ("json_absurd_topk", json.dumps({"topK": absurd}).encode(), REFUSED),
        ("json_absurd_concepts", json.dumps({"maxConcepts": absurd}).encode(), REFUSED),
        ("json_overflow", b'{"topK": 1e400}', REFUSED),
        ("json_unknown_field", json.dumps({"topK": 2, word + "_x": 1}).encode(), REFUSED),
        ("json_truncated", json.dumps({"topK": 2, "targetClass": cls})[:-3].encode(), REFUSED),
        ("json_array", b"[1, 2, 3]", REFUSED),
        ("json_deep", b'{"a":' * 2000 + b"1" + b"}" * 2000, REFUSED),
        ("json_not_utf8", b'{"targetClass": "\xff\xfe"}', REFUSED),
        ("unknown_class", pb.ExplainOptions(target_class=word).SerializeToString(), REFUSED),
        ("unknown_class_case", pb.ExplainOptions(target_class=cls.upper() + "_").SerializeToString(), REFUSED),
        ("unknown_class_space", pb.ExplainOptions(target_class=f" {cls} ").SerializeToString(), REFUSED),
        ("unknown_class_nul", pb.ExplainOptions(target_class=cls + "\x00").SerializeToString(), REFUSED),
        ("unknown_class_long", pb.ExplainOptions(target_class="x" * 100_000).SerializeToString(), REFUSED),
        ("unknown_class_unicode", pb.ExplainOptions(target_class="\u202e\u0301\U0001f600").SerializeToString(),
         REFUSED),
        ("json_unknown_class", json.dumps({"targetClass": "../../etc/passwd"}).encode(), REFUSED),
        ("pb_absurd_clips", pb.ExplainOptions(max_clips=absurd).SerializeToString(), REFUSED),
        ("pb_absurd_topk", pb.ExplainOptions(top_k=absurd).SerializeToString(), REFUSED),
        ("pb_absurd_concepts", pb.ExplainOptions(max_concepts=absurd).SerializeToString(), REFUSED),
        ("pb_negative_varint", _field(4, 0, _varint(neg)), REFUSED),
        ("pb_truncated_varint", _field(2, 0, b"\xff\xff"), REFUSED),
        ("pb_length_past_end", _field(1, 2, _varint(1000) + b"short"), REFUSED),
        ("pb_class_bad_utf8", _field(1, 2, _varint(2) + b"\xc3\x28"), REFUSED),
        ("pb_group_tag", _field(9, 3, b""), REFUSED),
        ("garbage", rng.bytes(int(rng.integers(1, 200))) + b"\xff", ANY),
        # proto3 keeps unknown binary fields (forward compatibility), and a known field number sent with the
        # wrong wire type is one of them: valid, the field keeps its default.
        ("pb_wrong_wire_type", _field(2, 2, _varint(3) + b"abc"), OK),
        ("pb_class_as_varint", _field(1, 0, _varint(7)), OK),
        ("pb_unknown_field", pb.ExplainOptions(top_k=2).SerializeToString() + _field(99, 0, _varint(5)), OK),
        ("pb_known_class", pb.ExplainOptions(target_class=cls, classify_only=True).SerializeToString(), OK),
    ]
    return out


# ------------------------------------------------------------------------------------------ generator
CONTAINER_MUTATIONS = ("truncate", "bitflip", "bitflip_header", "splice")
HEADER_CLAIMS = {"avi": ("avi_avih_size", "avi_strf_size", "avi_frames"),
                 "mp4": ("mp4_avc1_size", "mp4_tkhd_size", "mp4_stsz_count", "mp4_mvhd_duration"),
                 "mkv_wide": ("mkv_pixel_size",)}
# Relative weights of the families in a generated set (every variant of every family appears at least once
# in a set of >= ~300; the rest are drawn at random).
FAMILIES = {"random_bytes": 8, "container_mutation": 30, "header_claim": 8, "odd_valid": 3, "container_refused": 3,
            "npy": 14, "options": 14, "request_shape": 5, "too_large": 1}


def _random_bytes(rng: np.random.Generator) -> tuple[str, bytes]:
    prefixes = {"plain": b"", "riff": b"RIFF\x00\x10\x00\x00AVI LIST", "ftyp": b"\x00\x00\x00\x18ftypisom",
                "ebml": b"\x1aE\xdf\xa3", "npy": NPY_MAGIC, "gif": b"GIF89a", "text": b"hello, not a video\n"}
    kind = str(rng.choice(list(prefixes)))
    n = int(rng.choice([1, 2, 7, 64, 1000, 20000, 200000]))
    return kind, prefixes[kind] + rng.bytes(n)


class Generator:
    def __init__(self, seed: int = 0, limits: Limits = Limits(), class_names: list[str] | None = None) -> None:
        self.seed = seed
        self.limits = limits
        self.class_names = list(class_names or [])
        self.rng = np.random.default_rng(seed)
        self.media = Media(np.random.default_rng(seed + 1), limits)
        self.valid_video = self.media.valid["mp4"]

    def _classify(self) -> bytes:
        """Most decodable cases ask for the cheap path (bounded suite time); some ask for a full explanation."""
        opts = pb.ExplainOptions(classify_only=bool(self.rng.random() < 0.8), max_clips=int(self.rng.integers(0, 3)))
        return opts.SerializeToString()

    def one(self, family: str, i: int, variant: int | None = None) -> Case:
        rng, m = self.rng, self.media
        cid = f"{family}-{i:04d}"
        if family == "random_bytes":
            kind, data = _random_bytes(rng)
            return Case(f"{cid}-{kind}", family, {"video": data}, REFUSED)
        if family == "container_mutation":
            fmt = str(rng.choice(list(m.valid)))
            mut = CONTAINER_MUTATIONS[(variant if variant is not None else int(rng.integers(0, 4))) % 4]
            data = m.valid[fmt]
            data = (truncate(data, rng) if mut == "truncate" else bitflip(data, rng) if mut == "bitflip" else
                    bitflip(data, rng, header_only=True) if mut == "bitflip_header" else splice(data, rng))
            return Case(f"{cid}-{fmt}-{mut}", family, {"video": data, "options": self._classify()}, ANY)
        if family == "header_claim":
            kinds = [(src, k) for src, ks in HEADER_CLAIMS.items() for k in ks]
            src, kind = kinds[(variant if variant is not None else int(rng.integers(0, len(kinds)))) % len(kinds)]
            base = m.valid_wide_mkv if src == "mkv_wide" else m.valid[src]
            data = claim_huge(kind, base, rng)
            if data is None:
                raise AssertionError(f"header patch {kind} found no tag in the {src} base file")
            return Case(f"{cid}-{kind}", family, {"video": data, "options": self._classify()}, ANY)
        if family == "odd_valid":
            names = sorted(m.odd)
            name = names[(variant if variant is not None else int(rng.integers(0, len(names)))) % len(names)]
            return Case(f"{cid}-{name}", family, {"video": m.odd[name], "options": self._classify()}, OK)
        if family == "container_refused":
            names = sorted(m.refused)
            name = names[(variant if variant is not None else int(rng.integers(0, len(names)))) % len(names)]
            return Case(f"{cid}-{name}", family, {"video": m.refused[name]}, REFUSED)
        if family == "npy":
            cases = npy_cases(rng, self.limits)
            name, data, expect = cases[(variant if variant is not None else int(rng.integers(0, len(cases))))
                                       % len(cases)]
            inputs = {"video": data}
            if expect == OK:
                inputs["options"] = self._classify()
            return Case(f"{cid}-{name}", family, inputs, expect)
        if family == "options":
            cases = options_cases(rng, self.class_names)
            name, opts, expect = cases[(variant if variant is not None else int(rng.integers(0, len(cases))))
                                       % len(cases)]
            return Case(f"{cid}-{name}", family, {"video": self.valid_video, "options": opts}, expect)
        if family == "request_shape":
            shapes = self._shapes()
            name, inputs = shapes[(variant if variant is not None else int(rng.integers(0, len(shapes))))
                                  % len(shapes)]
            return Case(f"{cid}-{name}", family, inputs, REFUSED)
        if family == "too_large":
            n = self.limits.max_bytes + int(rng.integers(1, 4096))
            data = (m.valid["mp4"] * (n // len(m.valid["mp4"]) + 1))[:n]
            return Case(f"{cid}-over_max_bytes", family, {"video": data}, REFUSED)
        raise ValueError(f"unknown family {family!r}")

    def _shapes(self) -> list[tuple[str, dict[str, bytes]]]:
        """Requests without a usable video or with a malformed control input."""
        v = self.valid_video
        return [
            ("empty_map", {}), ("options_only", {"options": pb.ExplainOptions(top_k=1).SerializeToString()}),
            ("empty_video", {"video": b""}), ("empty_video_and_options", {"video": b"", "options": b""}),
            ("wrong_key_case", {"Video": v}), ("wrong_key_name", {"file": v}),
            ("many_keys", {f"k{j}": self.rng.bytes(8) for j in range(200)}),
            ("whitespace_video", {"video": b" \n\t "}), ("unicode_key", {"vid\u00e9o\u202e": v}),
            ("deadline_not_a_number", {"video": v, "deadline": b"tomorrow"}),
            ("deadline_nan", {"video": v, "deadline": b"nan"}), ("deadline_negative", {"video": v, "deadline": b"-5"}),
        ]

    def generate(self, n: int) -> list[Case]:
        """`n` cases: first every variant of every family once (a full sweep), then random draws by weight."""
        out: list[Case] = []
        sweep = {"container_mutation": len(CONTAINER_MUTATIONS),
                 "header_claim": sum(len(v) for v in HEADER_CLAIMS.values()),
                 "odd_valid": len(self.media.odd), "container_refused": len(self.media.refused),
                 "npy": len(npy_cases(np.random.default_rng(0), self.limits)),
                 "options": len(options_cases(np.random.default_rng(0), self.class_names)),
                 "request_shape": len(self._shapes()), "random_bytes": 7, "too_large": 1}
        for fam, count in sweep.items():
            for v in range(count):
                out.append(self.one(fam, len(out), v))
        names, weights = zip(*FAMILIES.items(), strict=True)
        p = np.asarray(weights, float) / sum(weights)
        while len(out) < n:
            out.append(self.one(str(self.rng.choice(names, p=p)), len(out)))
        return out[:n] if n >= len(out) else out


def generate(n: int = 1000, seed: int = 0, limits: Limits = Limits(),
             class_names: list[str] | None = None) -> list[Case]:
    return Generator(seed, limits, class_names).generate(n)


def summary(cases: list[Case]) -> dict[str, dict[str, int]]:
    """Counts per family and expectation (for the report)."""
    out: dict[str, Counter] = {}
    for c in cases:
        out.setdefault(c.family, Counter())[c.expect] += 1
    return {k: dict(v) for k, v in sorted(out.items())}


@dataclass
class Outcome:
    case: Case
    code: str  # gRPC status name, "OK" for an answer without error
    message: str = ""
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)
