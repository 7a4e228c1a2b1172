"""``bulkretry sim`` and ``bulkretry demo``: the built-in simulator, alone or with a run of the sample."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, TextIO

from bulkretry.cli.common import (
    add_command,
    add_lang_option,
    lang_of,
    latency_ms_type,
    port_type,
    positive_float,
    ratio,
    sim_groups_type,
)
from bulkretry.errors import EXIT_OK, UsageError

if TYPE_CHECKING:  # for annotations only: the commands import it lazily
    from bulkretry.sim.config import SimConfig

SIM_HELP = """\
Run the built-in OMS + IAM simulator: a real HTTP server that speaks the OMS v2 API for task groups
(list, show, retry, start, stop) and tasks (list, show, start, stop, batch-update of their priority)
and IAM's POST /v3/auth/tokens, verifies AK/SK signatures and tokens, and keeps a reproducible set
of task groups and tasks, with the service's status machines. Its first line of output is
`listening on http://HOST:PORT`.

examples:
  bulkretry sim --port 8080
  bulkretry sim --groups 2000 --failed-ratio 0.8 --rate-limit 50 --latency-ms 100
  HUAWEICLOUD_SDK_AK=SIMAK0000000000000001 HUAWEICLOUD_SDK_SK=sim-secret-key-do-not-use \\
      bulkretry run manifest.csv --endpoint http://127.0.0.1:8080
"""


def add_sim_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from bulkretry.sim.config import SimConfig  # small module, no aiohttp

    d = SimConfig()
    p = add_command(sub, "sim", "run the built-in OMS + IAM simulator", SIM_HELP)
    p.add_argument("--host", default=d.host, help="address to listen on (default: %(default)s)")
    p.add_argument(
        "--port", type=port_type, default=8080, help="port, 0 to 65535; 0 picks a free one (default: %(default)s)"
    )
    p.add_argument("--ak", default=d.ak, help="access key it accepts for signing (default: %(default)s)")
    p.add_argument("--sk", default=d.sk, help="secret key it accepts (a test value; default: the documented one)")
    p.add_argument("--token", default=d.token, help="a token it accepts as-is (default: %(default)s)")
    p.add_argument("--project-id", default=d.project_id, help="its project id (default: %(default)s)")
    p.add_argument(
        "--groups",
        type=sim_groups_type,
        default=d.groups,
        help="task groups to create, at most 1000000 (default: %(default)s)",
    )
    p.add_argument(
        "--failed-ratio",
        type=ratio,
        default=d.failed_ratio,
        help="share of groups in status 5, migration failed (default: %(default)s)",
    )
    p.add_argument(
        "--needs-fix-ratio",
        type=ratio,
        default=d.needs_fix_ratio,
        help="share of those failed groups whose error_reason no retry fixes (TRF.0058 bucket gone, TRF.0055 out "
        "of space, ...), which run --check-status skips (default: %(default)s)",
    )
    p.add_argument("--seed", type=int, default=d.seed, help="seed for group ids and states (default: %(default)s)")
    p.add_argument(
        "--rate-limit",
        type=positive_float,
        default=None,
        help="answer 429 APIGW.0308 beyond N calls/s (default: no limit)",
    )
    p.add_argument(
        "--latency-ms",
        type=latency_ms_type,
        default=d.latency_ms,
        help="added latency per call, at most 600000 (default: %(default)s)",
    )
    p.add_argument(
        "--error-rate",
        type=ratio,
        default=d.error_rate,
        help="share of calls answered with a transient 5xx (default: %(default)s)",
    )
    p.set_defaults(handler=_cmd_sim)


def _sim_config_from(args: argparse.Namespace) -> SimConfig:
    """The simulator's settings: each option sets the field of its name (the fields without an option keep
    their defaults)."""
    from dataclasses import fields

    from bulkretry.sim.config import SimConfig

    given = vars(args)
    return SimConfig(**{f.name: given[f.name] for f in fields(SimConfig) if f.name in given})


def _cmd_sim(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    import asyncio

    from bulkretry.sim import serve_forever

    try:
        config = _sim_config_from(args)
    except ValueError as exc:
        raise UsageError(str(exc)) from None

    def on_listening(url: str) -> None:
        print(f"listening on {url}", file=out, flush=True)
        print(
            f"project_id {config.project_id} · AK {config.ak} · {config.groups} groups "
            f"(seed {config.seed}) · Ctrl-C to stop",
            file=out,
            flush=True,
        )

    async def serve_until_signalled() -> None:
        import signal

        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(signum, task.cancel)  # type: ignore[union-attr]
            except NotImplementedError:  # Windows' event loops: a plain handler that hands the stop to the loop
                signal.signal(signum, lambda *_: loop.call_soon_threadsafe(task.cancel))  # type: ignore[union-attr]
        try:
            await serve_forever(config, on_listening)
        except asyncio.CancelledError:
            print("simulator stopped", file=out, flush=True)

    try:
        asyncio.run(serve_until_signalled())
    except OSError as exc:
        raise UsageError(f"cannot listen on {config.host}:{config.port}: {exc.strerror or exc}") from None
    return EXIT_OK


# -- demo --------------------------------------------------------------------------------------------

DEMO_HELP = """\
Start the simulator in this process and run the sample manifest shipped in the package
(bulkretry/samples/manifest.csv, so any folder will do) against it, exactly as
`bulkretry run` would: the quickest way to see a run and its reports (written under ./bulkretry-runs/).
Calls nothing outside this machine. Exits 0 when the demo ran, even though the sample fails some
rows on purpose.

examples:
  bulkretry demo
  bulkretry demo --lang zh-CN     # the reports and the summary line in Chinese
"""


def add_demo_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = add_command(sub, "demo", "run the sample manifest against the built-in simulator", DEMO_HELP)
    add_lang_option(p)
    p.set_defaults(handler=_cmd_demo)


def _cmd_demo(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    import asyncio

    from bulkretry.cli.ending import outcome_name, summary_line
    from bulkretry.demo import run_demo
    from bulkretry.i18n import translation

    lang = lang_of(args)
    _ = translation(lang).gettext
    demo = asyncio.run(run_demo(lang=lang))
    text = _("simulator at {url} (seed {seed}, {groups} groups, {failed} in status 5)")
    print(text.format(url=demo.url, seed=demo.seed, groups=demo.groups, failed=demo.failed_groups), file=out)
    print(_("manifest {path} · {rows} rows").format(path=demo.run.summary.manifest, rows=len(demo.rows)), file=out)
    named = outcome_name(lang)  # the csv's word in English, the console's in Chinese; ids and codes as they are
    print(f"{_('row'):>4}  {'group_id':<38} {_('outcome'):<10} {'http':>4}  error_code", file=out)
    for row in demo.rows:
        print(
            f"{row.row:>4}  {row.group_id:<38} {named(row.outcome.value):<10} {row.http_status or '':>4}  "
            f"{row.error_code}".rstrip(),
            file=out,
        )
    print(summary_line(demo.run.summary, demo.run.files, lang), file=out)
    print(
        _("(the sample fails some rows on purpose: groups that are not failed, an unknown group, a bad row)"), file=out
    )
    return EXIT_OK
