"""The action options of `run`, `rerun` and `validate`: choices, defaults, usage errors, the table of actions in
`run --help`, the call that `validate` and a dry run show, and the summary line that names the action."""

from __future__ import annotations

from pathlib import Path

import pytest

from bulkretry.cli import build_parser
from bulkretry.cli.run import work_given
from bulkretry.oms.actions import ACTIONS
from bulkretry.run.settings import Work
from bulkretry.sim import SimConfig, SimulatorThread
from tests.clitools import PROJECT, SAMPLES, run_cli, run_manifest, use_sim_credentials, write_group_manifest

GROUP_IDS = ["6f1e3b0c-0000-4000-8000-000000000001", "6f1e3b0c-0000-4000-8000-000000000002"]


def _groups(tmp_path: Path) -> Path:
    return write_group_manifest(tmp_path / "groups.csv", GROUP_IDS)


def _validate(manifest: Path, *extra: str) -> tuple[int, str, str]:
    return run_cli("validate", str(manifest), "--project-id", PROJECT, "--region", "cn-north-4", *extra)


@pytest.mark.parametrize("command", [["run", "m.csv"], ["validate", "m.csv"], ["rerun", "runs/x"]])
def test_action_options_not_given_are_left_to_work_or_the_earlier_run(command: list[str]) -> None:
    """Nothing given: no value at all, so Work's defaults (retry, batches of 50) or a rerun's earlier ones hold."""
    args = build_parser().parse_args(command)
    assert work_given(args) == {}
    assert Work(**work_given(args)) == Work(action="retry", target=None, priority=None, batch_size=50)


def test_action_options_given_fill_work() -> None:
    """--action, --target, --priority and --batch-size go into Work by name."""
    argv = ["run", "m.csv", "--action", "priority", "--target", "tasks", "--priority", "HIGH", "--batch-size", "7"]
    work = Work(**work_given(build_parser().parse_args(argv)))
    assert work == Work(action="priority", target="tasks", priority="HIGH", batch_size=7)


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--action", "restart"),
        ("--target", "buckets"),
        ("--priority", "URGENT"),
        ("--batch-size", "0"),
        ("--batch-size", "1001"),
        ("--batch-size", "ten"),
    ],
)
@pytest.mark.parametrize("command", ["run", "validate"])
def test_bad_action_option_values_exit_2_naming_the_option(
    command: str, option: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A value outside the choices or the batch size's range is a usage error naming the option, before any read."""
    code, _, _ = run_cli(command, "does-not-matter.csv", option, value)
    err = capsys.readouterr().err
    assert code == 2 and option in err and "Traceback" not in err


@pytest.mark.parametrize("command", ["run", "validate"])
def test_retry_on_tasks_exits_2_and_names_action_start(command: str, tmp_path: Path) -> None:
    """--action retry --target tasks: no such call; exit 2 before any call, saying a task restarts with start."""
    code, _, err = run_cli(
        command, str(_groups(tmp_path)), "--endpoint", "http://127.0.0.1:9", "--project-id", PROJECT,
        "--action", "retry", "--target", "tasks",
    )  # fmt: skip
    assert code == 2, err
    assert "--action start" in err and "Traceback" not in err


def test_run_help_has_a_table_of_the_six_calls_and_an_example_of_each_action(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """run --help: each action's name, target, call and statuses from ACTIONS; start, stop, priority examples."""
    code, _, _ = run_cli("run", "--help")
    out = capsys.readouterr().out  # argparse prints the help on sys.stdout
    assert code == 0
    lines = out.splitlines()
    for action in ACTIONS.values():
        statuses = ", ".join(str(s) for s in sorted(action.allowed))
        assert any(
            line.split()[:2] == [action.name, action.target]
            and action.describe() in line
            and line.endswith("  " + statuses)
            for line in lines
        ), action
    assert len(ACTIONS) == 6
    for example in ("--action start", "--action stop", "--action priority --priority HIGH"):
        assert any(line.startswith("  bulkretry run") and example in line for line in lines), example
    assert "--target groups|tasks" in out and "--batch-size" in out


def test_validate_prints_the_call_and_names_the_target_column(tmp_path: Path) -> None:
    """validate: the call a run would make (retry by default, another with --action) before the verdicts."""
    manifest = _groups(tmp_path)
    code, out, err = _validate(manifest)
    assert code == 0, err
    assert "call: PUT /v2/{project_id}/taskgroups/{group_id}/retry (--action retry on groups)" in out.splitlines()
    code, out, err = _validate(manifest, "--action", "stop")
    assert code == 0, err
    assert "call: PUT /v2/{project_id}/taskgroups/{group_id}/stop (--action stop on groups)" in out
    assert "group_id" in out.splitlines()[2]


def test_validate_of_priority_shows_the_batch_size_and_the_levels(tmp_path: Path) -> None:
    """A task manifest (a task_id column) and --action priority: the batch call, its size and where levels come
    from; the verdicts' header says task_id."""
    manifest = tmp_path / "tasks.csv"
    manifest.write_text(
        "task_id,group_id\n100000000000001," + GROUP_IDS[0] + "\n100000000000002," + GROUP_IDS[1] + "\n",
        encoding="utf-8",
    )
    code, out, err = _validate(manifest, "--action", "priority", "--priority", "LOW", "--batch-size", "20")
    assert code in (0, 1), err
    lines = out.splitlines()
    assert lines[1] == (
        "call: POST /v2/{project_id}/tasks/batch-update (--action priority on tasks), up to 20 task ids per call "
        "(--batch-size), task_priority HIGH/MEDIUM/LOW from each row's priority cell, else --priority LOW"
    )
    assert lines[2].split()[:2] == ["row", "task_id"]


@pytest.mark.parametrize(
    ("extra", "call", "named"),
    [
        ((), "PUT /v2/{project_id}/taskgroups/{group_id}/retry", ""),
        (("--action", "start"), "PUT /v2/{project_id}/taskgroups/{group_id}/start", " (start groups)"),
    ],
)
def test_a_dry_run_shows_the_call_and_its_summary_names_an_action_other_than_retry(
    tmp_path: Path, extra: tuple[str, ...], call: str, named: str
) -> None:
    """--dry-run: one line with the call on stderr; the summary line says `2 rows (start groups):` for start and
    stays as it was for retry."""
    code, out, err = run_cli(
        "run", str(_groups(tmp_path)), "--endpoint", "http://127.0.0.1:9", "--project-id", PROJECT,
        "--out", str(tmp_path / "run"), "--dry-run", *extra,
    )  # fmt: skip
    assert code == 0, err
    assert f"dry run, nothing is called; call: {call}" in err
    summary = next(line for line in out.splitlines() if line.startswith("2 rows"))
    assert summary.startswith(f"2 rows{named}: 2 dry_run")


def test_rerun_takes_the_action_given_and_the_earlier_one_otherwise(tmp_path: Path, monkeypatch) -> None:
    """rerun --action stop: the new run's call is stop; without it, the earlier run's (retry)."""
    config = SimConfig()
    use_sim_credentials(monkeypatch, config, DEMO_SRC_SK="x-secret", DEMO_DST_SK="y-secret")
    with SimulatorThread(config) as sim_thread:
        code, _, err = run_manifest(SAMPLES / "manifest.csv", sim_thread.url, config.project_id, tmp_path / "run")
    assert code == 1, err  # the sample fails some rows on purpose
    for extra, call in (((), "retry"), (("--action", "stop"), "stop")):
        out_dir = tmp_path / f"rerun-{call}"
        code, _, err = run_cli("rerun", str(tmp_path / "run"), "--dry-run", "--out", str(out_dir), *extra)
        assert code == 0, err
        assert f"call: PUT /v2/{{project_id}}/taskgroups/{{group_id}}/{call} (--action {call} on groups)" in err


def test_readme_actions_table_names_every_call() -> None:
    """The manual's Actions table (docs/actions.md) has a row for each action of ACTIONS, with its target and call."""
    readme = (Path(__file__).resolve().parent.parent / "docs" / "actions.md").read_text(encoding="utf-8")
    rows = [line for line in readme.splitlines() if line.startswith("| `") and "/v2/{project_id}/" in line]
    for action in ACTIONS.values():
        assert any(
            f"`{action.name}`" in row and f"| {action.target} |" in row and f"`{action.describe()}`" in row
            for row in rows
        ), action
