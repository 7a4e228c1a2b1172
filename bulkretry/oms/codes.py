"""What a report's ``error_code`` means and what to do about it, for people reading a report.

The codes are those a run records: the service's own (``OMS.xxxx`` from OMS, ``APIGW.xxxx`` from the API
Gateway in front of it), an HTTP status when an answer carried no code (``"503"``, ``"302"``), and bulkretry's
own (``timeout``, ``connection``, ``invalid:<column> <why>``, ``duplicate``, ``interrupted``, ...).
:func:`explain` never fails: an unknown code gets advice by its family (``OMS.``, ``APIGW.``, ``4xx``, ``5xx``).

>>> explain("APIGW.0308")[1]
'Lower --rate, or use --rate auto to find the quota; rerun the failed rows with bulkretry rerun.'
>>> explain("invalid:group_id missing")[0]
"bulkretry refused the row's group_id cell (missing), so the row was not called."
"""

from __future__ import annotations

import re

__all__ = ["CODES", "explain"]

_RERUN = "bulkretry rerun RUN_DIR --only failed"

#: Known codes: ``code -> (meaning, what to do)``.
CODES: dict[str, tuple[str, str]] = {
    # OMS, the service: the retry call itself was answered with an error.
    "OMS.1015": ("The task group is not in a state that can be retried: it was already retried, is running, "
                 "or has finished. Only a group in status 5 (migration failed) can be retried.",
                 "Check the group's status (console, or GET /v2/{project_id}/taskgroups/{group_id}). Nothing to do "
                 "if it is migrating or finished; a paused group is resumed, not retried."),
    "OMS.1009": ("The task group does not exist in this project and region.",
                 "Check the group id in the manifest, and that project_id and region (or --endpoint) are the "
                 "ones the group was created in."),
    "OMS.0002": ("The service refused a request parameter (the body or the path): a value it does not accept.",
                 "Read error_msg for the field; fix that column in the manifest (AK/SK lengths, "
                 "migrate_failed_object true/false) and rerun the rows."),
    "OMS.0003": ("The project does not match the credentials: the AK/SK or token belong to another "
                 "account or project.",
                 "Use credentials of the account that owns the project, and check project_id against the region."),
    "OMS.0000": ("OMS had an internal error.", f"Transient: rerun the failed rows later ({_RERUN})."),
    "OMS.0060": ("Migration to the current region is not supported.",
                 "Check the group's destination region and the endpoint or region the run used."),
    # API Gateway, in front of OMS.
    "APIGW.0301": ("Authentication failed: the AK/SK signature or the IAM token was refused.",
                   "Check the AK/SK (or token) and that they are not expired; with AK/SK, check this machine's "
                   "clock (a skew of over 15 minutes breaks signatures)."),
    "APIGW.0308": ("Throttled: the API Gateway's request quota was exceeded (HTTP 429).",
                   "Lower --rate, or use --rate auto to find the quota; rerun the failed rows with bulkretry rerun."),
    "APIGW.0101": ("The API was not found: the path or the host is not an OMS endpoint.",
                   "Check --endpoint / --region: the endpoint is https://oms.{region}.myhuaweicloud.com."),
    "APIGW.0202": ("The service behind the gateway was unavailable.",
                   f"Transient: rerun the failed rows later ({_RERUN})."),
    "APIGW.0203": ("The service behind the gateway did not answer in time.",
                   f"Transient: rerun the failed rows later ({_RERUN})."),
    # bulkretry's own.
    "timeout": ("No answer came within --timeout seconds (after every attempt).",
                "Rerun the failed rows later; raise --timeout if the service is known to be slow."),
    "connection": ("The connection failed: refused, unreachable, dropped, or a broken answer (retried up to "
                   "--max-attempts).",
                   "Check the network, proxy and endpoint from this machine; then rerun the failed rows."),
    "tls_certificate": ("The endpoint's TLS certificate is not trusted on this machine (self-signed, expired, an "
                        "unknown CA, or issued for another name): the call was not sent, and not retried.",
                        "Check --endpoint (or the region); behind an inspecting proxy, trust its CA with "
                        "SSL_CERT_FILE. Then continue with --resume or rerun the failed rows."),
    "dns": ("The endpoint's host name could not be resolved: it does not exist (not retried), or no DNS "
            "server answered (retried).",
            "Check --endpoint / --region and this machine's DNS; then rerun the failed rows."),
    "invalid_response": ("The service answered something that is not what the API returns (not JSON, an HTML "
                         "page, or far too large): often a proxy, captive portal or gateway page. With HTTP 2xx "
                         "this is not counted as a success: the call may never have reached OMS.",
                         "Check --endpoint and any proxy in between; rerun the failed rows (a group that was "
                         "in fact retried answers OMS.1015, which does no harm)."),
    "invalid_request": ("The request could not be sent: a value cannot go into a URL or a header.",
                        "Fix the row's cells (control characters, odd bytes) in the manifest."),
    "internal_error": ("bulkretry failed on this row (a bug, not the service).",
                       "Rerun the row; if it happens again, report it with the run's run.jsonl."),
    "duplicate": ("The same project and group appeared earlier in the manifest; it was called once, for the "
                  "first row.", "Nothing to do; remove the repeat from the manifest if you like."),
    "halted": ("The run halted before calling this row: its first answers showed a failure every row would meet "
               "(the first calls all refused with 401/403, the first 20 calls all failing alike, IAM giving no "
               "token, or more rows failing than --halt-on-failure allows), so no more calls were started; "
               "error_msg names the cause.",
               "Fix the cause (credentials, project, IAM endpoint or network), then continue the run with "
               "bulkretry run --resume --out RUN_DIR: it calls these rows."),
    "max_duration": ("The run's time box (--max-duration) ended before this row was called.",
                     "Continue the run in the next window with bulkretry run --resume --out RUN_DIR."),
    "interrupted": ("The run was stopped before this row got an answer.",
                    "Continue the run with bulkretry run --resume --out RUN_DIR."),
}

#: Advice for a code that is an HTTP status with no code of its own, by status.
_STATUS: dict[int, tuple[str, str]] = {
    400: ("The service refused the request (HTTP 400) without saying why in a known form.",
          "Read error_msg; check the row's values in the manifest."),
    401: ("Not authenticated (HTTP 401).", "Check the AK/SK or token, and this machine's clock."),
    403: ("Forbidden (HTTP 403): the credentials may not do this in this project.",
          "Check the account's OMS permissions and that project_id belongs to it."),
    404: ("Not found (HTTP 404): the group, or the API at this endpoint.",
          "Check the group id, project_id and --endpoint / --region."),
    429: ("Throttled (HTTP 429).", "Lower --rate or use --rate auto; then rerun the failed rows."),
}

_REDIRECT = ("The endpoint answered with a redirect (HTTP 3xx), which is not followed: it is not the OMS API.",
             "Check --endpoint / --region (https://oms.{region}.myhuaweicloud.com), and any proxy in between.")
_SERVER = ("The service had trouble (HTTP 5xx).", f"Transient: rerun the failed rows later ({_RERUN}).")
_CLIENT = ("The service refused the request (HTTP 4xx).", "Read error_msg; check the row and the credentials.")
_OMS = ("An OMS error not listed here.",
        "Read error_msg; the OMS API reference lists the code under 'error codes'.")
_APIGW = ("An API Gateway error not listed here: the request was stopped before reaching OMS.",
          "Read error_msg; check the endpoint, the credentials and --rate.")
_UNKNOWN = ("A code bulkretry does not know.", "Read error_msg; the request_id identifies the call to support.")

_INVALID = re.compile(r"invalid:(?P<column>[^ ]*) ?(?P<why>.*)", re.DOTALL)
_HTTP = re.compile(r"[1-5]\d\d")


def explain(code: str) -> tuple[str, str]:
    """``(meaning, what to do)`` for a report's ``error_code``; a family's advice for an unknown code.

    ``invalid:<column> <why>`` (a manifest cell bulkretry refused) is read by its prefix; an empty code
    means there was no error.
    """
    code = code.strip()
    if not code:
        return ("No error.", "Nothing to do.")
    known = CODES.get(code) or CODES.get(code.upper()) or CODES.get(code.lower())
    if known:
        return known
    invalid = _INVALID.fullmatch(code)
    if invalid:
        column, why = invalid["column"] or "?", invalid["why"].strip() or "not valid"
        return (f"bulkretry refused the row's {column} cell ({why}), so the row was not called.",
                f"Fix column {column} of those rows in the manifest (error_msg says what is wrong), then run them.")
    if _HTTP.fullmatch(code):
        status = int(code)
        if status in _STATUS:
            return _STATUS[status]
        if 300 <= status < 400:
            return _REDIRECT
        return _SERVER if status >= 500 else _CLIENT if status >= 400 else _UNKNOWN
    upper = code.upper()
    if upper.startswith("OMS."):
        return _OMS
    if upper.startswith("APIGW."):
        return _APIGW
    return _UNKNOWN
