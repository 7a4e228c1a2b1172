"""bulkretry: restart failed Huawei Cloud OMS migration task groups in bulk.

The library never prints; :mod:`bulkretry.cli` is the only module that talks to the terminal. A script needs
only the names here (see docs/api.md):

- :func:`run_manifest` runs a manifest as ``bulkretry run`` does, from a :class:`RunSettings` (made of
  :class:`ManifestSource`, :class:`ServiceTarget`, :class:`Pacing`, :class:`Checks`, :class:`Output`,
  :class:`Work`), and returns a :class:`JobEnding` (its ``summary``, ``files`` and ``exit_status``);
- :func:`read_report` reads a run folder back: a :class:`RunReport` (its :class:`RunSummary`, its
  :class:`RowResult` rows, each with an :class:`Outcome`);
- the exceptions, each with the ``exit_status`` the CLI exits with (2: nothing was called; 1: calls were made
  but the results could not all be kept; 3: stopped early on a systematic failure).

The functions and settings are imported on first use (module ``__getattr__``), so ``import bulkretry`` and
``bulkretry --help`` stay quick; their modules are in :data:`_LAZY`.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

from bulkretry.errors import (
    ApiError,
    BulkRetryError,
    ConfigError,
    CredentialsError,
    JournalError,
    LoginRefused,
    LoginUnavailable,
    ManifestError,
    ReportError,
    Stopped,
    TransportError,
    UnsavedResults,
    UsageError,
)

__version__ = "0.1.0"

# A library logs, it does not print: without a handler configured by the application, records go nowhere.
logging.getLogger(__name__).addHandler(logging.NullHandler())

# Each public name that is not imported above, and the module it lives in.
_LAZY = {
    "run_manifest": "bulkretry.run.api",
    "read_report": "bulkretry.run.api",
    "RunReport": "bulkretry.run.api",
    "SilentRun": "bulkretry.run.api",
    "JobEnding": "bulkretry.run.job",
    "RunSettings": "bulkretry.run.settings",
    "ManifestSource": "bulkretry.run.settings",
    "ServiceTarget": "bulkretry.run.settings",
    "Pacing": "bulkretry.run.settings",
    "Checks": "bulkretry.run.settings",
    "Output": "bulkretry.run.settings",
    "Work": "bulkretry.run.settings",
    "CredentialOptions": "bulkretry.oms.credentials",
    "RunSummary": "bulkretry.records",
    "RowResult": "bulkretry.records",
    "Outcome": "bulkretry.records",
}


def __getattr__(name: str) -> Any:
    """A public name of :data:`_LAZY`, imported from its module when first asked for."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'bulkretry' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "ApiError",
    "BulkRetryError",
    "Checks",
    "ConfigError",
    "CredentialOptions",
    "CredentialsError",
    "JobEnding",
    "JournalError",
    "LoginRefused",
    "LoginUnavailable",
    "ManifestError",
    "ManifestSource",
    "Outcome",
    "Output",
    "Pacing",
    "ReportError",
    "RowResult",
    "RunReport",
    "RunSettings",
    "RunSummary",
    "ServiceTarget",
    "SilentRun",
    "Stopped",
    "TransportError",
    "UnsavedResults",
    "UsageError",
    "Work",
    "__version__",
    "read_report",
    "run_manifest",
]
