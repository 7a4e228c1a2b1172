"""``python -m bulkretry`` is the same as the ``bulkretry`` command."""

from bulkretry.cli import main

raise SystemExit(main())
