"""`ace3d client`: the client distribution's command (clients/python, `ace3d-client`) plus what needs the
ace3d package: `--overlay` (decodes the video) and `--bench default` (the synthetic clip). The client itself,
`Ace3dClient`, is the distribution's; its names are re-exported here for the service's tests and tools."""

from __future__ import annotations

from pathlib import Path

from ace3d_client import cli
from ace3d_client.client import (  # noqa: F401 - the names `ace3d client` users imported from here
    GRPC_TO_HTTP,
    HTTP_TO_GRPC,
    MAX_MESSAGE,
    WORKER_DIED,
    Ace3dClient,
    RemoteError,
    auth_metadata,
    bench,
    channel_options,
    predictions_request,
    read_token,
)


def cmd_client(args) -> None:
    if args.bench and args.video == "default":
        from ace3d.jobs.synth import default_video_bytes

        cli.run(args, default_video_bytes())
        return
    final = cli.run(args)
    if args.overlay and final is not None:
        from ace3d import report
        from ace3d.method import video  # decoding for the overlay only

        if report.overlay(video.read_file(Path(args.video)), final, args.overlay):
            print(f"wrote {args.overlay}")
        else:
            print("no overlay: the answer has no explained clip")


def add_parser(sub) -> None:
    """Register `ace3d client`: `ace3d-client`'s options, --overlay, and 'default' as the --bench video."""
    sp = sub.add_parser("client", help="explain a video with a running server (gRPC)")
    cli.add_arguments(sp)
    sp.add_argument("--overlay", default=None, help="write the overlay GIF here")
    for action in sp._actions:
        if action.dest == "video":
            action.help = "video file (with --bench, 'default': the default synthetic clip)"
    sp.set_defaults(func=cmd_client)
