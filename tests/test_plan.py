"""Planning rows: the duplicate finder's table (exact answers, bounded memory)."""

from __future__ import annotations

import os
import threading
import tracemalloc
from pathlib import Path

import pytest

from bulkretry.errors import ConfigError
from bulkretry.manifest.plan import FirstRows, Planner, RowPlan
from bulkretry.masking import masked_text
from bulkretry.records import Outcome


def test_first_rows_answers_the_first_row_of_each_key_through_growth() -> None:
    """Every key keeps its first row across many table growths; a repeat gets the first row back."""
    seen = FirstRows(capacity=16)
    keys = [(f"p{i % 7}", f"g{i}") for i in range(5000)]
    assert [seen.first(p, g, row) for row, (p, g) in enumerate(keys, start=2)] == list(range(2, 5002))
    assert len(seen) == 5000
    assert [seen.first(p, g, 99_999) for p, g in keys[::97]] == [row for row in range(2, 5002)][::97]
    assert seen.first("p0", "g0 ", 7) == 7  # a different key (a trailing space) is new
    assert seen.first("p0g", "0", 8) == 8  # the separator keeps ("p0g", "0") apart from ("p0", "g0")


def test_first_rows_reserve_makes_room_at_once_and_keeps_the_keys_it_holds() -> None:
    """reserve(n) sizes the table for n keys (no growth while they come); keys placed before it still answer."""
    seen = FirstRows(capacity=16)
    early = [(f"p{i}", f"g{i}") for i in range(10)]
    assert [seen.first(p, g, row) for row, (p, g) in enumerate(early, start=2)] == list(range(2, 12))
    seen.reserve(3000)
    assert repr(seen) == "FirstRows(10 keys)" and 3 * 3000 <= 2 * (seen._mask + 1) < 4 * 3 * 3000
    slots = seen._mask + 1
    later = [(f"q{i}", f"h{i}") for i in range(2990)]
    assert [seen.first(p, g, row) for row, (p, g) in enumerate(later, start=12)] == list(range(12, 3002))
    assert seen._mask + 1 == slots  # never grew
    assert [seen.first(p, g, 0) for p, g in early] == list(range(2, 12))
    seen.reserve(10)  # a smaller reservation leaves the table as it is
    assert seen._mask + 1 == slots


@pytest.mark.slow
def test_first_rows_memory_is_a_few_dozen_bytes_per_key() -> None:
    """200k keys cost under 80 bytes each (a dict of string tuples costs about 290)."""
    tracemalloc.start()
    try:
        seen = FirstRows()
        base = tracemalloc.get_traced_memory()[0]
        for row in range(2, 200_002):
            seen.first("0a1b2c3d4e5f60718293a4b5c6d7e8f9", f"00000000-0000-0000-0000-{row:012d}", row)
        used = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    assert used / 200_000 < 80


def test_planner_marks_the_second_occurrence_as_a_duplicate_of_the_first() -> None:
    """The same (project, group) twice: the later row is a duplicate naming the first row."""
    planner = Planner(columns=["group_id", "project_id"], endpoint="http://x")
    plans = [
        planner.plan(row, {"group_id": g, "project_id": p})
        for row, (p, g) in enumerate([("a", "g1"), ("b", "g1"), ("a", "g1")], start=2)
    ]
    assert [p.verdict for p in plans] == [None, None, Outcome.DUPLICATE]
    assert "row 2" in plans[2].error_msg


def test_planner_fills_empty_body_cells_from_run_wide_defaults() -> None:
    """BULKRETRY_<COLUMN> fills a body field whose cell is empty or whose column is absent; a cell wins;
    a default may itself be an env: reference; without a column or a default the field is left out."""
    env = {
        "BULKRETRY_SRC_SK": "default-src-sk",
        "BULKRETRY_DST_SK": "env:DST_FROM_ENV",
        "DST_FROM_ENV": "dst-sk",
        "BULKRETRY_CONNECTION_STRING": "",
    }
    planner = Planner(columns=["group_id", "src_ak", "src_sk", "dst_ak"], project_id="p", endpoint="http://x", env=env)
    given = planner.plan(2, {"group_id": "g1", "src_ak": "AK1", "src_sk": "own-sk", "dst_ak": "AK2"})
    empty = planner.plan(3, {"group_id": "g2", "src_ak": "AK1", "src_sk": "", "dst_ak": ""})
    assert dict(given.body) == {
        "src_ak": "AK1",
        "src_sk": "own-sk",
        "dst_ak": "AK2",
        "dst_sk": "dst-sk",
        "migrate_failed_object": False,
    }
    assert dict(empty.body) == {
        "src_ak": "AK1",
        "src_sk": "default-src-sk",
        "dst_sk": "dst-sk",
        "migrate_failed_object": False,
    }
    assert list(given.body) == ["src_ak", "src_sk", "dst_ak", "dst_sk", "migrate_failed_object"]  # the API's order
    unset = Planner(
        columns=["group_id"], project_id="p", endpoint="http://x", env={"BULKRETRY_DST_SK": "env:MISSING"}
    ).plan(2, {"group_id": "g1"})
    assert unset.verdict is Outcome.INVALID and "MISSING" in unset.error_msg


def test_planner_refuses_a_region_cell_that_is_not_a_region_id() -> None:
    """A region cell that would splice another host into the URL is invalid:region; with --endpoint it is unused."""
    planner = Planner(columns=["group_id", "region"], project_id="p")
    cells = ["cn-north-4", " ap-southeast-1 ", "x@127.0.0.1:18444#", "a/b", "CN-NORTH-4", "cn-north-4", ""]
    plans = [planner.plan(row, {"group_id": f"g{row}", "region": cell}) for row, cell in enumerate(cells, start=2)]
    assert [p.error_code for p in plans] == [
        "",
        "",
        "invalid:region not a region id",
        "invalid:region not a region id",
        "invalid:region not a region id",
        "",
        "invalid:region missing",
    ]
    assert plans[1].region == "ap-southeast-1"
    assert "x@127.0.0.1:18444#" in plans[2].error_msg and "cn-north-4" in plans[2].error_msg
    pinned = Planner(columns=["group_id", "region"], project_id="p", endpoint="http://127.0.0.1:1")
    assert pinned.plan(2, {"group_id": "g", "region": "华北-北京四"}).callable
    with pytest.raises(ConfigError, match="--region"):
        Planner(columns=["group_id"], project_id="p", region="x@127.0.0.1:18444#")


@pytest.mark.parametrize("prefix", ["ENV:", "Env:", "eNv:"])
def test_env_reference_prefix_is_case_insensitive(prefix: str) -> None:
    """ENV:NAME and Env:NAME cells are env references like env:NAME: resolved, never sent as the literal text."""
    env = {"SRC_SK": "the-src-sk", "SRC_AK": "THESRCAK0001"}
    planner = Planner(columns=["group_id", "src_ak", "src_sk"], project_id="p", endpoint="http://x", env=env)
    plan = planner.plan(2, {"group_id": "g1", "src_ak": prefix + "SRC_AK", "src_sk": prefix + "SRC_SK"})
    assert plan.callable, plan.error_msg
    assert (plan.body["src_ak"], plan.body["src_sk"]) == ("THESRCAK0001", "the-src-sk")
    assert dict(plan.extra)["src_ak"] == prefix + "SRC_AK"  # a reference is shown as it is, not masked
    missing = planner.plan(3, {"group_id": "g2", "src_sk": prefix + "NOT_SET"})
    assert missing.verdict is Outcome.INVALID and "NOT_SET" in missing.error_msg


@pytest.mark.parametrize(("column", "prefix"), [("src_sk", "ENV:"), ("dst_ak", "Env:"), ("json_auth_file", "ENV:")])
def test_masked_text_keeps_an_env_reference_in_any_case(column: str, prefix: str) -> None:
    """The annotated copy's rule: an ENV:/Env: reference is kept as it is, like env:; a secret is still masked."""
    assert masked_text(column, prefix + "NAME") == prefix + "NAME"
    assert masked_text(column, "ENVIRONMENT-SECRET-1234") != "ENVIRONMENT-SECRET-1234"


HUGE = "x" * 1_000_000


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("migrate_failed_object", HUGE),
        ("src_sk", "env:" + HUGE),
        ("json_auth_file", HUGE),
        ("group_id", " " + "g" * 1000 + " "),
        ("src_sk", "ENV:" + HUGE),
    ],
)
def test_a_huge_cell_is_quoted_by_a_short_prefix_only(tmp_path: Path, column: str, value: str) -> None:
    """A row refused for a huge cell says why in a short message: at most a short prefix of the cell is quoted."""
    planner = Planner(
        columns=["group_id", "src_sk", "json_auth_file", "migrate_failed_object"],
        project_id="p",
        endpoint="http://x",
        env={},
        base_dir=tmp_path,
    )
    plan = planner.plan(2, {"group_id": "g1", column: value})
    assert plan.verdict is Outcome.INVALID
    assert len(plan.error_msg) < 300 and len(plan.error_code) < 100, plan.error_msg[:300]


def _key_plan(tmp_path: Path, cell: str) -> RowPlan:
    """The plan of one row whose json_auth_file cell is *cell* (paths relative to *tmp_path*)."""
    planner = Planner(
        columns=["group_id", "json_auth_file"], project_id="p", endpoint="http://x", env={}, base_dir=tmp_path
    )
    return planner.plan(2, {"group_id": "g1", "json_auth_file": cell})


def test_json_auth_file_naming_a_fifo_is_refused_without_waiting(tmp_path: Path) -> None:
    """A FIFO named as the key file is refused as not a regular file; it is never read (a writer would be waited on)."""
    fifo = tmp_path / "key.json"
    os.mkfifo(fifo)
    written: list[BaseException] = []

    def writer() -> None:  # a key arriving through the FIFO once someone opens it: without the check, it is read
        try:
            with open(fifo, "w") as fh:
                fh.write("{}")
        except OSError as exc:
            written.append(exc)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        plan = _key_plan(tmp_path, "key.json")
    finally:
        fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # lets the writer finish either way
        thread.join(10)
        os.close(fd)
    assert plan.verdict is Outcome.INVALID and plan.error_code == "invalid:json_auth_file not a file", plan


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null"])
def test_json_auth_file_naming_a_device_is_refused(tmp_path: Path, device: str) -> None:
    """/dev/zero (endless) and other devices are refused as not regular files, never read."""
    plan = _key_plan(tmp_path, device)
    assert plan.verdict is Outcome.INVALID and plan.error_code == "invalid:json_auth_file not a file", plan


def test_json_auth_file_naming_a_huge_file_reads_a_bounded_prefix(tmp_path: Path) -> None:
    """A 64 MB key file is refused as too long after reading little more than the API's limit, not loaded whole."""
    huge = tmp_path / "key.json"
    with open(huge, "wb") as fh:
        fh.truncate(64 << 20)  # sparse: costs no disk
    tracemalloc.start()
    try:
        plan = _key_plan(tmp_path, str(huge))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20
    assert plan.verdict is Outcome.INVALID and plan.error_code == "invalid:json_auth_file too long", plan


def test_a_formula_without_a_value_in_a_column_that_matters_is_invalid() -> None:
    """A credential or id cell holding an uncomputed formula makes the row invalid (never a body without it);
    such a cell in a column of the user's own (a note) does not."""
    planner = Planner(columns=["group_id", "src_ak", "src_sk", "note"], project_id="p", endpoint="http://x", env={})
    plan = planner.plan(2, {"group_id": "g1", "src_ak": "AK", "src_sk": "", "note": ""}, ("src_sk", "note"))
    assert plan.verdict is Outcome.INVALID and plan.error_code == "invalid:src_sk formula without a value", plan
    assert "Excel" in plan.error_msg and "paste values" in plan.error_msg
    note = planner.plan(3, {"group_id": "g2", "src_ak": "AK", "src_sk": "SK", "note": ""}, ("note",))
    assert note.callable
