"""The sample manifests still name the simulator's default groups in the states the demo relies on."""

from __future__ import annotations

import csv
import importlib.util

from bulkretry.sim import SimConfig, generate_groups
from tests.clitools import SAMPLES


def _expected_rows() -> list[dict[str, str]]:
    spec = importlib.util.spec_from_file_location("make_samples", SAMPLES.parent.parent / "samples" / "make_samples.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module.sample_rows()


def test_csv_sample_is_what_make_samples_writes() -> None:
    """samples/manifest.csv equals what samples/make_samples.py generates from the default seed."""
    with open(SAMPLES / "manifest.csv", encoding="utf-8", newline="") as fh:
        assert list(csv.DictReader(fh)) == _expected_rows()


def test_sample_groups_have_the_states_the_demo_needs() -> None:
    """Eight failed groups, one finished, one executing, one unknown, in the default simulator."""
    config = SimConfig()
    status = {
        g["group_id"]: g["status"]
        for g in generate_groups(config.seed, config.groups, config.failed_ratio, config.project_id)
    }
    rows = _expected_rows()
    assert [status.get(r["group_id"]) for r in rows] == [5] * 8 + [5, 6, 1, None, 5]
    assert rows[8]["group_id"] == rows[0]["group_id"]
    assert len(rows[12]["src_ak"]) > 100


def test_the_sample_paths_the_docs_name_exist() -> None:
    """Every samples/ path README.md and ARCHITECTURE.md name is in the checkout (the manifests moved into the
    package, the generator stayed at the root)."""
    import re

    root = SAMPLES.parent.parent
    path = re.compile(r"(?<![\w/])((?:bulkretry/)?samples/[\w.]+\.(?:py|csv|xlsx))")
    named = {name for doc in ("README.md", "ARCHITECTURE.md") for name in path.findall((root / doc).read_text("utf-8"))}
    assert named >= {"bulkretry/samples/manifest.csv", "samples/make_samples.py"}
    assert [name for name in sorted(named) if not (root / name).is_file()] == []
