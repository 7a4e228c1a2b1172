"""Error bodies: every spelling the gateway and OMS use parses as the official SDK parses it."""

from __future__ import annotations

import pytest
import requests
from huaweicloudsdkcore.exceptions.exception_handler import DefaultExceptionHandler
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException, ServerResponseException

from bulkretry.oms.errorbody import parse_error_body


def _sdk_parse(status: int, text: str) -> tuple[str, str, type]:
    response = requests.models.Response()
    response.status_code = status
    response._content = text.encode()
    response.headers["X-Request-Id"] = "r"
    try:
        DefaultExceptionHandler().handle_exception(None, response)
    except (ClientRequestException, ServerResponseException) as exc:
        return exc.error_code, exc.error_msg, type(exc)
    raise AssertionError("SDK did not raise")


ERROR_BODIES = [
    (400, '{"error_code": "OMS.1015", "error_msg": "status does not allow retry"}'),
    (403, '{"errorCode": "OMS.0060", "errorMsg": "region not supported"}'),
    (404, '{"code": "OMS.1009", "message": "task group not found"}'),
    (503, '{"error": {"code": "APIGW.0202", "message": "backend unavailable"}}'),
    (401, '{"error": {"code": 401, "message": "The username or password is wrong.", "title": "Unauthorized"}}'),
    (429, '{"error_code": "APIGW.0308", "error_msg": "The throttling threshold has been reached"}'),
    (500, '{"unrelated": true}'),
    (502, "<html><body>502 Bad Gateway</body></html>"),
    (400, "[1, 2]"),
    (500, ""),
]


@pytest.mark.parametrize(("status", "text"), ERROR_BODIES)
def test_error_bodies_parse_like_the_sdk(status: int, text: str) -> None:
    """Every error spelling yields the SDK's own (error_code, error_msg)."""
    code, msg, _ = _sdk_parse(status, text)
    assert parse_error_body(status, text) == (str(code), msg)


def test_gateway_pages_are_kept_short() -> None:
    """A long non-JSON page becomes one short line."""
    page = "<html>\n" + "x" * 5000 + "\n</html>"
    code, msg = parse_error_body(502, page)
    assert code == "502" and len(msg) <= 300 and "\n" not in msg and msg.endswith("…")


def test_lone_surrogates_from_a_server_can_still_be_written() -> None:
    """JSON may spell a lone surrogate ("\\ud800"); it must not reach a report (UTF-8 cannot hold it)."""
    code, msg = parse_error_body(400, '{"error_code": "OMS.\\ud800", "error_msg": "bad \\udfff value"}')
    (code + msg).encode("utf-8")  # would raise UnicodeEncodeError
    assert msg == "bad value" and code == "OMS."
