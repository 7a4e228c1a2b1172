"""What ``bulkretry validate`` prints: the manifest, the call, each row's verdict and a summary, then (``--online``)
what the read-only checks found; as text, or as one JSON document (``--json``). The checks themselves are the
library's (:mod:`bulkretry.run.preflight`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, TextIO

from bulkretry.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE

if TYPE_CHECKING:  # for annotations only: the command imports this module lazily
    from bulkretry.manifest.plan import RowPlan
    from bulkretry.run.preflight import PreflightResult
    from bulkretry.run.prepare import PreparedRun

__all__ = ["Validation"]


def _verdict(plan: RowPlan) -> str:
    return "ok" if plan.callable else plan.verdict.value  # type: ignore[union-attr]


class Validation:
    """The report of one ``validate``: *prepared* (the manifest read), *call* (the call line a run would make)."""

    def __init__(self, prepared: PreparedRun, call: str, *, quiet: bool) -> None:
        self.prepared, self.call, self.quiet = prepared, call, quiet
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
        info, prepared = self.prepared.info, self.prepared
        where = f"sheet {info.sheet!r}" if info.kind != "csv" else f"{info.encoding}, delimiter {info.delimiter!r}"
        print(f"{info.path} ({info.kind}, {where}): {prepared.rows} rows, columns: {', '.join(info.columns)}", file=out)
        print(self.call, file=out)
        self._print_verdicts(out)
        counts = self.counts
        print(
            f"summary: {prepared.rows} rows · {counts.get('ok', 0)} to call · {counts.get('duplicate', 0)} duplicate"
            f" · {counts.get('invalid', 0)} invalid · "
            + ("nothing was changed (the read-only calls follow)" if online else "nothing was called"),
            file=out,
        )
        if online is not None:
            _print_online(online, out, err, quiet=self.quiet)
        return self.exit_status(online)

    def _print_verdicts(self, out: TextIO) -> None:
        """Each row's verdict under a header naming the target's column (only the problems when quiet)."""
        print(f"{'row':>6}  {self.prepared.action.id_column:<38} verdict    reason", file=out)
        for plan in self._plans():
            if self.quiet and plan.callable:
                continue
            reason = f"{plan.error_code}: {plan.error_msg}" if plan.error_code else ""
            print(f"{plan.row:>6}  {plan.group_id:<38} {_verdict(plan):<10} {reason}".rstrip(), file=out)

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


def _print_online(online: PreflightResult, out: TextIO, err: TextIO, *, quiet: bool) -> None:
    """What ``--online`` found: regions, credentials, endpoints, then the lookups, or why the checks stopped."""
    scope, regions = online.scope, online.regions
    if regions.checked:
        print(f"online: regions {', '.join(regions.checked)}: served by OMS", file=out)
    if regions.note:
        print(f"online: {regions.note}", file=out)
    print(f"online: credentials from {online.credential_source}; calls go {_route(online.network)}", file=out)
    _print_secrets(online, out)
    for place in online.answered:
        where = f" in {place.region}" if place.region else ""
        print(
            f"online: {place.endpoint} answered the list call of project {place.project_id}{where}: "
            "credentials accepted",
            file=out,
        )
    if online.refusal is not None:
        print(f"bulkretry: error: {online.refusal.message}", file=err)
        print("online: stopped at the failed list call: nothing else was called", file=out)
        return
    if online.lookups is not None:
        _print_lookups(online, out, quiet=quiet)
    counts = online.counts()
    print(
        f"online summary: {counts.get('call', 0)} rows would be called · {counts.get('skip', 0)} skipped"
        + (" (statuses not looked up: --check-status)" if online.lookups is None else "")
        + f" · {len(scope.places)} list call{'s' if len(scope.places) != 1 else ''}"
        + ("" if online.lookups is None else f" and {len(online.lookups)} lookups")
        + ", read-only: nothing was changed",
        file=out,
    )


def _print_secrets(online: PreflightResult, out: TextIO) -> None:
    """The secrets of the csms: cells: how many were read, and each that could not be (never a value)."""
    if not online.secrets:
        return
    problems = online.secret_problems()
    print(f"online: secrets from CSMS: {len(online.secrets) - len(problems)} read, {len(problems)} not", file=out)
    for problem in problems:
        print(f"online: secret {problem['secret']}: {problem['code']}: {problem['message']}", file=out)


def _route(network: dict[str, Any]) -> str:
    """How the calls went (``Network.public``'s proxy and trust), in words."""
    route = f"through the proxy {network['proxy']}" if network.get("proxy") else "directly (no proxy)"
    if network["ca"] == "insecure":
        return f"{route}, certificates not checked (--insecure)"
    source = network["ca"] + (f" {network['ca_file']}" if network.get("ca_file") else "")
    return f"{route}, certificates checked against {source}"


def _print_lookups(online: PreflightResult, out: TextIO, *, quiet: bool) -> None:
    """Each row's lookup (only those a run would not call when *quiet*)."""
    print(f"{'row':>6}  {online.scope.action.id_column:<38} would      status", file=out)
    for lookup in online.lookups or ():
        if quiet and lookup.verdict == "call":
            continue
        print(f"{lookup.row:>6}  {lookup.target_id:<38} {lookup.verdict:<10} {lookup.detail}".rstrip(), file=out)
