"""Planning rows: the duplicate finder's table (exact answers, bounded memory)."""

from __future__ import annotations

import tracemalloc

import pytest

from bulkretry.errors import ConfigError
from bulkretry.manifest.plan import FirstRows, Planner
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
    plans = [planner.plan(row, {"group_id": g, "project_id": p})
             for row, (p, g) in enumerate([("a", "g1"), ("b", "g1"), ("a", "g1")], start=2)]
    assert [p.verdict for p in plans] == [None, None, Outcome.DUPLICATE]
    assert "row 2" in plans[2].error_msg


def test_planner_fills_empty_body_cells_from_run_wide_defaults() -> None:
    """BULKRETRY_<COLUMN> fills a body field whose cell is empty or whose column is absent; a cell wins;
    a default may itself be an env: reference; without a column or a default the field is left out."""
    env = {"BULKRETRY_SRC_SK": "default-src-sk", "BULKRETRY_DST_SK": "env:DST_FROM_ENV", "DST_FROM_ENV": "dst-sk",
           "BULKRETRY_CONNECTION_STRING": ""}
    planner = Planner(columns=["group_id", "src_ak", "src_sk", "dst_ak"], project_id="p", endpoint="http://x", env=env)
    given = planner.plan(2, {"group_id": "g1", "src_ak": "AK1", "src_sk": "own-sk", "dst_ak": "AK2"})
    empty = planner.plan(3, {"group_id": "g2", "src_ak": "AK1", "src_sk": "", "dst_ak": ""})
    assert dict(given.body) == {"src_ak": "AK1", "src_sk": "own-sk", "dst_ak": "AK2", "dst_sk": "dst-sk",
                                "migrate_failed_object": False}
    assert dict(empty.body) == {"src_ak": "AK1", "src_sk": "default-src-sk", "dst_sk": "dst-sk",
                                "migrate_failed_object": False}
    assert list(given.body) == ["src_ak", "src_sk", "dst_ak", "dst_sk", "migrate_failed_object"]  # the API's order
    unset = Planner(columns=["group_id"], project_id="p", endpoint="http://x",
                    env={"BULKRETRY_DST_SK": "env:MISSING"}).plan(2, {"group_id": "g1"})
    assert unset.verdict is Outcome.INVALID and "MISSING" in unset.error_msg


def test_planner_refuses_a_region_cell_that_is_not_a_region_id() -> None:
    """A region cell that would splice another host into the URL is invalid:region; with --endpoint it is unused."""
    planner = Planner(columns=["group_id", "region"], project_id="p")
    cells = ["cn-north-4", " ap-southeast-1 ", "x@127.0.0.1:18444#", "a/b", "CN-NORTH-4", "cn-north-4", ""]
    plans = [planner.plan(row, {"group_id": f"g{row}", "region": cell}) for row, cell in enumerate(cells, start=2)]
    assert [p.error_code for p in plans] == ["", "", "invalid:region not a region id", "invalid:region not a region id",
                                             "invalid:region not a region id", "", "invalid:region missing"]
    assert plans[1].region == "ap-southeast-1"
    assert "x@127.0.0.1:18444#" in plans[2].error_msg and "cn-north-4" in plans[2].error_msg
    pinned = Planner(columns=["group_id", "region"], project_id="p", endpoint="http://127.0.0.1:1")
    assert pinned.plan(2, {"group_id": "g", "region": "华北-北京四"}).callable
    with pytest.raises(ConfigError, match="--region"):
        Planner(columns=["group_id"], project_id="p", region="x@127.0.0.1:18444#")
