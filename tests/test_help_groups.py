"""`--help` that reads: the options of run, rerun and validate in named groups, each default said, examples first."""

from __future__ import annotations

import argparse

import pytest

from bulkretry.cli import build_parser
from bulkretry.cli.run_options import GROUPS
from tests.clitools import run_cli

#: The groups argparse and the config file add on every command (help; --config and --config-profile). Python
#: 3.9's argparse names the help's group "optional arguments", 3.10's "options".
NOT_OURS = {"options", "optional arguments", "settings", "positional arguments"}


def command(name: str) -> argparse.ArgumentParser:
    """The parser of the command *name*."""
    [sub] = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return sub.choices[name]


@pytest.mark.parametrize("name", ["run", "rerun", "validate"])
def test_every_option_is_in_a_named_group(name: str) -> None:
    """Each option of the command is under one of the named groups (input, action and target, ...)."""
    parser = command(name)
    placed = {title: [a.dest for a in g._group_actions] for g in parser._action_groups if (title := g.title)}
    assert set(placed) - NOT_OURS <= set(GROUPS), placed
    options = [a for a in parser._actions if a.option_strings and a.dest != "help"]
    ours = {dest for title, dests in placed.items() if title in GROUPS for dest in dests}
    config = set(placed.get("settings", []))
    assert [a.dest for a in options if a.dest not in ours | config] == []


def test_run_help_leads_with_three_examples(capsys: pytest.CaptureFixture[str]) -> None:
    """The first lines after the usage are `examples:` and three commands."""
    code, out, _ = run_cli("run", "--help")
    text = out or capsys.readouterr().out
    assert code == 0
    after = text[text.index("\n\n") + 2 :].splitlines()
    assert after[0] == "examples:"
    assert all(line.startswith("  bulkretry run ") for line in after[1:4]) and after[4] == "", after[:5]


def test_an_option_with_a_default_says_it() -> None:
    """An option whose default is a value shows it; one without a default (None, a flag) is not given one."""
    help_text = command("run").format_help()
    assert "(default: 60.0)" in help_text  # --verify-timeout
    assert "(default: always)" not in help_text  # --notify-on says it in its own words
    assert "do everything but the calls\n" in help_text  # --dry-run: a flag, no default said
