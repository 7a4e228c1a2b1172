"""Before any call: the manifest read end to end and the run's settings checked (``prepare``), giving a
:class:`PreparedRun` that plans each row as it is called; the secrets its ``csms:`` cells name fetched
(``with_secrets``, after the credentials and before the first OMS call)."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

import anyio

from bulkretry.errors import ConfigError
from bulkretry.manifest.columns import ManifestInfo
from bulkretry.manifest.plan import CallSpec, Planner, RowPlan
from bulkretry.manifest.read import check_headers, count_rows, iter_rows, may_hold, open_manifest, stopped_at
from bulkretry.manifest.shard import Shard
from bulkretry.masking import CSMS_PREFIX
from bulkretry.oms.actions import GROUPS, TASKS, Action, action_for
from bulkretry.oms.auth import Authenticator
from bulkretry.oms.csms import CsmsSettings, fetch_secrets
from bulkretry.oms.csmsref import SecretPlace, SecretRef, Secrets
from bulkretry.oms.endpoint import Endpoint, region_overrides
from bulkretry.oms.network import Network
from bulkretry.records import GROUP_COLUMNS, Outcome
from bulkretry.run.rundir import file_sha256
from bulkretry.run.settings import RunSettings

__all__ = ["PreparedRun", "prepare", "with_secrets"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PreparedRun:
    """A manifest read end to end (every row parses) and the run's settings checked; nothing called,
    nothing written yet. Rows are planned (checked against the API's limits) as they are called."""

    settings: RunSettings
    info: ManifestInfo
    rows: int
    env: Mapping[str, str] = field(repr=False)
    manifest_sha256: str = ""
    #: A rerun's groups that the manifest no longer holds.
    missing: int = 0
    #: The SDK's ``HUAWEICLOUD_SDK_REGION_OMS_<REGION>`` endpoints, by ``<REGION>``, checked.
    region_endpoints: Mapping[str, Endpoint] = field(default_factory=dict)
    #: The secrets of the ``csms:`` cells, fetched (:func:`with_secrets`); None before (a dry run, ``validate``):
    #: a reference is then only checked.
    secrets: Secrets | None = field(default=None, repr=False)

    @property
    def extra_columns(self) -> list[str]:
        """The report's columns after the contract's: status lookups and a group's own story (when asked
        for), then the manifest's."""
        checks = self.settings.checks
        status = (["status_before", "status_before_meaning"] if checks.check_status else []) + (
            ["status_after", "status_after_meaning"] if checks.verify_timeout is not None else []
        )
        story = list(GROUP_COLUMNS) if status and self.action.target == GROUPS else []
        return status + story + self.planner().extra_columns

    @cached_property
    def action(self) -> Action:
        """The run's call: ``--action`` on ``--target``, or on tasks when the manifest has a ``task_id`` column
        (else on groups). A :class:`~bulkretry.errors.UsageError` when there is no such call (``prepare`` asks
        first, so a run stops with it before any call). Worked out once (the planner, the engine, the reports and the
        terminal all read it)."""
        work = self.settings.work
        target = work.target or (TASKS if "task_id" in self.info.columns else GROUPS)
        return action_for(work.action, target)

    def planner(self) -> Planner:
        target = self.settings.target
        return Planner(
            columns=self.info.columns,
            project_id=target.project_id,
            region=target.region,
            endpoint=target.endpoint,
            call=CallSpec(
                self.action,
                bool(self.settings.checks.migrate_failed_object),
                self.settings.work.priority,
                secrets=self.secrets,
            ),
            env=self.env,
            base_dir=Path(self.info.path).resolve().parent,
        )

    def secret_references(self) -> set[tuple[SecretPlace, SecretRef]]:
        """The ``csms:`` references of every row, each with its row's project and region (a pass over the
        manifest only when a body field can hold one, and a cell or a default does)."""
        return self.planner().secret_references(iter_rows(self.info), lambda: may_hold(self.info, CSMS_PREFIX))

    def plans(self) -> Iterator[RowPlan]:
        """Every row's plan (a shard's rows, a rerun's selected rows), streamed from the manifest (a fresh pass each
        time)."""
        plans = self.planner().plan_all(iter_rows(self.info), self.settings.work.shard, expected=self.rows)
        selection = self.settings.resume.selection
        if selection is None:
            return plans
        return (p for p in plans if selection.keeps(p.project_id, p.group_id, p.verdict is Outcome.DUPLICATE))


def prepare(
    settings: RunSettings, env: Mapping[str, str] | None = None, *, should_stop: Callable[[], bool] | None = None
) -> PreparedRun:
    """Open the manifest (a header that looks like a known column but is none stops it, unless declared), read every
    row once (so a broken file stops here, before any call) and check the settings; raise ManifestError/ConfigError
    before anything is called.

    *should_stop* (the CLI: a stop signal came) is asked between rows; yes ends the reading with
    :class:`~bulkretry.errors.Stopped`, nothing called."""
    env = dict(os.environ if env is None else env)
    region_endpoints = {} if settings.target.endpoint else region_overrides(env)  # a bad one: ConfigError
    source = settings.manifest
    info = open_manifest(source.path, encoding=source.encoding, delimiter=source.delimiter, sheet=source.sheet)
    check_headers(info, source.extra_columns)
    try:
        digest = file_sha256(source.path)
    except OSError as exc:
        raise ConfigError(f"cannot read {source.path}: {exc.strerror or exc}") from None
    prepared = PreparedRun(settings, info, 0, env, digest, region_endpoints=region_endpoints)
    # No such call (retry on tasks: its action is the planner's first ingredient) or no project id or endpoint for
    # any row: a UsageError or ConfigError now, before any call.
    planner = prepared.planner()
    if settings.resume.selection is not None:
        return _rerun_rows(prepared, should_stop)
    if settings.work.shard is not None:
        return replace(prepared, rows=_shard_rows(prepared, planner, settings.work.shard, should_stop))
    return replace(prepared, rows=count_rows(info, should_stop=should_stop))


def _shard_rows(prepared: PreparedRun, planner: Planner, shard: Shard, should_stop: Callable[[], bool] | None) -> int:
    """How many rows of the manifest are *shard*'s."""
    rows = 0
    for raw in iter_rows(prepared.info):
        if should_stop is not None and should_stop():
            raise stopped_at(prepared.info, raw.row)
        rows += planner.in_shard(raw.values, shard)
    return rows


def _rerun_rows(prepared: PreparedRun, should_stop: Callable[[], bool] | None) -> PreparedRun:
    """A rerun: the rows of the selected targets (matched as the planner will: the run's default project), and how
    many selected targets the manifest no longer holds."""
    selection = prepared.settings.resume.selection
    assert selection is not None
    default_project = prepared.settings.target.project_id or ""
    id_column = prepared.action.id_column
    rows, seen = 0, set()
    for raw in iter_rows(prepared.info):
        if should_stop is not None and should_stop():
            raise stopped_at(prepared.info, raw.row)
        key = (raw.values.get("project_id", "") or default_project, raw.values.get(id_column, ""))
        if key in selection.targets:
            rows += key not in seen or Outcome.DUPLICATE.value in selection.only
            seen.add(key)
    return replace(prepared, rows=rows, missing=len(selection.targets - seen))


def with_secrets(prepared: PreparedRun, auth: Authenticator, network: Network) -> PreparedRun:
    """*prepared* with the secrets its ``csms:`` cells name, each secret version fetched once through *network*
    and signed by *auth* (a token cannot sign: :class:`~bulkretry.errors.CredentialsError`); none named, none
    fetched. A secret that cannot be read makes its rows invalid when they are planned; the others go on."""
    wanted = prepared.secret_references()
    if not wanted:
        return replace(prepared, secrets=Secrets())
    target = prepared.settings.target
    settings = CsmsSettings(target.csms_endpoint, prepared.env, network, prepared.settings.pacing.timeout)
    secrets = anyio.run(fetch_secrets, wanted, auth, settings, backend="asyncio")
    failed = secrets.problems()
    log.info("secrets from CSMS: %d read, %d could not be", len(secrets) - len(failed), len(failed))
    return replace(prepared, secrets=secrets)
