"""The run's defaults, in a module that imports nothing, so ``bulkretry --help`` can show them quickly."""

from pathlib import Path

#: Calls per second when --rate is not given: well under API Gateway's usual per-API quota.
DEFAULT_RATE = 10.0
DEFAULT_CONCURRENCY = 16
DEFAULT_MAX_ATTEMPTS = 5
DEFAULT_TIMEOUT = 30.0
DEFAULT_RUNS_ROOT = Path("bulkretry-runs")

# The largest values the options take: past these a value is a typo or an attack, never a plan. Each one keeps
# memory, arithmetic and waits bounded (10 million workers are 24 GB; 2 ** 1024 overflows a float).
#: --concurrency: calls in flight (each one a worker task and a pooled connection).
MAX_CONCURRENCY = 1024
#: --max-attempts: calls per row.
MAX_ATTEMPTS = 100
#: --timeout: seconds one request may take (an hour).
MAX_TIMEOUT = 3600.0
#: --verify-timeout: seconds --verify polls one group (a day).
MAX_VERIFY_TIMEOUT = 86400.0
#: --max-duration: the longest time box, a week.
MAX_DURATION = 7 * 86400.0
#: --rate: calls per second, at least one call every 100 s and at most a million per second (benchmarks use the
#: top as "no limit").
MIN_RATE = 0.01
MAX_RATE = 1_000_000.0

#: ``--action priority``: task ids per ``batch-update`` call (``--batch-size``), and the most one call takes.
DEFAULT_BATCH_SIZE = 50
MAX_BATCH_SIZE = 1000
