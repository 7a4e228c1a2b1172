"""The README's shape, the documentation site's pages and links, and its generated parts (docs/hooks/generated.py:
the CLI reference and the error codes), checked without MkDocs (the docs extra is not in the test extra)."""

from __future__ import annotations

import argparse
import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from bulkretry.cli import build_parser
from bulkretry.cli.config import command_parsers
from bulkretry.oms.codes import CODES

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
TRY_IT = "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/bulkretry demo"
TEST_IT = 'python3 -m venv .venv && .venv/bin/pip install -e ".[test]" && .venv/bin/python -m pytest'
#: The pages the Chinese site has in Chinese (the others fall back to the English page).
TRANSLATED = (
    "index",
    "getting-started",
    "manifest",
    "actions",
    "credentials",
    "scheduled",
    "report",
    "troubleshooting",
)
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def generated() -> ModuleType:
    """The hook module, loaded from its file (docs/ is not a package)."""
    spec = importlib.util.spec_from_file_location("docs_generated", DOCS / "hooks" / "generated.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", ["README.md", "README.zh-CN.md"])
def test_the_readme_fits_on_two_screens_and_starts_with_the_two_commands(name: str) -> None:
    """Each README is at most 150 lines, and its first screen holds the two commands for a fresh machine verbatim."""
    lines = (ROOT / name).read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 150, len(lines)
    first_screen = lines[:40]
    assert TRY_IT in first_screen
    assert TEST_IT in first_screen


def test_the_ci_runs_the_readmes_test_command() -> None:
    """.ci/run runs the README's test command (the venv's python -m pytest) and builds the site strictly."""
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert '"$1/bin/python" -m pytest' in ci
    assert "mkdocs build --strict" in ci


def test_every_option_of_every_command_is_in_the_cli_reference() -> None:
    """The generated reference names every command and each of its options and positionals, with its help."""
    reference = generated().cli_reference()
    parser = build_parser()
    commands = command_parsers(parser)
    assert set(commands) >= {"run", "rerun", "validate", "discover", "report", "diff", "history", "demo", "sim"}
    sections = re.split(r"^## ", reference, flags=re.MULTILINE)
    for name, command in commands.items():
        (section,) = [s for s in sections if s.startswith(f"`bulkretry {name}`")]
        for action in command._actions:
            if isinstance(action, argparse._SubParsersAction):
                continue
            for option in action.option_strings or [str(action.metavar or action.dest)]:
                assert re.search(rf"`{re.escape(option)}[` ]", section), (name, option)
    run_section = next(s for s in sections if s.startswith("`bulkretry run`"))
    assert "per-request timeout" in run_section


def test_the_troubleshooting_page_lists_every_known_code_in_both_languages() -> None:
    """Every code of CODES is in the generated tables, English and Chinese, with its meaning in that language."""
    module = generated()
    english, chinese = module.error_codes("en"), module.error_codes("zh")
    for code in CODES:
        assert f"| `{code}` |" in english and f"| `{code}` |" in chinese, code
    assert "| `OMS.1009` | The task group does not exist" in english
    assert "迁移任务组" in chinese
    assert module.CODES_MARKER in (DOCS / "troubleshooting.md").read_text(encoding="utf-8")
    assert module.CODES_MARKER in (DOCS / "troubleshooting.zh.md").read_text(encoding="utf-8")
    assert module.CLI_MARKER in (DOCS / "reference" / "cli.md").read_text(encoding="utf-8")


def test_the_site_has_every_page_of_its_nav_and_the_chinese_pages() -> None:
    """Every page mkdocs.yml's nav names exists, and each translated page has its .zh.md beside it."""
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    pages = [next(iter(entry.values())) for entry in config["nav"]]
    assert [page for page in pages if not (DOCS / page).is_file()] == []
    assert {"PERFORMANCE.md", "deploy/README.md", "reference/cli.md"} <= set(pages)
    for name in TRANSLATED:
        assert (DOCS / f"{name}.zh.md").is_file(), name
    assert config["theme"]["font"] is False


def markdown_files() -> list[Path]:
    """The READMEs and every page of the site."""
    return [ROOT / "README.md", ROOT / "README.zh-CN.md", *sorted(DOCS.rglob("*.md"))]


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_of_the_manual_points_at_a_file(path: Path) -> None:
    """A relative link in the READMEs or a page of docs/ names a file of the checkout (never ../shared)."""
    text = path.read_text(encoding="utf-8")
    targets = [t for t in LINK.findall(text) if "://" not in t and not t.startswith("mailto:")]
    assert [t for t in targets if not (path.parent / t).exists()] == []
    assert "../shared" not in text


def test_a_table_cell_escapes_markdown_outside_code_spans_only() -> None:
    """cell() keeps the text on one line, escapes pipes everywhere and `<`, `*` outside code spans only."""
    text = generated().cell("the <UTC time>\nfolder | `--iam-*` and `<x>` of *all*")
    assert text == "the &lt;UTC time> folder \\| `--iam-*` and `<x>` of \\*all\\*"
