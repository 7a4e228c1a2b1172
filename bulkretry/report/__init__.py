"""The run's report: ``report.csv``, ``report.xlsx``, ``report.json``, ``report.html`` and ``summary.json``.

One writer per format, all fed from the same single pass over the results; see :func:`write_reports`.
"""

from __future__ import annotations

from ._common import FORMATS, neutralise
from ._write import BATCH_ROWS, parse_formats, write_reports
from .html_report import HtmlReport

__all__ = ["BATCH_ROWS", "FORMATS", "HtmlReport", "neutralise", "parse_formats", "write_reports"]
