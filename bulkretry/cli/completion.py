"""``bulkretry completion bash|zsh|fish``: a shell completion script, written by shtab from the parser itself, so
every command and option (and each option's choices) is in it the day it is added."""

from __future__ import annotations

import argparse
from typing import TextIO

__all__ = ["SHELLS", "add_completion_parser", "completion_script"]

SHELLS = ("bash", "zsh", "fish")

COMPLETION_HELP = """\
Print a completion script for SHELL: every command, option and choice of bulkretry.

examples:
  bulkretry completion bash > ~/.local/share/bash-completion/completions/bulkretry
  bulkretry completion zsh > "${fpath[1]}/_bulkretry"      # a folder of $fpath; then restart zsh
  bulkretry completion fish > ~/.config/fish/completions/bulkretry.fish
  eval "$(bulkretry completion bash)"                       # this shell only
"""


def add_completion_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from bulkretry.cli.common import add_command

    p = add_command(sub, "completion", "print a shell completion script (bash, zsh, fish)", COMPLETION_HELP)
    p.add_argument("shell", choices=SHELLS, metavar="SHELL", help="bash, zsh or fish")
    p.set_defaults(handler=_cmd_completion)


def completion_script(shell: str) -> str:
    """The completion script of ``bulkretry`` for *shell* (one of :data:`SHELLS`)."""
    import shtab

    from bulkretry.cli import build_parser

    parser = build_parser()
    _mark_paths(parser)
    return shtab.complete(parser, shell=shell)


def _mark_paths(parser: argparse.ArgumentParser) -> None:
    """Options and arguments whose metavar names a file or folder complete as paths."""
    import shtab

    from bulkretry.cli.config import command_parsers

    for command in command_parsers(parser).values():
        for action in command._actions:
            metavar = str(action.metavar or "")
            if metavar in ("FILE", "MANIFEST") or metavar.endswith("_FILE"):
                action.complete = shtab.FILE  # type: ignore[attr-defined]
            elif metavar in ("DIR", "OLD_DIR", "NEW_DIR", "RUNS_ROOT"):
                action.complete = shtab.DIRECTORY  # type: ignore[attr-defined]


def _cmd_completion(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    print(completion_script(args.shell), file=out)
    return 0
