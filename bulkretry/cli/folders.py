"""``bulkretry resume``, ``status`` and ``prune``: run folders after the fact (continue one with its own settings,
see where one stands, remove old ones)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import TextIO

from bulkretry.cli.common import add_command, add_lang_option, lang_of, non_negative_int
from bulkretry.cli.run import Sourced, project_id_option, run_settings
from bulkretry.cli.run_options import (
    add_auth_options,
    add_notify_options,
    add_pace_options,
    add_time_box_options,
    add_unattended_options,
)
from bulkretry.errors import EXIT_OK
from bulkretry.i18n import translation

RESUME_HELP = """\
Continue the run in DIR with the settings it started with, kept in its journal (the manifest and how to read
it, endpoint, region, project, action, pace, checks, formats; never a secret: the credentials are read again from
where they come from, the environment, a credentials file, a KooCLI profile or the ECS agency). Rows already
finished are not called again. An option given here overrides the run's own; a change to what decides the calls
(--endpoint, --region, --project-id) needs --force, as for `run --resume`. --max-duration is never the run's:
give a time box for this session. Exit status as for `run`.

examples:
  bulkretry resume bulkretry-runs/20261124-030000-groups
  bulkretry resume runs/after-outage --rate 5 --max-duration 45m
  bulkretry resume runs/after-outage --endpoint https://oms.cn-north-4.myhuaweicloud.com --force
"""

STATUS_HELP = """\
Where the run in DIR stands, live or finished, read without disturbing it (a run going on is read from a copy
of its journal): its state (running, finished, or interrupted: killed, stopped, halted or time-boxed, to
continue with `bulkretry resume DIR`), rows by outcome so far out of the manifest's, calls, rate, elapsed time
and, while it runs, an estimate of the time left. --json prints summary.json's keys plus state, manifest_rows,
elapsed_s and eta_s. Calls nothing. Exit status 0, 2 when DIR holds no run.

examples:
  bulkretry status bulkretry-runs/20261124-030000-groups
  watch -n 10 bulkretry status runs/after-outage      # from another terminal while it runs
  bulkretry status runs/after-outage --json | jq .state
"""

PRUNE_HELP = """\
Remove old run folders of RUNS_ROOT: those beyond the N newest (--keep N), or those started more than AGE ago
(--older-than 30d; s, m, h, d or w). Lists what it would remove and removes it only with --yes. A folder whose
run is going on (its lock held) is never removed, nor a symlink; `history` works on the runs left. Exit status
0, 2 for a usage error.

examples:
  bulkretry prune bulkretry-runs --keep 20            # list what would go
  bulkretry prune bulkretry-runs --older-than 30d --yes
"""


def add_resume_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = add_command(sub, "resume", "continue a run with the settings it started with", RESUME_HELP)
    p.add_argument("run_dir", metavar="DIR", help="the folder of the run to continue")
    g = p.add_argument_group("where (default: as the run)")
    g.add_argument("--endpoint", metavar="URL", help="OMS endpoint as https://host[:port] (needs --force)")
    g.add_argument("--region", metavar="R", help="region id for rows without a region column (needs --force)")
    g.add_argument("--project-id", metavar="ID", help="project for rows without a project_id column (needs --force)")
    g.add_argument("--force", action="store_true", help="continue even though the manifest or a call setting changed")
    g = p.add_argument_group("pace (default: as the run)")
    add_pace_options(g, rerun=True)
    add_time_box_options(g)
    g = p.add_argument_group("output")
    add_lang_option(g)
    add_unattended_options(g)
    add_notify_options(p.add_argument_group("notifications (not taken from the run: give them again)"))
    add_auth_options(p)
    p.set_defaults(handler=cmd_resume)


def cmd_resume(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    import os
    from pathlib import Path

    from bulkretry.run.rundir import resumable_params
    from bulkretry.run.settings import Output, PacingGiven, ServiceTarget, restored

    env = dict(os.environ)
    folder = Path(args.run_dir)
    settings = restored(
        resumable_params(folder),
        folder,
        target=ServiceTarget(args.endpoint, args.region, project_id_option(args, None), verify_tls=not args.insecure),
        pacing=PacingGiven(
            args.rate, args.concurrency, args.max_attempts, args.timeout, args.halt_on_failure, args.max_duration
        ),
        output=Output(lang=lang_of(args)),
        force=args.force,
    )
    sourced = Sourced(args, env)
    return run_settings(args, sourced.defaults(settings), env, sourced, (out, err))


def add_status_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = add_command(sub, "status", "where a run stands, live or finished", STATUS_HELP)
    p.add_argument("run_dir", metavar="DIR", help="the folder of the run")
    p.add_argument("--json", action="store_true", help="print one JSON document: summary.json's keys plus state")
    add_lang_option(p)
    p.set_defaults(handler=cmd_status)


def cmd_status(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from pathlib import Path

    from bulkretry.run.status import run_status

    status = run_status(Path(args.run_dir))
    if args.json:
        print(json.dumps(status.as_dict(), ensure_ascii=False), file=out)
        return EXIT_OK
    from bulkretry.report.charts import outcome_word

    lang = lang_of(args)
    _ = translation(lang).gettext
    summary = status.summary
    counts = " · ".join(f"{outcome_word(outcome, lang)} {n}" for outcome, n in summary.by_outcome.items())
    outcomes = _(" ({outcomes})").format(outcomes=counts) if counts else ""
    line = _("{run_id}: {state} · {done} of {total} rows done{outcomes} · {calls} calls · {rate} calls/s · {elapsed}")
    eta = _(" · about {left} left").format(left=_seconds(status.eta_s, _)) if status.eta_s is not None else ""
    print(
        line.format(
            run_id=summary.run_id, state=_(status.state), done=status.done, total=status.total,
            outcomes=outcomes, calls=summary.calls, rate=f"{summary.achieved_rate:g}",
            elapsed=_seconds(status.elapsed_s, _),
        )
        + eta,
        file=out,
    )  # fmt: skip
    return EXIT_OK


def _seconds(seconds: float, _: Callable[[str], str] = str) -> str:
    """A duration as people read it: ``42s``, ``3m 05s``, ``2h 07m`` (``42秒``, ``3分05秒``, ``2小时07分``)."""
    whole = round(seconds)
    if whole < 60:
        return _("{s}s").format(s=whole)
    if whole < 3600:
        return _("{m}m {s:02d}s").format(m=whole // 60, s=whole % 60)
    return _("{h}h {m:02d}m").format(h=whole // 3600, m=whole % 3600 // 60)


def add_prune_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = add_command(sub, "prune", "remove old run folders (never one whose run is going on)", PRUNE_HELP)
    p.add_argument("root", metavar="RUNS_ROOT", help="the folder that holds the run folders")
    m = p.add_mutually_exclusive_group(required=True)
    m.add_argument("--keep", type=non_negative_int, metavar="N", help="keep the N newest runs, remove the others")
    m.add_argument("--older-than", type=_age_type, metavar="AGE", help="remove the runs started over AGE ago")
    p.add_argument("--yes", action="store_true", help="remove them (without it: only list them)")
    add_lang_option(p)
    p.set_defaults(handler=cmd_prune)


def _age_type(text: str) -> object:
    from bulkretry.run.retention import parse_age

    try:
        return parse_age(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def cmd_prune(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from pathlib import Path

    from bulkretry.run.retention import plan_prune, remove_runs

    _ = translation(lang_of(args)).gettext
    plan = plan_prune(Path(args.root), keep=args.keep, older_than=args.older_than)
    for folder, why in plan.live:
        print(_("note: {folder} kept: {why}").format(folder=folder, why=why), file=err)
    removing = _("removing {path} (started {started} UTC)")
    verb = removing if args.yes else _("would remove {path} (started {started} UTC)")
    for run in plan.remove:
        print(verb.format(path=run.path, started=f"{run.started_at:%Y-%m-%d %H:%M}"), file=out)
    if not args.yes:
        would = _("{removed} run folders would be removed, {kept} kept; add --yes to remove them")
        print(would.format(removed=len(plan.remove), kept=plan.kept), file=out)
        return EXIT_OK
    removed = remove_runs(plan)
    done = _("{removed} run folders removed, {kept} kept")
    print(done.format(removed=len(removed), kept=plan.kept + len(plan.remove) - len(removed)), file=out)
    return EXIT_OK
