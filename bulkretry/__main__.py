"""``python -m bulkretry`` is the same as the ``bulkretry`` command."""

from .cli import main

raise SystemExit(main())
