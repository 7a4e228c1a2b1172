"""The manifest: the operator's CSV or Excel sheet, read as text, planned into retry calls, and copied back
annotated with each row's outcome.

- :mod:`~bulkretry.manifest.read`: ``open_manifest``, ``iter_rows``, ``count_rows`` (which reader, the checks).
- :mod:`~bulkretry.manifest.columns`: the columns bulkretry knows and their spellings; ``ManifestInfo``, ``RawRow``.
- :mod:`~bulkretry.manifest.csvfile` and :mod:`~bulkretry.manifest.excel`: the two readers.
- :mod:`~bulkretry.manifest.plan`: ``Planner`` turns each ``RawRow`` into a ``RowPlan`` (``env:`` cells,
  defaults, limits, duplicates).
- :mod:`~bulkretry.manifest.annotate`: the manifest with four result columns, as ``annotated.csv``/``.xlsx``.

Nothing is imported here: pandas and openpyxl load only when a file of their kind is read.
"""
