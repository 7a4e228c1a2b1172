"""The run's report: ``report.csv``, ``report.xlsx``, ``report.json``, ``report.html`` and ``summary.json``.

One writer per format, all fed from the same single pass over the results; see :func:`write_reports`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bulkretry.report.common import FORMATS, neutralise
from bulkretry.report.write import BATCH_ROWS, parse_formats, write_reports

__all__ = ["BATCH_ROWS", "FORMATS", "HtmlReport", "neutralise", "parse_formats", "write_reports"]

if TYPE_CHECKING:
    from bulkretry.report.html_report import HtmlReport


def __getattr__(name: str) -> Any:
    """``HtmlReport``, imported when it is asked for: a run that writes no report.html does not load it."""
    if name == "HtmlReport":
        from bulkretry.report.html_report import HtmlReport

        return HtmlReport
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
