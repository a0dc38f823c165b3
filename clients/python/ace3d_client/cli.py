"""`ace3d-client`: explain a video with a running server, the table and canonical JSON of `ace3d client` (which
is this command plus `--overlay`) and of the Node client's `cli.js`. Exit status 2 on an error."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import grpc

from ace3d_client import report, wire
from ace3d_client.client import Ace3dClient, RemoteError, bench, read_token
from ace3d_client.errors import Ace3dError
from ace3d_client.files import write_text
from ace3d_client.v1 import explanation_pb2 as pb


def add_arguments(sp: argparse.ArgumentParser) -> None:
    """The options of `ace3d-client` and `ace3d client` (the same names as the Node client's)."""
    sp.add_argument("video", help="video file")
    sp.add_argument("--target", default="127.0.0.1:7070", help="HOST:PORT of TorchServe's gRPC inference API")
    sp.add_argument("--model", default="demo", help="model name on the server (default: demo)")
    sp.add_argument("--stream", action="store_true", help="StreamPredictions: print each clip as it is done")
    sp.add_argument("--target-class", default=None, help="class to explain (default: the predicted one)")
    sp.add_argument("--top-k", type=int, default=5)
    sp.add_argument("--max-concepts", type=int, default=0)
    sp.add_argument("--max-clips", type=int, default=1, help="clips explained")
    sp.add_argument("--score-clips", type=int, default=0,
                    help="clips across the video whose mean gives the class scores; 0: the served model's default")
    sp.add_argument("--classify-only", action="store_true", help="predictions only (the cheap path)")
    sp.add_argument("--json", default=None, help="write the Explanation's JSON here")
    sp.add_argument("--token", default=None, help="TorchServe inference key")
    sp.add_argument("--token-file", default=None, help="TorchServe's key_file.json (reads the inference key)")
    sp.add_argument("--tls-ca", default=None, help="PEM CA certificate: use TLS")
    sp.add_argument("--deadline", type=float, default=120.0, help="seconds per call (default: 120)")
    sp.add_argument("--bench", type=int, default=0, metavar="N",
                    help="benchmark instead: N sequential explanations and N classifications, p50/p90/p99 as JSON")


def _connect(args) -> Ace3dClient:
    token = read_token(args.token, args.token_file)
    return Ace3dClient(args.target, args.model, token=token, tls_ca=args.tls_ca, deadline=args.deadline)


def run_bench(args, data: bytes) -> None:
    with _connect(args) as c:
        text = json.dumps({"target": args.target, **bench(c, data, args.bench)}, indent=1)
    print(text)
    if args.json:
        write_text(args.json, text)


def run(args, data: bytes | None = None) -> pb.Explanation | None:
    """One command: prints the table (or the benchmark's JSON), writes --json; returns the final answer."""
    if data is None:
        path = Path(args.video)
        if not path.is_file():
            raise Ace3dError(f"video file not found: {path}", reason="missing_file")
        data = path.read_bytes()
    if args.bench:
        run_bench(args, data)
        return None
    opts = pb.ExplainOptions(target_class=args.target_class or "", top_k=args.top_k, max_concepts=args.max_concepts,
                             max_clips=args.max_clips, score_clips=args.score_clips,
                             classify_only=args.classify_only)
    with _connect(args) as client:
        if args.stream:
            final = None
            for exp in client.stream(data, opts):
                if exp.partial:
                    c = exp.clips[0]
                    print(f"clip {c.clip_index + 1}/{exp.clip_count} done: {len(c.concepts)} concepts")
                else:
                    final = exp
            if final is None:
                raise RemoteError("the stream ended without a final answer", grpc.StatusCode.UNKNOWN)
        else:
            final = client.explain(data, opts)
    print(report.table(final))
    if args.json:
        write_text(args.json, wire.to_json(final))
        print(f"wrote {args.json}")
    return final


def joined_tokens(argv: list[str]) -> list[str]:
    """`--token KEY` as `--token=KEY`: TorchServe's random keys can start with '-', which argparse would take
    for an option."""
    out, i = [], 0
    while i < len(argv):
        if argv[i] == "--token" and i + 1 < len(argv):
            out.append(f"--token={argv[i + 1]}")
            i += 2
        else:
            out.append(argv[i])
            i += 1
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="ace3d-client", description="explain a video with a running ace3d server")
    add_arguments(p)
    args = p.parse_args(joined_tokens(sys.argv[1:] if argv is None else argv))
    try:
        run(args)
    except Ace3dError as exc:
        print(f"ace3d-client: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ace3d-client: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
