"""Before a real run, without changing anything: what the run would call (:func:`call_scope`, which the CLI's
confirmation shows too) and ``validate --online``'s read-only checks (:func:`preflight`).

The checks go in this order, each only when the one before passed: every region the rows name checked against the
regions OMS serves, with no network (a typo is a :class:`~bulkretry.errors.ConfigError` that names the closest
region); the credentials resolved; the secrets of the ``csms:`` cells read, as a run reads them; then one list call
per project and region (``GET /v2/{project_id}/taskgroups``, one entry), which shows that the credentials are
accepted and the endpoint is reachable through the run's proxy and trust; with ``check_status``, each row's GET,
which says whether the run would call it or skip it. Never a write call: the client is only asked to list and to
show.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from bulkretry.defaults import DEFAULT_CONCURRENCY, DEFAULT_RATE
from bulkretry.errors import ApiError, ConfigError, LoginRefused, LoginUnavailable, TransportError
from bulkretry.i18n.messages import NO_READABLE_STATUS, REGIONS_BY_ENDPOINT, REGIONS_OVERRIDDEN, STATUS_IN_WORDS, say
from bulkretry.manifest.plan import RowPlan
from bulkretry.oms.actions import Action
from bulkretry.oms.auth import Authenticator, authenticator_for
from bulkretry.oms.client import OmsClient, make_session
from bulkretry.oms.codes import explain
from bulkretry.oms.credentials import Credentials
from bulkretry.oms.csmsref import Secrets
from bulkretry.oms.endpoint import endpoint_for_region, override_for, parse_endpoint, unknown_region
from bulkretry.oms.network import Network
from bulkretry.oms.status import fix_first, status_name, status_of
from bulkretry.run.pacing import FixedPacer
from bulkretry.run.prepare import PreparedRun, with_secrets

__all__ = [
    "CALL",
    "FAILED",
    "SKIP",
    "UNKNOWN",
    "CallScope",
    "Lookup",
    "Place",
    "PreflightResult",
    "Refusal",
    "RegionCheck",
    "call_scope",
    "check_regions",
    "preflight",
]

#: What a row's GET says a run would do with it: call it, skip it (a status the action is not made in), neither
#: (no readable status: a run fails it with ``status:unknown``), or the GET failed (a run would fail it too).
CALL, SKIP, UNKNOWN, FAILED = "call", "skip", "unknown", "failed"


@dataclass(frozen=True)
class Place:
    """Where some of a run's calls go: a project in a region (``""`` when no row names one), the endpoint the
    calls go to, and the first row that goes there."""

    project_id: str
    region: str
    endpoint: str
    first_row: int


@dataclass(frozen=True)
class CallScope:
    """What a run of a prepared manifest would call: the action, the rows it would call, the rows it would not
    (invalid or duplicate), and where the calls go."""

    action: Action
    rows: int
    not_called: int
    places: tuple[Place, ...]

    @property
    def projects(self) -> list[str]:
        return sorted({place.project_id for place in self.places})

    @property
    def regions(self) -> list[str]:
        return sorted({place.region for place in self.places if place.region})

    @property
    def endpoints(self) -> list[str]:
        return sorted({place.endpoint for place in self.places})


def _endpoint_of(prepared: PreparedRun, region: str) -> str:
    """The endpoint a call for *region* goes to: ``--endpoint``, else the region's (its SDK override first)."""
    given = prepared.settings.target.endpoint
    if given:
        return parse_endpoint(given).origin
    return endpoint_for_region(region, prepared.region_endpoints).origin


def call_scope(prepared: PreparedRun) -> CallScope:
    """Every row of *prepared* planned once (nothing called): how many a run would call and where they go."""
    places: dict[tuple[str, str], Place] = {}
    rows = not_called = 0
    for plan in prepared.plans():
        if not plan.callable:
            not_called += 1
            continue
        rows += 1
        key = (plan.project_id, plan.region)
        if key not in places:
            places[key] = Place(plan.project_id, plan.region, _endpoint_of(prepared, plan.region), plan.row)
    return CallScope(prepared.action, rows, not_called, tuple(places.values()))


@dataclass(frozen=True)
class RegionCheck:
    """The regions checked against the regions OMS serves, and why others were not (``""`` when all were)."""

    checked: tuple[str, ...]
    note: str = ""


def check_regions(prepared: PreparedRun, scope: CallScope) -> RegionCheck:
    """Every region of *scope* checked against the regions OMS serves, offline; a :class:`ConfigError` naming the
    first unknown one, where it came from, and the closest region. Not checked: any region under ``--endpoint``
    (the endpoint says where calls go) and a region the SDK's variable points elsewhere."""
    if prepared.settings.target.endpoint:
        return RegionCheck((), say(REGIONS_BY_ENDPOINT))
    overridden = [r for r in scope.regions if override_for(r, prepared.region_endpoints) is not None]
    checked = tuple(r for r in scope.regions if r not in overridden)
    for region in checked:
        problem = unknown_region(region)
        if problem:
            raise ConfigError(f"{_region_source(prepared, scope, region)}: {problem} (nothing was called)")
    note = say(REGIONS_OVERRIDDEN, names=", ".join(overridden)) if overridden else ""
    return RegionCheck(checked, note)


def _region_source(prepared: PreparedRun, scope: CallScope, region: str) -> str:
    """Where *region* came from: ``--region`` (or the credentials' default), else the first row that names it."""
    if region == prepared.settings.target.region:
        return "--region"
    row = min(place.first_row for place in scope.places if place.region == region)
    return f"row {row}, column region"


@dataclass(frozen=True)
class Refusal:
    """Why the online checks stopped: *kind* ``credentials`` (refused), ``endpoint`` (not reachable) or
    ``service`` (another answer to the list call), and a message that says which and where."""

    kind: str
    message: str


@dataclass(frozen=True)
class Lookup:
    """One row's GET: what a run would do with it (:data:`CALL`, :data:`SKIP`, :data:`UNKNOWN`, :data:`FAILED`)
    and why."""

    row: int
    target_id: str
    verdict: str
    detail: str = ""


@dataclass(frozen=True)
class PreflightResult:
    """What ``validate --online`` found: where the calls would go, the regions checked, the credentials' source,
    the proxy and trust used, the places whose list call was answered, why the checks stopped (None when they
    did not) and, with ``check_status``, each row's lookup (None without)."""

    scope: CallScope
    regions: RegionCheck
    credential_source: str
    network: dict[str, Any]
    answered: tuple[Place, ...]
    refusal: Refusal | None = None
    lookups: tuple[Lookup, ...] | None = None
    #: The secrets of the ``csms:`` cells, read (the rows' verdicts are made with them); None when none is named.
    secrets: Secrets | None = field(default=None, repr=False)

    def secret_problems(self) -> list[dict[str, str]]:
        """Each secret that could not be read: ``NAME@VERSION``, the rows' error code and why (never a value)."""
        found = self.secrets.problems() if self.secrets is not None else []
        return [{"secret": name, "code": problem.code, "message": problem.message} for name, problem in found]

    def counts(self) -> dict[str, int]:
        """Rows by what a run would do with them: from the lookups, else every row to call is a call."""
        if self.lookups is None:
            return {CALL: self.scope.rows}
        counts = {verdict: 0 for verdict in (CALL, SKIP, UNKNOWN, FAILED)}
        for lookup in self.lookups:
            counts[lookup.verdict] += 1
        return counts

    def public(self) -> dict[str, Any]:
        """The result as JSON values (``validate --online --json``)."""
        scope = self.scope
        return {
            "action": scope.action.name,
            "target": scope.action.target,
            "credentials": self.credential_source,
            "network": self.network,
            "projects": scope.projects,
            "regions": scope.regions,
            "regions_checked": list(self.regions.checked),
            "regions_note": self.regions.note,
            "endpoints": scope.endpoints,
            "answered": [
                {"project_id": p.project_id, "region": p.region, "endpoint": p.endpoint} for p in self.answered
            ],
            "refusal": None if self.refusal is None else {"kind": self.refusal.kind, "message": self.refusal.message},
            "rows": self.counts(),
            "lookups": None if self.lookups is None else [vars(lookup) for lookup in self.lookups],
            "secrets": None
            if not self.secrets
            else {"read": len(self.secrets) - len(self.secret_problems()), "failed": self.secret_problems()},
        }


def preflight(
    prepared: PreparedRun, credentials: Callable[[], Credentials], network: Network, *, check_status: bool = False
) -> PreflightResult:
    """The read-only checks of *prepared* (see the module's doc). A region OMS does not serve, or credentials that
    cannot be resolved, raise before any call; credentials refused or an endpoint not reachable come back as the
    result's ``refusal``."""
    scope = call_scope(prepared)
    regions = check_regions(prepared, scope)
    auth = authenticator_for(credentials(), timeout=prepared.settings.pacing.timeout, network=network)
    prepared = with_secrets(prepared, auth, network)
    if prepared.secrets:  # rows whose secret cannot be read are not called: counted again
        scope = call_scope(prepared)
    checks = _OnlineChecks(prepared, auth, network, scope)
    answered, refusal, lookups = asyncio.run(checks.run(check_status))
    return PreflightResult(
        scope,
        regions,
        auth.source,
        network.public(checks.proxies_used),
        answered,
        refusal,
        lookups,
        prepared.secrets or None,
    )


class _OnlineChecks:
    """The calls of :func:`preflight`, in one session: the list call of each place, then the rows' GETs."""

    def __init__(self, prepared: PreparedRun, auth: Authenticator, network: Network, scope: CallScope) -> None:
        self.prepared, self.auth, self.network, self.scope = prepared, auth, network, scope
        self.proxies_used: set[str] = set()

    async def run(self, check_status: bool) -> tuple[tuple[Place, ...], Refusal | None, tuple[Lookup, ...] | None]:
        target = self.prepared.settings.target
        async with make_session(limit=DEFAULT_CONCURRENCY) as session:
            client = OmsClient(
                session,
                self.auth,
                endpoint=target.endpoint,
                region=target.region,
                timeout=self.prepared.settings.pacing.timeout,
                network=self.network,
                region_endpoints=self.prepared.region_endpoints,
            )
            try:
                answered, refusal = await self._list_each_place(client)
                lookups = await _Lookups(client, self.prepared).run() if check_status and refusal is None else None
            finally:
                self.proxies_used = set(client.proxies_used)
        return answered, refusal, lookups

    async def _list_each_place(self, client: OmsClient) -> tuple[tuple[Place, ...], Refusal | None]:
        """One list call per place, until one fails: the places answered, and why the checks stopped."""
        answered: list[Place] = []
        for place in self.scope.places:
            try:
                await _list_one(client, place)
            except (ApiError, TransportError, LoginRefused) as exc:
                return tuple(answered), self._refusal(place, exc)
            answered.append(place)
        return tuple(answered), None

    def _refusal(self, place: Place, exc: ApiError | TransportError | LoginRefused) -> Refusal:
        where = f"project {place.project_id} at {place.endpoint}"
        if isinstance(exc, LoginRefused) or (isinstance(exc, ApiError) and exc.status in (401, 403)):
            return Refusal("credentials", f"credentials refused ({self.auth.source}) for {where}: {exc}")
        if isinstance(exc, LoginUnavailable):
            return Refusal("endpoint", f"IAM gave no token for {where}: {exc}")
        if isinstance(exc, TransportError):
            return Refusal("endpoint", f"endpoint not reachable for {where}{self._route(place)}: {exc}")
        return Refusal("service", f"the list call for {where} failed: {exc}")

    def _route(self, place: Place) -> str:
        """How the calls go to *place*'s endpoint: ``through the proxy host:port`` or directly, and the trust."""
        proxy = self.network.proxy_for(place.endpoint)
        via = "directly" if proxy is None else f"through the proxy {urlsplit(proxy.url).netloc}"
        trust = "" if not place.endpoint.startswith("https:") else f", trusting {self.network.ca_source} CAs"
        return f" ({via}{trust})"


async def _list_one(client: OmsClient, place: Place) -> None:
    """The list call of *place*: one page of one group (what is listed does not matter, only that it answered)."""
    groups = client.list_task_groups(place.project_id, page_size=1, region=place.region or None)
    try:
        async for _ in groups:
            break
    finally:
        await groups.aclose()  # type: ignore[attr-defined]


class _Lookups:
    """Each callable row's GET, at the default rate and concurrency, each row's verdict in manifest order."""

    def __init__(self, client: OmsClient, prepared: PreparedRun) -> None:
        self.client, self.action = client, prepared.action
        self.call_anyway = prepared.settings.checks.call_anyway
        self.plans = ((i, plan) for i, plan in enumerate(p for p in prepared.plans() if p.callable))
        self.pacer = FixedPacer(DEFAULT_RATE)
        self.found: dict[int, Lookup] = {}

    async def run(self) -> tuple[Lookup, ...]:
        await asyncio.gather(*(self._worker(self.plans) for _ in range(DEFAULT_CONCURRENCY)))
        return tuple(self.found[i] for i in sorted(self.found))

    async def _worker(self, plans: Iterator[tuple[int, Any]]) -> None:
        for index, plan in plans:
            await self.pacer.acquire()
            self.found[index] = await self._look(plan)

    async def _look(self, plan: RowPlan) -> Lookup:
        row, target_id = plan.row, plan.group_id
        try:
            found = await self.client.show(self.action, plan.project_id, target_id, region=plan.region or None)
        except (ApiError, TransportError) as exc:
            return Lookup(row, target_id, FAILED, str(exc))
        status = status_of(found)
        if status is None:
            return Lookup(row, target_id, UNKNOWN, say(NO_READABLE_STATUS))
        shown = say(STATUS_IN_WORDS, status=f"{status} ({status_name(status, target=self.action.target)})")
        if not self.action.accepts(status):
            return Lookup(row, target_id, SKIP, shown)
        code = fix_first(self.action, found, plan.body, call_anyway=self.call_anyway)  # the run's own rule
        if code:
            return Lookup(row, target_id, SKIP, f"{shown}: {code}, {explain(code)[1]}")
        return Lookup(row, target_id, CALL, shown)
