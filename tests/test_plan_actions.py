"""Plans per action: each action's body, task ids, KMS checks, priority levels, a task manifest's columns."""

from __future__ import annotations

from pathlib import Path

import pytest

from bulkretry.errors import ManifestError, UsageError
from bulkretry.manifest.body import CallBody
from bulkretry.manifest.plan import CallSpec, Planner, RowPlan
from bulkretry.oms.actions import ACTIONS, GROUPS, TASKS
from bulkretry.records import Outcome

KEYS = {"src_ak": "SRC-AK", "src_sk": "SRC-SK", "src_security_token": "STS", "migrate_failed_object": "yes"}


def plan_of(name: str, target: str, values: dict[str, str], **spec: object) -> RowPlan:
    """The plan of one row of *values* (its columns: the keys) for the action *name* on *target*."""
    planner = Planner(
        columns=list(values), project_id="p", endpoint="http://x", call=CallSpec(ACTIONS[name, target], **spec), env={}
    )
    return planner.plan(2, values)


@pytest.mark.parametrize(
    ("name", "target", "id_column", "body"),
    [
        ("retry", GROUPS, "group_id", {"src_ak": "SRC-AK", "src_sk": "SRC-SK", "migrate_failed_object": True}),
        ("start", GROUPS, "group_id", {"src_ak": "SRC-AK", "src_sk": "SRC-SK"}),
        ("stop", GROUPS, "group_id", {}),
        (
            "start",
            TASKS,
            "task_id",
            {"src_ak": "SRC-AK", "src_sk": "SRC-SK", "src_security_token": "STS", "migrate_failed_object": True},
        ),
        ("stop", TASKS, "task_id", {}),
    ],
)
def test_each_action_sends_only_its_body_fields(name: str, target: str, id_column: str, body: dict) -> None:
    """The body holds what the action's body_fields name, nothing else: a stop sends none, a group start no flag."""
    plan = plan_of(name, target, {id_column: "123", **KEYS})
    assert plan.callable and plan.group_id == "123"
    assert plan.body == body and isinstance(plan.body, CallBody)
    assert "STS" not in repr(plan.body) and "SRC-SK" not in repr(plan.body)


@pytest.mark.parametrize("value", ["abc", "12.5", "-3", "1e5", "1234567890123456", "１２"])
def test_a_task_id_that_is_no_integer_is_an_invalid_row(value: str) -> None:
    """A task id is an integer 0..999999999999999 (the SDK's ids: list[int]); anything else is invalid:task_id."""
    plan = plan_of("start", TASKS, {"task_id": value})
    assert plan.verdict is Outcome.INVALID and plan.error_code == "invalid:task_id not an integer"
    assert plan_of("start", TASKS, {"task_id": ""}).error_code == "invalid:task_id missing"


def test_a_task_id_is_sent_as_the_integer_it_is() -> None:
    """Spaces and leading zeros are not part of a task id; the same task twice is a duplicate."""
    planner = Planner(columns=["task_id"], project_id="p", endpoint="http://x", call=CallSpec(ACTIONS["stop", TASKS]))
    first, again = planner.plan(2, {"task_id": " 00042 "}), planner.plan(3, {"task_id": "42"})
    assert first.group_id == "42" and first.callable
    assert again.verdict is Outcome.DUPLICATE and again.error_msg == "same project and task as row 2; called once"


def test_a_task_runs_group_id_is_carried_as_information() -> None:
    """In a task run the group_id cell is an extra column, and task_id the leading one; a group run keeps both
    the other way round."""
    columns = ["task_id", "group_id", "note"]
    tasks = Planner(columns=columns, project_id="p", endpoint="http://x", call=CallSpec(ACTIONS["stop", TASKS]))
    assert tasks.extra_columns == ["group_id", "note"]
    assert tasks.plan(2, {"task_id": "7", "group_id": "g-1", "note": "n"}).extra == (("group_id", "g-1"), ("note", "n"))
    assert Planner(columns=columns, project_id="p", endpoint="http://x").extra_columns == ["task_id", "note"]


@pytest.mark.parametrize(
    ("cells", "code"),
    [
        ({"src_crypto_type": "AES"}, "invalid:src_crypto_type not DEFAULT or KMS"),
        ({"dst_crypto_type": "KMS"}, "invalid:dst_kms_key_id missing"),
        ({"source_cdn_crypto_type": "kms"}, "invalid:source_cdn_kms_key_id missing"),
        ({"src_crypto_type": "KMS", "src_kms_key_id": "k" * 37}, "invalid:src_kms_key_id too long"),
    ],
)
def test_a_crypto_type_is_default_or_kms_with_its_key_id(cells: dict[str, str], code: str) -> None:
    """A *_crypto_type other than DEFAULT/KMS, or KMS without its key id, is an invalid row naming the column."""
    plan = plan_of("retry", GROUPS, {"group_id": "g", **cells})
    assert (plan.verdict, plan.error_code) == (Outcome.INVALID, code)


def test_kms_with_its_key_id_is_sent_upper_case() -> None:
    """KMS and its key id go into the body (the type in upper case), DEFAULT alone too."""
    key = "0d0466b0-e727-4d9c-b35d-f84bb474a37f"
    plan = plan_of("start", GROUPS, {"group_id": "g", "dst_crypto_type": "kms", "dst_kms_key_id": key})
    assert plan.body == {"dst_crypto_type": "KMS", "dst_kms_key_id": key}
    assert plan_of("start", TASKS, {"task_id": "1", "src_crypto_type": "DEFAULT"}).body == {
        "src_crypto_type": "DEFAULT",
        "migrate_failed_object": False,
    }


def test_priority_rows_take_their_cell_else_the_option() -> None:
    """A priority row's level is its cell (any case), else --priority; a level that is none is invalid."""
    rows = [{"task_id": "1", "priority": "high"}, {"task_id": "2", "priority": ""}, {"task_id": "3", "priority": "x"}]
    planner = Planner(
        columns=["task_id", "priority"],
        project_id="p",
        endpoint="http://x",
        call=CallSpec(ACTIONS["priority", TASKS], priority="LOW"),
    )
    plans = [planner.plan(i + 2, row) for i, row in enumerate(rows)]
    assert [p.body for p in plans[:2]] == [{"task_priority": "HIGH"}, {"task_priority": "LOW"}]
    assert plans[2].error_code == "invalid:priority not a level"
    empty = plan_of("priority", TASKS, {"task_id": "1", "priority": ""})
    assert (empty.verdict, empty.error_code) == (Outcome.INVALID, "invalid:priority missing")


def test_priority_without_a_column_or_option_is_a_usage_error() -> None:
    """Neither a priority column nor --priority: exit 2 before any call."""
    with pytest.raises(UsageError, match="--priority"):
        plan_of("priority", TASKS, {"task_id": "1"})
    assert plan_of("priority", TASKS, {"task_id": "1"}, priority="MEDIUM").body == {"task_priority": "MEDIUM"}


def test_a_task_manifest_needs_no_group_id_column(tmp_path: Path) -> None:
    """task_id (or an alias) stands in for the required group_id; neither is the old message."""
    from bulkretry.manifest.read import open_manifest

    path = tmp_path / "tasks.csv"
    path.write_text("迁移任务ID,project_id\n12,p\n", encoding="utf-8")
    assert open_manifest(path).columns == ("task_id", "project_id")
    path.write_text("project_id,note\np,n\n", encoding="utf-8")
    with pytest.raises(ManifestError, match="has no group_id column: name one column group_id"):
        open_manifest(path)
