"""The command line: the only module that parses argv, prints, draws progress and picks exit codes.

Heavy modules (pandas, the engine, the simulator) are imported inside the commands that need them,
so ``bulkretry --help`` starts fast.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import TextIO

from bulkretry import __version__
from bulkretry.cli.common import HelpFormatter
from bulkretry.cli.config import parse_arguments
from bulkretry.errors import EXIT_FAILED, EXIT_SIGINT, EXIT_USAGE, BulkRetryError, ConfigError, Stopped, UnsavedResults

__all__ = ["main"]

MAIN_HELP = """\
Restart failed Huawei Cloud OMS migration task groups in bulk (or start, stop and reprioritise groups and tasks),
from a CSV or Excel manifest.

examples:
  bulkretry demo                                   # try it against the built-in simulator
  bulkretry discover --region cn-north-4 --project-id ID --out failed.xlsx   # the failed groups, as a manifest
  bulkretry validate groups.xlsx --region cn-north-4 --project-id ID
  bulkretry run groups.xlsx --region cn-north-4 --project-id ID --rate 10
  bulkretry run groups.xlsx --region cn-north-4 --project-id ID --out runs/x --resume
  bulkretry resume runs/x                          # the same, with the settings the run started with
  bulkretry status runs/x                          # where a run stands, from another terminal
  bulkretry rerun runs/x                           # a new run of the rows that failed
  bulkretry run paused.xlsx --region cn-north-4 --project-id ID --action start --check-status   # start paused groups
  bulkretry discover --region cn-north-4 --project-id ID --target tasks --out tasks.xlsx   # the failed tasks
  bulkretry diff runs/x runs/x-rerun               # fixed, still failing, newly failing
  bulkretry history bulkretry-runs                 # every round of a campaign: history.csv, history.html
  bulkretry prune bulkretry-runs --older-than 30d  # list the run folders to remove (--yes removes them)
  bulkretry run groups.xlsx --region cn-north-4 --shard 0/3 --out runs/s0   # one of 3 workers; then:
  bulkretry merge runs/s0 runs/s1 runs/s2 --out runs/merged                 # one report of the 3 shards
  bulkretry sim --port 8080                        # run the simulator on its own
  bulkretry config                                 # each setting (bulkretry.toml, BULKRETRY_<OPTION>) and its origin
  bulkretry completion bash > ~/.local/share/bash-completion/completions/bulkretry
"""


def build_parser() -> argparse.ArgumentParser:
    from bulkretry.cli.completion import add_completion_parser
    from bulkretry.cli.config import add_config_options, add_config_parser
    from bulkretry.cli.folders import add_prune_parser, add_resume_parser, add_status_parser
    from bulkretry.cli.merge import add_merge_parser
    from bulkretry.cli.run_options import add_rerun_parser, add_run_parser, add_validate_parser
    from bulkretry.cli.simulator import add_demo_parser, add_sim_parser
    from bulkretry.cli.tools import add_diff_parser, add_discover_parser, add_history_parser, add_report_parser

    parser = argparse.ArgumentParser(prog="bulkretry", description=MAIN_HELP, formatter_class=HelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    add_run_parser(sub)
    add_rerun_parser(sub)
    add_resume_parser(sub)
    add_status_parser(sub)
    add_report_parser(sub)
    add_diff_parser(sub)
    add_history_parser(sub)
    add_prune_parser(sub)
    add_merge_parser(sub)
    add_discover_parser(sub)
    add_validate_parser(sub)
    add_sim_parser(sub)
    add_demo_parser(sub)
    add_config_parser(sub)
    add_completion_parser(sub)
    add_config_options(parser)
    return parser


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Entry point: returns the exit status (the console script passes it to ``sys.exit``)."""
    out = _tolerant(out or sys.stdout)
    err = _tolerant(err or sys.stderr)
    parser = build_parser()
    try:
        args = parse_arguments(parser, list(sys.argv[1:] if argv is None else argv), os.environ)
    except SystemExit as exc:  # argparse: --help/--version (0) or a usage error (2)
        return int(exc.code or 0)
    except ConfigError as exc:  # a config file or BULKRETRY_<OPTION> variable the options refuse
        print(f"bulkretry: error: {exc}", file=err)
        return exc.exit_status
    handler: Callable[[argparse.Namespace, TextIO, TextIO], int] | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(out)
        return EXIT_USAGE
    try:
        return handler(args, out, err)
    except Stopped as exc:  # a stop signal before any call: not an error, the signal's status
        print(f"bulkretry: {exc}", file=err)
        return _failed(args, out, str(exc), exc.exit_status)
    except BulkRetryError as exc:  # each error carries its exit status (errors.py)
        print(f"bulkretry: error: {exc}", file=err)
        if isinstance(exc, UnsavedResults):  # calls were made: never drop what they returned
            for row in exc.rows:
                print(json.dumps(row, ensure_ascii=False), file=err)
        return _failed(args, out, str(exc), exc.exit_status)
    except KeyboardInterrupt:
        print("bulkretry: interrupted", file=err)
        return EXIT_SIGINT
    except Exception as exc:  # a bug: say so in one line; the journal keeps every result obtained
        import logging

        logging.getLogger("bulkretry").exception("unexpected error", extra={"event": "crash", "fields": {}})
        print(
            f"bulkretry: unexpected error ({type(exc).__name__}: {exc}); this is a bug. Results obtained so far "
            "are in the run folder's journal.sqlite: continue with --out DIR --resume",
            file=err,
        )
        return _failed(args, out, f"{type(exc).__name__}: {exc}")


def _tolerant(stream: TextIO) -> TextIO:
    """*stream*, printing what its encoding cannot (Chinese on an ASCII terminal, ``LANG=C``, a Windows code page)
    as replacement characters instead of raising: the terminal's text degrades, never the run."""
    if isinstance(stream, io.TextIOWrapper) and stream.errors == "strict":
        stream.reconfigure(errors="replace")
    return stream


def _failed(args: argparse.Namespace, out: TextIO, message: str, status: int = EXIT_FAILED) -> int:
    if getattr(args, "json_summary", False):
        print(json.dumps({"error": message, "exit_status": status}, ensure_ascii=False), file=out)
    return status
