"""The command line, called in-process with an argv list (and once as a real process for `sim`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.clitools import run_cli


def test_demo_runs_the_sample_against_the_simulator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`bulkretry demo` is a real run of the sample: the deliberate failures, and reports on disk."""
    monkeypatch.chdir(tmp_path)
    code, out, _ = run_cli("demo")
    assert code == 0, out
    assert out.startswith("simulator at http://127.0.0.1:")
    assert "13 rows: 8 succeeded, 3 failed, 1 invalid, 1 duplicate" in out
    assert "OMS.1009" in out and "OMS.1015" in out
    [run_dir] = (tmp_path / "bulkretry-runs").iterdir()
    assert {p.name for p in run_dir.iterdir()} >= {"report.csv", "report.xlsx", "report.json", "summary.json"}


def test_no_command_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    """Without a command, the help is shown and the exit status says usage error."""
    code, out, _ = run_cli()
    assert code == 2
    assert "bulkretry demo" in out


def test_bad_option_value_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """A bad number is refused by name with exit 2 and no traceback."""
    code, _, _ = run_cli("sim", "--failed-ratio", "1.5")
    captured = capsys.readouterr()
    assert code == 2
    assert "--failed-ratio" in captured.err and "Traceback" not in captured.err


def test_every_command_help_has_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    """Every command the parser knows: --help exits 0 and shows at least one example with the command in it."""
    from bulkretry.cli import build_parser

    sub = next(a for a in build_parser()._actions if a.__class__.__name__ == "_SubParsersAction")
    commands = sorted(sub.choices)  # type: ignore[union-attr]
    assert {"run", "rerun", "report", "diff", "discover", "validate", "sim", "demo"} <= set(commands)
    for command in commands:
        code, _, _ = run_cli(command, "--help")
        shown = capsys.readouterr().out
        assert code == 0, command
        assert "example" in shown and f"bulkretry {command}" in shown.split("example", 1)[1], command


async def test_sim_process_prints_its_url_first_and_stops_on_sigterm() -> None:
    """`bulkretry sim --port 0` prints `listening on URL` first, serves, and exits 0 on SIGTERM."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bulkretry", "sim", "--port", "0", "--groups", "7"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    try:
        first = proc.stdout.readline().strip()  # type: ignore[union-attr]
        assert first.startswith("listening on http://127.0.0.1:")
        url = first.removeprefix("listening on ")
        async with (
            aiohttp.ClientSession() as session,
            session.get(
                f"{url}/v2/0a1b2c3d4e5f60718293a4b5c6d7e8f9/taskgroups?limit=100",
                headers={"X-Auth-Token": "sim-token"},
            ) as resp,
        ):
            assert resp.status == 200
            assert (await resp.json())["count"] == 7
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--rate", "nan"),
        ("--rate", "0"),
        ("--rate", "inf"),
        ("--concurrency", "0"),
        ("--max-attempts", "1.5"),
        ("--timeout", "-1"),
        ("--format", "csv,pdf"),
    ],
)
def test_bad_run_option_values_exit_2(option: str, value: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Out-of-range, non-finite or unknown values are refused by name before anything is read."""
    code, _, _ = run_cli("run", "does-not-matter.csv", option, value)
    err = capsys.readouterr().err
    assert code == 2 and option in err and "Traceback" not in err


@pytest.mark.parametrize("argv", [["--help"], ["run", "--help"], ["rerun", "--help"]])
def test_help_imports_no_heavy_module(argv: list[str]) -> None:
    """--help starts fast: pandas, openpyxl, aiohttp and tqdm are not imported to print it."""
    import subprocess
    import sys

    code = (
        "import sys, contextlib, io\nfrom bulkretry.cli import main\n"
        f"with contextlib.redirect_stdout(io.StringIO()):\n    main({argv!r})\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pandas', 'openpyxl', 'aiohttp', 'tqdm')))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "argv",
    [
        ["sim", "--port", "70000"],
        ["sim", "--groups", "1000000000"],
        ["sim", "--latency-ms", "1e308"],
        ["discover", "--project-id", "p", "--timeout", "1e308"],
    ],
)
def test_absurd_numbers_are_usage_errors(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """Numbers past an option's ceiling are refused by argparse, naming the option and the ceiling, exit 2."""
    code, _, _ = run_cli(*argv)
    err = capsys.readouterr().err
    option = argv[1] if argv[0] == "sim" else argv[3]
    assert code == 2, err
    assert f"argument {option}: must be" in err and ("at most" in err or "between" in err), err


@pytest.mark.parametrize(
    "options",
    [
        ["--rate", "1000000", "--concurrency", "64"],
        ["--rate", "100000", "--concurrency", "128"],
        ["--rate", "auto", "--concurrency", "64"],
    ],
)
def test_the_benchmarks_options_are_within_the_ceilings(options: list[str]) -> None:
    """The option values benchmarks/run.py and adaptive_rate.py pass to `bulkretry run` parse (a ceiling set below
    them would break the benchmark, as a first --rate cap of 100,000 did)."""
    from bulkretry.cli import build_parser

    args = build_parser().parse_args(["run", "m.csv", *options])
    assert args.concurrency == int(options[3])


def test_every_example_in_every_help_parses() -> None:
    """Each `bulkretry COMMAND ...` example a --help shows is accepted by that command's own parser: an example
    naming an option the command does not have (or no longer has) fails here."""
    import shlex

    from bulkretry.cli import build_parser
    from bulkretry.cli.config import command_parsers

    parser = build_parser()
    checked = 0
    for command, sub in command_parsers(parser).items():
        for line in sub.format_help().splitlines():
            text = line.strip()
            if not text.startswith(f"bulkretry {command} ") and text != f"bulkretry {command}":
                continue
            text = text.split("  #", 1)[0].split(" > ", 1)[0].split(" | ", 1)[0]
            argv = shlex.split(text)[1:]
            try:
                parser.parse_args(argv)
            except SystemExit:
                pytest.fail(f"`bulkretry {command} --help` shows an example its parser refuses: {text}")
            checked += 1
    assert checked >= 30  # the examples of every command were found and read
