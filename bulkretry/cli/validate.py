"""What ``bulkretry validate`` prints: the manifest, the call, each row's verdict and a summary, then (``--online``)
what the read-only checks found; as text, or as one JSON document (``--json``). The checks themselves are the
library's (:mod:`bulkretry.run.preflight`)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TextIO

from bulkretry.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from bulkretry.i18n import DEFAULT_LANG, N_, translation
from bulkretry.i18n.messages import translate

if TYPE_CHECKING:  # for annotations only: the command imports this module lazily
    from bulkretry.manifest.plan import RowPlan
    from bulkretry.run.preflight import PreflightResult
    from bulkretry.run.prepare import PreparedRun

__all__ = ["Validation"]


def _verdict(plan: RowPlan) -> str:
    return "ok" if plan.callable else plan.verdict.value  # type: ignore[union-attr]


#: What a verdict says in the text report (the JSON keeps ``ok``, ``duplicate``, ``invalid``).
_VERDICT_WORDS = {"ok": N_("ok"), "duplicate": N_("duplicate"), "invalid": N_("invalid")}
#: What an ``--online --check-status`` lookup says a run would do with the row (the JSON keeps the word).
_LOOKUP_WORDS = {"call": N_("call"), "skip": N_("skip"), "unknown": N_("unknown"), "failed": N_("failed")}


class Validation:
    """The report of one ``validate``: *prepared* (the manifest read), *call* (the call line a run would make);
    its text in *lang* (its JSON is machine data, in English)."""

    def __init__(self, prepared: PreparedRun, call: str, *, quiet: bool, lang: str = DEFAULT_LANG) -> None:
        self.prepared, self.call, self.quiet, self.lang = prepared, call, quiet, lang
        self._ = translation(lang).gettext
        self.counts: dict[str, int] = {}

    def _plans(self) -> Iterator[RowPlan]:
        """Every row's plan, each counted by verdict as it goes by."""
        for plan in self.prepared.plans():
            verdict = _verdict(plan)
            self.counts[verdict] = self.counts.get(verdict, 0) + 1
            yield plan

    def exit_status(self, online: PreflightResult | None) -> int:
        """2 when the online checks were refused; 1 when a row is invalid or its lookup says a run would fail it;
        else 0."""
        if online is not None and online.refusal is not None:
            return EXIT_USAGE
        looked = online.counts() if online is not None else {}
        return EXIT_FAILED if self.counts.get("invalid") or looked.get("unknown") or looked.get("failed") else EXIT_OK

    # -- as text -----------------------------------------------------------------------------------

    def text(self, online: PreflightResult | None, out: TextIO, err: TextIO) -> int:
        """Print the report as text to *out* (a refusal also to *err*); the exit status."""
        _ = self._
        print(self._manifest_line(), file=out)
        print(self.call, file=out)
        self._print_verdicts(out)
        counts = self.counts
        line = _("summary: {rows} rows · {ok} to call · {duplicate} duplicate · {invalid} invalid · {then}")
        then = _("nothing was changed (the read-only calls follow)") if online else _("nothing was called")
        print(
            line.format(
                rows=self.prepared.rows,
                ok=counts.get("ok", 0),
                duplicate=counts.get("duplicate", 0),
                invalid=counts.get("invalid", 0),
                then=then,
            ),
            file=out,
        )
        if online is not None:
            _print_online(online, out, err, quiet=self.quiet, lang=self.lang)
        return self.exit_status(online)

    def _manifest_line(self) -> str:
        """``groups.csv (csv, utf-8, delimiter ','): 3 rows, columns: group_id, project_id``."""
        info, _ = self.prepared.info, self._
        if info.kind != "csv":
            where = _("sheet {sheet}").format(sheet=repr(info.sheet))
        else:
            where = _("{encoding}, delimiter {delimiter}").format(
                encoding=info.encoding, delimiter=repr(info.delimiter)
            )
        return _("{path} ({kind}, {where}): {rows} rows, columns: {columns}").format(
            path=info.path, kind=info.kind, where=where, rows=self.prepared.rows, columns=", ".join(info.columns)
        )

    def _print_verdicts(self, out: TextIO) -> None:
        """Each row's verdict under a header naming the target's column (only the problems when quiet); our own
        messages in the report's language, their codes as they are."""
        _ = self._
        print(f"{_('row'):>6}  {self.prepared.action.id_column:<38} {_('verdict'):<10} {_('reason')}", file=out)
        for plan in self._plans():
            if self.quiet and plan.callable:
                continue
            message = translate(plan.error_msg, self.lang)
            reason = f"{plan.error_code}: {message}" if plan.error_code else ""
            verdict = _(_VERDICT_WORDS[_verdict(plan)])
            print(f"{plan.row:>6}  {plan.group_id:<38} {verdict:<10} {reason}".rstrip(), file=out)

    # -- as JSON -----------------------------------------------------------------------------------

    def json(self, online: PreflightResult | None, out: TextIO) -> int:
        """Print the report as one JSON document to *out*; the exit status."""
        info, id_column = self.prepared.info, self.prepared.action.id_column
        problems = [
            {
                "row": p.row,
                id_column: p.group_id,
                "verdict": _verdict(p),
                "error_code": p.error_code,
                "error_msg": p.error_msg,
            }
            for p in self._plans()
            if not p.callable
        ]
        status = self.exit_status(online)
        document: dict[str, Any] = {
            "manifest": str(info.path),
            "kind": info.kind,
            "columns": list(info.columns),
            "rows": self.prepared.rows,
            "call": self.call,
            "verdicts": {name: self.counts.get(name, 0) for name in ("ok", "duplicate", "invalid")},
            "problems": problems,
            "online": None if online is None else online.public(),
            "exit_status": status,
        }
        print(json.dumps(document, ensure_ascii=False, indent=2), file=out)
        return status


def _print_online(online: PreflightResult, out: TextIO, err: TextIO, *, quiet: bool, lang: str) -> None:
    """What ``--online`` found, in *lang*: regions, credentials, endpoints, then the lookups, or why the checks
    stopped."""
    _ = translation(lang).gettext
    regions = online.regions
    if regions.checked:
        print(_("online: regions {regions}: served by OMS").format(regions=", ".join(regions.checked)), file=out)
    if regions.note:
        print(_("online: {note}").format(note=translate(regions.note, lang)), file=out)
    source = translate(online.credential_source, lang)
    text = _("online: credentials from {source}; calls go {route}")
    print(text.format(source=source, route=_route(online.network, _)), file=out)
    _print_secrets(online, out)
    for place in online.answered:
        where = _(" in {region}").format(region=place.region) if place.region else ""
        text = _("online: {endpoint} answered the list call of project {project}{where}: credentials accepted")
        print(text.format(endpoint=place.endpoint, project=place.project_id, where=where), file=out)
    if online.refusal is not None:
        print(_("bulkretry: error: {message}").format(message=online.refusal.message), file=err)
        print(_("online: stopped at the failed list call: nothing else was called"), file=out)
        return
    if online.lookups is not None:
        _print_lookups(online, out, quiet=quiet, lang=lang)
    print(_online_summary(online, _), file=out)


def _print_secrets(online: PreflightResult, out: TextIO) -> None:
    """The secrets of the csms: cells: how many were read, and each that could not be (never a value)."""
    if not online.secrets:
        return
    problems = online.secret_problems()
    print(f"online: secrets from CSMS: {len(online.secrets) - len(problems)} read, {len(problems)} not", file=out)
    for problem in problems:
        print(f"online: secret {problem['secret']}: {problem['code']}: {problem['message']}", file=out)


def _online_summary(online: PreflightResult, _: Callable[[str], str]) -> str:
    """``online summary: 3 rows would be called · 1 skipped · 1 list call and 4 lookups, read-only: ...``."""
    counts, places = online.counts(), len(online.scope.places)
    if online.lookups is None:
        line = _("{calls} list call") if places == 1 else _("{calls} list calls")
        line = _("{skipped} skipped (statuses not looked up: --check-status)") + " · " + line
    else:
        line = (
            _("{calls} list call and {lookups} lookups")
            if places == 1
            else _("{calls} list calls and {lookups} lookups")
        )
        line = _("{skipped} skipped") + " · " + line
    text = _("online summary: {rows} rows would be called · {rest}, read-only: nothing was changed")
    rest = line.format(skipped=counts.get("skip", 0), calls=places, lookups=len(online.lookups or ()))
    return text.format(rows=counts.get("call", 0), rest=rest)


def _route(network: dict[str, Any], _: Callable[[str], str]) -> str:
    """How the calls went (``Network.public``'s proxy and trust), in words."""
    if network.get("proxy"):
        route = _("through the proxy {proxy}").format(proxy=network["proxy"])
    else:
        route = _("directly (no proxy)")
    if network["ca"] == "insecure":
        return _("{route}, certificates not checked (--insecure)").format(route=route)
    source = network["ca"] + (f" {network['ca_file']}" if network.get("ca_file") else "")
    return _("{route}, certificates checked against {source}").format(route=route, source=source)


def _print_lookups(online: PreflightResult, out: TextIO, *, quiet: bool, lang: str) -> None:
    """Each row's lookup (only those a run would not call when *quiet*)."""
    _ = translation(lang).gettext
    print(f"{_('row'):>6}  {online.scope.action.id_column:<38} {_('would'):<10} {_('status')}", file=out)
    for lookup in online.lookups or ():
        if quiet and lookup.verdict == "call":
            continue
        verdict, detail = _(_LOOKUP_WORDS.get(lookup.verdict, lookup.verdict)), translate(lookup.detail, lang)
        print(f"{lookup.row:>6}  {lookup.target_id:<38} {verdict:<10} {detail}".rstrip(), file=out)
