"""The deployment recipes in docs/deploy/ parse, every option they pass to bulkretry exists in `run --help`, and
their secrets stay secret (a Secret mounted as files, systemd credentials, a 0600 file for cron).

Each recipe's bulkretry argv is parsed by the real CLI parser (``cli.build_parser``): an option renamed or removed
breaks this test, not a scheduled run. ``--notify`` and ``--notify-on`` are allowed even when this tree does not
have them yet (they are added in parallel).
"""

from __future__ import annotations

import argparse
import configparser
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from bulkretry.cli import build_parser
from bulkretry.cli.config import is_secret_setting
from bulkretry.masking import SECRET_COLUMNS
from bulkretry.oms.credentials import ENV_AK, ENV_SK

DEPLOY = Path(__file__).resolve().parent.parent / "docs" / "deploy"
#: Options the recipes may use that a helper adds in parallel; accepted with one value each when not yet known.
PENDING_OPTIONS = {"--notify", "--notify-on"}
#: What every recipe must pass, for an unattended run.
UNATTENDED = {"--quiet", "--json-summary", "--log-file", "--notify", "--max-duration"}


def _run_parser() -> argparse.ArgumentParser:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    run: argparse.ArgumentParser = sub.choices["run"]
    run.allow_abbrev = False  # a recipe spells every option out: --quie would work today and break on a new option
    known = {s for action in run._actions for s in action.option_strings}
    for option in PENDING_OPTIONS - known:
        run.add_argument(option, action="append")
    return run


def check_argv(argv: list[str]) -> argparse.Namespace:
    """*argv* (what follows the ``bulkretry`` program) is a `run` command the real parser takes whole."""
    assert argv[0] == "run", argv
    parser = _run_parser()
    args, unknown = parser.parse_known_args(argv[1:])
    assert not unknown, f"options not in `bulkretry run --help`: {unknown}"
    given = {a for a in argv if a.startswith("--")}
    assert given >= UNATTENDED, UNATTENDED - given
    assert "env:BULKRETRY_NOTIFY_URL" in argv and not any("://" in a for a in argv), argv  # the URL stays a secret
    assert args.max_duration == 50 * 60 and args.check_status and args.resume is False
    return args


_CRON_FIELD = re.compile(r"^(\*|\d+(-\d+)?)(/\d+)?(,(\*|\d+(-\d+)?)(/\d+)?)*$")
_CRON_RANGES = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]


def check_cron_schedule(fields: list[str]) -> None:
    """Five cron fields, each numbers, ranges, lists, steps or ``*`` within its range."""
    assert len(fields) == 5, fields
    for field, (low, high) in zip(fields, _CRON_RANGES):
        assert _CRON_FIELD.match(field), field
        for number in re.findall(r"\d+", field.split("/")[0]):
            assert low <= int(number) <= high, (field, low, high)


def _bulkretry_argv(command: str) -> list[str]:
    """The arguments of the ``bulkretry`` program in a shell command line (up to the next shell operator)."""
    words = shlex.split(command)
    start = next(i for i, w in enumerate(words[:-1]) if Path(w).name == "bulkretry" and words[i + 1] == "run")
    argv: list[str] = []
    for word in words[start + 1 :]:
        if word in {"&&", "||", ";", "|"}:
            break
        argv.append(word)
    return argv


def test_the_crontab_line_has_five_fields_and_a_run_the_parser_takes() -> None:
    lines = [
        line
        for line in (DEPLOY / "crontab").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    settings = [line for line in lines if re.match(r"^[A-Z_]+=", line)]
    jobs = [line for line in lines if line not in settings]
    assert {line.split("=")[0] for line in settings} <= {"SHELL", "PATH", "MAILTO"}
    assert len(jobs) == 1, jobs
    fields = jobs[0].split(None, 5)
    check_cron_schedule(fields[:5])
    command = fields[5]
    assert "%" not in command  # cron would turn it into a newline
    assert "flock -n" in command, "a run still going must stop the next one from starting"
    # The secrets' file is sourced only while no one but its owner can read it (mode 0600).
    guard = 'test -z "$(find /etc/bulkretry/env -perm /077)" && '
    assert guard in command and command.index(guard) < command.index(". /etc/bulkretry/env"), command
    check_argv(_bulkretry_argv(command))


#: Keys the units may use, per section (a typo such as ``OnCalender`` fails here).
UNIT_KEYS = {
    "Unit": {"Description", "Documentation", "Wants", "After", "Requires"},
    "Service": {
        "Type",
        "LoadCredential",
        "DynamicUser",
        "User",
        "Group",
        "StateDirectory",
        "LogsDirectory",
        "WorkingDirectory",
        "ExecStart",
        "TimeoutStartSec",
        "TimeoutStopSec",
        "KillMode",
        "Nice",
        "NoNewPrivileges",
        "ProtectSystem",
        "ProtectHome",
        "PrivateTmp",
        "PrivateDevices",
        "ProtectKernelTunables",
        "ProtectControlGroups",
        "RestrictAddressFamilies",
        "SuccessExitStatus",
    },
    "Timer": {"OnCalendar", "Persistent", "AccuracySec", "RandomizedDelaySec", "Unit"},
    "Install": {"WantedBy"},
}


#: Keys systemd takes more than once (each line one more value).
REPEATED_KEYS = ("LoadCredential",)


def unit_values(name: str, key: str) -> list[str]:
    """The values of every ``key=`` line of the unit file *name*, in order."""
    lines = (DEPLOY / name).read_text(encoding="utf-8").splitlines()
    return [line.split("=", 1)[1] for line in lines if line.startswith(f"{key}=")]


def read_unit(name: str) -> configparser.ConfigParser:
    """A unit file parsed strictly: no key twice (but those systemd repeats, read by :func:`unit_values`), no
    section twice, every line ``Key=value`` in a section."""
    unit = configparser.ConfigParser(
        strict=True, interpolation=None, delimiters=("=",), comment_prefixes=("#", ";"), empty_lines_in_values=False
    )
    unit.optionxform = str  # type: ignore[assignment,method-assign]  # systemd keys are case-sensitive
    lines = (DEPLOY / name).read_text(encoding="utf-8").splitlines()
    text = "\n".join(line for line in lines if not line.startswith(tuple(f"{k}=" for k in REPEATED_KEYS)))
    unit.read_string(text, source=name)
    for section in unit.sections():
        assert section in UNIT_KEYS, (name, section)
        unknown = set(unit[section]) - UNIT_KEYS[section]
        assert not unknown, (name, section, unknown)
    return unit


def test_the_systemd_units_parse_and_start_a_run_the_parser_takes() -> None:
    service = read_unit("bulkretry.service")
    assert service.sections() == ["Unit", "Service"]
    assert service["Service"]["Type"] == "oneshot"
    assert "Restart" not in service["Service"]  # exit 1 is an answer; the next hour retries
    argv = shlex.split(service["Service"]["ExecStart"])
    assert argv[0].startswith("/") and Path(argv[0]).name == "bulkretry"  # systemd wants an absolute path
    check_argv(argv[1:])
    # Secrets as systemd credentials, each named as the variable bulkretry reads; no environment file.
    assert "EnvironmentFile" not in service["Service"] and "Environment" not in service["Service"]
    credentials = dict(value.split(":", 1) for value in unit_values("bulkretry.service", "LoadCredential"))
    assert set(credentials) == {ENV_AK[0], ENV_SK[0], "BULKRETRY_NOTIFY_URL"}, credentials
    for name, path in credentials.items():
        assert path.startswith("/") and Path(path).name == name, (name, path)
    assert "env:BULKRETRY_NOTIFY_URL" in argv
    timer = read_unit("bulkretry.timer")
    assert timer.sections() == ["Unit", "Timer", "Install"]
    assert timer["Timer"]["OnCalendar"] and timer["Timer"]["Unit"] == "bulkretry.service"
    assert timer["Install"]["WantedBy"] == "timers.target"


def test_systemd_analyze_verifies_the_units(tmp_path: Path) -> None:
    """Where systemd-analyze is installed: the units verify, with ExecStart pointed at this venv's bulkretry."""
    analyze = shutil.which("systemd-analyze")
    program = Path(sys.executable).with_name("bulkretry")
    if analyze is None or not program.exists():
        pytest.skip("needs systemd-analyze and the bulkretry console script")
    text = (DEPLOY / "bulkretry.service").read_text(encoding="utf-8")
    (tmp_path / "bulkretry.service").write_text(
        text.replace("/opt/bulkretry/bin/bulkretry", str(program)), encoding="utf-8"
    )
    shutil.copyfile(DEPLOY / "bulkretry.timer", tmp_path / "bulkretry.timer")
    done = subprocess.run(
        [analyze, "verify", "bulkretry.service", "bulkretry.timer"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr
    calendar = subprocess.run(
        [analyze, "calendar", read_unit("bulkretry.timer")["Timer"]["OnCalendar"]],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert calendar.returncode == 0, calendar.stderr


def _documents() -> dict[str, dict[str, Any]]:
    docs = list(yaml.safe_load_all((DEPLOY / "cronjob.yaml").read_text(encoding="utf-8")))
    assert all(isinstance(doc, dict) and doc.get("apiVersion") and doc.get("metadata", {}).get("name") for doc in docs)
    by_kind = {doc["kind"]: doc for doc in docs}
    assert len(by_kind) == len(docs)
    return by_kind


def check_kubernetes_secrets(
    docs: dict[str, dict[str, Any]], container: dict[str, Any], mounts: dict[str, Any], volumes: dict[str, Any]
) -> None:
    """Credentials and the notification URL only from the Secret, mounted as files readable by the pod's user alone
    where $CREDENTIALS_DIRECTORY says; no secret in the ConfigMap or in a plain environment value."""
    secret = docs["Secret"]
    names = {ENV_AK[0], ENV_SK[0], "BULKRETRY_NOTIFY_URL"}
    assert names <= set(secret["stringData"]), secret["stringData"]
    env = {e["name"]: e for e in container["env"]}
    (folder,) = [n for n, v in volumes.items() if v.get("secret", {}).get("secretName") == secret["metadata"]["name"]]
    assert env["CREDENTIALS_DIRECTORY"]["value"] == mounts[folder]["mountPath"] and mounts[folder]["readOnly"] is True
    assert volumes[folder]["secret"]["defaultMode"] & 0o077 == 0  # 0400
    for name, entry in env.items():
        assert "value" in entry or "secretKeyRef" in entry["valueFrom"], name  # never a configMapKeyRef
        assert not is_secret_setting(name) or "value" not in entry, name
    for key, text in docs["ConfigMap"]["data"].items():
        assert not is_secret_setting(key), key
        header = [column.strip() for column in text.splitlines()[0].split(",")]
        assert not set(header) & SECRET_COLUMNS, header


def test_the_kubernetes_cronjob_is_a_forbid_concurrency_job_of_a_run_the_parser_takes() -> None:
    docs = _documents()
    assert set(docs) == {"ConfigMap", "Secret", "PersistentVolumeClaim", "CronJob"}
    cron = docs["CronJob"]
    assert cron["apiVersion"] == "batch/v1"
    spec = cron["spec"]
    check_cron_schedule(spec["schedule"].split())
    assert spec["concurrencyPolicy"] == "Forbid"
    job = spec["jobTemplate"]["spec"]
    assert job["backoffLimit"] == 0
    pod = job["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    (container,) = pod["containers"]
    assert container["command"] == ["bulkretry"]
    check_argv([str(a) for a in container["args"]])
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    check_kubernetes_secrets(docs, container, mounts, volumes)
    # The manifest the args name comes from the ConfigMap, mounted read-only.
    manifest = Path(str(container["args"][1]))
    (name,) = [n for n, m in mounts.items() if manifest.parent == Path(m["mountPath"])]
    assert mounts[name].get("readOnly") is True
    config_map = docs["ConfigMap"]
    assert volumes[name]["configMap"]["name"] == config_map["metadata"]["name"]
    assert manifest.name in config_map["data"]
    assert config_map["data"][manifest.name].splitlines()[0].split(",")[0] == "group_id"
    # The runs (the default --out under workingDir) and the log go to the persistent volume.
    (runs,) = [n for n, v in volumes.items() if "persistentVolumeClaim" in v]
    assert volumes[runs]["persistentVolumeClaim"]["claimName"] == docs["PersistentVolumeClaim"]["metadata"]["name"]
    assert container["workingDir"] == mounts[runs]["mountPath"]
    log_file = str(container["args"][container["args"].index("--log-file") + 1])
    assert log_file.startswith(mounts[runs]["mountPath"] + "/")


def test_the_readme_links_the_recipes() -> None:
    readme = (DEPLOY.parent.parent / "README.md").read_text(encoding="utf-8")
    assert "docs/deploy/README.md" in readme
    guide = (DEPLOY / "README.md").read_text(encoding="utf-8")
    for name in ("crontab", "bulkretry.service", "bulkretry.timer", "cronjob.yaml"):
        assert f"]({name})" in guide, name
    for status in ("| 0 |", "| 1 |", "| 2 |", "| 130 |", "| 143 |"):
        assert status in guide, status
