"""The CSV reader without pandas: the rows pandas' C parser gave (with the options bulkretry used), quirks included;
a quote never closed found at its row; a CSV run that never imports pandas."""

from __future__ import annotations

import csv
import dataclasses
import random
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from bulkretry.errors import ManifestError
from bulkretry.manifest import csvfile
from bulkretry.manifest.annotate import write_annotated
from bulkretry.manifest.read import count_rows, iter_rows, open_manifest
from bulkretry.records import Outcome, RowResult

pd = pytest.importorskip("pandas")

QUIRKS = [
    '"a"b',  # text after a closing quote: kept
    '"a" ',
    'a"b',  # a quote inside an unquoted cell: literal
    '"a""b"',
    ' "a"',
    '"a"b"c"',
    '"x\ry"',
    "tab\tinside",
    "\u3000",
    "备注",
    "",
    " ",
    '"two\nlines"',
    '"a,b"',
]


def pandas_rows(path: Path) -> list[tuple[int, dict[str, str]]]:
    """The non-blank rows as the reader before this one made them: pandas' C parser, every cell text, blank rows
    skipped but counted (this file has its header on row 1)."""
    info = open_manifest(path)
    frame = pd.read_csv(
        path,
        sep=info.delimiter,
        encoding=info.encoding,
        dtype=str,
        keep_default_na=False,
        na_filter=False,
        skip_blank_lines=False,
        header=0,
        engine="c",
        names=list(range(len(info.columns))),
        index_col=False,
        quotechar='"',
    ).fillna("")
    rows = []
    for offset, cells in enumerate(frame.to_numpy(dtype=object).tolist()):
        if any(cell.strip() for cell in cells):
            rows.append((2 + offset, dict(zip(info.columns, cells))))
    return rows


@pytest.mark.parametrize("seed", range(12))
def test_rows_are_those_pandas_gave(tmp_path: Path, seed: int) -> None:
    """Random rows of quoted, multiline, blank, short and odd-quoted cells: the same rows, values and row numbers
    as pandas' C parser, and count_rows agrees."""
    rng = random.Random(seed)
    lines = ["group_id,note,owner"]
    for _ in range(rng.randint(1, 80)):
        shape = rng.random()
        if shape < 0.1:
            lines.append("")
        elif shape < 0.2:
            lines.append(",".join(rng.choice(["", " ", "\t"]) for _ in range(3)))
        else:
            lines.append(",".join(rng.choice(QUIRKS) for _ in range(rng.randint(1, 3))))
    path = tmp_path / "m.csv"
    path.write_bytes(("\r\n" if seed % 2 else "\n").join(lines).encode("utf-8") + (b"\n" if seed % 3 else b""))
    info = open_manifest(path)
    rows = [(raw.row, raw.values) for raw in iter_rows(info)]
    assert rows == pandas_rows(path)
    assert count_rows(info, chunk_rows=7) == len(rows)


@pytest.mark.parametrize("ending", ["", "\n", "\r\n"])
def test_a_quote_never_closed_is_reported_at_its_row_by_both_passes(tmp_path: Path, ending: str) -> None:
    """The last quote of the file never closed: the error names its row from iter_rows and from count_rows, and
    no row of the file before it is held back."""
    path = tmp_path / "m.csv"
    path.write_text(f'group_id,note\ng1,"a"b\ng2,ok\n\ng3,"never closed\ng4,x{ending}', encoding="utf-8")
    info = open_manifest(path)
    seen = []
    with pytest.raises(ManifestError) as iterated:
        for raw in iter_rows(info):
            seen.append(raw.values["group_id"])
    with pytest.raises(ManifestError) as counted:
        count_rows(info)
    assert seen == ["g1", "g2"]
    assert iterated.value.row == counted.value.row == 5
    assert "never closed" in str(iterated.value) == str(counted.value)


def test_a_last_row_without_a_line_end_is_read(tmp_path: Path) -> None:
    """A file whose last row has no line end (closed quotes or none): every row, the last one whole."""
    path = tmp_path / "m.csv"
    path.write_text('group_id,note\ng1,a\ng2,"b\nc"', encoding="utf-8")
    info = open_manifest(path)
    assert [(raw.row, raw.values) for raw in iter_rows(info)] == [
        (2, {"group_id": "g1", "note": "a"}),
        (3, {"group_id": "g2", "note": "b\nc"}),
    ]


def test_a_csv_run_does_not_import_pandas(tmp_path: Path) -> None:
    """Opening, counting and reading a CSV manifest leaves pandas unimported (0.3 s a run)."""
    path = tmp_path / "m.csv"
    path.write_text("group_id,note\ng1,a\ng2,b\n", encoding="utf-8")
    code = (
        "import sys; from bulkretry.manifest.read import count_rows, iter_rows, open_manifest; "
        f"info = open_manifest({str(path)!r}); count_rows(info); list(iter_rows(info)); "
        "print('pandas' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


@pytest.mark.parametrize(
    ("tail", "expected"),
    [
        # a stray value before a quote never closed: the quote is what is reported
        ('g9,n,stray,"never closed\ng10,x\n', (9, None, "never closed")),
        ("g9,n,stray\ng10,x\n", (9, "C", "has 3 cells")),  # a stray value alone: reported at its row
        ("g9,n,,\n\n  ,\t\ng10,x\n", 9),  # empty cells past the header and blank rows: fine
    ],
)
def test_count_rows_raises_and_counts_as_iter_rows_across_batches(tmp_path: Path, tail: str, expected: object) -> None:
    """The counting pass at C speed, batch by batch (sizes 1, 2, 3, 10,000): the same count or the same error
    (row, column, text) as the rows iter_rows makes."""
    path = tmp_path / "m.csv"
    path.write_text("group_id,note\n" + "".join(f"g{i},n{i}\n" for i in range(7)) + tail, encoding="utf-8")
    info = open_manifest(path)

    def outcome(read: Callable[[], int]) -> object:
        try:
            return read()
        except ManifestError as exc:
            return (exc.row, exc.column, str(exc))

    iterated = outcome(lambda: len(list(iter_rows(info))))
    for chunk_rows in (1, 2, 3, 10_000):
        assert outcome(lambda n=chunk_rows: count_rows(info, chunk_rows=n)) == iterated
    if isinstance(expected, tuple):
        assert isinstance(iterated, tuple)
        assert iterated[:2] == expected[:2]
        assert expected[2] in iterated[2]
    else:
        assert iterated == expected


#: Cells of a manifest without a quote character: what the lines' fast path reads.
PLAIN_CELLS = [c for c in QUIRKS if '"' not in c] + ["=1+2", "-x", " pad ", "a;b", "a|b", "x\ty", "SRCAK0001", "…"]


@pytest.mark.parametrize("seed", range(12))
def test_a_file_without_quotes_reads_as_the_csv_module_reads_it(tmp_path: Path, seed: int) -> None:
    """A manifest with no quote anywhere is read line by line, each split at the delimiter (``plain_lines``): the
    same rows, row numbers, count, errors and annotated copy as the csv module's reader gives for it, whatever the
    line ends (LF, CRLF, CR), blank and whitespace rows, short rows, or stray cells past the header."""
    rng = random.Random(seed)
    sep = ",;|\t"[seed % 4]
    lines = [sep.join(["group_id", "src_ak", "src_sk", "note"])]
    for _ in range(rng.randint(1, 80)):
        shape = rng.random()
        if shape < 0.1:
            lines.append("")
        elif shape < 0.2:
            lines.append(sep.join(rng.choice(["", " ", "\t"]) for _ in range(rng.randint(1, 4))))
        elif shape < 0.23 and seed % 3 == 0:
            lines.append(sep.join(["gx", "k", "s", "n", "stray"]))  # a value past the header: an error at its row
        else:
            cells = [f"g{len(lines)}", rng.choice(PLAIN_CELLS), rng.choice(PLAIN_CELLS), rng.choice(PLAIN_CELLS)]
            lines.append(sep.join(cells[: rng.randint(1, 4)]).replace(sep + sep, sep))
    path = tmp_path / "m.csv"
    ending = ["\n", "\r\n", "\r"][seed % 3]
    path.write_bytes((ending.join(lines) + ending * (seed % 2)).encode("utf-8"))
    plain = open_manifest(path, delimiter=sep)
    reader = dataclasses.replace(plain, plain_lines=False)
    assert plain.plain_lines and plain.delimiter == sep

    def read(info):  # the rows, or the error they end in
        seen: list = []
        try:
            seen.extend((raw.row, raw.values) for raw in iter_rows(info))
            seen.append(count_rows(info, chunk_rows=5))
        except ManifestError as exc:
            seen.append((exc.row, exc.column, str(exc)))
        return seen

    outcome = read(reader)
    assert read(plain) == outcome
    if isinstance(outcome[-1], int):  # read to the end (no stray cell): the annotated copies are the same bytes
        rows = list(iter_rows(reader))
        results = [RowResult(raw.row, "p", raw.values["group_id"], Outcome.SUCCEEDED) for raw in rows]
        copies = []
        for info, folder in ((plain, tmp_path / "plain"), (reader, tmp_path / "reader")):
            annotated = write_annotated(info, results, folder)
            assert annotated.path is not None, annotated.skipped_reason
            copies.append(annotated.path.read_bytes())
        assert copies[0] == copies[1]


@pytest.mark.parametrize(
    ("text", "plain"),
    [
        ("group_id,note\ng1,a\n", True),
        ('group_id,note\ng1,"a"\n', False),  # a quote anywhere: the csv module reads the file
        ('group_id,note\ng1,a"b\n', False),
        ("group_id,note\ng1,a\ng2," + "x" * (csv.field_size_limit() + 1) + "\n", False),  # the reader's own error
        ("group_id,note\ng1,a\ng2," + "x" * (csv.field_size_limit() - 3), True),  # the longest line it allows
        ("group_id,note\r\ng1,a\rg2,b", True),
    ],
)
def test_plain_lines_only_for_a_file_the_csv_module_reads_line_by_line(tmp_path: Path, text: str, plain: bool) -> None:
    """No quote and no line over the csv module's field limit: only then the lines' fast path."""
    path = tmp_path / "m.csv"
    path.write_bytes(text.encode("utf-8"))
    assert open_manifest(path).plain_lines is plain


def test_a_cell_over_the_field_limit_is_still_the_csv_error_at_its_row(tmp_path: Path) -> None:
    """A quote-free file with one huge cell is read by the csv module, whose limit names the row, as before."""
    path = tmp_path / "m.csv"
    path.write_text("group_id,note\ng1,a\ng2," + "x" * (csv.field_size_limit() + 5) + "\ng3,c\n", encoding="utf-8")
    info = open_manifest(path)
    with pytest.raises(ManifestError) as raised:
        list(iter_rows(info))
    assert raised.value.row == 3 and "field larger than field limit" in str(raised.value)


def test_plain_lines_is_the_same_however_the_text_is_cut_into_chunks() -> None:
    """The check sees the file a chunk at a time (a line may span chunks, a CR LF may be cut between them): the
    answer is the whole text's, for random texts and cuts (a small field limit, so that lines cross it)."""
    rng = random.Random(7)
    for _ in range(3000):
        text = "".join(rng.choice('aaaaaaab\n\r"') for _ in range(rng.randrange(40)))
        cuts = sorted(rng.sample(range(len(text) + 1), min(len(text) + 1, rng.randrange(4))))
        lines = csvfile._PlainLines()
        lines._limit = 6
        for start, end in zip([0, *cuts], [*cuts, len(text)]):
            lines.feed(text[start:end])
        whole = max(map(len, text.replace("\r", "\n").split("\n"))) <= 6 and '"' not in text
        assert lines.plain is whole, (text, cuts)
