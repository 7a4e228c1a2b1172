"""The recipes for many workers in docs/deploy/ (a Kubernetes Indexed Job and its merge, a CronJob of shards, an
Argo Workflow, an Airflow DAG) parse, have the fields their engine needs, map bulkretry's exit statuses to what the
engine does (3 retried, 2 and 1 never), and every bulkretry command in them is one the real CLI parser takes whole.
"""

from __future__ import annotations

import ast
import re
import shlex
import string
from pathlib import Path
from typing import Any

import pytest
import yaml

from bulkretry.cli import build_parser

DEPLOY = Path(__file__).resolve().parent.parent / "docs" / "deploy"
#: What the scripts' variables and the engines' templates stand for, in a check.
SAMPLE = {
    "JOB_COMPLETION_INDEX": "2",
    "JOB_NAME": "bulkretry-shards",
    "SHARDS": "5",
    "OUT": "/var/lib/bulkretry/j/shard-2",
    "RUN": "/var/lib/bulkretry/j",
    "RESUME": "--resume",
    "inputs.parameters.index": "2",
    "workflow.parameters.shards": "5",
    "workflow.name": "bulkretry-x1",
}


def parse_bulkretry(argv: list[str]) -> Any:
    """*argv* (after ``bulkretry``) as the real parser reads it; an option it does not know fails the test."""
    parser = build_parser()
    try:
        return parser.parse_args(argv)
    except SystemExit as exc:  # argparse's usage error
        pytest.fail(f"`bulkretry {shlex.join(argv)}` is refused by the parser ({exc.code})")


def script_commands(script: str) -> list[list[str]]:
    """Every ``bulkretry`` command of a shell script, its variables and templates filled in from SAMPLE."""
    text = re.sub(r"\{\{\s*([\w.]+)\s*\}\}", lambda m: SAMPLE[m.group(1)], script.replace("\\\n", " "))
    text = string.Template(text).safe_substitute(SAMPLE)
    commands = []
    for line in text.splitlines():
        words = shlex.split(line, comments=True)
        if "bulkretry" in words:
            argv = words[words.index("bulkretry") + 1 :]
            commands.append(argv[: next((i for i, w in enumerate(argv) if w in {"||", "&&", ";"}), len(argv))])
    return commands


def documents(name: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all((DEPLOY / name).read_text(encoding="utf-8")) if doc]


def job_spec(name: str) -> dict[str, Any]:
    """The Job spec of *name*: a Job's, or a CronJob's job template's."""
    for doc in documents(name):
        if doc["kind"] == "Job" and doc["spec"].get("completionMode") == "Indexed":
            return doc["spec"]
        if doc["kind"] == "CronJob":
            return doc["spec"]["jobTemplate"]["spec"]
    raise AssertionError(f"no Indexed Job in {name}")


def exit_rules(spec: dict[str, Any]) -> dict[int, str]:
    """What the pod failure policy does for each exit status it names."""
    return {
        code: rule["action"]
        for rule in spec["podFailurePolicy"]["rules"]
        if "onExitCodes" in rule and rule["onExitCodes"]["operator"] == "In"
        for code in rule["onExitCodes"]["values"]
    }


def check_shard_command(argv: list[str], shards: int) -> None:
    """A shard's run: `run` with --shard I/N of the recipe's N, its own --out, quiet and unattended."""
    args = parse_bulkretry(argv)
    assert argv[0] == "run" and str(args.shard) == f"2/{shards}", argv
    assert args.out and args.quiet and args.yes and args.json_summary and args.resume, argv


@pytest.mark.parametrize("name", ["indexed-job.yaml", "cronjob-shards.yaml"])
def test_the_kubernetes_indexed_jobs_are_complete(name: str) -> None:
    """Indexed, N completions, a retry per index, a failure policy that never retries 2 and retries 3, credentials
    from a Secret, the runs on a shared volume, and a shard command the parser takes with --shard I/N."""
    spec = job_spec(name)
    shards = spec["completions"]
    assert spec["completionMode"] == "Indexed" and spec["parallelism"] == shards >= 2
    assert 1 <= spec["backoffLimitPerIndex"] <= 5 and spec["maxFailedIndexes"] == shards
    rules = exit_rules(spec)
    assert rules[2] == "FailIndex" and rules[1] == "FailIndex" and rules[3] == "Count", rules
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never"  # what podFailurePolicy and backoffLimitPerIndex require
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["credentials"]["secret"]["secretName"] == "bulkretry-credentials"
    assert volumes["shared"]["persistentVolumeClaim"]["claimName"] == "bulkretry-shared"
    (container,) = pod["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert env["CREDENTIALS_DIRECTORY"]["value"] == "/run/secrets/bulkretry"
    assert not any("SDK_SK" in e["name"] or "SDK_AK" in e["name"] for e in container["env"])  # files, not env
    assert "batch.kubernetes.io/job-name" in env["JOB_NAME"]["valueFrom"]["fieldRef"]["fieldPath"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts["shared"] == "/var/lib/bulkretry"
    (script,) = container["args"]
    assert f"SHARDS={shards}" in script and '--shard "$JOB_COMPLETION_INDEX/$SHARDS"' in script
    commands = script_commands(script)
    check_shard_command(commands[0], 5)  # SAMPLE's SHARDS
    for argv in commands[1:]:
        assert argv[0] == "merge" and parse_bulkretry(argv).out


def test_the_shared_volume_and_the_merge_job() -> None:
    """The claim is ReadWriteMany (every node's pods write it); the merge Job names every shard and is run once."""
    (claim,) = [d for d in documents("indexed-job.yaml") if d["kind"] == "PersistentVolumeClaim"]
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"] and claim["metadata"]["name"] == "bulkretry-shared"
    (merge,) = documents("merge-job.yaml")
    assert merge["kind"] == "Job" and merge["spec"]["backoffLimit"] == 0
    (container,) = merge["spec"]["template"]["spec"]["containers"]
    (argv,) = script_commands(container["args"][0])
    args = parse_bulkretry(argv)
    shards = job_spec("indexed-job.yaml")["completions"]
    assert argv[0] == "merge" and args.shard_dirs == [f"shard-{i}" for i in range(shards)] and args.out


def test_the_argo_workflow_maps_the_shards_and_merges_after() -> None:
    """withSequence over the shards, a retry on exit 3 only, the merge after every shard, each command parsed."""
    (workflow,) = documents("argo-workflow.yaml")
    assert workflow["kind"] == "Workflow" and workflow["apiVersion"] == "argoproj.io/v1alpha1"
    templates = {t["name"]: t for t in workflow["spec"]["templates"]}
    (shard_step,), (merge_step,) = templates[workflow["spec"]["entrypoint"]]["steps"]
    assert shard_step["withSequence"]["count"] == "{{workflow.parameters.shards}}"
    assert shard_step["continueOn"]["failed"] is True and merge_step["template"] == "merge"
    retry = templates["shard"]["retryStrategy"]
    assert retry["expression"] == "asInt(lastRetry.exitCode) == 3" and int(retry["limit"]) >= 1
    (shard_argv,) = script_commands(templates["shard"]["container"]["args"][0])
    check_shard_command(shard_argv, 5)
    (merge_argv,) = script_commands(templates["merge"]["container"]["args"][0])
    assert merge_argv[0] == "merge" and parse_bulkretry(merge_argv).out


def _dag_helpers() -> dict[str, Any]:
    """The DAG's constants and its argv functions, run without Airflow (which is not installed, and need not be)."""
    tree = ast.parse((DEPLOY / "airflow_dag.py").read_text(encoding="utf-8"))
    kept = [
        node
        for node in tree.body
        if isinstance(node, (ast.Assign, ast.AnnAssign))
        or (isinstance(node, ast.FunctionDef) and node.name in {"shard_argv", "merge_argv"})
        or (isinstance(node, ast.ImportFrom) and node.module == "__future__")
    ]
    namespace: dict[str, Any] = {}
    exec(compile(ast.Module(body=kept, type_ignores=[]), "airflow_dag.py", "exec"), namespace)
    return namespace


def test_the_airflow_dag_maps_the_shards_and_its_commands_parse() -> None:
    """The DAG parses, maps the shard task with .expand(), retries exit 3 only, merges when all are done, and its
    shard and merge argv are ones the CLI takes."""
    text = (DEPLOY / "airflow_dag.py").read_text(encoding="utf-8")
    ast.parse(text)
    assert "shard.expand(index=list(range(SHARDS)))" in text and 'trigger_rule="all_done"' in text
    assert "if status == 3:" in text and "AirflowFailException" in text
    helpers = _dag_helpers()
    shards = helpers["SHARDS"]
    argv = helpers["shard_argv"](2, "/srv/runs/r1/shard-2", True)
    assert argv[0] == "bulkretry"
    check_shard_command(argv[1:], shards)
    merge = helpers["merge_argv"]("/srv/runs/r1")
    args = parse_bulkretry(merge[1:])
    assert args.shard_dirs == [f"/srv/runs/r1/shard-{i}" for i in range(shards)] and args.out == "/srv/runs/r1/merged"
