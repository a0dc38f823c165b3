"""The command line's structure and parsing, in-process (the commands themselves run in tests/component/test_cli.py)."""

from pathlib import Path

import ace3d.cli


def test_no_command_module_is_over_300_lines():
    lengths = {p.name: len(p.read_text().splitlines()) for p in Path(ace3d.cli.__file__).parent.glob("*.py")}
    assert len(lengths) > 5 and max(lengths.values()) <= 300, lengths


def test_a_token_that_starts_with_a_dash_is_a_value():
    """TorchServe's random keys can start with '-': `--token -Xy...` must not read as an option."""
    from ace3d_client.cli import joined_tokens

    from ace3d.cli import parser

    argv = joined_tokens(["client", "v.mp4", "--token", "-Xy3kQ", "--target", "h:1"])
    args = parser().parse_args(argv)
    assert args.token == "-Xy3kQ" and args.target == "h:1"
