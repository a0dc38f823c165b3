"""The service layer, transport-neutral: one request's inputs (video bytes, options, deadline, stream flag)
in, a stream of `Explanation` messages out, or a typed error (`Ace3dError`, whose `status` and `reason` a
transport maps to its own codes). It knows nothing of TorchServe or gRPC: handlers/ adapts it to
TorchServe, and a new transport would adapt it the same way.

Deadlines: a caller may send its absolute deadline (Unix seconds). A request whose deadline has passed is
dropped before decoding and between clips (504), so a worker never spends more than one clip on abandoned
work. Clocks of caller and server must agree (NTP)."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ace3d import models, wire
from ace3d.errors import Ace3dError, OptionsError, VideoError
from ace3d.memory import keep_freed_memory
from ace3d.method import bank as banks
from ace3d.method.explainer import Explainer, Request
from ace3d.method.stages import Stage
from ace3d.method.video import DecodeLimits, decode, limits_for
from ace3d.models.engine import batch_for_budget
from ace3d.serving import messages, protocol, quality
from ace3d.v1 import explanation_pb2 as pb


@dataclass(frozen=True)
class ServiceConfig:
    """The `handler:` section of model-config.yaml."""

    limits: DecodeLimits = field(default_factory=DecodeLimits)
    max_clips: int = 8
    score_clips: int = 0  # clips classified for the class scores when a request leaves it at 0 (0: the model's)
    threads: int = 0  # torch threads per worker (0: torch's default)
    memory_budget_mb: float = 2048  # one chunk of perturbed clips through the model stays within it
    removal: str = "input"  # how concepts are taken out (Explainer: input, bottleneck, ranked)
    keep_freed_memory: bool = True
    warmup: bool = True

    @classmethod
    def from_mapping(cls, cfg: Mapping[str, Any] | None) -> ServiceConfig:
        cfg = cfg or {}
        d = DecodeLimits()
        limits = DecodeLimits(max_bytes=int(cfg.get("max_bytes", d.max_bytes)),
                              max_frames=int(cfg.get("max_frames", d.max_frames)),
                              max_pixels=int(cfg.get("max_pixels", d.max_pixels)),
                              max_seconds=float(cfg.get("max_decode_seconds", d.max_seconds)))
        max_clips = min(int(cfg.get("max_clips", cls.max_clips)), protocol.MAX_CLIPS)
        return cls(limits=limits, max_clips=max_clips, score_clips=min(int(cfg.get("score_clips", 0)), max_clips),
                   threads=int(cfg.get("threads", 0)), keep_freed_memory=bool(cfg.get("keep_freed_memory", True)),
                   memory_budget_mb=float(cfg.get("memory_budget_mb", cls.memory_budget_mb)),
                   removal=str(cfg.get("removal", cls.removal)),
                   warmup=bool(cfg.get("warmup", True)))


def request_from_options(opts: pb.ExplainOptions, max_clips: int = protocol.MAX_CLIPS,
                         score_clips: int = 0) -> Request:
    """A method Request from wire options, refused when over a limit (`score_clips`: the server's default for
    a request that leaves it at 0; 0: the model's)."""
    if opts.top_k > protocol.MAX_TOP_K:
        raise OptionsError(f"top_k {opts.top_k} is over the limit of {protocol.MAX_TOP_K}")
    if opts.max_clips > max_clips:
        raise OptionsError(f"max_clips {opts.max_clips} is over the limit of {max_clips}")
    if opts.score_clips > max_clips:
        raise OptionsError(f"score_clips {opts.score_clips} is over the limit of {max_clips}")
    if opts.max_concepts > protocol.MAX_CONCEPTS:
        raise OptionsError(f"max_concepts {opts.max_concepts} is over the limit of {protocol.MAX_CONCEPTS}")
    return Request(target_class=opts.target_class or None, top_k=opts.top_k or 5, max_concepts=opts.max_concepts,
                   max_clips=opts.max_clips or 1, score_clips=opts.score_clips or score_clips,
                   classify_only=opts.classify_only)


def parse_deadline(value) -> float | None:
    """The request's absolute deadline (Unix seconds) from the `deadline` input, or None when absent."""
    if value is None:
        return None
    if isinstance(value, (bytes, bytearray)):
        value = bytes(value).decode("ascii", "replace")
    try:
        out = float(str(value).strip())
    except ValueError:
        out = float("nan")
    if not math.isfinite(out) or out <= 0:
        raise OptionsError(f"deadline must be absolute Unix seconds (e.g. {time.time() + 60:.1f}), "
                           f"got {str(value)[:40]!r}")
    return out


def check_deadline(deadline: float | None, where: str) -> None:
    if deadline is not None and time.time() > deadline:
        raise Ace3dError(f"deadline exceeded {time.time() - deadline:.2f} s ago; dropped {where}",
                         reason="deadline_exceeded", status=504)


def video_bytes(inputs: Mapping[str, Any]) -> bytes:
    """The video of a request: the first of `protocol.VIDEO_KEYS` present, as bytes."""
    data = next((inputs[k] for k in protocol.VIDEO_KEYS if inputs.get(k) is not None), None)
    if data is None:
        keys = ", ".join(repr(k[:40]) for k in sorted(inputs)[:5]) or "none"
        raise VideoError(f"no video in the request: send the video bytes under the input key '{protocol.VIDEO}' "
                         f"(got keys: {keys})", reason="missing_video")
    if isinstance(data, str):
        return data.encode("utf-8", "surrogateescape")
    if not isinstance(data, (bytes, bytearray)):
        raise VideoError(f"video must be raw bytes, got {type(data).__name__} (send it as a file part / bytes, "
                         "not as JSON)", reason="bad_video")
    return bytes(data)


def resolve_spec(spec: str, model_dir: Path) -> str:
    """`kind:relative/path` in serving.json is relative to the archive root."""
    kind, sep, path = spec.partition(":")
    if sep and path and not os.path.isabs(path):
        return f"{kind}:{model_dir / path}"
    return spec


def error_answer(status: int, reason: str, message: str) -> pb.Explanation:
    """An Explanation that carries an error: how a transport that cannot set a status per request answers."""
    return pb.Explanation(error=pb.Error(status=status, reason=reason, message=message))


class ExplainService:
    """Answers explanation requests with one Explainer; safe to share between a worker's requests."""

    def __init__(self, explainer: Explainer, config: ServiceConfig = ServiceConfig()) -> None:
        self.explainer, self.config = explainer, config
        self.warmup_seconds = 0.0  # set by from_archive when it warms the model up

    @classmethod
    def from_archive(cls, model_dir: Path, cfg: Mapping[str, Any] | None, device: str) -> ExplainService:
        """Load the model and bank an unpacked archive names (serving.json), with its handler settings."""
        config = ServiceConfig.from_mapping(cfg)
        if config.threads > 0:
            torch.set_num_threads(config.threads)
        if config.keep_freed_memory:
            keep_freed_memory()  # glibc keeps freed heap for the next request (ace3d/memory.py)
        serving = json.loads((model_dir / protocol.SERVING_FILE).read_text())
        clf = models.load(resolve_spec(serving["model"], model_dir), layer=serving.get("layer"), device=device)
        bank = banks.load(model_dir / serving["bank"]) if serving.get("bank") else None
        batch = batch_for_budget(clf.clip_shape, config.memory_budget_mb)
        config = dataclasses.replace(config, limits=limits_for(clf.clip_shape, config.limits))
        # the Explainer refuses a bank built for another model, and an unknown removal
        service = cls(Explainer(clf, bank, batch_size=batch, removal=config.removal), config)
        service.warmup_seconds = service.explainer.warmup() if config.warmup else 0.0
        return service

    def describe(self) -> str:
        clf, bank = self.explainer.clf, self.explainer.bank
        bank_text = f"bank {bank.bank_id} ({bank.feature_mode} features)" if bank else "no bank (clip groups)"
        return (f"model {clf.name} on {clf.device}, {bank_text}, {self.explainer.batch_size} clips per forward, "
                f"limits {self.config.limits}, max_clips {self.config.max_clips}")

    def answer(self, inputs: Mapping[str, Any], *, can_stream: bool = True) -> Iterator[pb.Explanation]:
        """Partial answers (one per finished clip, only when the request asks to stream and the transport
        can), then the final Explanation. Raises Ace3dError for anything the caller must fix."""
        deadline = parse_deadline(inputs.get(protocol.DEADLINE))
        check_deadline(deadline, "before decoding")
        request = request_from_options(wire.parse_options(inputs.get(protocol.OPTIONS)), self.config.max_clips,
                                       self.config.score_clips)
        request = self.explainer.resolve(request)  # an unknown class fails before any decoding
        data = video_bytes(inputs)
        t0 = time.perf_counter()
        video = decode(data, self.config.limits)
        decode_ms = (time.perf_counter() - t0) * 1000.0
        stream = can_stream and protocol.flag(inputs.get(protocol.STREAM))
        for exp in self.explainer.stream(video, request):
            if exp.partial:  # a clip is done and more follow: stop here if the caller has gone
                check_deadline(deadline, f"after clip {exp.clips[0].clip.index + 1} of {exp.clip_count}")
                if stream:
                    yield messages.explanation(exp)
                continue
            msg = messages.explanation(exp)
            msg.timings_ms[str(Stage.DECODE)] = decode_ms
            msg.timings_ms[str(Stage.TOTAL)] = msg.timings_ms.get(str(Stage.TOTAL), 0.0) + decode_ms
            yield msg

    @staticmethod
    def observations(exp: pb.Explanation) -> list[tuple[str, float, list[str]]]:
        """What a final answer adds to the service's metrics: (metric, value, dimensions after the model)."""
        out = [("ace3d_stage_latency_seconds", exp.timings_ms[s] / 1000.0, [s])
               for s in protocol.STAGES if s in exp.timings_ms]  # every Stage: the explainer times each
        out.append(("ace3d_clips_per_request", len(exp.clips), []))
        for clip in exp.clips:
            if quality.explained(clip):  # classification-only clips have no supervoxels or concepts
                out.append(("ace3d_supervoxels_per_clip", clip.supervoxel_count, []))
                out.append(("ace3d_concepts_per_clip", len(clip.concepts), []))
                out.append(("ace3d_explained_clips", 1, [quality.top_concept_effect(clip)]))
                if clip.collapsed:  # a counter: no sample for the others (the rule divides by explained clips)
                    out.append(("ace3d_collapsed_maps", 1, []))
                out.append(("ace3d_unknown_concept_coverage", quality.unknown_coverage(clip), []))
                fall = quality.top_concept_fall(clip)
                if fall is not None:
                    out.append(("ace3d_top_concept_fall", fall, []))
        return out
