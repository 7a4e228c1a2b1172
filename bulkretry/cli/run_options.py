"""The options and ``--help`` of ``bulkretry run``, ``rerun`` and ``validate`` (the commands themselves are in
:mod:`bulkretry.cli.run`)."""

from __future__ import annotations

import argparse

from bulkretry.cli.common import (
    add_command,
    add_lang_option,
    add_tz_option,
    batch_size_type,
    concurrency_type,
    duration_type,
    formats_type,
    halt_on_failure_type,
    max_attempts_type,
    outcomes_type,
    rate_type,
    shard_type,
    timeout_type,
    verify_timeout_type,
)
from bulkretry.cli.run import cmd_rerun, cmd_run, cmd_validate

#: The groups of options of `run`, `rerun` and `validate`, in the order --help shows them.
GROUPS = ("input", "action and target", "pacing", "output", "notification", "credentials", "network")
#: What a group of `rerun` says when its options not given are the earlier run's.
EARLIER = "(default: as the earlier run)"

RUN_EXAMPLES = """\
examples:
  bulkretry run groups.xlsx --region cn-north-4 --project-id 0a1b2c3d...   # retry every failed task group
  bulkretry run groups.csv --region cn-north-4 --dry-run                   # check every row, call nothing
  bulkretry run groups.csv --region cn-north-4 --out runs/x --resume       # continue after a crash

"""

RUN_INTRO = """\
Call OMS once for every row of MANIFEST (CSV or Excel, one row per task group or task), rate-limited and
concurrent: by default retry each failed task group; --action starts, stops or reprioritises instead. Writes
report.html, report.csv, report.xlsx, report.json, summary.json and your manifest annotated with each row's
outcome (annotated.xlsx or annotated.csv) to a new run folder.
"""

ACTIONS_NOTE = """\
The target is tasks when the manifest has a task_id column, else groups; --target groups|tasks overrides.
Group statuses: 1 executing, 2 monitoring, 3 paused, 5 migration failed; task statuses: 1 waiting, 2 running,
3 stopped, 4 failed. The service refuses a call in any other status (OMS.1015):
--check-status looks each target up first and skips those rows, advised with start and stop. priority sends
--batch-size task ids per call (default 50), at the level of the row's priority cell, else --priority. A failed
task restarts with --action start (retry is for task groups only).
"""

RUN_HELP = """\

Credentials (the first configured wins; --auth forces one): OMS_AUTH_TOKEN or --token-file (IAM token);
HUAWEICLOUD_SDK_AK/HUAWEICLOUD_SDK_SK (AK/SK signing, also CLOUD_SDK_AK/CLOUD_SDK_SK); OMS_IAM_USER and
OMS_IAM_PASSWORD (IAM password token); then, as the official SDK: the SDK's credentials file
($HUAWEICLOUD_SDK_CREDENTIALS_FILE, else ~/.huaweicloud/credentials, section [basic]); the current KooCLI
profile (~/.hcloud/config.json; --profile NAME picks one, whatever else is set); the ECS's agency (the
metadata service at 169.254.169.254; BULKRETRY_NO_METADATA=1 leaves it out). A file or profile also gives the
project id and region when the options and the environment do not. The summary names the source used.
Endpoint: --endpoint, else $HUAWEICLOUD_SDK_REGION_OMS_<REGION> (e.g. HUAWEICLOUD_SDK_REGION_OMS_CN_NORTH_4),
else https://oms.{region}.myhuaweicloud.com. Credential cells may say env:NAME; empty cells fall back to
BULKRETRY_SRC_AK, BULKRETRY_SRC_SK, BULKRETRY_DST_AK, BULKRETRY_DST_SK (and likewise for the other body fields).
A credential cell (or such a default) may also say csms:NAME[#JSON_KEY][@VERSION]: the secret NAME (its
JSON_KEY when it holds a JSON object; version latest unless given) from Huawei's secret manager, CSMS, read once
per run before the first call, in the row's project and region, signed with the run's AK/SK or ECS agency keys
(a token cannot sign it: exit 2). A secret that cannot be read makes its rows invalid (secret_not_found,
secret_denied, secret_format, secret_unavailable); other rows go on. E.g. src_sk = csms:oms-keys#src_sk.

Retried: 429, 5xx, timeouts and dropped connections, up to --max-attempts, with exponential backoff and full
jitter (Retry-After honoured). Final at once: 400, 401, 403, 404. Exit status: 0 all rows succeeded (or were
skipped/dry run), 1 some row failed, was invalid or interrupted, 2 nothing was called (usage, manifest or
credentials error), 3 the run halted on a systematic failure (below: fix the cause, then --resume), 130 Ctrl-C,
143 SIGTERM; the report of what finished is written in every case. A signal
while the manifest is read stops before any call; one while the reports are written lets them finish.

Not retried either: an untrusted TLS certificate (error code tls_certificate), a host name that does not
resolve (dns), a URL that cannot be sent.

A systematic failure stops the calls: when the first 5 calls are all refused (401/403), the first 20 calls all
fail with the same error (a closed port, an untrusted certificate, a name that does not resolve; 429 aside),
IAM does not give a token (no answer, throttled, 5xx; asked once per project, not once per row), or, with
--halt-on-failure PCT[:MIN], over PCT % of at least MIN finished rows failed, the run halts: the rows not
called are marked interrupted with error code halted, the exit status is 3, and --resume calls them once the
cause is fixed. When IAM refuses the password login (4xx) the run stops at that first login, before IAM locks
the account: exit 2 (3 if calls were made before it).

Every finished row is kept at once in the run folder's journal.sqlite. After a crash, Ctrl-C or kill,
run the same command with --resume, or `bulkretry resume DIR` (the run's settings from its journal): finished
rows are not called again (only the few calls in flight at the crash may repeat). `bulkretry status DIR` shows
where a run stands, from another terminal. A folder that holds a run is never overwritten, and two runs cannot write one
folder at the same time. `bulkretry rerun DIR` then makes a new run of just the rows that failed.

more examples:
  export HUAWEICLOUD_SDK_AK=... HUAWEICLOUD_SDK_SK=...
  bulkretry run groups.xlsx --profile migration   # keys, project and region from a KooCLI profile
  bulkretry run groups.csv --region cn-north-4 --rate 5 --concurrency 8 --out runs/after-outage
  bulkretry run groups.csv --endpoint http://127.0.0.1:8080 --dry-run
  bulkretry run groups.csv --region cn-north-4 --check-status --verify   # skip what is not failed; confirm the restart
  bulkretry run groups.csv --quiet --json-summary --log-file run.jsonl > summary.json   # from cron
  bulkretry run groups.csv --region cn-north-4 --lang zh-CN   # report.html and the summary line in Chinese
  bulkretry run groups.csv --region cn-north-4 --tz Asia/Shanghai   # times in Beijing time (+08:00); csv in UTC
  HTTPS_PROXY=http://proxy.corp:3128 bulkretry run groups.csv --region cn-north-4 --ca-bundle corp-ca.pem
  bulkretry run groups.csv --region cn-north-4 --notify env:DINGTALK_URL --notify env:SMN_TOPIC --notify-on failure
  bulkretry run groups.csv --region cn-north-4 --halt-on-failure 30:50   # stop once over 30 % of 50+ rows failed
  bulkretry run groups.csv --check-status --notify env:DINGTALK_URL --notify-on change   # hourly: news only
  bulkretry run paused.csv --region cn-north-4 --action start --check-status --verify   # groups paused for the outage
  bulkretry run running.csv --region cn-north-4 --action stop --check-status   # pause groups still running
  bulkretry run tasks.csv --region cn-north-4 --action start --check-status    # failed or stopped tasks (task_id)
  bulkretry run urgent.csv --region cn-north-4 --action priority --priority HIGH --batch-size 100
  bulkretry run groups.csv --region cn-north-4 --rate 2 --shard 0/5 --out runs/s0   # one of 5 workers (10/s in all)
"""


def actions_table() -> str:
    """The table of ``run --help``, one line per action in :data:`~bulkretry.oms.actions.ACTIONS`: its name,
    target, call and the statuses the service accepts it in."""
    from bulkretry.oms.actions import ACTIONS

    rows = [("--action", "target", "call", "status")]
    rows += [(a.name, a.target, a.describe(), ", ".join(str(s) for s in sorted(a.allowed))) for a in ACTIONS.values()]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = ["  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[3] for row in rows]
    return "actions:\n" + "\n".join(lines) + "\n" + ACTIONS_NOTE


def run_help() -> str:
    """``run --help``: three examples, what it does, the actions (from the table of actions), then the rest."""
    return RUN_EXAMPLES + RUN_INTRO + "\n" + actions_table() + "\n" + RUN_HELP


def named_groups(p: argparse.ArgumentParser, *titles: str, rerun: bool = False) -> dict[str, argparse._ArgumentGroup]:
    """The groups of :data:`GROUPS` named in *titles* (all of them by default), made on *p* in --help's order; a
    rerun's action and target and pacing say their defaults are the earlier run's."""
    earlier = ("action and target", "pacing") if rerun else ()
    return {
        title: p.add_argument_group(title, EARLIER if title in earlier else None)
        for title in GROUPS
        if title in (titles or GROUPS)
    }


RERUN_HELP = """\
Make a new run of the rows of an earlier run (DIR) that did not succeed: by default those that
failed or were interrupted, or those chosen with --only and --error-code. Credentials are read again
from the earlier run's manifest (the journal never holds any), so fix them there first if they were
the problem; rows are matched by (project_id, group_id). The earlier run's settings are used unless
given again here. The new run's folder sits beside DIR (or --out, e.g. when DIR is a read-only archive:
DIR itself is only read) and its summary names DIR as its source. Exit status as for `run`; 0 with
nothing to do when no row matches.

examples:
  bulkretry rerun bulkretry-runs/20261124-030000-groups
  bulkretry rerun runs/after-outage --only failed --error-code APIGW.0308 --error-code OMS.0500
  bulkretry rerun runs/after-outage --only skipped --check-status --call-anyway   # buckets now exist, balance topped up
  bulkretry rerun runs/after-outage --manifest groups-fixed.xlsx --rate 5 --out runs/after-outage-2
"""

VALIDATE_HELP = """\
Read MANIFEST and check every row as `run` would (columns, API limits, env: and csms: references, duplicates),
print the call a run would make (--action, see `bulkretry run --help`), each row's verdict and a summary.
Calls nothing. Exit status: 0 every row is fine, 1 some rows are
invalid, 2 the manifest cannot be used at all.

--online then checks what the run would meet, with read-only calls only: every region against the regions
OMS serves, before any call (a typo: exit 2 and the closest region; not with --endpoint); the credentials
(resolved as `run` does) and the endpoint, through the proxy and CA in use, with one list call per project and
region; the csms: cells' secrets, read as `run` reads them (which ones fail, never a value); with
--check-status, each row's GET, to say which rows a run would call and which it would skip.
Credentials refused or an endpoint not reachable: exit 2, saying which. Nothing is ever changed.

examples:
  bulkretry validate groups.xlsx --sheet 迁移任务组 --project-id 0a1b2c3d...
  bulkretry validate groups.csv --region cn-north-4 --quiet     # only the problems and the summary
  bulkretry validate groups.csv --region cn-north-4 --lang zh-CN   # the verdicts and reasons in Chinese
  bulkretry validate tasks.csv --region cn-north-4 --action priority --priority HIGH
  bulkretry validate groups.csv --region cn-north-4 --extra-column api_key   # a column named like a key, kept as is
  bulkretry validate groups.csv --region cn-north-4 --online --check-status   # before the night's run
  bulkretry validate groups.csv --region cn-north-4 --online --json > preflight.json
"""


def _add_manifest_options(p: argparse.ArgumentParser, groups: dict[str, argparse._ArgumentGroup]) -> None:
    p.add_argument(
        "manifest",
        metavar="MANIFEST",
        help="CSV (.csv/.tsv/.txt), Excel (.xlsx/.xlsm, or .xls 97-2003) "
        "or OpenDocument (.ods) file; save other formats (WPS .et, .numbers, .xlsb) as .xlsx or .csv",
    )
    g = groups["input"]
    g.add_argument(
        "--sheet",
        help="workbook sheet name, hidden or not (default: the first visible sheet; hidden "
        "sheets are read only when named; .ods: the first sheet); an error with a CSV",
    )
    g.add_argument(
        "--encoding",
        help="force the CSV encoding, a character set such as utf-8, gb18030, latin-1 "
        "or utf-16-le (utf-16 alone needs a BOM) (default: detected; UTF-8, UTF-8 BOM, UTF-16 BOM or "
        "GB18030); an error with a workbook",
    )
    g.add_argument(
        "--delimiter", help="force the CSV delimiter: ',' ';' 'tab' (default: sniffed); an error with a workbook"
    )
    add_extra_column_option(g)
    g = groups["action and target"]
    add_where_options(
        g,
        region_use="for rows without a region column",
        project_help="project for rows without a project_id column (default: $HUAWEICLOUD_SDK_PROJECT_ID)",
    )
    m = g.add_mutually_exclusive_group()
    m.add_argument(
        "--migrate-failed-object",
        dest="migrate_failed_object",
        action="store_const",
        const=True,
        help="rows with an empty migrate_failed_object cell re-send only the failed objects",
    )
    m.add_argument(
        "--full-remigrate",
        dest="migrate_failed_object",
        action="store_const",
        const=False,
        help="rows with an empty cell re-migrate fully (the API's default)",
    )


def add_extra_column_option(g: argparse._ArgumentGroup) -> None:
    """--extra-column (repeatable): a header that looks like a known column (or names a key) but is meant as it is."""
    g.add_argument(
        "--extra-column",
        action="append",
        default=[],
        metavar="NAME",
        help="a header that looks like a known column (a typo of one, or naming a key, secret or token, e.g. "
        "src_secret) but is another column, carried into the report as it is (repeatable); without it such a "
        "header stops the run before any call (exit 2)",
    )


def add_run_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = add_command(
        sub, "run", "retry (or start, stop, reprioritise) every task group or task of a manifest", run_help()
    )
    groups = named_groups(p)
    _add_manifest_options(p, groups)
    _add_action_options(groups["action and target"], rerun=False)
    _add_pace_and_output_options(groups, rerun=False)
    _add_status_options(groups["action and target"])
    add_notify_options(groups["notification"])
    g = groups["output"]
    g.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --out DIR: rows already finished are not called again",
    )
    g.add_argument(
        "--force",
        action="store_true",
        help="with --resume: continue even though the manifest or the call settings changed",
    )
    add_auth_options(p, groups)
    add_csms_option(groups["credentials"])
    p.set_defaults(handler=cmd_run)


def _add_pace_and_output_options(groups: dict[str, argparse._ArgumentGroup], *, rerun: bool) -> None:
    """The pace and output options of `run`, and of `rerun`, where a value not given is the earlier run's."""
    add_pace_options(groups["pacing"], rerun=rerun)
    add_time_box_options(groups["pacing"])
    _add_output_options(groups["output"], groups["action and target"], rerun=rerun)


def add_pace_options(g: argparse._ArgumentGroup, *, rerun: bool) -> None:
    """--rate, --concurrency, --max-attempts, --timeout: shown with their defaults for `run`, none for `rerun`."""
    from bulkretry.defaults import (
        DEFAULT_CONCURRENCY,
        DEFAULT_MAX_ATTEMPTS,
        DEFAULT_RATE,
        DEFAULT_TIMEOUT,
        MAX_ATTEMPTS,
        MAX_CONCURRENCY,
        MAX_RATE,
        MAX_TIMEOUT,
        MIN_RATE,
    )

    shown = "" if rerun else " (default: %(default)s)"
    g.add_argument(
        "--rate",
        type=rate_type,
        default=None if rerun else DEFAULT_RATE,
        metavar="N|auto",
        help=f"at most N calls per second in total, retries included, {MIN_RATE:g} to {MAX_RATE:g}"
        f"{shown}; auto[:START[:MAX]] finds each project's limit from 429s (default auto:10:1000)",
    )
    g.add_argument(
        "--concurrency",
        type=concurrency_type,
        default=None if rerun else DEFAULT_CONCURRENCY,
        metavar="N",
        help=f"at most N calls in flight, 1 to {MAX_CONCURRENCY}{shown}",
    )
    g.add_argument(
        "--max-attempts",
        type=max_attempts_type,
        default=None if rerun else DEFAULT_MAX_ATTEMPTS,
        metavar="N",
        help=f"attempts per row for 429, 5xx, timeouts and dropped connections, 1 to {MAX_ATTEMPTS}{shown}",
    )
    g.add_argument(
        "--timeout",
        type=timeout_type,
        default=None if rerun else DEFAULT_TIMEOUT,
        metavar="S",
        help=f"per-request timeout in seconds, at most {MAX_TIMEOUT:g}{shown}",
    )


def _add_output_options(g: argparse._ArgumentGroup, action: argparse._ArgumentGroup, *, rerun: bool) -> None:
    """Where the files go and in which formats, and the options of an unattended run (--dry-run: with the
    action)."""
    g.add_argument(
        "--out",
        metavar="DIR",
        help="the new run's folder (default: a new one beside the earlier run)"
        if rerun
        else "the run's folder (default: a new one under ./bulkretry-runs/)",
    )
    g.add_argument(
        "--format",
        type=formats_type,
        default=None,
        metavar="LIST",
        help="comma list of csv,xlsx,json,html (default: "
        + ("as the earlier run)" if rerun else "all four); summary.json is always written"),
    )
    action.add_argument("--dry-run", action="store_true", help="do everything but the calls")
    add_lang_option(g)
    add_tz_option(g)
    add_unattended_options(g)


def _add_action_options(g: argparse._ArgumentGroup, *, rerun: bool) -> None:
    """--action, --target, --priority, --batch-size (all None when not given: :class:`~bulkretry.run.settings.Work`
    has the defaults, or a rerun the earlier run's)."""
    from bulkretry.defaults import DEFAULT_BATCH_SIZE, MAX_BATCH_SIZE
    from bulkretry.oms.actions import ACTION_NAMES, DEFAULT_ACTION, PRIORITIES, TARGETS

    def shown(default: object) -> str:
        return "" if rerun else f" (default: {default})"

    g.add_argument(
        "--action",
        choices=ACTION_NAMES,
        help=f"the call made for each row, as in the table of actions{shown(DEFAULT_ACTION)}",
    )
    g.add_argument(
        "--target",
        choices=TARGETS,
        help="what the rows name" + shown("tasks when the manifest has a task_id column, else groups"),
    )
    g.add_argument(
        "--priority",
        choices=PRIORITIES,
        metavar="LEVEL",
        help="with --action priority: HIGH, MEDIUM or LOW, for the rows whose priority cell is empty",
    )
    g.add_argument(
        "--batch-size",
        type=batch_size_type,
        metavar="N",
        help=f"with --action priority: task ids per call, 1 to {MAX_BATCH_SIZE}{shown(DEFAULT_BATCH_SIZE)}",
    )
    g.add_argument(
        "--shard",
        type=shard_type,
        metavar="I/N",
        help="take only shard I of N (I from 0, the Kubernetes completion index): the rows whose project and "
        "target id hash to I; the other rows are neither called nor reported. `bulkretry merge` joins the shards' "
        "folders into one report" + shown("every row"),
    )


def _add_status_options(g: argparse._ArgumentGroup) -> None:
    """--check-status, --verify, --verify-timeout: the status of each target, before and after its call."""
    from bulkretry.oms.codes import NEEDS_FIX

    g.add_argument(
        "--check-status",
        action="store_true",
        help="look each group (or task) up first; skip (outcome skipped) those in a status the action is not "
        "made in (retry: 5, migration failed; see the table of actions); a lookup without a readable status "
        "fails the row (status:unknown), not retried; the reports get the group's own story (group_error_code, "
        "group_fail_num, group_failed_object_list, ...); skipped rows are not errors, and the lookups are "
        "status reads (summary.json's status_reads), not attempts. A group that retry or start would restart "
        "is skipped too when its own error_reason is one no retry can fix (error_code needs_fix:TRF.xxxx, with "
        "what to fix: " + ", ".join(NEEDS_FIX) + "), unless the row brings whole keys for the side a key code is "
        "about (src_ak/src_sk, dst_ak/dst_sk)",
    )
    g.add_argument(
        "--call-anyway",
        action="store_true",
        help="with --check-status: call the groups whose error_reason needs a fix first all the same (once it is "
        "fixed: freed space, a topped-up balance, granted permissions); a rerun and --resume keep it",
    )
    g.add_argument(
        "--verify",
        action="store_true",
        help="after the call, poll the group (or task) until the action has taken effect (retry: it leaves "
        "status 5; stop: it is paused); report status_after (and, without --check-status, the group columns of "
        "the last poll)",
    )
    from bulkretry.defaults import MAX_VERIFY_TIMEOUT

    g.add_argument(
        "--verify-timeout",
        type=verify_timeout_type,
        default=60.0,
        metavar="S",
        help=f"how long --verify polls a target, every 2 s, at most {MAX_VERIFY_TIMEOUT:g} (default: %(default)s)",
    )


def add_notify_options(g: argparse._ArgumentGroup) -> None:
    """--notify, --notify-on, --report-url: who is told when the run ends."""
    g.add_argument(
        "--notify",
        action="append",
        default=[],
        metavar="URL",
        help="when the run ends, however it ends, send its summary to URL (repeatable): any Apprise URL "
        "(dingtalk://, wecombot://, feishu://, slack://, mailto://, json://, ...) or "
        "smn://TOPIC_URN (Huawei Cloud SMN, signed with the run's credentials); env:NAME reads the "
        "URL from $NAME: prefer it, as these URLs hold keys and flags show in `ps`. A target that "
        "fails is a warning; the exit status stays as it would be. All targets together have 30 s "
        "(BULKRETRY_NOTIFY_BUDGET_S=SECONDS for another budget)",
    )
    g.add_argument(
        "--notify-on",
        choices=("always", "failure", "change"),
        default="always",
        help="send always (default); only when the exit status is not 0 (failure); or only when the rows failing "
        "or their error codes differ from the previous round's, and on every halt (change: for a schedule; the "
        "previous round is the latest run of the same manifest in the same runs folder, a rerun's is the run it "
        "reruns, and a first round is sent)",
    )
    g.add_argument(
        "--report-url",
        metavar="URL",
        help="where the runs folder is published (e.g. https://ops.example.com/bulkretry-runs): the notification "
        "links the report as URL/RUN_FOLDER/report.html besides its absolute path",
    )


def add_unattended_options(g: argparse._ArgumentGroup) -> None:
    g.add_argument("--quiet", action="store_true", help="no progress bar, only the final summary line")
    from bulkretry.cli.confirm import CONFIRM_ROWS

    g.add_argument(
        "--yes",
        action="store_true",
        help=f"do not ask before the calls: from a terminal, a run that calls over {CONFIRM_ROWS} rows or stops "
        "anything shows what it will call and asks first (never without a terminal)",
    )
    g.add_argument(
        "--log-file",
        metavar="FILE",
        help="append a JSON-lines log of the run to FILE (no secrets); if FILE stops taking writes "
        "(a full disk): one warning, the log stops, the run goes on",
    )
    g.add_argument(
        "--json-summary",
        action="store_true",
        help="print the summary as one JSON document on stdout (the summary line goes to stderr)",
    )


def add_time_box_options(g: argparse._ArgumentGroup) -> None:
    """--max-duration and --halt-on-failure: when a run stops starting calls."""
    g.add_argument(
        "--max-duration",
        type=duration_type,
        metavar="DURATION",
        help="a time box for maintenance windows, e.g. 90s, 45m, 2h (at most a week): after it no new "
        "call starts, calls in flight finish (within --timeout), the rows not called are interrupted "
        "with error code max_duration (exit 1), and --resume continues",
    )
    g.add_argument(
        "--halt-on-failure",
        type=halt_on_failure_type,
        metavar="PCT[:MIN]",
        help="stop starting calls once over PCT %% of at least MIN finished rows failed (MIN default "
        "20), e.g. 50 or 30:100: the rows not called are interrupted with error code halted (exit 1) "
        "and --resume calls them (a resume keeps the run's setting unless given again)",
    )


def add_rerun_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = add_command(sub, "rerun", "a new run of the rows of an earlier run that failed", RERUN_HELP)
    p.add_argument("source", metavar="DIR", help="the folder of the earlier run")
    groups = named_groups(p, rerun=True)
    groups["notification"].description = "(not taken from the earlier run: give them again)"
    g = groups["input"]
    g.add_argument(
        "--only",
        type=outcomes_type,
        default=None,
        metavar="LIST",
        help="comma list of outcomes to run again (default: failed,interrupted)",
    )
    g.add_argument(
        "--error-code",
        action="extend",
        nargs="+",
        default=[],
        metavar="CODE",
        help="only rows that ended with one of these error codes (repeatable)",
    )
    g.add_argument("--manifest", metavar="FILE", help="read the rows from FILE (default: the earlier run's manifest)")
    add_extra_column_option(g)
    g = groups["action and target"]
    g.add_argument("--endpoint", metavar="URL", help="OMS endpoint as https://host[:port], no path, user or query")
    g.add_argument("--region", metavar="R", help="region id for rows without a region column, e.g. cn-north-4")
    g.add_argument("--project-id", metavar="ID", help="project for rows without a project_id column")
    _add_action_options(g, rerun=True)
    _add_pace_and_output_options(groups, rerun=True)
    _add_status_options(g)
    add_notify_options(groups["notification"])
    add_auth_options(p, groups)
    add_csms_option(groups["credentials"])
    p.set_defaults(handler=cmd_rerun)


def add_where_options(g: argparse._ArgumentGroup, *, region_use: str, project_help: str) -> None:
    """--endpoint, --region and --project-id, for `run`, `validate` and `discover`: *region_use* says what the
    region is for, *project_help* where the project comes from."""
    g.add_argument(
        "--endpoint",
        metavar="URL",
        help="OMS endpoint as https://host[:port], no path, user or query "
        "(default: https://oms.{region}.myhuaweicloud.com)",
    )
    g.add_argument(
        "--region",
        metavar="R",
        help=f"region id {region_use}, e.g. cn-north-4 (lower-case letters, digits, dashes)",
    )
    g.add_argument("--project-id", metavar="ID", help=project_help)


def add_auth_options(p: argparse.ArgumentParser, groups: dict[str, argparse._ArgumentGroup] | None = None) -> None:
    """The credentials and network options, in *groups* (else in new groups of those names on *p*)."""
    from bulkretry.oms.credentials import AUTH_KINDS

    groups = groups or named_groups(p, "credentials", "network")
    g = groups["credentials"]
    g.add_argument(
        "--auth",
        choices=AUTH_KINDS,
        help="force one scheme (default: the first configured; aksk: keys from any source)",
    )
    _add_profile_option(g)
    g.add_argument("--token", help="IAM token (prefer OMS_AUTH_TOKEN or --token-file: flags show in `ps`)")
    g.add_argument(
        "--token-file",
        metavar="FILE",
        help="read the IAM token from FILE (a regular file of at most 64 KiB; spaces around are dropped)",
    )
    g.add_argument(
        "--iam-endpoint",
        metavar="URL",
        help="IAM endpoint for password auth (default: $OMS_IAM_ENDPOINT or https://iam.myhuaweicloud.com)",
    )
    g.add_argument("--iam-user", metavar="NAME", help="IAM user for password auth (default: $OMS_IAM_USER)")
    g.add_argument("--iam-domain", metavar="NAME", help="IAM account (domain) name (default: $OMS_IAM_DOMAIN)")
    net = groups["network"]
    net.add_argument("--insecure", action="store_true", help="do not verify TLS certificates (never in production)")
    _add_network_options(net)


def add_csms_option(g: argparse._ArgumentGroup) -> None:
    """``--csms-endpoint``, for the commands that read a manifest's ``csms:`` cells."""
    g.add_argument(
        "--csms-endpoint",
        metavar="URL",
        help="CSMS endpoint as https://host[:port] for csms:NAME cells (default: "
        "$HUAWEICLOUD_SDK_REGION_CSMS_<REGION>, else https://kms.{region}.myhuaweicloud.com, the row's region)",
    )


def _add_network_options(g: argparse._ArgumentGroup) -> None:
    """``--ca-bundle`` (the proxy comes from HTTPS_PROXY/HTTP_PROXY/NO_PROXY, as for every HTTP tool)."""
    g.add_argument(
        "--ca-bundle",
        metavar="FILE",
        help="trust the CA certificates in FILE (PEM) instead of the system's store, e.g. a company "
        "proxy's CA (default: $REQUESTS_CA_BUNDLE, else $SSL_CERT_FILE, else the system's store); "
        "HTTPS_PROXY, HTTP_PROXY and NO_PROXY are honoured",
    )


def _add_profile_option(g: argparse._ArgumentGroup) -> None:
    g.add_argument(
        "--profile",
        metavar="NAME",
        help="the KooCLI profile (~/.hcloud/config.json) whose keys, "
        "project and region to use (default: the current one, after the environment and the SDK's "
        "credentials file)",
    )


def add_validate_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = add_command(sub, "validate", "check a manifest and print what would happen; calls nothing", VALIDATE_HELP)
    groups = named_groups(p, "input", "action and target", "output", "credentials", "network")
    _add_manifest_options(p, groups)
    _add_action_options(groups["action and target"], rerun=False)
    groups["output"].add_argument(
        "--quiet", action="store_true", help="print only the rows with problems, and the summary"
    )
    _add_online_options(groups["action and target"], groups["output"])
    add_lang_option(groups["output"])
    add_auth_options(p, groups)
    add_csms_option(groups["credentials"])
    p.set_defaults(handler=cmd_validate)


def _add_online_options(g: argparse._ArgumentGroup, output: argparse._ArgumentGroup) -> None:
    """``validate``'s --online and --check-status (read-only calls), and --json (in *output*)."""
    g.add_argument(
        "--online",
        action="store_true",
        help="also check the regions (offline: a typo is named with the closest region), the credentials and "
        "the endpoint with one read-only list call per project and region; never a write call",
    )
    g.add_argument(
        "--check-status",
        action="store_true",
        help="with --online: look each row's group (or task) up and say whether a run would call it or skip it",
    )
    output.add_argument(
        "--json",
        dest="json_summary",
        action="store_true",
        help="print the result as one JSON document (problems, counts, what --online found)",
    )
