"""The pieces the commands share: add_command, the `sim` options read into SimConfig, package.damaged."""

from __future__ import annotations

import argparse

from bulkretry.cli import build_parser
from bulkretry.cli.common import HelpFormatter, add_command
from bulkretry.manifest.package import damaged


def test_add_command_keeps_the_description_as_written() -> None:
    """add_command makes a subparser with the house help formatter, its summary and description."""
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    p = add_command(sub, "demo", "the summary", "line one\n  kept as written\n")
    assert p.formatter_class is HelpFormatter
    assert "  kept as written" in p.format_help()


def test_every_sim_option_is_a_simconfig_field() -> None:
    """Each option of `bulkretry sim` names a SimConfig field, which is how the command reads them."""
    from dataclasses import fields

    from bulkretry.sim.config import SimConfig

    args = build_parser().parse_args(["sim"])
    options = set(vars(args)) - {"handler"}
    assert options <= {f.name for f in fields(SimConfig)}
    assert args.port == 8080 and args.seed == SimConfig().seed


def test_damaged_names_the_kind_the_reason_and_the_fix() -> None:
    """damaged() says what the file should have been, the reader's reason and what to do."""
    error = damaged("m.xlsx", "an Excel workbook", ValueError("bad zip"), "save it again")
    assert "is damaged or not an Excel workbook (ValueError: bad zip); save it again" in str(error)
