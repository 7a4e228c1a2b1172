"""The documentation's generated parts, written from the code at build time so they cannot drift from it.

A MkDocs hook (``hooks:`` in mkdocs.yml): a page that holds ``<!-- cli-reference -->`` gets every command and
option of ``bulkretry.cli.build_parser()`` with its help; one that holds ``<!-- error-codes -->`` gets every error
code bulkretry knows, with its meaning and what to do, in the page's language. The functions import nothing of
MkDocs, so the tests call them without the docs extra.
"""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["CLI_MARKER", "CODES_MARKER", "cli_reference", "error_codes", "on_page_markdown"]

CLI_MARKER = "<!-- cli-reference -->"
CODES_MARKER = "<!-- error-codes -->"

#: The families of codes the troubleshooting page lists, in its order: (title, title in Chinese, code prefix); the
#: last, with no prefix, takes every other code (bulkretry's own).
FAMILIES = (
    ("OMS", "OMS", "OMS."),
    ("API Gateway", "API 网关", "APIGW."),
    ("Migration (TRF)", "迁移失败原因（TRF）", "TRF."),
    ("bulkretry", "bulkretry 自身", ""),
)


def cell(text: str) -> str:
    """*text* as one Markdown table cell: on one line, with what a table or Markdown would read escaped."""
    parts = " ".join(text.split()).replace("|", "\\|").split("`")
    # Outside code spans (the even parts), `<` would open an HTML tag and `*` emphasis; inside, they are as written.
    return "`".join(part if odd else part.replace("<", "&lt;").replace("*", "\\*") for odd, part in alternate(parts))


def alternate(parts: list[str]) -> list[tuple[bool, str]]:
    """*parts* with whether each is odd (inside a code span when the parts come from splitting at backticks)."""
    return [(index % 2 == 1, part) for index, part in enumerate(parts)]


def option_names(action: argparse.Action) -> str:
    """How *action* is written on a command line: its option strings (or its metavar for a positional)."""
    if not action.option_strings:
        return f"`{action.metavar or action.dest}`"
    value = "" if action.nargs == 0 else f" {action.metavar or action.dest.upper()}"
    return ", ".join(f"`{name}{value}`" for name in action.option_strings)


def subcommands(action: argparse.Action) -> bool:
    """Whether *action* is the choice of a command (each command has its own section instead)."""
    return isinstance(action, argparse._SubParsersAction)


def action_help(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    """*action*'s help as ``--help`` shows it (``%(default)s`` and the like filled in), with its choices."""
    text = parser.formatter_class(prog=parser.prog)._expand_help(action) if action.help else ""
    if action.choices is not None and not isinstance(action.choices, dict):
        text += f" (choices: {', '.join(str(choice) for choice in action.choices)})"
    return text


def command_section(name: str, parser: argparse.ArgumentParser) -> list[str]:
    """The reference of one command: its ``--help`` text, its usage, then a table of options per group."""
    lines = [f"## `bulkretry {name}`", "", "```text", (parser.description or "").rstrip(), "```", ""]
    lines += ["```text", parser.format_usage().strip(), "```", ""]
    for group in parser._action_groups:
        actions = [a for a in group._group_actions if a.help != argparse.SUPPRESS and not subcommands(a)]
        if not actions:
            continue
        lines += [f"**{group.title}**", "", "| option | meaning |", "| --- | --- |"]
        lines += [f"| {option_names(a)} | {cell(action_help(parser, a))} |" for a in actions]
        lines.append("")
    return lines


def cli_reference() -> str:
    """Every command of ``bulkretry`` and every option of each, with its help, as Markdown."""
    from bulkretry.cli import build_parser
    from bulkretry.cli.config import command_parsers

    parser = build_parser()
    lines = command_section("", parser)
    lines[0] = "## `bulkretry`"
    for name, command in command_parsers(parser).items():
        lines += command_section(name, command)
    return "\n".join(lines)


def error_codes(lang: str = "en") -> str:
    """Every code of ``bulkretry.oms.codes.CODES`` by family, with its meaning and what to do, in *lang*."""
    from bulkretry.oms.codes import CODES, explain

    chinese = lang.startswith("zh")
    header = ("错误码", "含义", "处理办法") if chinese else ("code", "meaning", "what to do")
    lines: list[str] = []
    for title, title_zh, prefix in FAMILIES:
        codes = [code for code in CODES if code.startswith(prefix) and not any_family(code, prefix)]
        lines += [
            f"### {title_zh if chinese else title}",
            "",
            "| {} | {} | {} |".format(*header),
            "| --- | --- | --- |",
        ]
        for code in codes:
            meaning, action = explain(code, "zh-CN" if chinese else "en")
            lines.append(f"| `{code}` | {cell(meaning)} | {cell(action)} |")
        lines.append("")
    return "\n".join(lines)


def any_family(code: str, prefix: str) -> bool:
    """Whether *code* belongs to a named family while *prefix* is the catch-all (empty) one."""
    return not prefix and any(family and code.startswith(family) for _, _, family in FAMILIES)


def on_page_markdown(markdown: str, page: Any, **kwargs: Any) -> str:
    """MkDocs' hook: fills the markers of *page* with the generated parts."""
    lang = "zh" if page.file.src_uri.endswith(".zh.md") else "en"
    if CLI_MARKER in markdown:
        markdown = markdown.replace(CLI_MARKER, cli_reference())
    if CODES_MARKER in markdown:
        markdown = markdown.replace(CODES_MARKER, error_codes(lang))
    return markdown
