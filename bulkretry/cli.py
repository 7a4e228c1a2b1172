"""The command line: the only module that parses argv, prints, draws progress and picks exit codes.

Heavy modules (pandas, the engine, the simulator) are imported inside the commands that need them,
so ``bulkretry --help`` starts fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import TextIO

from . import __version__
from .errors import BulkRetryError

__all__ = ["main"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_SIGINT, EXIT_SIGTERM = 0, 1, 2, 130, 143


class _Formatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=32)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, got {text!r}")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text!r}")
    return value


def _ratio(text: str) -> float:
    value = _non_negative_float(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text!r}")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text!r}")
    return value


# -- sim ---------------------------------------------------------------------------------------------

SIM_HELP = """\
Run the built-in OMS + IAM simulator: a real HTTP server that speaks the OMS v2 task-group API
(list, show, retry) and IAM's POST /v3/auth/tokens, verifies AK/SK signatures and tokens, and
keeps a reproducible set of task groups. Its first line of output is `listening on http://HOST:PORT`.

examples:
  bulkretry sim --port 8080
  bulkretry sim --groups 2000 --failed-ratio 0.8 --rate-limit 50 --latency-ms 100
  HUAWEICLOUD_SDK_AK=SIMAK0000000000000001 HUAWEICLOUD_SDK_SK=sim-secret-key-do-not-use \\
      bulkretry run manifest.csv --endpoint http://127.0.0.1:8080
"""


def _add_sim_parser(sub: argparse._SubParsersAction) -> None:
    from .sim.config import SimConfig  # small module, no aiohttp

    d = SimConfig()
    p = sub.add_parser("sim", help="run the built-in OMS + IAM simulator", description=SIM_HELP,
                       formatter_class=_Formatter)
    p.add_argument("--host", default=d.host, help="address to listen on (default: %(default)s)")
    p.add_argument("--port", type=_non_negative_int, default=8080,
                   help="port; 0 picks a free one (default: %(default)s)")
    p.add_argument("--ak", default=d.ak, help="access key it accepts for signing (default: %(default)s)")
    p.add_argument("--sk", default=d.sk, help="secret key it accepts (a test value; default: the documented one)")
    p.add_argument("--token", default=d.token, help="a token it accepts as-is (default: %(default)s)")
    p.add_argument("--project-id", default=d.project_id, help="its project id (default: %(default)s)")
    p.add_argument("--groups", type=_non_negative_int, default=d.groups,
                   help="task groups to create (default: %(default)s)")
    p.add_argument("--failed-ratio", type=_ratio, default=d.failed_ratio,
                   help="share of groups in status 5, migration failed (default: %(default)s)")
    p.add_argument("--seed", type=int, default=d.seed, help="seed for group ids and states (default: %(default)s)")
    p.add_argument("--rate-limit", type=_positive_float, default=None,
                   help="answer 429 APIGW.0308 beyond N calls/s (default: no limit)")
    p.add_argument("--latency-ms", type=_non_negative_float, default=d.latency_ms,
                   help="added latency per call (default: %(default)s)")
    p.add_argument("--error-rate", type=_ratio, default=d.error_rate,
                   help="share of calls answered with a transient 5xx (default: %(default)s)")
    p.set_defaults(handler=_cmd_sim)


def _sim_config_from(args: argparse.Namespace):  # -> SimConfig
    from .sim.config import SimConfig

    return SimConfig(
        host=args.host, port=args.port, ak=args.ak, sk=args.sk, token=args.token, project_id=args.project_id,
        groups=args.groups, failed_ratio=args.failed_ratio, seed=args.seed, rate_limit=args.rate_limit,
        latency_ms=args.latency_ms, error_rate=args.error_rate,
    )


def _cmd_sim(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    import asyncio

    from .sim import serve_forever

    try:
        config = _sim_config_from(args)
    except ValueError as exc:
        raise _UsageError(str(exc)) from None

    def on_listening(url: str) -> None:
        print(f"listening on {url}", file=out, flush=True)
        print(f"project_id {config.project_id} · AK {config.ak} · {config.groups} groups "
              f"(seed {config.seed}) · Ctrl-C to stop", file=out, flush=True)

    async def serve_until_signalled() -> None:
        import signal

        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, task.cancel)  # type: ignore[union-attr]
        try:
            await serve_forever(config, on_listening)
        except asyncio.CancelledError:
            print("simulator stopped", file=out, flush=True)

    try:
        asyncio.run(serve_until_signalled())
    except OSError as exc:
        raise _UsageError(f"cannot listen on {config.host}:{config.port}: {exc.strerror or exc}") from None
    return EXIT_OK


# -- demo --------------------------------------------------------------------------------------------

DEMO_HELP = """\
Start the simulator in this process and retry the task groups of the sample manifest against it:
the quickest way to see what a run looks like. Calls nothing outside this machine. Exits 0 when the
demo ran, even though the sample fails some rows on purpose.

example:
  bulkretry demo
"""


def _add_demo_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run the sample manifest against the built-in simulator",
                       description=DEMO_HELP, formatter_class=_Formatter)
    p.set_defaults(handler=_cmd_demo)


def _cmd_demo(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    import asyncio

    from .demo import run_demo

    result = asyncio.run(run_demo())
    print(f"simulator at {result.url} (seed {result.seed}, {result.groups} groups, "
          f"{result.failed_groups} in status 5)", file=out)
    print(f"manifest {result.manifest} · {len(result.rows)} rows", file=out)
    print(f"{'row':>4}  {'group_id':<38} {'outcome':<10} {'http':>4}  error_code", file=out)
    for row in result.rows:
        print(f"{row.row:>4}  {row.group_id:<38} {row.outcome:<10} {row.http_status or '':>4}  {row.error_code}",
              file=out)
    counts = ", ".join(f"{n} {outcome}" for outcome, n in sorted(result.by_outcome.items()))
    print(f"summary: {counts} in {result.duration_s:.2f} s", file=out)
    print("(the sample manifest fails some rows on purpose: groups that are not failed, an unknown group)",
          file=out)
    return EXIT_OK


# -- main --------------------------------------------------------------------------------------------

MAIN_HELP = """\
Restart failed Huawei Cloud OMS migration task groups in bulk, from a CSV or Excel manifest.

examples:
  bulkretry demo                      # try it against the built-in simulator
  bulkretry sim --port 8080           # run the simulator on its own
"""


class _UsageError(BulkRetryError):
    """A usage error found by the CLI itself."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bulkretry", description=MAIN_HELP, formatter_class=_Formatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    _add_demo_parser(sub)
    _add_sim_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Entry point: returns the exit status (the console script passes it to ``sys.exit``)."""
    out = out or sys.stdout
    err = err or sys.stderr
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help/--version (0) or a usage error (2)
        return int(exc.code or 0)
    handler: Callable[[argparse.Namespace, TextIO, TextIO], int] | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(out)
        return EXIT_USAGE
    try:
        return handler(args, out, err)
    except BulkRetryError as exc:
        print(f"bulkretry: error: {exc}", file=err)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("bulkretry: interrupted", file=err)
        return EXIT_SIGINT
