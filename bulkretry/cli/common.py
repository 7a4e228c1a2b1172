"""What the commands share: the help formatter, argparse types, ``--lang`` and ``--tz`` (the exit statuses are in
:mod:`bulkretry.errors`)."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import Any

from bulkretry.defaults import MAX_ATTEMPTS, MAX_BATCH_SIZE, MAX_CONCURRENCY, MAX_TIMEOUT, MAX_VERIFY_TIMEOUT

__all__ = [
    "LANG_HELP",
    "HelpFormatter",
    "add_command",
    "add_lang_option",
    "add_report_options",
    "add_tz_option",
    "batch_size_type",
    "concurrency_type",
    "duration_type",
    "environment",
    "formats_type",
    "halt_on_failure_type",
    "lang_of",
    "lang_type",
    "latency_ms_type",
    "max_attempts_type",
    "non_negative_float",
    "non_negative_int",
    "outcomes_type",
    "port_type",
    "positive_float",
    "positive_int",
    "rate_type",
    "ratio",
    "shard_type",
    "sim_groups_type",
    "timeout_type",
    "tz_type",
    "verify_timeout_type",
]


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Every command's help: descriptions and examples as written, option help from column 32, and an option's
    default at the end of its help where it has one and the help does not already say it."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=32)

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if default in (None, False, True, argparse.SUPPRESS) or default == [] or "default" in text or not text:
            return action.help
        return f"{text} (default: %(default)s)"


def add_command(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str, summary: str, description: str
) -> argparse.ArgumentParser:
    """The parser of the command *name*: *summary* is its line in ``bulkretry --help``, *description* (with its
    examples) its own ``--help``, shown as written."""
    return sub.add_parser(name, help=summary, description=description, formatter_class=HelpFormatter)


def _number(kind: type[float], *, low: float, high: float | None = None, above: bool = False) -> Callable[[str], float]:
    """An argparse type: a finite number of *kind*, at least *low* (more than *low* when *above*), at most *high*."""
    noun = "a whole number" if kind is int else "a number"
    floor = f"greater than {low:g}" if above else f"{low:g} or more"
    if high is None:
        allowed = floor
    else:
        allowed = f"greater than {low:g} and at most {high:g}" if above else f"between {low:g} and {high:g}"

    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {noun}, got {text!r}") from None
        if not math.isfinite(value) or value < low or (above and value == low) or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"must be {allowed}, got {text!r}")
        return value

    return parse


positive_float = _number(float, low=0, above=True)
non_negative_float = _number(float, low=0)
ratio = _number(float, low=0, high=1)
non_negative_int = _number(int, low=0)
positive_int = _number(int, low=1)
#: The run's options, each with its ceiling (defaults.py says why they have one).
concurrency_type = _number(int, low=1, high=MAX_CONCURRENCY)
max_attempts_type = _number(int, low=1, high=MAX_ATTEMPTS)
timeout_type = _number(float, low=0, high=MAX_TIMEOUT, above=True)
verify_timeout_type = _number(float, low=0, high=MAX_VERIFY_TIMEOUT, above=True)
batch_size_type = _number(int, low=1, high=MAX_BATCH_SIZE)
#: The simulator's: a TCP port; groups and latency it can hold and wait without running out.
port_type = _number(int, low=0, high=65535)
sim_groups_type = _number(int, low=0, high=1_000_000)
latency_ms_type = _number(float, low=0, high=600_000)


def _parsed_by(module: str, name: str) -> Callable[[str], Any]:
    """An argparse type calling ``bulkretry.<module>.<name>`` (imported only when an option is given, so
    --help stays quick); its ValueError becomes a usage error naming the option."""

    def parse(text: str) -> Any:
        import importlib

        try:
            return getattr(importlib.import_module(f"bulkretry.{module}"), name)(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = name
    return parse


formats_type = _parsed_by("report", "parse_formats")
rate_type = _parsed_by("run.adaptive", "parse_rate")  # RateSpec; a float default passes through argparse untouched
outcomes_type = _parsed_by("run.rerun", "parse_outcomes")
duration_type = _parsed_by("run.settings", "parse_duration")
lang_type = _parsed_by("i18n", "parse_lang")
tz_type = _parsed_by("i18n.times", "parse_tz")
halt_on_failure_type = _parsed_by("run.halt", "parse_halt_on_failure")
shard_type = _parsed_by("manifest.shard", "parse_shard")

LANG_HELP = (
    "language of what people read (report.html, history.html, the Summary sheet of report.xlsx, the summary "
    "line and the notes after it, the progress bar, validate's text): zh-CN or en (default: from LC_ALL, "
    "LC_MESSAGES or LANG, the first set: zh* is zh-CN, anything else en); "
    "csv/json columns, outcomes and error codes are never translated"
)


def add_lang_option(p: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """``--lang``, on the commands that write what people read (run, rerun, report, demo, history, validate, merge,
    status, prune, discover)."""
    p.add_argument("--lang", type=lang_type, default=None, metavar="zh-CN|en", help=LANG_HELP)


def add_tz_option(p: argparse.ArgumentParser | argparse._ArgumentGroup, *, recorded: bool = True) -> None:
    """``--tz``, beside ``--lang``: the zone of the times people read (*recorded*: a run keeps its zone)."""
    kept = "; a run keeps its zone for `report` and `rerun`" if recorded else ""
    p.add_argument(
        "--tz",
        type=tz_type,
        default=None,
        metavar="ZONE",
        help="time zone of the times in report.html, history.html, the Summary sheet of report.xlsx, the summary "
        "line and notifications, each shown with its offset: an IANA name (Asia/Shanghai, Europe/Berlin) or UTC "
        f"(default: the machine's zone, from TZ or /etc/localtime{kept}); report.csv, report.json and "
        "summary.json are always in UTC",
    )


def add_report_options(p: argparse.ArgumentParser, default: str) -> None:
    """``--format``, ``--lang`` and ``--tz`` of the commands that write a run's reports from journals (``report``,
    ``merge``); *default* says whose formats are written without ``--format``."""
    p.add_argument(
        "--format",
        type=formats_type,
        default=None,
        metavar="LIST",
        help=f"comma list of report formats (default: {default})",
    )
    add_lang_option(p)
    add_tz_option(p)


def lang_of(args: argparse.Namespace) -> str:
    """The language of this command: ``--lang``, or the environment's."""
    import os

    from bulkretry.i18n import lang_from_env

    return getattr(args, "lang", None) or lang_from_env(os.environ)


def environment() -> dict[str, str]:
    """The environment a command reads its credentials, ``env:NAME`` references and settings from: the process's,
    with the credentials systemd gives the service (``$CREDENTIALS_DIRECTORY``) as the variables of their names."""
    import os

    from bulkretry.oms.sources import with_credentials_directory

    return with_credentials_directory(os.environ)
