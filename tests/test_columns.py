"""The column registry: one entry per column, and every user reading its facts from there."""

from __future__ import annotations

from bulkretry.columns import BODY_LIMITS, GROUP, LABELS, MANIFEST, REPORT, Column, names
from bulkretry.manifest.columns import CANONICAL_COLUMNS, COLUMN_ALIASES, REQUIRED_COLUMNS, canonical_name
from bulkretry.manifest.plan import LEADING_COLUMNS
from bulkretry.masking import MASKED_COLUMNS, SECRET_COLUMNS
from bulkretry.records import GROUP_COLUMNS, GROUP_NUMBER_COLUMNS, REPORT_COLUMNS
from bulkretry.report.labels import COLUMN_LABELS


def test_names_are_unique_within_each_tuple() -> None:
    """No column is listed twice in the manifest, the report or the group's story."""
    for columns in (MANIFEST, REPORT, GROUP):
        assert len(set(names(columns))) == len(columns)


def test_every_spelling_means_one_column() -> None:
    """Each name and alias is read as its own column, and no two columns share a spelling."""
    for column in MANIFEST:
        for spelling in (column.name, *column.aliases):
            assert canonical_name(spelling) == column.name


def test_a_column_is_secret_or_masked_never_both() -> None:
    """A secret column is never shown, so it cannot also be shown masked."""
    assert not any(column.secret and column.masked for column in MANIFEST)


def test_the_users_read_the_registry() -> None:
    """The reader, the planner, masking, the records and the labels hold what the registry says."""
    assert names(MANIFEST) == CANONICAL_COLUMNS
    assert dict(COLUMN_ALIASES) == {column.name: column.aliases for column in MANIFEST}
    assert REQUIRED_COLUMNS == ("group_id",)
    assert {
        "src_sk",
        "dst_sk",
        "json_auth_file",
        "source_cdn_authentication_key",
        "connection_string",
        "src_security_token",
        "dst_security_token",
    } == SECRET_COLUMNS
    assert {"src_ak", "dst_ak"} == MASKED_COLUMNS
    assert {"group_id", "project_id"} == LEADING_COLUMNS
    assert names(REPORT) == REPORT_COLUMNS and names(GROUP) == GROUP_COLUMNS
    assert set(GROUP_COLUMNS[2:8]) == GROUP_NUMBER_COLUMNS
    assert COLUMN_LABELS is LABELS


def test_the_body_fields_keep_the_apis_order_and_limits() -> None:
    """The retry body's text fields, in the API's order, with the API page's limits."""
    assert dict(BODY_LIMITS) == {
        "src_ak": 100,
        "src_sk": 100,
        "dst_ak": 100,
        "dst_sk": 100,
        "json_auth_file": 65535,
        "source_cdn_authentication_key": 255,
        "connection_string": 2048,
        "src_kms_key_id": 36,
        "dst_kms_key_id": 36,
        "source_cdn_kms_key_id": 36,
        "src_security_token": 16384,
        "dst_security_token": 16384,
    }


def test_a_column_is_one_entry() -> None:
    """A column added to the registry is known by its aliases, secret, limited and labelled with nothing else."""
    extra = Column("src_security_token", ("源端安全令牌",), secret=True, max_length=4096, body=True, label="token")
    manifest = (*MANIFEST, extra)
    assert {c.name for c in manifest if c.secret} == SECRET_COLUMNS | {"src_security_token"}
    assert {c.name: c.max_length for c in manifest if c.body}["src_security_token"] == 4096
