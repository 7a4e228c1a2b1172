"""Error-code advice: what each code means and what to do about it."""

from __future__ import annotations

import pytest

from bulkretry.oms.codes import CODES, explain


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("OMS.1015", "status"),
        ("OMS.1009", "does not exist"),
        ("OMS.0003", "project"),
        ("APIGW.0301", "clock"),
        ("APIGW.0308", "--rate auto"),
        ("APIGW.0202", "later"),
        ("timeout", "--timeout"),
        ("interrupted", "--resume"),
        ("halted", "--resume"),
        ("duplicate", "Nothing to do"),
        ("invalid:src_ak too long", "Fix column src_ak"),
        ("302", "redirect"),
        ("307", "--endpoint"),
        ("503", "later"),
        ("418", "4xx"),
        ("OMS.9999", "OMS"),
        ("APIGW.0999", "Gateway"),
        ("whatever", "request_id"),
        ("", "Nothing to do"),
    ],
)
def test_explain_gives_meaning_and_action(code, words):
    """Known codes, the invalid: prefix, HTTP-status codes and code families all get advice."""
    meaning, action = explain(code)
    assert meaning and action and words in meaning + " " + action


def test_every_known_code_is_explained_in_full_sentences():
    """Every entry has a meaning and an action that end like sentences."""
    for code, (meaning, action) in CODES.items():
        assert meaning.endswith(".") and action.endswith((".", ")")), code
