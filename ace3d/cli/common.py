"""What several commands share: the model options (`--model` checked against the model registry), and the
model and explainer they describe. Heavy imports stay inside the functions: building the parser of one
command must not import what another needs."""

from __future__ import annotations

import argparse


def model_spec(spec: str) -> str:
    """argparse type of a model spec: a family the registry knows, with a path where the family needs one, so a
    wrong `--model` fails before any work with the list of families."""
    from ace3d.errors import ModelError
    from ace3d.models import registry

    try:
        registry.parse_spec(spec)
    except ModelError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return spec


def model_help() -> str:
    """The `--model` help: every registered family (the README's models table says what each loads)."""
    from ace3d.models import registry

    return f"{registry.spec_help()} (default: demo; the README's models table says what each loads)"


def model_args(sp: argparse.ArgumentParser, bank: bool = True) -> None:
    """`--model`, `--layer`, `--device`, and with `bank` the options of an explainer."""
    from ace3d.method.explainer import REMOVALS
    from ace3d.models.engine import PRECISIONS

    sp.add_argument("--model", default="demo", type=model_spec, help=model_help())
    sp.add_argument("--layer", default=None, help="bottleneck layer (default: the model's)")
    sp.add_argument("--device", default="cpu")
    if bank:
        sp.add_argument("--bank", default=None, help="concept bank file, or 'none' (default: the committed "
                        "bank with --model demo, none otherwise: each clip's own supervoxel groups)")
        sp.add_argument("--removal", choices=REMOVALS, default="input",
                        help="how a concept is taken out: in the clip (default); in the bottleneck activation "
                        "with only the later layers re-run (faster; measured less faithful on the demo model); "
                        "ranked: ranked at the bottleneck, the self-check scores measured in the clip")
        sp.add_argument("--precision", choices=PRECISIONS, default="auto",
                        help="precision of the perturbed forwards (auto: bfloat16 where the hardware has it; "
                        "predictions are always float32)")


def load_model(args) -> object:
    from ace3d import models

    return models.load(args.model, layer=args.layer, device=args.device)


def explainer(args):
    """The explainer the model options describe (the bank: `--bank`, or the committed one with demo)."""
    from ace3d.method import bank
    from ace3d.method.explainer import Explainer

    path = bank.path_for(args.model, args.bank)
    return Explainer(load_model(args), bank.load(path) if path else None, removal=getattr(args, "removal", "input"),
                     precision=getattr(args, "precision", "auto"))
