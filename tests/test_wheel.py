"""The wheel: built from the checkout, installed on its own, `python -m bulkretry demo` runs in an empty folder."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _pip(*args: str, cwd: Path) -> None:
    """pip offline: no index, no build isolation (setuptools comes with the test extras)."""
    proc = subprocess.run(
        [sys.executable, "-m", "pip", *args, "--no-deps", "--no-index", "--quiet"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.slow
def test_the_installed_wheel_runs_the_demo_in_any_folder(tmp_path: Path) -> None:
    """The wheel carries the sample manifests, report.html's static files and the LICENSE; installed alone (not
    the checkout) it runs `python -m bulkretry demo` from an empty folder and writes every report there."""
    src = tmp_path / "src"  # a copy: building in the checkout would leave build/ and egg-info behind
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(ROOT / "bulkretry", src / "bulkretry", ignore=shutil.ignore_patterns("__pycache__"))
    _pip("wheel", "--no-build-isolation", "--wheel-dir", str(tmp_path / "dist"), str(src), cwd=tmp_path)
    (wheel,) = (tmp_path / "dist").glob("bulkretry-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        license_text = archive.read(next(n for n in names if n.endswith(".dist-info/licenses/LICENSE")))
        metadata = archive.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert {
        "bulkretry/samples/manifest.csv",
        "bulkretry/samples/manifest.xlsx",
        "bulkretry/report/static/report.css",
        "bulkretry/report/static/report.js",
    } <= names
    assert license_text == (ROOT / "LICENSE").read_bytes() and b"Apache License" in license_text
    assert "License-Expression: Apache-2.0" in metadata and "Project-URL: Issues, https://github.com/" in metadata

    site = tmp_path / "site"
    _pip("install", "--target", str(site), str(wheel), cwd=tmp_path)
    empty = tmp_path / "anywhere"
    empty.mkdir()
    # -I: neither the working folder nor PYTHONPATH on sys.path; the installed copy first, ahead of any editable one.
    code = (
        f"import sys; sys.path.insert(0, {str(site)!r}); import bulkretry; print('from', bulkretry.__file__); "
        "import runpy; runpy.run_module('bulkretry', run_name='__main__', alter_sys=True)"
    )
    proc = subprocess.run(
        [sys.executable, "-I", "-c", code, "demo"], cwd=empty, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith(f"from {site / 'bulkretry' / '__init__.py'}\n"), proc.stdout
    (run,) = (empty / "bulkretry-runs").iterdir()
    written = {p.name for p in run.iterdir()}
    assert {"report.csv", "report.xlsx", "report.json", "report.html", "summary.json"} <= written
    summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    assert Path(summary["manifest"]) == site / "bulkretry" / "samples" / "manifest.csv"
    assert (summary["rows"], summary["by_outcome"]) == (13, {"succeeded": 8, "failed": 3, "duplicate": 1, "invalid": 1})
