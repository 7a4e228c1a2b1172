"""bulkretry: restart failed Huawei Cloud OMS migration task groups in bulk.

The library never prints; :mod:`bulkretry.cli` is the only module that talks to the terminal.
"""

import logging

from bulkretry.errors import (
    ApiError,
    BulkRetryError,
    ConfigError,
    CredentialsError,
    JournalError,
    ManifestError,
    ReportError,
    TransportError,
    UnsavedResults,
    UsageError,
)

__version__ = "0.1.0"

# A library logs, it does not print: without a handler configured by the application, records go nowhere.
logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "ApiError",
    "BulkRetryError",
    "ConfigError",
    "CredentialsError",
    "JournalError",
    "ManifestError",
    "ReportError",
    "TransportError",
    "UnsavedResults",
    "UsageError",
    "__version__",
]
