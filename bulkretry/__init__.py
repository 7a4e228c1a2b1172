"""bulkretry: restart failed Huawei Cloud OMS migration task groups in bulk.

The library never prints; :mod:`bulkretry.cli` is the only module that talks to the terminal.
"""

__version__ = "0.1.0"

from .errors import ApiError, BulkRetryError, ConfigError, CredentialsError, ManifestError, TransportError

__all__ = [
    "ApiError",
    "BulkRetryError",
    "ConfigError",
    "CredentialsError",
    "ManifestError",
    "TransportError",
    "__version__",
]
