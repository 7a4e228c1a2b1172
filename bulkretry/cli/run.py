"""``bulkretry run``, ``rerun`` and ``validate``: the settings built from their options (which are in
:mod:`bulkretry.cli.run_options`), the run with its progress bar and log, the summary line and the exit status."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any, TextIO

from bulkretry.cli.common import environment, lang_of
from bulkretry.errors import EXIT_OK, EXIT_USAGE, UsageError

if TYPE_CHECKING:  # for annotations only: the commands import these lazily, so `bulkretry --help` stays fast
    from collections.abc import Callable

    from bulkretry.cli.signals import StopSignals
    from bulkretry.manifest.columns import ManifestInfo
    from bulkretry.oms.credentials import Credentials
    from bulkretry.run.prepare import PreparedRun
    from bulkretry.run.rerun import Selection
    from bulkretry.run.settings import Checks, Output, PacingGiven, RunSettings


def project_id_option(args: argparse.Namespace, env: dict[str, str] | None) -> str | None:
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
        target = settings.target
        return replace(
            settings,
            target=replace(
                target,
                project_id=target.project_id or c.project_id,
                region=target.region or (None if target.endpoint else c.region),
            ),
        )


def _settings_from(args: argparse.Namespace, env: dict[str, str]) -> RunSettings:
    """The settings that `run` and `validate` share (the manifest options)."""
    from pathlib import Path

    from bulkretry.run.settings import Checks, ManifestSource, RunSettings, ServiceTarget, Work

    return RunSettings(
        manifest=ManifestSource(
            Path(args.manifest), args.encoding, args.delimiter, args.sheet, tuple(args.extra_column)
        ),
        target=ServiceTarget(
            args.endpoint, args.region, project_id_option(args, env), csms_endpoint=args.csms_endpoint
        ),
        checks=Checks(migrate_failed_object=args.migrate_failed_object),
        work=Work(**work_given(args)),
    )


def work_given(args: argparse.Namespace) -> dict[str, Any]:
    """--action, --target, --priority, --batch-size and --shard as given (those not given left out: the defaults of
    :class:`~bulkretry.run.settings.Work`, or a rerun's earlier values, stand for them)."""
    given = {name: getattr(args, name) for name in ("action", "target", "priority", "batch_size", "shard")}
    return {name: value for name, value in given.items() if value is not None}


def _pacing_given(args: argparse.Namespace) -> PacingGiven:
    """The pace options of `run` and `rerun` as given (a rerun's are None when not given)."""
    from bulkretry.run.settings import PacingGiven

    return PacingGiven(
        rate=args.rate,
        concurrency=args.concurrency,
        max_attempts=args.max_attempts,
        timeout=args.timeout,
        halt_on_failure=args.halt_on_failure,
        max_duration=args.max_duration,
    )


def _checks(args: argparse.Namespace, migrate_failed_object: bool | None) -> Checks:
    from bulkretry.run.settings import Checks

    return Checks(
        dry_run=args.dry_run,
        check_status=args.check_status,
        call_anyway=args.call_anyway,
        verify_timeout=args.verify_timeout if args.verify else None,
        migrate_failed_object=migrate_failed_object,
    )


def _output(args: argparse.Namespace, formats: tuple[str, ...]) -> Output:
    from pathlib import Path

    from bulkretry.run.settings import Output

    return Output(out_dir=Path(args.out) if args.out else None, formats=formats, lang=lang_of(args), tz=args.tz)


def _run_settings_from(args: argparse.Namespace, env: dict[str, str]) -> RunSettings:
    """The shared settings plus `run`'s own options (a resumed rerun also gets its selection back)."""
    from dataclasses import replace

    from bulkretry.report import FORMATS
    from bulkretry.run.settings import Resume, resumed

    shared = _settings_from(args, env)
    settings = replace(
        shared,
        target=replace(shared.target, verify_tls=not args.insecure),
        pacing=_pacing_given(args).over({}),
        checks=_checks(args, args.migrate_failed_object),
        output=_output(args, args.format or FORMATS),
        resume=Resume(resume=args.resume, force=args.force),
    )
    return resumed(settings, work_given(args)) if args.resume else settings


def _rerun_settings_from(args: argparse.Namespace, env: dict[str, str]) -> tuple[Selection, RunSettings]:
    """A rerun: the earlier run's settings, overridden by the options given now."""
    from dataclasses import replace
    from pathlib import Path

    from bulkretry.run.rerun import DEFAULT_ONLY, load_selection
    from bulkretry.run.settings import ServiceTarget, rerun_settings

    selection = load_selection(Path(args.source), args.only or DEFAULT_ONLY, args.error_code)
    settings = rerun_settings(
        selection,
        manifest=args.manifest,
        target=ServiceTarget(
            args.endpoint,
            args.region,
            project_id_option(args, None),
            verify_tls=not args.insecure,
            csms_endpoint=args.csms_endpoint,
        ),
        pacing=_pacing_given(args),
        checks=_checks(args, None),
        output=_output(args, args.format or ()),
        work_given=work_given(args),
    )
    manifest = replace(settings.manifest, extra_columns=tuple(args.extra_column))
    return selection, replace(settings, manifest=manifest)


def cmd_validate(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from bulkretry.cli.validate import Validation
    from bulkretry.i18n import translation
    from bulkretry.run.prepare import prepare

    if args.check_status and not args.online:
        raise UsageError("--check-status looks each row up through OMS: give it with --online")
    env = environment()
    sourced = Sourced(args, env)
    prepared = prepare(sourced.defaults(_settings_from(args, env)), env)
    _note_manifest(args, prepared, err)
    online = None
    if args.online:
        from dataclasses import replace

        from bulkretry.oms.network import network_from
        from bulkretry.run.preflight import preflight

        network = network_from(env, ca_bundle=args.ca_bundle, verify=not args.insecure)
        online = preflight(prepared, sourced.required, network, check_status=args.check_status)
        prepared = replace(prepared, secrets=online.secrets)  # the rows' verdicts with the secrets read
    lang = lang_of(args)
    validation = Validation(prepared, call_line(prepared, translation(lang).gettext), quiet=args.quiet, lang=lang)
    return validation.json(online, out) if args.json_summary else validation.text(online, out, err)


def call_line(prepared: PreparedRun, _: Callable[[str], str]) -> str:
    """The call each row gets (what ``validate`` and a dry run show), in the language of *_*: ``call: PUT
    /v2/{project_id}/taskgroups/{group_id}/retry (--action retry on groups)``; for a batch action, the batch size
    and the levels too."""
    from bulkretry.i18n.messages import TARGET_PLURALS
    from bulkretry.oms.actions import PRIORITIES

    action, work = prepared.action, prepared.settings.work
    line = _("call: {call} (--action {action} on {target})").format(
        call=action.describe(), action=action.name, target=_(TARGET_PLURALS[action.target])
    )
    if not action.batch:
        return line
    fallback = _("else --priority {level}").format(level=work.priority) if work.priority else _("no --priority given")
    return _(
        "{call}, up to {size} task ids per call (--batch-size), task_priority {levels} from each row's priority "
        "cell, {fallback}"
    ).format(call=line, size=work.batch_size, levels="/".join(PRIORITIES), fallback=fallback)


def _note_manifest(args: argparse.Namespace, prepared: PreparedRun, err: TextIO) -> None:
    """What the user is told about how the manifest was read, in the command's language: the hidden sheets passed
    over, the title rows skipped, a key pair of which it has one column only, and (unless --quiet) a --project-id
    that the manifest's project_id column overrides."""
    from bulkretry.i18n import translation

    _ = translation(lang_of(args)).gettext
    info = prepared.info
    _note_hidden_sheets(info, err, _)
    for said in prepared.planner().half_pairs:
        print(f"warning: {info.path}: {said}", file=err)
    if info.title_rows:
        rows = ", ".join(str(row) for row in info.title_rows)
        if len(info.title_rows) == 1:
            text = _("note: {path}: row {rows} above the header (row {header}) taken for a title and skipped")
        else:
            text = _("note: {path}: rows {rows} above the header (row {header}) taken for a title and skipped")
        print(text.format(path=info.path, rows=rows, header=info.header_row), file=err)
    if getattr(args, "project_id", None) and "project_id" in info.columns and not args.quiet:
        text = _(
            "warning: {path} has a project_id column: its cells win over --project-id, which is used only for rows "
            "whose project_id cell is empty"
        )
        print(text.format(path=info.path), file=err)


def _note_hidden_sheets(info: ManifestInfo, err: TextIO, _: Callable[[str], str]) -> None:
    """Say which sheet is read when hidden sheets come before it (they are never read unless named)."""
    if info.hidden_sheets:
        hidden = ", ".join(repr(name) for name in info.hidden_sheets)
        text = _(
            "note: {path}: reading sheet {sheet}, the first visible one; hidden sheet(s) {hidden} not read (name one "
            "with --sheet to read it)"
        )
        print(text.format(path=info.path, sheet=repr(info.sheet), hidden=hidden), file=err)


def cmd_run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    env = environment()
    sourced = Sourced(args, env)
    return run_settings(args, sourced.defaults(_run_settings_from(args, env)), env, sourced, (out, err))


def run_settings(
    args: argparse.Namespace,
    settings: RunSettings,
    env: dict[str, str],
    sourced: Sourced,
    streams: tuple[TextIO, TextIO],
) -> int:
    """Read the manifest of *settings* and run it under the stop signals (``run``, ``resume``)."""
    from bulkretry.run.prepare import prepare

    out, err = streams

    def body(signals: StopSignals) -> int:
        prepared = prepare(settings, env, should_stop=signals.requested)
        _note_manifest(args, prepared, err)
        return run_prepared(args, prepared, env, sourced, out, err, signals)

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


def cmd_rerun(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from bulkretry.i18n import translation
    from bulkretry.run.prepare import prepare

    env = environment()
    sourced = Sourced(args, env)
    selection, settings = _rerun_settings_from(args, env)
    settings = sourced.defaults(settings)
    _ = translation(lang_of(args)).gettext
    what = _("outcome {outcomes}").format(outcomes=", ".join(selection.only)) + (
        _(" and error code {codes}").format(codes=", ".join(selection.error_codes)) if selection.error_codes else ""
    )
    if not selection.targets:
        print(_("nothing to rerun: no row of {source} has {what}").format(source=args.source, what=what), file=err)
        if args.json_summary:
            print(json.dumps({"rows": 0, "source_run": selection.public(), "exit_status": EXIT_OK}), file=out)
        return EXIT_OK

    def body(signals: StopSignals) -> int:
        prepared = prepare(settings, env, should_stop=signals.requested)
        _note_manifest(args, prepared, err)
        if prepared.manifest_sha256 != selection.source_params.get("manifest_sha256"):
            text = _("note: {path} changed since {source} ran; rows are matched by project and group id")
            print(text.format(path=settings.manifest.path, source=args.source), file=err)
        if prepared.missing:
            text = _("warning: {missing} of the {groups} groups with {what} are no longer in {path} and are not called")
            print(
                text.format(
                    missing=prepared.missing, groups=len(selection.targets), what=what, path=settings.manifest.path
                ),
                file=err,
            )
        return run_prepared(args, prepared, env, sourced, out, err, signals)

    return _stoppable(args, out, err, body)


def _confirmed(prepared: PreparedRun, signals: StopSignals, err: TextIO, _: Callable[[str], str]) -> bool:
    """Whether a live run may start: at a terminal, a person's yes when it calls many rows or stops anything
    (:mod:`bulkretry.cli.confirm`), asked in the language of *_*."""
    from bulkretry.cli.confirm import confirmed

    return confirmed(prepared, signals, err, _=_)


def run_prepared(
    args: argparse.Namespace,
    prepared: PreparedRun,
    env: dict[str, str],
    sourced: Sourced,
    out: TextIO,
    err: TextIO,
    signals: StopSignals,
) -> int:
    """Run *prepared* (:func:`bulkretry.run.job.run_job`) with the terminal as its observer: the progress bar, the
    lines at the end, the notifications, whatever the ending. The network settings and the ``--notify`` targets
    are checked first, before any call (exit 2)."""
    from pathlib import Path

    from bulkretry.cli.ending import Notifier, NotifyRule
    from bulkretry.cli.progress import Terminal, TerminalRun
    from bulkretry.i18n import translation
    from bulkretry.oms.network import network_from
    from bulkretry.run.job import JobRequest, run_job

    settings = prepared.settings
    _ = translation(settings.output.lang).gettext
    if settings.checks.dry_run and not args.quiet:
        print(_("dry run, nothing is called; {call}").format(call=call_line(prepared, _)), file=err)
    if not (settings.checks.dry_run or args.yes) and not _confirmed(prepared, signals, err, _):
        print(_("bulkretry: not confirmed: nothing was called"), file=err)
        return EXIT_USAGE
    network = network_from(env, ca_bundle=args.ca_bundle, verify=settings.target.verify_tls)
    targets, budget = [], 0.0
    if args.notify:
        from bulkretry.notify.send import notify_budget, resolve_targets

        target = settings.target
        targets = resolve_targets(args.notify, env, region=target.region, project_id=target.project_id)
        budget = notify_budget(env)
    log_file = Path(args.log_file) if args.log_file else None
    from bulkretry.i18n.times import Locale

    notifier = Notifier(
        targets,
        network,
        Locale(settings.output.lang, settings.output.zone),
        rule=NotifyRule(args.notify_on, args.report_url or ""),
        log_file=log_file,
        budget=budget,
    )
    terminal = Terminal(
        out, err, quiet=args.quiet, json_summary=args.json_summary, log_file=log_file, lang=settings.output.lang
    )
    request = JobRequest(
        prepared, sourced.required, network, signals, needs_auth=any(t.topic is not None for t in targets)
    )
    return run_job(request, TerminalRun(prepared, terminal, notifier)).exit_status
