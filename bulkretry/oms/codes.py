"""What a report's ``error_code`` means and what to do about it, for people reading a report.

The codes are those a run records: the service's own (``OMS.xxxx`` from OMS, ``APIGW.xxxx`` from the API
Gateway in front of it), an HTTP status when an answer carried no code (``"503"``, ``"302"``), and bulkretry's
own (``timeout``, ``connection``, ``invalid:<column> <why>``, ``duplicate``, ``interrupted``, ...).
:func:`explain` never fails: an unknown code gets advice by its family (``OMS.``, ``APIGW.``, ``4xx``, ``5xx``).

>>> explain("APIGW.0308")[1]
'Lower --rate, or use --rate auto to find the quota; rerun the failed rows with bulkretry rerun.'
>>> explain("invalid:group_id missing")[0]
"bulkretry refused the row's group_id cell (missing), so the row was not called."
>>> explain("needs_fix:TRF.0058")[0]
'Not called: the group failed with TRF.0058, which a retry alone does not fix. The destination bucket does not exist.'
>>> explain("TRF.0055", "zh-CN")
('目的端桶空间不足。', '释放空间或提高桶配额，然后重启任务组。')

Meanings and actions are written in English (``N_`` marks them for the catalog) and given in the report's
language by :func:`explain`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Container
from dataclasses import dataclass

from bulkretry.columns import KEY_PAIRS
from bulkretry.i18n import DEFAULT_LANG, N_, translation
from bulkretry.records import NEEDS_FIX_PREFIX

__all__ = ["CODES", "NEEDS_FIX", "NeedsFix", "explain", "needs_fix"]

_TRANSIENT = N_("Transient: rerun the failed rows later (bulkretry rerun RUN_DIR --only failed).")
# Advice several codes share, each written once.
_RETRY_GROUP = N_("Retry the group: bulkretry run (or rerun) restarts it.")
_GRANT_DESTINATION = N_("Grant the destination account access to the bucket, then retry the group.")
_DESTINATION_DENIED = (
    N_("The destination AK/SK has no permission on the destination bucket or its objects."),
    _GRANT_DESTINATION,
)
_SOURCE_DENIED = (
    N_("The source AK/SK has no permission to list or read the source objects."),
    N_("Grant the source account list and read permissions, then retry the group."),
)


@dataclass(frozen=True)
class NeedsFix:
    """A group's own ``error_reason`` that no retry fixes until something outside bulkretry changes: what it
    means, what to fix, and the key pair (``src_ak``/``src_sk`` or ``dst_ak``/``dst_sk``) that, sent whole with
    the call, may be that fix (new keys for the side the code is about)."""

    meaning: str
    fix: str
    keys: tuple[str, ...] = ()

    def brought_by(self, sent: Container[str]) -> bool:
        """Whether a call sending the fields *sent* brings the fix itself: both keys of the side the code is about."""
        return bool(self.keys) and all(key in sent for key in self.keys)


_SRC_KEYS, _DST_KEYS = KEY_PAIRS

#: The groups' own ``error_reason`` codes that no retry can fix as the group stands (the TRF table of the API notes:
#: "only with ...", "only after ...", "no"). With ``--check-status`` such a group is not called (outcome
#: ``skipped``, code ``needs_fix:TRF.xxxx``) unless the call brings the keys that fix it, or ``--call-anyway``.
NEEDS_FIX: dict[str, NeedsFix] = {
    "TRF.0051": NeedsFix(
        N_("The destination AK/SK has no permission on the destination bucket."), _GRANT_DESTINATION, _DST_KEYS
    ),
    "TRF.0052": NeedsFix(*_DESTINATION_DENIED, _DST_KEYS),
    "TRF.0054": NeedsFix(*_DESTINATION_DENIED, _DST_KEYS),
    "TRF.0055": NeedsFix(
        N_("The destination bucket has no space left."),
        N_("Free space or raise the bucket's quota, then retry the group."),
    ),
    "TRF.0057": NeedsFix(
        N_("The destination AK/SK is invalid."),
        N_("Put a valid dst_ak/dst_sk in the manifest, then retry the group."),
        _DST_KEYS,
    ),
    "TRF.0058": NeedsFix(
        N_("The destination bucket does not exist."),
        N_("Retrying alone does not help: create the bucket or recreate the group with the right one."),
    ),
    "TRF.0063": NeedsFix(N_("The account balance is insufficient."), N_("Top up the account, then retry the group.")),
    "TRF.0151": NeedsFix(
        N_("The source AK/SK is invalid."),
        N_("Put a valid src_ak/src_sk in the manifest, then retry the group."),
        _SRC_KEYS,
    ),
    "TRF.0152": NeedsFix(*_SOURCE_DENIED, _SRC_KEYS),
    "TRF.0153": NeedsFix(*_SOURCE_DENIED, _SRC_KEYS),
    "TRF.0154": NeedsFix(*_SOURCE_DENIED, _SRC_KEYS),
}


def needs_fix(reason: str) -> NeedsFix | None:
    """The :class:`NeedsFix` of a group's ``error_reason`` code, or None when a retry may fix it (or it is unknown)."""
    return NEEDS_FIX.get(reason.strip().upper())


#: Known codes: ``code -> (meaning, what to do)``.
CODES: dict[str, tuple[str, str]] = {
    # OMS, the service: the retry call itself was answered with an error.
    "OMS.1015": (
        N_(
            "The task group is not in a state that can be retried: it was already retried, is running, "
            "or has finished. Only a group in status 5 (migration failed) can be retried."
        ),
        N_(
            "Check the group's status (console, or GET /v2/{project_id}/taskgroups/{group_id}). Nothing to do "
            "if it is migrating or finished; a paused group is resumed, not retried."
        ),
    ),
    "OMS.1009": (
        N_("The task group does not exist in this project and region."),
        N_(
            "Check the group id in the manifest, and that project_id and region (or --endpoint) are the "
            "ones the group was created in."
        ),
    ),
    "OMS.0002": (
        N_("The service refused a request parameter (the body or the path): a value it does not accept."),
        N_(
            "Read error_msg for the field; fix that column in the manifest (AK/SK lengths, "
            "migrate_failed_object true/false) and rerun the rows."
        ),
    ),
    "OMS.0003": (
        N_("The project does not match the credentials: the AK/SK or token belong to another account or project."),
        N_("Use credentials of the account that owns the project, and check project_id against the region."),
    ),
    "OMS.0000": (N_("OMS had an internal error."), _TRANSIENT),
    "OMS.0060": (
        N_("Migration to the current region is not supported."),
        N_("Check the group's destination region and the endpoint or region the run used."),
    ),
    # API Gateway, in front of OMS.
    "APIGW.0301": (
        N_("Authentication failed: the AK/SK signature or the IAM token was refused."),
        N_(
            "Check the AK/SK (or token) and that they are not expired; with AK/SK, check this machine's "
            "clock (a skew of over 15 minutes breaks signatures)."
        ),
    ),
    "APIGW.0308": (
        N_("Throttled: the API Gateway's request quota was exceeded (HTTP 429)."),
        N_("Lower --rate, or use --rate auto to find the quota; rerun the failed rows with bulkretry rerun."),
    ),
    "APIGW.0101": (
        N_("The API was not found: the path or the host is not an OMS endpoint."),
        N_("Check --endpoint / --region: the endpoint is https://oms.{region}.myhuaweicloud.com."),
    ),
    "APIGW.0202": (N_("The service behind the gateway was unavailable."), _TRANSIENT),
    "APIGW.0203": (N_("The service behind the gateway did not answer in time."), _TRANSIENT),
    # bulkretry's own.
    "timeout": (
        N_("No answer came within --timeout seconds (after every attempt)."),
        N_("Rerun the failed rows later; raise --timeout if the service is known to be slow."),
    ),
    "connection": (
        N_("The connection failed: refused, unreachable, dropped, or a broken answer (retried up to --max-attempts)."),
        N_("Check the network, proxy and endpoint from this machine; then rerun the failed rows."),
    ),
    "tls_certificate": (
        N_(
            "The endpoint's TLS certificate is not trusted on this machine (self-signed, expired, "
            "an unknown CA, or issued for another name): the call was not sent, and not retried."
        ),
        N_(
            "Check --endpoint (or the region); behind an inspecting proxy or with a private CA, "
            "trust its CA with --ca-bundle FILE. Then continue with --resume or rerun the failed "
            "rows."
        ),
    ),
    "tls": (
        N_(
            "The TLS handshake failed (not a certificate problem: for example the endpoint does not speak "
            "TLS, or no protocol in common): the call was not sent, and not retried."
        ),
        N_("Check --endpoint (https:// or http://) and any proxy in between; then rerun the failed rows."),
    ),
    "dns": (
        N_(
            "The endpoint's host name could not be resolved: it does not exist (not retried), or no DNS "
            "server answered (retried)."
        ),
        N_("Check --endpoint / --region and this machine's DNS; then rerun the failed rows."),
    ),
    "invalid_response": (
        N_(
            "The service answered something that is not what the API returns (not JSON, an HTML "
            "page, or far too large): often a proxy, captive portal or gateway page. With HTTP 2xx "
            "this is not counted as a success: the call may never have reached OMS."
        ),
        N_(
            "Check --endpoint and any proxy in between; rerun the failed rows (a group that was "
            "in fact retried answers OMS.1015, which does no harm)."
        ),
    ),
    "invalid_request": (
        N_("The request could not be sent: a value cannot go into a URL or a header."),
        N_("Fix the row's cells (control characters, odd bytes) in the manifest."),
    ),
    "internal_error": (
        N_("bulkretry failed on this row (a bug, not the service)."),
        N_("Rerun the row; if it happens again, report it with the run's run.jsonl."),
    ),
    "duplicate": (
        N_("The same project and group appeared earlier in the manifest; it was called once, for the first row."),
        N_("Nothing to do; remove the repeat from the manifest if you like."),
    ),
    "halted": (
        N_(
            "The run halted before calling this row: its first answers showed a failure every row would meet "
            "(the first calls all refused with 401/403, the first 20 calls all failing alike, IAM giving no "
            "token, or more rows failing than --halt-on-failure allows), so no more calls were started; "
            "error_msg names the cause."
        ),
        N_(
            "Fix the cause (credentials, project, IAM endpoint or network), then continue the run with "
            "bulkretry run --resume --out RUN_DIR: it calls these rows."
        ),
    ),
    "max_duration": (
        N_("The run's time box (--max-duration) ended before this row was called."),
        N_("Continue the run in the next window with bulkretry run --resume --out RUN_DIR."),
    ),
    "interrupted": (
        N_("The run was stopped before this row got an answer."),
        N_("Continue the run with bulkretry run --resume --out RUN_DIR."),
    ),
    # Why a task group failed (its error_reason, as `bulkretry discover` lists it): TRF.xxxx.
    "TRF.0001": (N_("The migration task group failed on an internal error of the service."), _RETRY_GROUP),
    "TRF.0003": (N_("The task timed out while it waited to be executed."), _RETRY_GROUP),
    **{code: (fix.meaning, fix.fix) for code, fix in NEEDS_FIX.items()},
    # A group that --check-status did not call, for its own error_reason: needs_fix:TRF.xxxx (see explain).
}

#: Advice for a code that is an HTTP status with no code of its own, by status.
_STATUS: dict[int, tuple[str, str]] = {
    400: (
        N_("The service refused the request (HTTP 400) without saying why in a known form."),
        N_("Read error_msg; check the row's values in the manifest."),
    ),
    401: (N_("Not authenticated (HTTP 401)."), N_("Check the AK/SK or token, and this machine's clock.")),
    403: (
        N_("Forbidden (HTTP 403): the credentials may not do this in this project."),
        N_("Check the account's OMS permissions and that project_id belongs to it."),
    ),
    404: (
        N_("Not found (HTTP 404): the group, or the API at this endpoint."),
        N_("Check the group id, project_id and --endpoint / --region."),
    ),
    429: (N_("Throttled (HTTP 429)."), N_("Lower --rate or use --rate auto; then rerun the failed rows.")),
}

_REDIRECT = (
    N_("The endpoint answered with a redirect (HTTP 3xx), which is not followed: it is not the OMS API."),
    N_("Check --endpoint / --region (https://oms.{region}.myhuaweicloud.com), and any proxy in between."),
)
_SERVER = (N_("The service had trouble (HTTP 5xx)."), _TRANSIENT)
_CLIENT = (N_("The service refused the request (HTTP 4xx)."), N_("Read error_msg; check the row and the credentials."))
_OMS = (
    N_("An OMS error not listed here."),
    N_("Read error_msg; the OMS API reference lists the code under 'error codes'."),
)
_APIGW = (
    N_("An API Gateway error not listed here: the request was stopped before reaching OMS."),
    N_("Read error_msg; check the endpoint, the credentials and --rate."),
)
_TRF = (
    N_("A migration error (TRF) not listed here: why the task group failed."),
    N_("Read error_msg; fix what it names, then retry the group."),
)
_UNKNOWN = (N_("A code bulkretry does not know."), N_("Read error_msg; the request_id identifies the call to support."))

#: Why the planner refused a cell (the ``<why>`` of ``invalid:<column> <why>``), in words to translate.
_WHY = frozenset(
    (
        N_("missing"),
        N_("too long"),
        N_("has surrounding spaces"),
        N_("has control characters"),
        N_("is a dot segment"),
        N_("formula without a value"),
        N_("not a region id"),
        N_("bad env reference"),
        N_("env not set"),
        N_("not a boolean"),
        N_("unreadable"),
        N_("not a file"),
        N_("not JSON"),
        N_("not valid"),
    )
)

_INVALID = re.compile(r"invalid:(?P<column>[^ ]*) ?(?P<why>.*)", re.DOTALL)
_HTTP = re.compile(r"[1-5]\d\d")


def explain(code: str, lang: str = DEFAULT_LANG) -> tuple[str, str]:
    """``(meaning, what to do)`` for a report's ``error_code``, in *lang*; a family's advice for an unknown code.

    ``invalid:<column> <why>`` (a manifest cell bulkretry refused) is read by its prefix; an empty code
    means there was no error.
    """
    _ = translation(lang).gettext
    code = code.strip()
    if code.startswith(NEEDS_FIX_PREFIX):
        return _not_called(code[len(NEEDS_FIX_PREFIX) :], _)
    meaning, action = _explain(code)
    if isinstance(meaning, tuple):  # (template, values): a message with the code's parts in it
        values = {**meaning[1], "why": _(meaning[1]["why"]) if meaning[1]["why"] in _WHY else meaning[1]["why"]}
        return _(meaning[0]).format(**values), _(action).format(**values)
    return _(meaning), _(action)


def _not_called(reason: str, _: Callable[[str], str]) -> tuple[str, str]:
    """``needs_fix:TRF.xxxx``: a group ``--check-status`` did not call, for its own *reason*; what to fix."""
    fix = needs_fix(reason)
    meaning, action = (fix.meaning, fix.fix) if fix is not None else _TRF
    return (
        _("Not called: the group failed with {reason}, which a retry alone does not fix. {meaning}").format(
            reason=reason, meaning=_(meaning)
        ),
        _("{fix} To call these rows then: bulkretry rerun RUN_DIR --only skipped --call-anyway.").format(fix=_(action)),
    )


def _explain(code: str) -> tuple[str | tuple[str, dict[str, str]], str]:
    if not code:
        return (N_("No error."), N_("Nothing to do."))
    known = CODES.get(code) or CODES.get(code.upper()) or CODES.get(code.lower())
    if known:
        return known
    invalid = _INVALID.fullmatch(code)
    if invalid:
        parts = {"column": invalid["column"] or "?", "why": invalid["why"].strip() or "not valid"}
        return (
            (N_("bulkretry refused the row's {column} cell ({why}), so the row was not called."), parts),
            N_("Fix column {column} of those rows in the manifest (error_msg says what is wrong), then run them."),
        )
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
    if upper.startswith("TRF."):
        return _TRF
    return _UNKNOWN
