"""``bulkretry report``, ``diff``, ``history`` and ``discover``: runs that exist, and OMS's own list."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

from bulkretry.cli.common import (
    add_command,
    add_lang_option,
    add_report_options,
    add_tz_option,
    environment,
    lang_of,
    non_negative_int,
    timeout_type,
)
from bulkretry.cli.run import Sourced, project_id_option
from bulkretry.cli.run_options import add_auth_options, add_where_options
from bulkretry.errors import EXIT_FAILED, EXIT_OK, UsageError
from bulkretry.i18n import translation

if TYPE_CHECKING:  # for annotations only: the commands import these lazily, so `bulkretry --help` stays fast
    from bulkretry.discover import Listing
    from bulkretry.oms.auth import Authenticator
    from bulkretry.oms.endpoint import Endpoint
    from bulkretry.oms.network import Network

REPORT_HELP = """\
Write the reports of the run in DIR again from its journal (journal.sqlite), in the run's own formats or
in those of --format. Calls nothing. Useful when a report was deleted, to add a format, after a report
could not be written (a full disk), or for another language (--lang; without it the environment decides,
as for `run`: the language a run was written in is not kept), or in another time zone (--tz; without it the
run's own zone, kept in its journal). The journal is only read; a run folder that cannot be written (a read-only
archive) is refused with exit 2: copy it somewhere writable first.

examples:
  bulkretry report bulkretry-runs/20261124-030000-groups
  bulkretry report runs/after-outage --format xlsx
  bulkretry report runs/after-outage --lang en    # report.html and the Summary sheet in English again
  bulkretry report runs/after-outage --tz Europe/Berlin   # their times in Berlin's time (the csv stays UTC)
"""

DIFF_HELP = """\
Compare two runs of the same manifest (OLD_DIR, then NEW_DIR, e.g. a run and its rerun): prints
`fixed: N` (failed, interrupted or invalid then; succeeded or skipped now), `still failing: N` and
`newly failing: N`, and writes those rows to diff.csv (in NEW_DIR unless --out). Groups are matched by
(project_id, group_id). Calls nothing; both journals are only read, so archived (read-only) runs are fine,
with --out outside them. Exit status 0, or 1 when some group newly fails.

examples:
  bulkretry diff runs/after-outage runs/after-outage-rerun
  bulkretry diff runs/monday runs/tuesday --out monday-vs-tuesday.csv
"""


def add_report_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = add_command(sub, "report", "write a run's reports again from its journal", REPORT_HELP)
    p.add_argument("run_dir", metavar="DIR", help="the folder of the run")
    add_report_options(p, "the run's own")
    p.set_defaults(handler=_cmd_report)


def add_diff_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = add_command(sub, "diff", "compare two runs: fixed, still failing, newly failing", DIFF_HELP)
    p.add_argument("old_dir", metavar="OLD_DIR", help="the earlier run's folder")
    p.add_argument("new_dir", metavar="NEW_DIR", help="the later run's folder")
    p.add_argument("--out", metavar="FILE", help="where to write the changed rows (default: NEW_DIR/diff.csv)")
    p.set_defaults(handler=_cmd_diff)


def _cmd_report(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from pathlib import Path

    from bulkretry.run.runner import rebuild_reports

    lang = lang_of(args)
    result = rebuild_reports(Path(args.run_dir), args.format, lang, args.tz)
    from bulkretry.report.common import run_action
    from bulkretry.report.labels import action_words

    _ = translation(lang).gettext
    ran = run_action(result.summary)
    action = "" if ran.is_default else f"{action_words(ran)} · "  # the default action's line is as it was
    line = _("{action}{rows} rows · reports written: {files} in {folder}")
    files = ", ".join(f.name for f in result.files)
    print(line.format(action=action, rows=result.summary.rows, files=files, folder=result.out_dir), file=out)
    return EXIT_OK


def _cmd_diff(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from pathlib import Path

    from bulkretry.diff import CHANGES, diff_runs
    from bulkretry.report.labels import DEFAULT_ACTION_WORDS

    result = diff_runs(Path(args.old_dir), Path(args.new_dir), Path(args.out) if args.out else None)
    if result.old_action != result.new_action:
        print(f"actions: {result.old_action}, then {result.new_action}", file=out)
    elif result.new_action != DEFAULT_ACTION_WORDS:  # the default action's lines are as they were
        print(f"action: {result.new_action}", file=out)
    for change in CHANGES:
        print(f"{change}: {result.counts[change]}", file=out)
    print(
        f"({result.in_both} groups in both runs, {result.only_old} only in {args.old_dir}, {result.only_new} only "
        f"in {args.new_dir}) · {result.path}",
        file=out,
    )
    return EXIT_FAILED if result.counts["newly failing"] else EXIT_OK


HISTORY_HELP = """\
The campaign across rounds: every run of a manifest (runs, reruns, resumes after an outage), ordered by
start time. Give the run folders, or one folder that holds them (e.g. bulkretry-runs/: each subfolder with
a journal.sqlite is a run). Writes history.csv (one row per group: its outcome in each run, last_outcome,
runs_failed, first_succeeded_run) and history.html (failing groups per run, the groups that never
succeeded, then the groups fixed in each round) to --out DIR, by default the current directory (never into
the run folders: their journals are only read, so archived read-only runs are fine). A run still going on
is left out, with a note; a run folder reached twice (a symlink) counts once. Calls nothing.
Exit status 0 when every group's last outcome is succeeded or skipped, 1 when some group still fails,
2 when no run is found or a folder is not a run.

examples:
  bulkretry history bulkretry-runs
  bulkretry history runs/monday runs/monday-rerun runs/monday-rerun-2 --out reports/monday
  bulkretry history bulkretry-runs --lang zh-CN     # history.html in Chinese
  bulkretry history bulkretry-runs --tz Asia/Shanghai   # each run's start in Beijing time
"""


def add_history_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = add_command(
        sub, "history", "every run of a manifest, round by round: history.csv and history.html", HISTORY_HELP
    )
    p.add_argument("run_dirs", nargs="+", metavar="DIR", help="run folders, or one folder holding run folders")
    p.add_argument(
        "--out", metavar="DIR", help="where to write history.csv and history.html (default: the current directory)"
    )
    add_lang_option(p)
    add_tz_option(p, recorded=False)
    p.set_defaults(handler=_cmd_history)


def _cmd_history(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from pathlib import Path

    from bulkretry.history import history
    from bulkretry.report.labels import DEFAULT_ACTION_WORDS

    folders, out_dir = [Path(d) for d in args.run_dirs], Path(args.out) if args.out else None
    lang = lang_of(args)
    _ = translation(lang).gettext
    result = history(folders, out_dir, lang=lang, tz=args.tz)
    for folder, why in result.skipped:
        print(
            _("note: {folder} left out: {why}; run history again once it has ended").format(folder=folder, why=why),
            file=err,
        )
    line = _("{runs} runs, {groups} groups: {never} never succeeded, {fixed} fixed along the way · {files} in {folder}")
    files = ", ".join(f.name for f in result.files)
    print(
        line.format(
            runs=len(result.runs), groups=result.groups, never=result.never_succeeded, fixed=result.fixed,
            files=files, folder=result.out_dir,
        ),
        file=out,
    )  # fmt: skip
    if result.actions != (DEFAULT_ACTION_WORDS,):  # the default action's lines are as they were
        named = _("actions: {actions}") if len(result.actions) > 1 else _("action: {actions}")
        print(named.format(actions=", ".join(result.actions)), file=out)
    return EXIT_FAILED if result.not_fine else EXIT_OK


# -- discover ---------------------------------------------------------------------------------------

DISCOVER_HELP = """\
List the task groups (or, with --target tasks, the migration tasks) of a project that are in a status through
the OMS list API, every page, and write them as a manifest for `bulkretry run`:

  --target groups (default): status 5, migration failed, by default; columns group_id, project_id,
      description, src_bucket, dst_bucket, status, error_code, error_msg (the group's own TRF.xxxx: why it
      failed), then the credential columns
  --target tasks: status 4, failed, by default (3 stopped; 1 waiting, 2 running); --group-id G lists the tasks
      of one group; columns task_id, group_id (empty for a task outside any group), project_id, region, name,
      src_bucket, dst_bucket, status, error_code, error_msg, then the credential columns: a manifest
      for `bulkretry run --action start` (or stop, priority)

The credential columns (src_ak, src_sk, dst_ak, dst_sk) are left empty for you to fill, or say env:SRC_AK,
env:SRC_SK, env:DST_AK, env:DST_SK with --credentials-from-env. Never overwrites a file. Calls only the list API.
A list that repeats its pages (a server ignoring the offset) or never ends (past 100,000 entries) stops
with exit status 1 and writes nothing.

examples:
  bulkretry discover --region cn-north-4 --project-id 0a1b2c3d... --out failed.xlsx
  bulkretry discover --endpoint http://127.0.0.1:8080 --project-id 0a1b2c3d... --credentials-from-env
  bulkretry discover --region cn-north-4 --project-id 0a1b2c3d... --target tasks --out failed-tasks.xlsx
  bulkretry discover --region cn-north-4 --project-id 0a1b2c3d... --target tasks --status 3 --group-id 6f1e...
"""


def add_discover_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = add_command(
        sub, "discover", "write a manifest of the groups (or tasks) in a status (default: failed)", DISCOVER_HELP
    )
    add_where_options(
        p.add_argument_group("where"),
        region_use="for the default endpoint",
        project_help="the project (default: $HUAWEICLOUD_SDK_PROJECT_ID)",
    )
    _add_discover_what(p.add_argument_group("what"))
    add_auth_options(p)
    add_lang_option(p)
    p.set_defaults(handler=_cmd_discover)


def _add_discover_what(g: argparse._ArgumentGroup) -> None:
    """What `discover` lists, into which file, and how long a list call may take."""
    from bulkretry.defaults import MAX_TIMEOUT
    from bulkretry.oms.actions import GROUPS, TARGETS

    g.add_argument("--target", choices=TARGETS, default=GROUPS, help="list task groups (default) or migration tasks")
    g.add_argument(
        "--status",
        type=non_negative_int,
        default=None,
        metavar="N",
        help="status to list (default: 5, migration failed, for groups; 4, failed, for tasks)",
    )
    g.add_argument("--group-id", metavar="G", help="with --target tasks: only the tasks of task group G")
    g.add_argument(
        "--out",
        metavar="FILE",
        help="the manifest to write, .csv or .xlsx (default: manifest-<project>-status<N>.csv, "
        "tasks-<project>-status<N>.csv for tasks)",
    )
    g.add_argument(
        "--credentials-from-env",
        action="store_true",
        help="fill the credential cells with env:SRC_AK, env:SRC_SK, env:DST_AK, env:DST_SK",
    )
    g.add_argument(
        "--timeout",
        type=timeout_type,
        default=30.0,
        metavar="S",
        help=f"per-request timeout in seconds, at most {MAX_TIMEOUT:g} (default: %(default)s)",
    )


@dataclass(frozen=True)
class _Asked:
    """What `discover` was asked to list: the target's listing and its filters (checked)."""

    listing: Listing
    filters: Mapping[str, object]

    @property
    def status(self) -> object:
        return self.filters["status"]

    def default_file(self, project_id: str) -> str:
        return f"{self.listing.file_stem}-{project_id[:12]}-status{self.status}.csv"


def _asked(args: argparse.Namespace) -> _Asked:
    """``--target``, ``--status`` (the target's default when not given) and ``--group-id`` (tasks only)."""
    from bulkretry.discover import LISTINGS

    listing = LISTINGS[args.target]
    if args.group_id is not None and "group_id" not in listing.filters:
        raise UsageError("--group-id lists the tasks of a task group: give it with --target tasks")
    status = listing.default_status if args.status is None else args.status
    return _Asked(listing, {"status": status, "group_id": args.group_id})


def _cmd_discover(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    import asyncio
    from pathlib import Path

    from bulkretry.errors import ApiError, TransportError
    from bulkretry.oms.auth import authenticator_for
    from bulkretry.oms.network import network_from

    env = environment()
    asked = _asked(args)
    sourced = Sourced(args, env)  # a credentials file or KooCLI profile may give the project and region
    where = _discover_where(args, env, sourced)
    target = Path(args.out or asked.default_file(where.project_id))
    if target.exists():
        raise UsageError(f"{target} already exists; choose another --out (a manifest is never overwritten)")
    network = network_from(env, ca_bundle=args.ca_bundle, verify=not args.insecure)
    auth = authenticator_for(sourced.required(), timeout=args.timeout, network=network)
    _ = translation(lang_of(args)).gettext
    noun = _(asked.listing.noun)
    try:
        rows = asyncio.run(_listing(args, asked, where, auth, network))
    except (ApiError, TransportError) as exc:
        print(_("bulkretry: error: listing the {noun} failed: {error}").format(noun=noun, error=exc), file=err)
        return EXIT_FAILED
    from bulkretry.discover import write_manifest

    count = write_manifest(target, asked.listing, rows)
    line = (
        _("{count} {noun} in status {status} · manifest: {path}")
        if count
        else _("0 {noun} in status {status} · manifest: {path} (header only: nothing listed)")
    )
    print(line.format(count=count, noun=noun, status=asked.status, path=target), file=out)
    return EXIT_OK


@dataclass(frozen=True)
class _Where:
    """Where `discover` lists: the project, and the region or the SDK's endpoint overrides (checked)."""

    project_id: str
    region: str | None
    region_endpoints: Mapping[str, Endpoint]


def _discover_where(args: argparse.Namespace, env: dict[str, str], sourced: Sourced) -> _Where:
    """The project and region from the options, the environment, or the credentials file or KooCLI profile;
    a usage error when either is missing or malformed."""
    from bulkretry.oms.endpoint import check_region, parse_endpoint, region_overrides

    given = sourced.credentials
    project_id = project_id_option(args, env) or (given.project_id if given else None)
    if not project_id:
        raise UsageError(
            "no project id: give --project-id, set HUAWEICLOUD_SDK_PROJECT_ID, or name a KooCLI profile "
            "with a projectId (--profile)"
        )
    region = args.region or (given.region if given and not args.endpoint else None)
    if not args.endpoint and not region:
        raise UsageError("no endpoint: give --endpoint URL or --region R")
    if args.endpoint:
        parse_endpoint(args.endpoint)
    if region:
        check_region(region, option="--region" if args.region else "the region of the KooCLI profile")
    return _Where(project_id, region, {} if args.endpoint else region_overrides(env))


async def _listing(
    args: argparse.Namespace, asked: _Asked, where: _Where, auth: Authenticator, network: Network
) -> list[list[str]]:
    """Every entry *asked* for, each as a manifest row."""
    from bulkretry.discover import CREDENTIAL_ENV, RowContext, discover, manifest_row
    from bulkretry.oms.client import OmsClient, make_session

    async with make_session(limit=4) as session:
        client = OmsClient(
            session,
            auth,
            endpoint=args.endpoint,
            region=where.region,
            timeout=args.timeout,
            region_endpoints=where.region_endpoints,
            network=network,
        )
        context = RowContext(where.project_id, where.region, CREDENTIAL_ENV if args.credentials_from_env else {})
        entries = discover(client, asked.listing, where.project_id, asked.filters)
        return [manifest_row(entry, asked.listing, context) async for entry in entries]
