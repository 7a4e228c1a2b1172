"""The run's report: ``report.csv``, ``report.xlsx``, ``report.json``, ``report.html`` and ``summary.json``.

One writer per format, all fed from the same single pass over the results; see :func:`write_reports`.
"""

from __future__ import annotations

from bulkretry.report.common import FORMATS, neutralise
from bulkretry.report.html_report import HtmlReport
from bulkretry.report.write import BATCH_ROWS, parse_formats, write_reports

__all__ = ["BATCH_ROWS", "FORMATS", "HtmlReport", "neutralise", "parse_formats", "write_reports"]
