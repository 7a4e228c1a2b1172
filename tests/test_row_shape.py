"""One row shape from the journal to every report: RowResult, read by field name."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

from bulkretry.manifest.annotate import AnnotatedWriter
from bulkretry.manifest.annotate_csv import AnnotatedCsv
from bulkretry.manifest.read import iter_rows, open_manifest
from bulkretry.records import REPORT_COLUMNS, Outcome, RowResult, RunSummary
from bulkretry.report import write_reports
from bulkretry.report.common import Writer, report_header, row_values
from bulkretry.run.journal import Journal
from bulkretry.run.summary import summarize
from tests.clitools import SAMPLES

#: Every field its own value, so that a field read from the wrong place shows.
ONE = RowResult(
    row=7,
    project_id="p-7",
    group_id="g-7",
    outcome=Outcome.FAILED,
    http_status=409,
    error_code="OMS.1015",
    error_msg="not failed",
    attempts=3,
    request_id="req-7",
    latency_ms=12.5,
    started_at="2024-05-01T08:00:00Z",
    finished_at="2024-05-01T08:00:01Z",
    extra=(("owner", "ann"), ("备注", "x"), ("owner", "bob")),
)


def test_the_journal_gives_back_row_results_field_by_field(tmp_path: Path) -> None:
    """What goes in as a RowResult comes back as one: same fields, the outcome an Outcome; extra=False skips extra."""
    others = [ONE._replace(row=8)]
    with Journal(tmp_path / "journal.sqlite") as journal:
        for result in (ONE, *others):
            journal.record(result)
        back = list(journal.results())
        bare = list(journal.results(extra=False))
        failed = list(journal.results([Outcome.FAILED.value]))
    assert back == [ONE, *others] and all(type(r) is RowResult for r in back)
    assert all(r.outcome.__class__ is Outcome for r in back)
    assert back[0]._asdict() == ONE._asdict()
    assert [r.extra for r in bare] == [(), ()] and bare[0]._replace(extra=ONE.extra) == ONE
    assert [r.row for r in failed] == [7, 8]


def test_a_report_row_reads_each_field_by_its_name() -> None:
    """row_values: the contract's columns from the fields of the same name, the outcome as plain text, a NaN
    latency empty, each extra the first value of its name ('' when missing)."""
    header, extras = report_header(["owner", "备注", "missing"])
    assert len(row_values(ONE, extras)) == len(header)
    row = dict(zip(header, row_values(ONE, extras)))
    assert row == {
        **{name: getattr(ONE, name) for name in REPORT_COLUMNS},
        "outcome": "failed",
        "owner": "ann",
        "备注": "x",
        "missing": "",
    }
    assert row["outcome"].__class__ is str
    assert row_values(ONE._replace(latency_ms=math.nan), ())[REPORT_COLUMNS.index("latency_ms")] is None
    assert row_values(ONE, ()) == tuple(row[name] for name in REPORT_COLUMNS)


def test_reports_from_the_journal_hold_each_field_under_its_name(tmp_path: Path) -> None:
    """report.csv and report.json, written from the journal, carry every RowResult field under its column name."""
    summary = RunSummary("r", "m.csv", "", "", 0.0, 1)
    with Journal(tmp_path / "journal.sqlite") as journal:
        journal.record(ONE)
        write_reports(tmp_path, journal.results(), summary, formats=("csv", "json"), extra_columns=["owner", "备注"])
    expected = {
        **{name: getattr(ONE, name) for name in REPORT_COLUMNS},
        "outcome": "failed",
        "owner": "ann",
        "备注": "x",
    }
    (rows,) = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))["rows"]
    assert rows == expected
    with open(tmp_path / "report.csv", encoding="utf-8-sig", newline="") as fh:
        (line,) = list(csv.DictReader(fh))
    assert line == {name: str(value) for name, value in expected.items()}


def test_the_annotated_copy_follows_the_writer_protocol(tmp_path: Path) -> None:
    """AnnotatedCsv is a Writer[RowResult] (start, write each RowResult, finish); AnnotatedWriter drives it so."""
    info = open_manifest(SAMPLES / "manifest.csv")
    results = [
        RowResult(raw.row, "p", raw.values["group_id"], Outcome.SUCCEEDED, request_id=f"req-{raw.row}")
        for raw in iter_rows(info)
    ]
    plain: Writer[RowResult] = AnnotatedCsv(info, tmp_path / "plain.csv")
    plain.start((), RunSummary("r", "m", "", "", 0.0, 0))
    for result in results:
        plain.write(result)
    plain.finish()
    writer = AnnotatedWriter(info, tmp_path / "run")
    writer.start()
    for result in results:
        writer.write(result)
    done = writer.finish()
    assert done.rows == len(results) and done.path is not None
    assert done.path.read_bytes() == (tmp_path / "plain.csv").read_bytes()


def test_summarize_takes_the_counts_from_the_journal_and_the_rest_from_what_is_given_or_stored(tmp_path: Path) -> None:
    """One summary for run (every field given) and report (the stored summary, the journal's counts)."""
    stored = RunSummary(
        "run-1",
        "m.csv",
        "2024-05-01T08:00:00Z",
        "2024-05-01T08:01:00Z",
        60.0,
        5,
        calls=4,
        achieved_rate=2.0,
        out_dir="/elsewhere",
        sessions=2,
    )
    with Journal(tmp_path / "journal.sqlite") as journal:
        journal.record(ONE)
        journal.record(ONE._replace(row=8, outcome=Outcome.SUCCEEDED, error_code=""))
        journal.set_params({"run_id": "run-1", "manifest": "m.csv", "summary": stored.as_dict()})
        rebuilt = summarize(journal, journal.params(), tmp_path)
        given = summarize(
            journal,
            journal.params(),
            tmp_path,
            run_id="run-2",
            manifest="n.csv",
            started_at="a",
            finished_at="b",
            duration_s=1.0,
            rows=1,
            calls=9,
        )
        bare = summarize(journal, {}, tmp_path / "killed", duration_s=0.0)
    counts = {"by_outcome": {"failed": 1, "succeeded": 1}, "by_error_code": {"OMS.1015": 1}}
    assert rebuilt.as_dict() == {**stored.as_dict(), **counts, "out_dir": str(tmp_path)}
    assert (given.run_id, given.rows, given.calls, given.by_outcome) == ("run-2", 1, 9, counts["by_outcome"])
    assert (bare.run_id, bare.rows, bare.manifest, bare.out_dir) == ("killed", 2, "", str(tmp_path / "killed"))


def test_report_of_a_run_killed_before_its_first_summary(tmp_path: Path) -> None:
    """`bulkretry report` of a run killed in its first session (no summary stored) writes its reports from the
    rows the journal holds, with a duration of 0, instead of failing."""
    from bulkretry.run.journal import JOURNAL_NAME
    from bulkretry.run.runner import rebuild_reports

    with Journal(tmp_path / JOURNAL_NAME) as journal:
        journal.set_params({"run_id": "killed-1", "manifest": "m.csv", "formats": ["csv", "json"]})
        journal.record(ONE)
    result = rebuild_reports(tmp_path)
    assert (result.summary.run_id, result.summary.rows, result.summary.duration_s) == ("killed-1", 1, 0.0)
    assert sorted(p.name for p in result.files) == ["report.csv", "report.json", "summary.json"]
    assert json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))["by_outcome"] == {"failed": 1}


def test_an_outcome_is_its_text_everywhere() -> None:
    """Outcome (a str Enum: StrEnum is Python 3.11+ only) is its value in str(), format(), JSON and as a key,
    as StrEnum's is, so reports, the journal and summary.json hold the same text on every Python."""
    for outcome in Outcome:
        value = outcome.value
        assert (str(outcome), f"{outcome}", f"{outcome:>12}") == (value, value, f"{value:>12}")
        assert json.dumps({outcome: [outcome]}) == json.dumps({value: [value]})
        assert {outcome: 1}[value] == 1 and Outcome(value) is outcome
    assert repr(Outcome.FAILED) == "<Outcome.FAILED: 'failed'>"
