"""The run's report: report.csv, report.xlsx, report.json, report.html and summary.json, from one pass over the results.

report.html has its own tests in test_html_report.py.
"""

from __future__ import annotations

import errno
import json
import math
import os
import random
import tempfile

import openpyxl
import pytest

from bulkretry.records import REPORT_COLUMNS, RunSummary
from bulkretry.report import BATCH_ROWS, FORMATS, neutralise, parse_formats, write_reports
from tests.reports import EXTRAS, FORMULAS, HEADER, Counting, read_csv, read_xlsx_rows, result, write

# --- formats ---------------------------------------------------------------------------------------------------


def test_parse_formats_accepts_lists_with_spaces_case_and_repeats():
    """A comma list is read in order, spaces and case ignored, repeats dropped."""
    assert parse_formats("csv,xlsx") == ("csv", "xlsx")
    assert parse_formats(" json , CSV,json, ") == ("json", "csv")
    assert parse_formats("csv,xlsx,json,html") == FORMATS


@pytest.mark.parametrize("text", ["", " ", ",", " , "])
def test_parse_formats_rejects_empty(text):
    """An empty list is an error that lists the formats to choose from."""
    with pytest.raises(ValueError, match="csv, xlsx, json, html"):
        parse_formats(text)


def test_parse_formats_rejects_unknown_naming_it_and_the_allowed_list():
    """An unknown format is named in the error, with the allowed ones."""
    with pytest.raises(ValueError, match=r"'pdf'.*csv, xlsx, json, html") as info:
        parse_formats("csv,pdf")
    assert "in 'csv,pdf'" in str(info.value)


def test_write_reports_rejects_unknown_format_before_writing(tmp_path, results, summary):
    """An unknown format passed to write_reports writes nothing."""
    with pytest.raises(ValueError, match="'xls'"):
        write(tmp_path, iter(results), summary, formats=("csv", "xls"))
    assert not (tmp_path / "run").exists()


# --- what is written -------------------------------------------------------------------------------------------


def test_returns_reports_in_format_order_then_summary(tmp_path, results, summary):
    """The paths come back in the formats' order, then summary.json, and exist; nothing else is left."""
    paths = write(tmp_path, results, summary, formats=("json", "csv"))
    run = tmp_path / "run"
    assert paths == [run / "report.json", run / "report.csv", run / "summary.json"]
    assert sorted(p.name for p in run.iterdir()) == ["report.csv", "report.json", "summary.json"]


def test_no_formats_writes_only_the_summary_and_still_reads_the_results(tmp_path, summary):
    """With no formats only summary.json is written, and the results are still read to the end, once."""
    source = Counting(10)
    paths = write(tmp_path, source, summary, formats=())
    assert paths == [tmp_path / "run" / "summary.json"]
    assert (source.passes, source.given) == (1, 10)


def test_formats_may_be_given_as_text(tmp_path, results, summary):
    """formats="json, csv" is read like --format, not as a sequence of letters."""
    paths = write(tmp_path, results, summary, formats="json, csv")
    assert [p.name for p in paths] == ["report.json", "report.csv", "summary.json"]


def test_default_formats_write_all_four(tmp_path, results, summary):
    """Without formats, csv, xlsx, json and html are all written."""
    paths = write(tmp_path, results, summary)
    assert [p.name for p in paths] == ["report.csv", "report.xlsx", "report.json", "report.html", "summary.json"]


def test_summary_json_equals_as_dict(tmp_path, results, summary):
    """summary.json is RunSummary.as_dict(), pretty-printed UTF-8 with Chinese kept as is."""
    write(tmp_path, results, summary, formats=("csv",))
    raw = (tmp_path / "run" / "summary.json").read_bytes()
    assert json.loads(raw.decode("utf-8")) == summary.as_dict()
    assert "清单/任务组.csv".encode() in raw
    assert b'\n  "run_id"' in raw


def test_summary_json_turns_nan_rate_into_null(tmp_path, summary):
    """A non-finite rate does not make summary.json invalid JSON."""
    odd = RunSummary(**(summary.as_dict() | {"achieved_rate": float("nan")}))
    write(tmp_path, [], odd, formats=("json",))
    assert json.loads((tmp_path / "run" / "summary.json").read_text("utf-8"))["achieved_rate"] is None
    assert json.loads((tmp_path / "run" / "report.json").read_text("utf-8"))["summary"]["achieved_rate"] is None


# --- csv -------------------------------------------------------------------------------------------------------


def test_csv_has_bom_crlf_header_and_rows_in_order(tmp_path, results, summary):
    """report.csv starts with a UTF-8 BOM, uses CRLF, has the exact header and one row per result in order."""
    write(tmp_path, results, summary, formats=("csv",))
    path = tmp_path / "run" / "report.csv"
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfrow,project_id,group_id,outcome,")
    assert raw.count(b"\r\n") == 4 and b"\n" not in raw.replace(b"\r\n", b"")
    rows = read_csv(path)
    assert rows[0] == HEADER
    assert [r[0] for r in rows[1:]] == ["2", "3", "4"]
    assert rows[1] == [
        "2",
        "p-0001",
        "g-0002",
        "succeeded",
        "200",
        "",
        "",
        "1",
        "req-2",
        "12.5",
        "2024-05-01T08:00:00.000Z",
        "2024-05-01T08:00:00.013Z",
        "alice",
        "第一批",
    ]
    assert rows[2][6] == "任务组状态不允许重试"
    assert rows[2][-2:] == ["", "第二批"]  # a missing extra is empty
    assert rows[3][4] == "" and rows[3][9] == ""  # None is empty
    assert "not a report column" not in raw.decode("utf-8-sig")


def test_extra_column_clashing_with_a_report_column_is_renamed(tmp_path, summary):
    """A manifest column named like a report column (an old report as manifest) is kept as manifest.NAME."""
    rows = [result(2, extra=(("outcome", "failed"), ("note", "n")))]
    write(tmp_path, rows, summary, formats=("csv", "json"), extra_columns=("outcome", "note", "outcome"))
    header, row = read_csv(tmp_path / "run" / "report.csv")
    assert header == [*REPORT_COLUMNS, "manifest.outcome", "note"]
    assert row[3] == "succeeded" and row[-2:] == ["failed", "n"]
    data = json.loads((tmp_path / "run" / "report.json").read_text("utf-8"))
    assert data["rows"][0]["outcome"] == "succeeded" and data["rows"][0]["manifest.outcome"] == "failed"


# --- json ------------------------------------------------------------------------------------------------------


def test_json_round_trips_types(tmp_path, results, summary):
    """report.json is {"summary", "rows"}; numbers stay numbers, None is null, Chinese is kept as UTF-8."""
    write(tmp_path, results, summary, formats=("json",))
    raw = (tmp_path / "run" / "report.json").read_bytes()
    assert "任务组状态不允许重试".encode() in raw  # not \\u-escaped
    data = json.loads(raw.decode("utf-8"))
    assert list(data) == ["summary", "rows"]
    assert data["summary"] == summary.as_dict()
    assert [list(row) for row in data["rows"]] == [HEADER] * 3
    assert data["rows"][0] == results[0].as_dict()  # as RowResult itself renders it
    assert data["rows"][1]["latency_ms"] == 101.0 and data["rows"][1]["http_status"] == 400
    assert data["rows"][2]["http_status"] is None and data["rows"][2]["latency_ms"] is None
    assert data["rows"][2]["attempts"] == 0 and data["rows"][2]["owner"] == "bob" and data["rows"][2]["备注"] == ""


def test_json_rows_are_what_json_dumps_writes(tmp_path, summary):
    """Each row line is byte for byte json.dumps(row, ensure_ascii=False): floats of every form included."""
    latencies = [0.1, 25.8, -0.0, 1e-7, 1e300, 123456789.123, 5.0, float("nan"), float("inf"), None]
    results = [result(i + 1, latency_ms=value, error_msg='中文 "q"') for i, value in enumerate(latencies)]
    write(tmp_path, results, summary, formats=("json",), extra_columns=())
    lines = (tmp_path / "run" / "report.json").read_text(encoding="utf-8").splitlines()[2:-1]
    expected = [
        {**r.as_dict(), "latency_ms": r.latency_ms if r.latency_ms is None or math.isfinite(r.latency_ms) else None}
        for r in results
    ]
    assert [line.removesuffix(",") for line in lines] == [json.dumps(row, ensure_ascii=False) for row in expected]


def test_json_writer_takes_values_the_row_encoder_refuses(tmp_path, summary):
    """A row the one-call encoder refuses (a non-finite float given straight to the writer) is written by the
    value-by-value path, as json.dumps writes it; the rows around it keep the fast path, in order."""
    from bulkretry.report.json_report import JsonReport

    writer = JsonReport(tmp_path / "report.json")
    writer.start(("a", "b"), summary)
    rows = [(1, "x"), (2, float("inf")), (3, None), (True, -0.5)]
    for values in rows:
        writer.write(values)
    writer.finish()
    lines = (tmp_path / "report.json").read_text(encoding="utf-8").splitlines()[2:-1]
    expected = [json.dumps(dict(zip("ab", values))) for values in rows]
    assert [line.removesuffix(",") for line in lines] == expected


HOSTILE = ['say "hi" \\ {0} {} }{', "line\nbreak\ttab\r", "混合 text ✓ 😀", "\u2028\u0000\x7f", '{"json": 1}', ""]


def test_json_and_csv_carry_any_text_exactly(tmp_path, summary):
    """Quotes, backslashes, format braces, control characters and non-BMP text come back as they went in,
    in values and in extra column names alike (each row's JSON is one line)."""
    names = ["{0}", 'a "quoted" {name}', "备注"]
    results = [
        result(i + 1, error_msg=text, request_id=text[::-1], extra=tuple((name, text) for name in names))
        for i, text in enumerate(HOSTILE)
    ]
    write(tmp_path, results, summary, formats=("json", "csv"), extra_columns=names)
    raw = (tmp_path / "run" / "report.json").read_text(encoding="utf-8")
    data = json.loads(raw)
    assert [row["error_msg"] for row in data["rows"]] == HOSTILE
    assert [row["request_id"] for row in data["rows"]] == [text[::-1] for text in HOSTILE]
    assert [[row[name] for name in names] for row in data["rows"]] == [[text] * 3 for text in HOSTILE]
    assert raw.count("\n") == 2 + len(HOSTILE) + 1  # the summary, "rows": [, one line per row, the closing
    header, *lines = read_csv(tmp_path / "run" / "report.csv")
    rows = [dict(zip(header, line)) for line in lines]
    assert [row["error_msg"] for row in rows] == HOSTILE
    assert [[row[name] for name in names] for row in rows] == [[text] * 3 for text in HOSTILE]


def test_results_read_back_from_the_journal_give_the_same_reports(tmp_path, summary):
    """The results as the journal gives them back write byte for byte what the RowResults recorded write,
    whatever the extras: in order, reordered, repeated (the first wins), missing, and NaN/inf latencies."""
    from bulkretry.run.journal import Journal

    extras = [
        (("owner", "ann"), ("备注", "x")),
        (("备注", "y"), ("owner", "bob")),
        (("owner", "c1"), ("owner", "c2")),
        (),
        (("备注", "=1"),),
        (("owner", "d"), ("备注", "e"), ("other", "f")),
    ]
    results = [
        result(i + 1, extra=extra, latency_ms=[1.5, float("nan"), float("inf"), None][i % 4])
        for i, extra in enumerate(extras)
    ]
    write_reports(tmp_path / "a", results, summary, formats=("csv", "json"), extra_columns=EXTRAS)
    with Journal(tmp_path / "journal.sqlite") as journal:
        for one in results:
            journal.record(one)
        write_reports(tmp_path / "b", journal.results(), summary, formats=("csv", "json"), extra_columns=EXTRAS)
    for name in ("report.csv", "report.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    rows = read_csv(tmp_path / "b" / "report.csv")
    owner, note = rows[0].index("owner"), rows[0].index("备注")
    assert [(row[owner], row[note]) for row in rows[1:]] == [
        ("ann", "x"),
        ("bob", "y"),
        ("c1", ""),
        ("", ""),
        ("", "'=1"),
        ("d", "e"),
    ]
    assert [row[rows[0].index("latency_ms")] for row in rows[1:]] == ["1.5", "", "", "", "1.5", ""]


# --- formula neutralisation -------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", FORMULAS)
def test_neutralise_prefixes_formula_triggers(text):
    """Text starting with = + - @ tab or CR gets a leading quote; other text is unchanged."""
    assert neutralise(text) == "'" + text
    assert neutralise("plain " + text) == "plain " + text
    assert neutralise("") == ""


def test_formulas_neutralised_in_csv_and_xlsx_but_not_json(tmp_path, summary):
    """Formula-looking text (ids, server messages, extra columns, headers) is quoted in csv/xlsx, kept in json."""
    rows = [
        result(i + 2, group_id=text, error_msg=text, error_code=text, extra=(("=cmd", text),))
        for i, text in enumerate(FORMULAS)
    ] + [result(len(FORMULAS) + 2, group_id="-abc", latency_ms=-1.0)]
    write(tmp_path, rows, summary, extra_columns=("=cmd",))
    run = tmp_path / "run"

    csv_rows = read_csv(run / "report.csv")
    xlsx_rows = read_xlsx_rows(run / "report.xlsx")
    json_rows = json.loads((run / "report.json").read_text("utf-8"))["rows"]
    assert csv_rows[0][-1] == "'=cmd" and xlsx_rows[0][-1] == "'=cmd" and "=cmd" in json_rows[0]
    for i, text in enumerate(FORMULAS, 1):
        for col in (2, 5, 6, 12):  # group_id, error_code, error_msg, the extra column
            assert csv_rows[i][col] == "'" + text
            assert xlsx_rows[i][col] == "'" + text.replace("\r", "\n")  # XML holds line breaks as LF
        assert json_rows[i - 1]["group_id"] == json_rows[i - 1]["error_msg"] == json_rows[i - 1]["=cmd"] == text
    last = len(FORMULAS) + 1
    assert csv_rows[last][2] == "'-abc" and xlsx_rows[last][2] == "'-abc" and json_rows[-1]["group_id"] == "-abc"
    # Numbers stay numbers, even negative ones.
    assert csv_rows[last][9] == "-1.0" and xlsx_rows[last][9] == -1.0 and json_rows[-1]["latency_ms"] == -1.0


def test_csv_neutralises_a_formula_in_any_one_text_cell(tmp_path, summary):
    """Random rows with a formula in one random text cell (or none): each text cell reads back neutralised."""
    rng = random.Random(1130)
    texts = ["plain", "", "a-b", "两行\n=备注", "x@y", *FORMULAS, "-", "@"]
    rows = []
    for i in range(400):
        cells = {name: rng.choice(texts) for name in ("group_id", "error_code", "error_msg", "request_id")}
        rows.append(result(i + 2, **cells, extra=(("owner", rng.choice(texts)), ("备注", rng.choice(texts)))))
    write(tmp_path, rows, summary, formats=("csv",))
    read = read_csv(tmp_path / "run" / "report.csv")
    assert len(read) == len(rows) + 1
    for row, written in zip(rows, read[1:]):
        assert written[2] == neutralise(row.group_id) and written[5] == neutralise(row.error_code)
        assert written[6] == neutralise(row.error_msg) and written[8] == neutralise(row.request_id)
        assert written[12:] == [neutralise(value) for _, value in row.extra]
    assert sum(cell.startswith("'") for written in read[1:] for cell in written) > 100


def test_xlsx_never_holds_a_formula(tmp_path, summary):
    """No cell of report.xlsx is stored as a formula."""
    rows = [result(i + 2, group_id=text, error_msg=text) for i, text in enumerate(FORMULAS)]
    write(tmp_path, rows, summary, formats=("xlsx",))
    wb = openpyxl.load_workbook(tmp_path / "run" / "report.xlsx")
    assert all(c.data_type != "f" for ws in wb for row in ws.iter_rows() for c in row)


# --- streaming and atomicity -------------------------------------------------------------------------------------


def test_fifty_thousand_results_are_read_once(tmp_path, summary):
    """A 50k-result iterable is iterated once, and csv and json have every row in order."""
    source = Counting(50_000)
    write(tmp_path, source, summary, formats=("csv", "json"), extra_columns=("owner",))
    assert (source.passes, source.given) == (1, 50_000)
    rows = read_csv(tmp_path / "run" / "report.csv")
    assert len(rows) == 50_001 and rows[1][0] == "2" and rows[-1][0] == "50001" and rows[-1][-1] == "o49999"
    data = json.loads((tmp_path / "run" / "report.json").read_text("utf-8"))
    assert len(data["rows"]) == 50_000 and data["rows"][-1]["row"] == 50_001


def test_all_formats_share_one_pass(tmp_path, summary):
    """With every format chosen the results are still iterated once, and each file has every row."""
    source = Counting(3_000)
    write(tmp_path, source, summary, extra_columns=("owner",))
    assert (source.passes, source.given) == (1, 3_000)
    run = tmp_path / "run"
    assert BATCH_ROWS < 3_000 and 3_000 % BATCH_ROWS  # several batches and a part one
    rows = list(range(2, 3_002))  # every row once, in order
    csv_rows = read_csv(run / "report.csv")[1:]
    assert [int(r[0]) for r in csv_rows] == rows and csv_rows[-1][-1] == "o2999"
    assert [r["row"] for r in json.loads((run / "report.json").read_text("utf-8"))["rows"]] == rows
    xlsx_rows = read_xlsx_rows(run / "report.xlsx")[1:]
    assert [r[0] for r in xlsx_rows] == rows and xlsx_rows[-1][-1] == "o2999"
    assert "None: every row succeeded." in (run / "report.html").read_text("utf-8")


def test_failure_midway_leaves_no_report_and_no_temp_files(tmp_path, summary, monkeypatch):
    """Results that raise midway leave no new report, no .tmp file, no openpyxl temp file, and older files intact."""
    openpyxl_tmp = tmp_path / "openpyxl-tmp"
    openpyxl_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(openpyxl_tmp))
    run = tmp_path / "run"
    run.mkdir()
    (run / "report.csv").write_text("an earlier report\n")

    with pytest.raises(RuntimeError, match="engine crashed"):
        write(tmp_path, Counting(1_000, fail_at=500), summary)
    assert sorted(p.name for p in run.iterdir()) == ["report.csv"]
    assert (run / "report.csv").read_text() == "an earlier report\n"
    assert list(openpyxl_tmp.iterdir()) == []


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full to fake a full disk")
@pytest.mark.parametrize("name", ["report.csv", "report.xlsx", "report.json", "report.html", "summary.json"])
def test_full_disk_raises_oserror_and_leaves_no_temp_file(tmp_path, summary, monkeypatch, name):
    """ENOSPC while writing any file propagates as the OSError it is, leaving no .tmp, report or openpyxl file."""
    openpyxl_tmp = tmp_path / "openpyxl-tmp"
    openpyxl_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(openpyxl_tmp))
    run = tmp_path / "run"
    run.mkdir()
    (run / f"{name}.tmp").symlink_to("/dev/full")  # every write to this file fails with ENOSPC
    with pytest.raises(OSError) as info:
        write(tmp_path, Counting(2_000), summary)
    assert info.value.errno == errno.ENOSPC
    assert list(run.iterdir()) == []
    assert list(openpyxl_tmp.iterdir()) == []
