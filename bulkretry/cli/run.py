"""``bulkretry run``, ``rerun`` and ``validate``: the settings built from their options (which are in
:mod:`bulkretry.cli.run_options`), the run with its progress bar and log, the summary line and the exit status."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any, TextIO

from bulkretry.cli._common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_SIGINT,
    EXIT_SIGTERM,
    _lang_of,
)

if TYPE_CHECKING:  # for annotations only: the commands import these lazily, so `bulkretry --help` stays fast
    from collections.abc import Callable
    from pathlib import Path

    from bulkretry.cli.signals import StopSignals
    from bulkretry.manifest.columns import ManifestInfo
    from bulkretry.notify.send import Target
    from bulkretry.oms.credentials import Credentials
    from bulkretry.oms.network import Network
    from bulkretry.records import RunSummary
    from bulkretry.run.prepare import PreparedRun
    from bulkretry.run.rerun import Selection
    from bulkretry.run.settings import RunSettings


def _project_id(args: argparse.Namespace, env: dict[str, str] | None) -> str | None:
    """--project-id, or (when *env* is given) $HUAWEICLOUD_SDK_PROJECT_ID: checked to be one clean line, naming
    where it came from."""
    from bulkretry.oms.credentials import ENV_PROJECT_ID, check_setting

    if args.project_id:
        return check_setting(args.project_id, "--project-id")
    value = env.get(ENV_PROJECT_ID) if env is not None else None
    return check_setting(value, ENV_PROJECT_ID) if value else None


class Sourced:
    """The credentials the options and the environment point to (files read, nothing asked yet), or the
    CredentialsError that says what is wrong with them, raised when the run needs them (after the manifest is
    read, as before)."""

    def __init__(self, args: argparse.Namespace, env: dict[str, str]) -> None:
        from bulkretry.errors import CredentialsError
        from bulkretry.oms.credentials import CredentialOptions
        from bulkretry.oms.sources import load_credentials

        self.credentials: Credentials | None = None
        self.error: CredentialsError | None = None
        self.named = getattr(args, "profile", None) is not None
        try:
            self.credentials = load_credentials(env, CredentialOptions.from_options(args))
        except CredentialsError as exc:
            self.error = exc

    def required(self) -> Credentials:
        """The credentials, or their CredentialsError."""
        if self.credentials is None:
            assert self.error is not None
            raise self.error
        return self.credentials

    def defaults(self, settings: RunSettings) -> RunSettings:
        """*settings* with the project and region of the credentials file or KooCLI profile where neither the
        options nor the environment give them (the manifest's cells still win, row by row)."""
        from dataclasses import replace

        c = self.credentials
        if c is None:
            if self.error is not None and self.named:  # a profile asked for by name: told at once, even in a dry run
                raise self.error
            return settings
        return replace(
            settings,
            project_id=settings.project_id or c.project_id,
            region=settings.region or (None if settings.endpoint else c.region),
        )


def _settings_from(args: argparse.Namespace, env: dict[str, str]) -> RunSettings:
    """The settings that `run` and `validate` share (the manifest options)."""
    from pathlib import Path

    from bulkretry.run.settings import RunSettings

    return RunSettings(
        manifest=Path(args.manifest),
        encoding=args.encoding,
        delimiter=args.delimiter,
        sheet=args.sheet,
        endpoint=args.endpoint,
        region=args.region,
        project_id=_project_id(args, env),
        migrate_failed_object=args.migrate_failed_object,
    )


def _run_settings_from(args: argparse.Namespace, env: dict[str, str]) -> RunSettings:
    """The shared settings plus `run`'s own options (a resumed rerun also gets its selection back)."""
    from dataclasses import replace
    from pathlib import Path

    from bulkretry.report import FORMATS
    from bulkretry.run.settings import rate_fields, resumed

    settings = replace(
        _settings_from(args, env),
        **rate_fields(args.rate),
        concurrency=args.concurrency,
        max_attempts=args.max_attempts,
        timeout=args.timeout,
        out_dir=Path(args.out) if args.out else None,
        formats=args.format or FORMATS,
        dry_run=args.dry_run,
        verify_tls=not args.insecure,
        resume=args.resume,
        force=args.force,
        check_status=args.check_status,
        verify_timeout=args.verify_timeout if args.verify else None,
        max_duration=args.max_duration,
        lang=_lang_of(args),
        halt_on_failure=args.halt_on_failure,
    )
    return resumed(settings) if args.resume else settings


def _rerun_settings_from(args: argparse.Namespace, env: dict[str, str]) -> tuple[Selection, RunSettings]:
    """A rerun: the earlier run's settings, overridden by the options given now."""
    from pathlib import Path

    from bulkretry.run.rerun import DEFAULT_ONLY, load_selection
    from bulkretry.run.settings import rerun_settings

    selection = load_selection(Path(args.source), args.only or DEFAULT_ONLY, args.error_code)
    return selection, rerun_settings(
        selection,
        manifest=args.manifest,
        endpoint=args.endpoint,
        region=args.region,
        project_id=_project_id(args, None),
        rate=args.rate,
        concurrency=args.concurrency,
        max_attempts=args.max_attempts,
        timeout=args.timeout,
        out_dir=Path(args.out) if args.out else None,
        formats=args.format,
        dry_run=args.dry_run,
        verify_tls=not args.insecure,
        check_status=args.check_status,
        verify_timeout=args.verify_timeout if args.verify else None,
        max_duration=args.max_duration,
        lang=_lang_of(args),
        halt_on_failure=args.halt_on_failure,
    )


def _cmd_validate(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    import os

    from bulkretry.run.prepare import prepare

    env = dict(os.environ)
    prepared = prepare(Sourced(args, env).defaults(_settings_from(args, env)), env)
    info = prepared.info
    _note_hidden_sheets(info, err)
    where = f"sheet {info.sheet!r}" if info.kind != "csv" else f"{info.encoding}, delimiter {info.delimiter!r}"
    print(f"{info.path} ({info.kind}, {where}): {prepared.rows} rows, columns: {', '.join(info.columns)}", file=out)
    print(f"{'row':>6}  {'group_id':<38} verdict    reason", file=out)
    counts: dict[str, int] = {}
    for plan in prepared.plans():
        verdict = "ok" if plan.callable else plan.verdict.value  # type: ignore[union-attr]
        counts[verdict] = counts.get(verdict, 0) + 1
        if args.quiet and plan.callable:
            continue
        reason = f"{plan.error_code}: {plan.error_msg}" if plan.error_code else ""
        print(f"{plan.row:>6}  {plan.group_id:<38} {verdict:<10} {reason}".rstrip(), file=out)
    print(
        f"summary: {prepared.rows} rows · {counts.get('ok', 0)} to call · {counts.get('duplicate', 0)} duplicate"
        f" · {counts.get('invalid', 0)} invalid · nothing was called",
        file=out,
    )
    return EXIT_FAILED if counts.get("invalid") else EXIT_OK


def _summary_line(summary: RunSummary, files: list[Path], lang: str = "en") -> str:
    """The line printed at the end of a run, in *lang* (English names the outcomes as the csv does)."""
    from bulkretry.i18n import DEFAULT_LANG, translation
    from bulkretry.report.charts import outcome_label

    _ = translation(lang).gettext
    order = ["succeeded", "failed", "invalid", "duplicate", "skipped", "dry_run", "interrupted"]
    counts = _(", ").join(
        _("{count} {outcome}").format(
            count=summary.by_outcome[k], outcome=k if lang == DEFAULT_LANG else outcome_label(k, lang)
        )
        for k in order
        if summary.by_outcome.get(k)
    )
    codes = [(c, n) for c, n in summary.by_error_code.items() if c not in ("duplicate",)][:3]
    top = _(" · top errors: {codes}").format(codes=_(", ").join(f"{c} ×{n}" for c, n in codes)) if codes else ""
    return _("{rows} rows: {counts}{top} · {duration} s · {calls} calls at {rate}/s · report: {report}").format(
        rows=summary.rows,
        counts=counts or _("nothing"),
        top=top,
        duration=f"{summary.duration_s:.1f}",
        calls=summary.calls,
        rate=f"{summary.achieved_rate:g}",
        report=_report_file(summary, files),
    )


def _report_file(summary: RunSummary, files: list[Path]) -> Path | str:
    """The report to open: report.html, else report.xlsx, else the first file written, else the folder."""
    shown = {f.name: f for f in files}
    return shown.get("report.html") or shown.get("report.xlsx") or (files[0] if files else summary.out_dir)


def _note_hidden_sheets(info: ManifestInfo, err: TextIO) -> None:
    """Say which sheet is read when hidden sheets come before it (they are never read unless named)."""
    if info.hidden_sheets:
        hidden = ", ".join(repr(name) for name in info.hidden_sheets)
        print(
            f"note: {info.path}: reading sheet {info.sheet!r}, the first visible one; hidden sheet(s) {hidden} "
            "not read (name one with --sheet to read it)",
            file=err,
        )


def _cmd_run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    import os

    from bulkretry.run.prepare import prepare

    env = dict(os.environ)
    sourced = Sourced(args, env)
    settings = sourced.defaults(_run_settings_from(args, env))

    def body(signals: StopSignals) -> int:
        prepared = prepare(settings, env, should_stop=signals.requested)
        _note_hidden_sheets(prepared.info, err)
        return _execute(args, prepared, env, sourced, out, err, signals)

    return _stoppable(args, out, err, body)


def _stoppable(args: argparse.Namespace, out: TextIO, err: TextIO, body: Callable[[StopSignals], int]) -> int:
    """*body* under the stop signals, installed before the manifest is read (see :mod:`bulkretry.cli.signals`):
    a stop before any call ends with the signal's status and nothing called."""
    from bulkretry.cli.signals import StopSignals
    from bulkretry.errors import Stopped

    with StopSignals() as signals:
        try:
            return body(signals)
        except Stopped as exc:
            raise Stopped(exc.where, signal=signals.name, exit_status=signals.exit_status) from None
        except KeyboardInterrupt:  # a second signal with no run to hand it to: abort at once
            print(f"bulkretry: aborted by a second {signals.name or 'SIGINT'}", file=err)
            if getattr(args, "json_summary", False):
                print(json.dumps({"signal": signals.name, "exit_status": signals.exit_status}), file=out)
            return signals.exit_status


def _cmd_rerun(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    import os

    from bulkretry.run.prepare import prepare

    env = dict(os.environ)
    sourced = Sourced(args, env)
    selection, settings = _rerun_settings_from(args, env)
    settings = sourced.defaults(settings)
    what = f"outcome {', '.join(selection.only)}" + (
        f" and error code {', '.join(selection.error_codes)}" if selection.error_codes else ""
    )
    if not selection.targets:
        print(f"nothing to rerun: no row of {args.source} has {what}", file=err)
        if args.json_summary:
            print(json.dumps({"rows": 0, "source_run": selection.public(), "exit_status": EXIT_OK}), file=out)
        return EXIT_OK

    def body(signals: StopSignals) -> int:
        prepared = prepare(settings, env, should_stop=signals.requested)
        _note_hidden_sheets(prepared.info, err)
        if prepared.manifest_sha256 != selection.source_params.get("manifest_sha256"):
            print(
                f"note: {settings.manifest} changed since {args.source} ran; rows are matched by project and group id",
                file=err,
            )
        if prepared.missing:
            print(
                f"warning: {prepared.missing} of the {len(selection.targets)} groups with {what} are no longer "
                f"in {settings.manifest} and are not called",
                file=err,
            )
        return _execute(args, prepared, env, sourced, out, err, signals)

    return _stoppable(args, out, err, body)


def _execute(
    args: argparse.Namespace,
    prepared: PreparedRun,
    env: dict[str, str],
    sourced: Sourced,
    out: TextIO,
    err: TextIO,
    signals: StopSignals,
) -> int:
    """Run *prepared* (see :func:`_run_and_report`), then send the notifications, whatever the ending: an exit
    status, an error (re-raised after), or a second signal. The network settings and the ``--notify`` targets
    are checked first, before any call (exit 2)."""
    from pathlib import Path

    from bulkretry.errors import BulkRetryError
    from bulkretry.oms.network import network_from

    settings = prepared.settings
    network = network_from(env, ca_bundle=args.ca_bundle, verify=settings.verify_tls)
    targets = []
    if args.notify:
        from bulkretry.notify.send import resolve_targets

        targets = resolve_targets(args.notify, env, region=settings.region, project_id=settings.project_id)
    # What names the run before it has a summary: its folder when given, else its manifest.
    ended: dict[str, Any] = {
        "run_id": Path(args.out).name if args.out else settings.manifest.name,
        "lang": settings.lang,
    }
    try:
        code = _run_and_report(
            args, prepared, sourced, out, err, signals, network, ended, smn=any(t.topic is not None for t in targets)
        )
    except BulkRetryError as exc:
        _notify(args, targets, network, ended, err, exc.exit_status, error=str(exc))
        raise
    except KeyboardInterrupt:  # a second signal with no run to hand it to
        _notify(args, targets, network, ended, err, signals.exit_status, signal=signals.name or "SIGINT")
        raise
    _notify(args, targets, network, ended, err, code)
    return code


def _notify(
    args: argparse.Namespace,
    targets: list[Target],
    network: Network,
    ended: dict[str, Any],
    err: TextIO,
    exit_status: int,
    *,
    error: str = "",
    signal: str | None = None,
) -> None:
    """Send the run's ending to *targets* (per ``--notify-on``); what could not be sent is a warning on *err* and
    in the log file, and changes nothing else."""
    if not targets or (args.notify_on == "failure" and exit_status == EXIT_OK):
        return
    import logging
    from pathlib import Path

    from bulkretry.cli.logfile import json_log
    from bulkretry.notify.message import Ending, render
    from bulkretry.notify.send import send_notifications, signer_for

    summary = ended.get("summary")
    ending = Ending(
        exit_status,
        summary,
        report=ended.get("report", ""),
        halted=ended.get("halted", ""),
        signal=ended.get("signal") or signal,
        error=error,
        run_id=summary.run_id if summary is not None else ended.get("run_id", ""),
    )
    auth = ended.get("auth")
    from bulkretry.i18n import DEFAULT_LANG, translation
    from bulkretry.report.charts import outcome_label

    lang = ended["lang"]
    message = render(
        ending,
        gettext=translation(lang).gettext,
        outcome_name=(lambda k: k) if lang == DEFAULT_LANG else (lambda k: outcome_label(k, lang)),
    )
    warnings = send_notifications(
        targets,
        message,
        network=network,
        failed=ending.failed,
        sign=signer_for(auth, network) if auth is not None else None,
    )
    if not warnings:
        return
    log = logging.getLogger("bulkretry.notify")
    with json_log(Path(args.log_file) if args.log_file else None, err):
        for warning in warnings:
            print(f"bulkretry: warning: {warning}", file=err)
            log.warning("%s", warning, extra={"event": "notify_failed", "fields": {}})


def _run_and_report(
    args: argparse.Namespace,
    prepared: PreparedRun,
    sourced: Sourced,
    out: TextIO,
    err: TextIO,
    signals: StopSignals,
    network: Network,
    ended: dict[str, Any],
    *,
    smn: bool = False,
) -> int:
    """Run *prepared* with a progress bar (and a JSON log), print the summary, pick the exit status. What the
    notification says goes into *ended* as it becomes known (``auth``, ``summary``, ``report``, ...); *smn*: an
    ``smn://`` target needs the credentials even for a dry run."""
    import shlex
    from dataclasses import replace
    from pathlib import Path

    from bulkretry.cli.logfile import json_log
    from bulkretry.cli.progress import run_with_progress
    from bulkretry.oms.auth import authenticator_for
    from bulkretry.records import FAILING

    settings = prepared.settings
    auth = None
    if not settings.dry_run or smn:  # the ECS agency: its first keys are asked for here (exit 2 when none come)
        auth = ended["auth"] = authenticator_for(
            sourced.required(), timeout=settings.timeout, verify_tls=settings.verify_tls, network=network
        )
    if signals.requested():  # stopped after the manifest was read: no run folder, no call
        from bulkretry.errors import Stopped

        raise Stopped("before the first call")
    # The run allocates a few short-lived objects per call and keeps few cycles: freeze what the imports
    # made and collect the youngest generation less often. Measured: about 4 % less CPU per call.
    import gc

    gc.freeze()
    threshold = gc.get_threshold()
    gc.set_threshold(max(threshold[0], 50_000), *threshold[1:])
    try:
        with json_log(Path(args.log_file) if args.log_file else None, err):
            outcome = run_with_progress(prepared, auth, quiet=args.quiet, err=err, signals=signals, network=network)
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()
    summary = outcome.result.summary if outcome.result is not None else None
    outcome = replace(outcome, signal=signals.name)  # a signal while the reports were written counts too
    ended.update(summary=summary, signal=outcome.signal, report=str(outcome.out_dir or ""))
    if outcome.out_dir:
        ended["run_id"] = outcome.out_dir.name
    if outcome.signal is not None:
        code = EXIT_SIGTERM if outcome.signal == "SIGTERM" else EXIT_SIGINT
    else:
        by = summary.by_outcome  # type: ignore[union-attr]
        code = EXIT_FAILED if any(by.get(k) for k in FAILING) else EXIT_OK
    if outcome.result is not None:
        ended.update(
            report=str(_report_file(outcome.result.summary, outcome.result.files)),
            halted=outcome.result.halted if outcome.signal is None else "",
        )
        line = _summary_line(outcome.result.summary, outcome.result.files, settings.lang)
        print(line, file=err if args.json_summary else out)
        if outcome.result.note:
            print(f"note: no annotated manifest: {outcome.result.note}", file=err)
        changed = outcome.result.changed
        if changed.rows:
            print(
                f"bulkretry: warning: {changed.rows} rows finished in an earlier session now hold other groups "
                f"(the manifest changed, and --force resumed anyway), so those groups were not called: "
                f"{', '.join(changed.first)}{', ...' if changed.rows > len(changed.first) else ''}; call them "
                "with a new run (without --resume) of a manifest that lists them",
                file=err,
            )
        if outcome.result.halted and outcome.signal is None:
            halt_code = outcome.result.halt_code
            boxed = halt_code == "max_duration"
            print(
                f"bulkretry: {'the time box ended' if boxed else 'the run halted'}: {outcome.result.halted}; the "
                f"rows not called are interrupted (error code {halt_code}): {'' if boxed else 'fix the cause, then '}"
                "continue with: "
                "bulkretry run "
                f"{shlex.quote(str(settings.manifest))} --out {shlex.quote(str(outcome.result.out_dir))} --resume "
                "(and the same options)",
                file=err,
            )
    if outcome.signal is not None:
        print(
            f"bulkretry: stopped by {outcome.signal}; unfinished rows are marked interrupted"
            + (
                f"; report in {outcome.out_dir}; continue with: bulkretry run {shlex.quote(str(settings.manifest))} "
                f"--out {shlex.quote(str(outcome.out_dir))} --resume (and the same options)"
                if outcome.out_dir
                else ""
            ),
            file=err,
        )
    if args.json_summary:
        data = summary.as_dict() if summary is not None else {}
        files = [str(f) for f in outcome.result.files] if outcome.result is not None else []
        halted = outcome.result.halted if outcome.result is not None else ""
        print(
            json.dumps(
                {**data, "files": files, "signal": outcome.signal, "halted": halted or None, "exit_status": code},
                ensure_ascii=False,
            ),
            file=out,
        )
    return code
