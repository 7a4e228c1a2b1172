"""Settings from a config file and BULKRETRY_<OPTION> (cli/config.py): precedence, profiles, refusals, `bulkretry
config`, and `bulkretry completion`."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from bulkretry.cli import build_parser
from bulkretry.cli.config import command_parsers, is_secret_setting, parse_arguments
from bulkretry.errors import UsageError
from bulkretry.sim import SimulatorThread
from tests.clitools import SAMPLES, run_cli

CONFIG = """\
region = "cn-north-4"
project_id = "from-config"
rate = 5
concurrency = 3
full_remigrate = true
notify = ["env:A", "env:B"]
[profile.night]
rate = "auto"
max-duration = "6h"
"""


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder holding bulkretry.toml."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bulkretry.toml").write_text(CONFIG, encoding="utf-8")
    return tmp_path


def parse(*argv: str, env: dict[str, str] | None = None) -> dict[str, object]:
    """*argv* as `main` parses it, with *env* as the environment."""
    return vars(parse_arguments(build_parser(), list(argv), env or {}))


def test_command_line_beats_environment_beats_config_beats_default(folder: Path) -> None:
    """Each option takes the first of: the command line, BULKRETRY_<OPTION>, bulkretry.toml, its default."""
    env = {"BULKRETRY_CONCURRENCY": "4", "BULKRETRY_PROJECT_ID": "from-env"}
    args = parse("run", "m.csv", "--project-id", "from-argv", env=env)
    assert args["project_id"] == "from-argv"  # command line over environment
    assert args["concurrency"] == 4  # environment over config
    assert args["region"] == "cn-north-4" and getattr(args["rate"], "fixed", None) == 5.0  # config over default
    assert args["max_attempts"] == 5 and args["migrate_failed_object"] is False  # default; config's flag


def test_a_list_option_on_the_command_line_replaces_the_configs(folder: Path) -> None:
    """--notify given on the command line is the whole list, not appended to the config's."""
    assert parse("run", "m.csv")["notify"] == ["env:A", "env:B"]
    assert parse("run", "m.csv", "--notify", "env:C")["notify"] == ["env:C"]


def test_a_profile_goes_over_the_top_level(folder: Path) -> None:
    """--config-profile NAME (or $BULKRETRY_CONFIG_PROFILE) takes [profile.NAME] over the top level."""
    args = parse("run", "m.csv", "--config-profile", "night")
    assert getattr(args["rate"], "auto", None) is True and args["max_duration"] == 6 * 3600 and args["concurrency"] == 3
    assert parse("run", "m.csv", env={"BULKRETRY_CONFIG_PROFILE": "night"})["max_duration"] == 6 * 3600
    code, _, err = run_cli("run", "m.csv", "--config-profile", "day")
    assert code == 2 and "[profile.day]" in err and "night" in err, err


def test_an_off_flag_in_the_environment_beats_an_on_flag_in_the_config(folder: Path) -> None:
    """BULKRETRY_DRY_RUN=0 turns off dry_run = true of the config; a flag on the command line still wins."""
    (folder / "bulkretry.toml").write_text("dry_run = true\n", encoding="utf-8")
    assert parse("run", "m.csv")["dry_run"] is True
    assert parse("run", "m.csv", env={"BULKRETRY_DRY_RUN": "no"})["dry_run"] is False
    assert parse("run", "m.csv", "--dry-run", env={"BULKRETRY_DRY_RUN": "0"})["dry_run"] is True


def test_the_config_file_is_found_in_its_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--config FILE, else $BULKRETRY_CONFIG, else ./bulkretry.toml, else ~/.config/bulkretry/config.toml."""
    monkeypatch.chdir(tmp_path)
    home = tmp_path / "home"
    (home / ".config" / "bulkretry").mkdir(parents=True)
    (home / ".config" / "bulkretry" / "config.toml").write_text('region = "user"\n', encoding="utf-8")
    (tmp_path / "named.toml").write_text('region = "named"\n', encoding="utf-8")
    env = {"HOME": str(home)}
    assert parse("run", "m.csv", env=env)["region"] == "user"
    (tmp_path / "bulkretry.toml").write_text('region = "local"\n', encoding="utf-8")
    assert parse("run", "m.csv", env=env)["region"] == "local"
    assert parse("run", "m.csv", env={**env, "BULKRETRY_CONFIG": "named.toml"})["region"] == "named"
    assert parse("run", "m.csv", "--config", str(tmp_path / "named.toml"), env=env)["region"] == "named"
    code, _, err = run_cli("run", "m.csv", "--config", "missing.toml")
    assert code == 2 and "missing.toml" in err, err


def test_a_run_takes_its_settings_from_the_config(
    folder: Path, sim_thread: SimulatorThread, env: dict[str, str]
) -> None:
    """A real run against the simulator with endpoint, project, formats and quiet from bulkretry.toml only."""
    (folder / "bulkretry.toml").write_text(
        f'endpoint = "{sim_thread.url}"\nproject_id = "{sim_thread.config.project_id}"\nformat = "json"\n'
        'quiet = true\nrate = 500\nout = "the-run"\n',
        encoding="utf-8",
    )
    code, out, err = run_cli("run", str(SAMPLES / "manifest.csv"), "--format", "csv,json")
    assert code == 1, out + err  # the sample's deliberate failures
    written = {p.name for p in (folder / "the-run").iterdir()}
    assert {"report.csv", "report.json"} <= written and "report.xlsx" not in written


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("rat = 3\n", ["bulkretry.toml", "rat", "did you mean rate"]),
        ("[run]\nrate = 3\n", ["bulkretry.toml", "unknown key run"]),
        ('rate = "fast"\n', ["bulkretry.toml", "rate", "fast"]),
        ("concurrency = 0\n", ["bulkretry.toml", "concurrency", "between 1 and"]),
        ('target = "files"\n', ["bulkretry.toml", "target", "groups, tasks"]),
        ("dry_run = 3\n", ["bulkretry.toml", "dry_run", "true or false"]),
        ('region = "x\n', ["bulkretry.toml", "not TOML"]),
        ('config = "other.toml"\n', ["bulkretry.toml", "config", "command line"]),
    ],
)
def test_a_bad_config_exits_2_naming_the_file_and_the_key(folder: Path, text: str, said: list[str]) -> None:
    """An unknown key (with the nearest option), a value the option refuses, or bad TOML: exit 2, before any read."""
    (folder / "bulkretry.toml").write_text(text, encoding="utf-8")
    code, _, err = run_cli("run", "m.csv")
    assert code == 2, err
    for words in said:
        assert words in err, (words, err)
    assert "Traceback" not in err


@pytest.mark.parametrize("key", ["src_sk", "token", "iam-password", "dst_security_token", "secret_key", "sk"])
def test_a_secret_in_the_config_is_refused(folder: Path, key: str) -> None:
    """A key naming a secret value is refused, whatever the command, and the error points to the secret sources
    without echoing the value."""
    (folder / "bulkretry.toml").write_text(f'{key} = "S3CRET-VALUE"\n', encoding="utf-8")
    for argv in (["run", "m.csv"], ["report", "DIR"], ["config"]):
        code, out, err = run_cli(*argv)
        assert code == 2 and key in err and "CREDENTIALS_DIRECTORY" in err, err
        assert "S3CRET-VALUE" not in out + err


def test_a_secret_option_in_the_environment_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """BULKRETRY_TOKEN would give --token: refused by name, the value never shown."""
    monkeypatch.setenv("BULKRETRY_TOKEN", "S3CRET-VALUE")
    code, out, err = run_cli("run", "m.csv")
    assert code == 2 and "BULKRETRY_TOKEN" in err and "S3CRET-VALUE" not in out + err, err


def test_a_bad_environment_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """BULKRETRY_MAX_ATTEMPTS=lots: exit 2 naming the variable."""
    monkeypatch.setenv("BULKRETRY_MAX_ATTEMPTS", "lots")
    code, _, err = run_cli("run", "m.csv")
    assert code == 2 and "BULKRETRY_MAX_ATTEMPTS" in err and "lots" in err, err


def test_secret_names() -> None:
    """Names of secret values are secrets; the file or place a secret is kept in is not."""
    assert all(map(is_secret_setting, ["src_sk", "src-sk", "token", "sk", "iam_password", "connection_string"]))
    assert not any(map(is_secret_setting, ["token-file", "ak", "rate", "kms_key_id", "project_id"]))


def test_an_option_added_later_is_a_setting_without_a_list(folder: Path) -> None:
    """An option a command gains is read from BULKRETRY_<OPTION> and the config at once: the parser is walked."""
    parser = build_parser()
    run = command_parsers(parser)["run"]
    run.add_argument("--shiny-new", type=int, default=1)
    (folder / "bulkretry.toml").write_text("shiny_new = 7\n", encoding="utf-8")
    assert parse_arguments(parser, ["run", "m.csv"], {}).shiny_new == 7
    assert parse_arguments(parser, ["run", "m.csv"], {"BULKRETRY_SHINY_NEW": "9"}).shiny_new == 9


def test_config_shows_each_setting_and_its_origin(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`bulkretry config --json`: every option of the command, its value and where it comes from."""
    monkeypatch.setenv("BULKRETRY_CONCURRENCY", "4")
    code, out, err = run_cli("config", "--json", "--config-profile", "night")
    assert code == 0, err
    rows = {row["option"]: row for row in map(json.loads, out.splitlines())}
    config = str(folder / "bulkretry.toml")
    assert rows["--concurrency"] == {
        "option": "--concurrency",
        "value": "4",
        "origin": "environment BULKRETRY_CONCURRENCY",
    }
    assert rows["--region"]["origin"] == f"config {config}"
    assert rows["--rate"] == {"option": "--rate", "value": "auto", "origin": f"config {config} [profile.night]"}
    assert rows["--max-attempts"] == {"option": "--max-attempts", "value": "5", "origin": "default"}
    assert "--migrate-failed-object" not in rows and rows["--full-remigrate"]["value"] == "true"
    code, out, _ = run_cli("config", "discover")
    assert code == 0 and out.startswith(f"config file: {config}") and "--region" in out and "--rate " not in out


def test_config_never_shows_a_secret_default() -> None:
    """`bulkretry config sim` lists --sk and --token without the simulator's test secrets."""
    from bulkretry.sim.config import SimConfig

    code, out, _ = run_cli("config", "sim")
    sim = SimConfig()
    assert code == 0 and "--sk" in out and sim.sk not in out and sim.token not in out


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_names_every_command_and_the_shell_reads_it(shell: str, tmp_path: Path) -> None:
    """The script holds every command and a run option; where the shell is installed, it parses the script."""
    code, out, err = run_cli("completion", shell)
    assert code == 0, err
    for name in command_parsers(build_parser()):
        assert name in out, name
    assert "--max-attempts" in out and "--config-profile" in out
    program = shutil.which(shell)
    if program is None:
        pytest.skip(f"{shell} is not installed")
    script = tmp_path / f"bulkretry.{shell}"
    script.write_text(out, encoding="utf-8")
    checked = subprocess.run([program, "-n", str(script)], capture_output=True, text=True, timeout=60, check=False)
    assert checked.returncode == 0, checked.stderr


def test_completion_refuses_another_shell() -> None:
    """Only bash, zsh and fish: anything else is a usage error."""
    assert run_cli("completion", "powershell")[0] == 2


def test_parse_arguments_raises_usage_error_for_a_bad_key(folder: Path) -> None:
    """The library-level call raises UsageError (exit status 2), which main prints."""
    (folder / "bulkretry.toml").write_text("nope = 1\n", encoding="utf-8")
    with pytest.raises(UsageError) as caught:
        parse("run", "m.csv")
    assert caught.value.exit_status == 2
