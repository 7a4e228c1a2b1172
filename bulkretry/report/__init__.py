"""The run's report: ``report.csv``, ``report.xlsx``, ``report.json`` and ``summary.json``.

One writer per format, all fed from the same single pass over the results; see :func:`write_reports`.
"""

from __future__ import annotations

from ._common import FORMATS, neutralise
from ._write import parse_formats, write_reports

__all__ = ["FORMATS", "neutralise", "parse_formats", "write_reports"]
