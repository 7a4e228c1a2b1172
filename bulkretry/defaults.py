"""The run's defaults, in a module that imports nothing, so ``bulkretry --help`` can show them quickly."""

from pathlib import Path

#: Calls per second when --rate is not given: well under API Gateway's usual per-API quota.
DEFAULT_RATE = 10.0
DEFAULT_CONCURRENCY = 16
DEFAULT_MAX_ATTEMPTS = 5
DEFAULT_TIMEOUT = 30.0
DEFAULT_RUNS_ROOT = Path("bulkretry-runs")
