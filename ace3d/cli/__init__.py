"""The `ace3d` command line. Every command reports a problem the user can fix as one line on stderr and
exits with status 2, never with a traceback, and writes its output files only when it succeeds.

One module per command (`NAME`, `HELP`, `add_arguments`, `run`); the serving commands register themselves
beside the serving code. Only the invoked command's options are built (`parser(command)`): their help texts
and choices come from the modules that own the names (the model registry, the methods, the explainer), which
import torch, and the thin clients must not."""

from __future__ import annotations

import argparse
import sys
import time

from ace3d_client.cli import joined_tokens as _joined_tokens  # the client distribution's: one implementation

from ace3d.cli import bench, build_bank, evaluate, explain, report, synth, train

COMMANDS = (synth, train, build_bank, explain, evaluate, report, bench)  # the ones that compute (torch)
TIMED = ("build-bank", "evaluate", "train")  # these say how long they took


def parser(command: str | None = None) -> argparse.ArgumentParser:
    """The `ace3d` parser; with `command`, only that command's options are added (all of them without)."""
    p = argparse.ArgumentParser(prog="ace3d", description="Spatio-temporal concept explanations of video models")
    sub = p.add_subparsers(dest="command", required=True)
    for mod in COMMANDS:
        sp = sub.add_parser(mod.NAME, help=mod.HELP)
        if command in (None, mod.NAME):
            mod.add_arguments(sp)
        sp.set_defaults(func=mod.run)

    # Serving commands live beside their code (local tooling, clients); none of these modules imports torch.
    from ace3d.clients import client
    from ace3d.tooling import archive, server

    for serving in (archive, server, client):
        serving.add_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    import warnings

    # Libraries' deprecation chatter (torch.jit on pytorchvideo's import, ...) is not the user's business.
    for category in (FutureWarning, DeprecationWarning, UserWarning):
        warnings.filterwarnings("ignore", category=category, module=r"(torch|torchvision|pytorchvideo|fvcore)\b")
    argv = _joined_tokens(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), "")  # the top level has no option with a value
    if command in {mod.NAME for mod in COMMANDS}:  # the serving commands are thin clients: no torch
        from ace3d.memory import keep_freed_memory

        keep_freed_memory()  # explanations allocate and free tens of MB each: see ace3d/memory.py
    args = parser(command).parse_args(argv)
    from ace3d.errors import Ace3dError

    t0 = time.time()
    try:
        args.func(args)
    except Ace3dError as exc:
        print(f"ace3d {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"ace3d {args.command}: interrupted", file=sys.stderr)
        return 130
    if args.command in TIMED:
        print(f"done in {time.time() - t0:.1f} s", file=sys.stderr)
    return 0
