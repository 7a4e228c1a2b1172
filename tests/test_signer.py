"""Our AK/SK signer against the official SDK's signer, on many generated requests."""

from __future__ import annotations

import copy
import random
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer

from bulkretry.oms import signer
from bulkretry.oms.client import encode_segment

ALPHABET = "abcXYZ0189-_.~ /?#%&=+:@!$'()*,;[]\r\n\t任务组ID迁移é🚀"


def _text(rng: random.Random, low: int = 1, high: int = 12) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(low, high)))


def _request(rng: random.Random) -> dict:
    segments = ["v2", _text(rng), "taskgroups", rng.choice([_text(rng), "..", ".", "a/b", "x%2Fy"])]
    if rng.random() < 0.5:
        segments.append("retry")
    # Distinct keys: the SDK (and we) sort (key, value) pairs, which needs comparable values per key.
    query = [
        (
            _text(rng, 1, 6) + str(i),
            rng.choice(
                [_text(rng, 0, 8), rng.randint(0, 999), rng.random() < 0.5, [_text(rng, 0, 4), _text(rng, 0, 4)]]
            ),
        )
        for i in range(rng.randint(0, 4))
    ]
    headers = {
        "User-Agent": rng.choice(["huaweicloud-usdk-python/3.0", "bulkretry/0.1.0"]),
        "X-Project-Id": "  " + _text(rng, 1, 8).strip() + " ",
    }
    if rng.random() < 0.7:
        headers["Content-Type"] = rng.choice(
            ["application/json;charset=UTF-8", "application/json", "text/plain", "application/octet-stream"]
        )
    if rng.random() < 0.3:
        headers["X_Underscored"] = "never signed"
    if rng.random() < 0.3:
        headers["X-Security-Token"] = _text(rng, 10, 40).strip() or "t"
    body = rng.choice(
        [None, b"", "{}", '{"src_ak":"AK","migrate_failed_object":true}', '{"description":"迁移 ✓"}', _text(rng, 0, 40)]
    )
    return {
        "method": rng.choice(["GET", "PUT", "POST", "DELETE", "get"]),
        "host": rng.choice(["oms.cn-north-4.myhuaweicloud.com", "127.0.0.1:8080", "[::1]:9"]),
        "segments": segments,
        "query": query,
        "headers": headers,
        "body": body,
        "date": (datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=rng.randint(0, 10**8))).strftime(
            signer.DATE_FORMAT
        ),
        "ak": _text(rng, 4, 24).strip() or "AK",
        "sk": _text(rng, 4, 40),
    }


def _sdk_sign(case: dict) -> dict[str, str]:
    sdk_path = "/" + "/".join(quote(s, safe="") for s in case["segments"])
    headers = dict(case["headers"], **{"X-Sdk-Date": case["date"]})
    request = SdkRequest(
        method=case["method"],
        schema="https",
        host=case["host"],
        resource_path=sdk_path,
        query_params=copy.deepcopy(case["query"]),
        header_params=headers,
        body=case["body"],
    )
    signed = Signer(BasicCredentials(case["ak"], case["sk"])).sign(request)
    # The SDK re-encodes header values for `requests` (UTF-8 bytes read as Latin-1); undo that to compare.
    return {
        k: v if k == "Authorization" else v.encode("iso-8859-1").decode("utf-8")
        for k, v in signed.header_params.items()
    }


def _our_sign(case: dict) -> dict[str, str]:
    return signer.sign(
        signer.SigningRequest(
            method=case["method"],
            host=case["host"],
            path="/" + "/".join(encode_segment(s) for s in case["segments"]),
            query=copy.deepcopy(case["query"]),
            headers=dict(case["headers"], **{"X-Sdk-Date": case["date"]}),
            body=case["body"],
        ),
        ak=case["ak"],
        sk=case["sk"],
    )


@pytest.mark.parametrize("seed", range(6))
def test_signatures_equal_the_sdk_signer_on_generated_requests(seed: int) -> None:
    """For 100 varied requests per seed, every header we send equals what the SDK signer produces."""
    rng = random.Random(seed)
    for _ in range(100):
        case = _request(rng)
        assert _our_sign(case) == _sdk_sign(case), case


def test_signature_changes_with_every_signed_part() -> None:
    """Changing the path, query, a signed header, the body or the key changes the signature."""
    base = {
        "method": "PUT",
        "host": "h",
        "segments": ["v2", "p", "taskgroups", "g", "retry"],
        "query": [("a", "1")],
        "headers": {"X-Project-Id": "p", "Content-Type": "application/json"},
        "body": "{}",
        "date": "20261124T102030Z",
        "ak": "AK",
        "sk": "SK",
    }
    original = _our_sign(base)["Authorization"]
    variants = [
        {"segments": ["v2", "p", "taskgroups", "g2", "retry"]},
        {"query": [("a", "2")]},
        {"headers": {"X-Project-Id": "q", "Content-Type": "application/json"}},
        {"body": '{"migrate_failed_object":true}'},
        {"sk": "SK2"},
        {"date": "20261124T102031Z"},
        {"method": "POST"},
    ]
    for change in variants:
        assert _our_sign({**base, **change})["Authorization"] != original, change


def test_encoded_slash_is_signed_as_a_separator_like_the_sdk() -> None:
    """A `%2F` in a segment is decoded before canonicalisation, exactly as the SDK does."""
    assert signer.canonical_uri("/v2/p/taskgroups/a%2Fb/retry") == "/v2/p/taskgroups/a/b/retry/"
    assert signer.canonical_uri("/v2/p/taskgroups/%E4%BB%BB%20~") == "/v2/p/taskgroups/%E4%BB%BB%20~/"


def test_unsigned_payload_for_non_json_content() -> None:
    """Non-JSON bodies are declared UNSIGNED-PAYLOAD and that header is signed."""
    headers = signer.sign(
        signer.SigningRequest(
            method="POST", host="h", path="/x", query=None, headers={"Content-Type": "text/plain"}, body=b"abc"
        ),
        ak="AK",
        sk="SK",
        now=datetime(2026, 11, 24, tzinfo=timezone.utc),
    )
    assert headers["X-Sdk-Content-Sha256"] == "UNSIGNED-PAYLOAD"
    assert "x-sdk-content-sha256" in headers["Authorization"]
    assert headers["X-Sdk-Date"] == "20261124T000000Z"


def test_sign_refuses_missing_keys() -> None:
    """Signing without an AK or SK is a clear error, not a bad signature."""
    with pytest.raises(ValueError, match="access key and a secret key"):
        signer.sign(
            signer.SigningRequest(method="GET", host="h", path="/", query=None, headers={}, body=None), ak="AK", sk=""
        )


def test_parse_authorization_round_trip_and_garbage() -> None:
    """The server-side parser reads what sign() writes and rejects malformed headers."""
    auth = signer.sign(
        signer.SigningRequest(
            method="GET", host="h", path="/v2/p", query=None, headers={"X-Project-Id": "p"}, body=None
        ),
        ak="MYAK",
        sk="SK",
    )["Authorization"]
    parsed = signer.parse_authorization(auth)
    assert parsed is not None
    assert parsed.ak == "MYAK"
    assert parsed.signed_headers == ["host", "x-project-id", "x-sdk-date"]
    assert len(parsed.signature) == 64
    for bad in (None, "", "Bearer x", "SDK-HMAC-SHA256 Access=a", "SDK-HMAC-SHA256 nonsense"):
        assert signer.parse_authorization(bad) is None


def test_a_text_body_is_signed_as_its_utf8_bytes() -> None:
    """A SigningRequest's text body signs exactly as its UTF-8 bytes, and the headers given are not changed."""
    headers = {"Content-Type": "application/json", "X-Sdk-Date": "20261124T000000Z"}
    as_text = signer.SigningRequest("POST", "h", "/v2/p", None, headers, '{"名": 1}')
    as_bytes = signer.SigningRequest("POST", "h", "/v2/p", None, headers, '{"名": 1}'.encode())
    assert signer.sign(as_text, ak="AK", sk="SK") == signer.sign(as_bytes, ak="AK", sk="SK")
    assert headers == {"Content-Type": "application/json", "X-Sdk-Date": "20261124T000000Z"}
