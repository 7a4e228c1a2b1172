"""Sending a run's notification to every ``--notify`` target through Apprise, the SMN plugin included.

:func:`resolve_targets` runs before any call: ``env:NAME`` read from the environment, every URL checked (an
Apprise URL it knows, or a well-formed ``smn://`` topic), so a typo is exit 2 and not a silent loss after a
six-hour run. :func:`send_notifications` runs when the run has ended: every target at once, each on a thread of
its own, within one budget for them all (a target that drips its answer, or never ends it, is left behind), each
answer read to 64 KiB at most, through the run's proxy and trust (:class:`bulkretry.oms.network.Network`). It
never raises: what could not be sent comes back as warnings, with every part of the target's URL taken out (the
URLs hold keys).
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any
from urllib.parse import unquote

from bulkretry.errors import ConfigError
from bulkretry.masking import ENV_PREFIX, is_env_reference, redact_url, shown_url
from bulkretry.notify.message import Message
from bulkretry.notify.smn import SCHEME, Signer, SmnTopic, parse_smn_url
from bulkretry.oms.auth import Authenticator, OutgoingRequest
from bulkretry.oms.errorbody import short_text
from bulkretry.oms.network import Network

__all__ = ["NOTIFY_ON", "Target", "notify_budget", "resolve_targets", "send_notifications", "signer_for"]

#: ``--notify-on``: when the notification is sent.
NOTIFY_ON = ("always", "failure")
#: Seconds to connect, and to read the answer, per target.
DEFAULT_TIMEOUT = 10.0
#: Seconds all the targets together may take (they are sent at once): a cron job's run must end.
DEFAULT_BUDGET = 30.0
MAX_BUDGET = 3600.0
#: The environment variable that gives another budget, in seconds.
BUDGET_VARIABLE = "BULKRETRY_NOTIFY_BUDGET_S"
#: The most of a target's answer that is read: only its status decides, the body is at most quoted.
MAX_ANSWER_BYTES = 64 * 1024


@dataclass(frozen=True)
class Target:
    """One ``--notify`` value, resolved: the URL (a secret, never in ``repr``), how it may be shown, and where it
    came from (``--notify #2`` or ``$NAME``)."""

    url: str = field(repr=False)
    shown: str
    source: str
    #: The SMN topic of an ``smn://`` URL (None for an Apprise URL).
    topic: SmnTopic | None = None

    @property
    def label(self) -> str:
        return f"{self.shown} ({self.source})"


def resolve_targets(
    values: Sequence[str], env: Mapping[str, str], *, region: str | None = None, project_id: str | None = None
) -> list[Target]:
    """The ``--notify`` *values* as targets; ConfigError (exit 2, before any call) for a variable that is not
    set or a URL that no plugin takes. The message names the option's position or variable, never the URL."""
    targets = []
    for number, value in enumerate(values, 1):
        source = f"--notify #{number}"
        url = value.strip()
        if is_env_reference(url):
            name = url[len(ENV_PREFIX) :]
            source = f"${name}"
            url = env.get(name, "").strip()
            if not url:
                raise ConfigError(
                    f"--notify env:{name}: ${name} is not set (or empty); set it to the notification "
                    "URL, e.g. dingtalk://SECRET@TOKEN/"
                )
        shown = shown_url(url)
        if "://" not in url:
            raise ConfigError(
                f"{source}: not a notification URL (expected scheme://…, e.g. dingtalk://, wecombot://, "
                "smn://urn:smn:…); the value is not shown, it may hold a key"
            )
        if url.split("://", 1)[0].lower() == SCHEME:
            targets.append(Target(url, shown, source, parse_smn_url(url, env, region=region, project_id=project_id)))
            continue
        if _apprise_plugin(url) is None:
            raise ConfigError(
                f"{source} ({shown}): not a URL Apprise can send to (an unknown scheme, or a key or "
                "token of the wrong form); see https://github.com/caronc/apprise/wiki"
            )
        targets.append(Target(url, shown, source))
    return targets


def signer_for(auth: Authenticator, network: Network) -> Signer:
    """Sign an SMN request with the run's *auth* (AK/SK, token, or an IAM token fetched through *network*)."""
    from bulkretry.oms.client import make_session

    def sign(request: OutgoingRequest) -> dict[str, str]:
        async def authorize() -> dict[str, str]:
            async with make_session(limit=1) as session:
                return await auth.authorize(request, session)

        return asyncio.run(authorize())

    return sign


def notify_budget(env: Mapping[str, str]) -> float:
    """The seconds all the notifications of a run may take together: ``$BULKRETRY_NOTIFY_BUDGET_S``, else
    :data:`DEFAULT_BUDGET`; ConfigError (exit 2, before any call) for a value that is no such number."""
    value = env.get(BUDGET_VARIABLE, "").strip()
    if not value:
        return DEFAULT_BUDGET
    try:
        budget = float(value)
    except ValueError:
        budget = 0.0
    if not 0 < budget <= MAX_BUDGET:  # (NaN fails this too)
        raise ConfigError(
            f"${BUDGET_VARIABLE} is {short_text(value, 40)!r}: give the seconds all notifications may take "
            f"together, more than 0 and at most {MAX_BUDGET:g} (e.g. 30)"
        )
    return budget


def send_notifications(
    targets: Sequence[Target],
    message: Message,
    *,
    network: Network,
    failed: bool,
    sign: Signer | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    budget: float = DEFAULT_BUDGET,
) -> list[str]:
    """Send *message* to each of *targets*, all at once, within *budget* seconds in all; the warnings (one per
    target not reached, or not done within the budget), never an exception.

    *failed* picks the notification type (a failure or a success); *sign* signs ``smn://`` targets (None: they
    are not sent, with a warning). A target still sending when the budget ends is left behind on a daemon
    thread, which never keeps the process alive.
    """
    import apprise

    kind = apprise.NotifyType.FAILURE if failed else apprise.NotifyType.SUCCESS
    with _requests_trusting(network), _answers_capped(), _captured_apprise_log() as log:
        sendings = [
            _Sending(target, log, partial(_send_one, apprise, target, message, kind, network, sign, timeout))
            for target in targets
        ]
        for sending in sendings:
            sending.thread.start()
        deadline = time.monotonic() + budget
        for sending in sendings:
            sending.thread.join(max(0.0, deadline - time.monotonic()))
        # A target left behind may still log: Apprise's lines stay captured, never on stderr (they may quote a key).
        log.keep_quiet = any(sending.thread.is_alive() for sending in sendings)
    return [warning for warning in (sending.warning(budget) for sending in sendings) if warning]


class _Sending:
    """One target's notification, on a daemon thread of its own: what Apprise said there, and whether it was
    sent."""

    def __init__(self, target: Target, log: _AppriseLog, send: Callable[[], bool]) -> None:
        self.target, self.log, self.send = target, log, send
        self.sent = False
        self.said: list[str] = []
        self.thread = threading.Thread(target=self._run, name=f"bulkretry-notify {target.source}", daemon=True)

    def _run(self) -> None:
        self.log.route(self.said)
        try:
            self.sent = self.send()
        except Exception as exc:  # a plugin's bug must not change the run's ending
            self.said.append(f"{type(exc).__name__}: {exc}")

    def warning(self, budget: float) -> str | None:
        """The warning for this target, or None when it was sent."""
        if self.thread.is_alive():
            why = f"no answer within the notifications' budget of {budget:g} s (${BUDGET_VARIABLE})"
        elif self.sent:
            return None
        else:
            why = redact_url(" ".join(self.said[-3:]), self.target.url) or "not sent"
        return f"notification to {self.target.label} not sent: {short_text(why, 300)}"


def _send_one(
    apprise: Any, target: Target, message: Message, kind: Any, network: Network, sign: Signer | None, timeout: float
) -> bool:
    if target.topic is not None:
        if sign is None:
            raise ConfigError("smn:// needs the run's credentials, and this run loaded none")
        from bulkretry.notify.smn import SmnNotify

        plugin = SmnNotify(target.topic, sign, asset=_asset(apprise))
    else:
        plugin = _apprise_plugin(target.url)
        if plugin is None:
            return False
        _sign_dingtalk_once(plugin)
    plugin.verify_certificate = network.verify
    plugin.socket_connect_timeout = plugin.socket_read_timeout = timeout
    notifier = apprise.Apprise(asset=_asset(apprise))
    notifier.add(plugin)
    return bool(
        notifier.notify(body=message.body, title=message.title, body_format=apprise.NotifyFormat.TEXT, notify_type=kind)
    )


def _sign_dingtalk_once(plugin: Any) -> None:
    """Apprise's DingTalk plugin (2.3) percent-encodes the signature and hands it to requests as a parameter,
    which encodes it again: DingTalk decodes once and answers ``310000 sign not match``. Hand requests the
    signature itself (a base64 text holds no ``%``, so this is a no-op once Apprise stops encoding it)."""
    from apprise.plugins.dingtalk import NotifyDingTalk

    if not isinstance(plugin, NotifyDingTalk) or not getattr(plugin, "secret", None):
        return
    ding: Any = plugin  # (Apprise's methods are untyped)
    signed = ding.get_signature

    def get_signature() -> tuple[str, str]:
        timestamp, signature = signed()
        return timestamp, unquote(signature)

    ding.get_signature = get_signature


def _asset(apprise: Any) -> Any:
    """Apprise's settings: nothing kept on disk, its own log lines without secrets where it can, and no deadline
    of its own (``service_timeout=0``): with one, Apprise sends on its shared thread pool, which the process waits
    for when it ends, so a target that never answers would keep it alive. The budget is ours."""
    return apprise.AppriseAsset(storage_mode=apprise.PersistentStoreMode.MEMORY, secure_logging=True, service_timeout=0)


def _apprise_plugin(url: str) -> Any:
    """Apprise's plugin for *url*, or None when Apprise takes no such URL (what it logs is dropped: it may quote
    the URL)."""
    import apprise

    with _captured_apprise_log():
        return apprise.Apprise.instantiate(url, asset=_asset(apprise))


class _AppriseLog(logging.Handler):
    """Apprise's warnings, and its debug line with the exception behind a connection error (a certificate not
    trusted, a proxy refusing), which its warning leaves out: each in the list of the thread that logged it (each
    target is sent on a thread of its own)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: dict[int, list[str]] = {}
        #: Whether Apprise's logger stays captured after the block (a target left behind may still log).
        self.keep_quiet = False

    def route(self, lines: list[str]) -> None:
        """What Apprise says on this thread goes to *lines* from now on."""
        self.lines[threading.get_ident()] = lines

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if record.levelno >= logging.WARNING or message.startswith("Socket Exception"):
            self.lines.setdefault(record.thread or 0, []).append(message)


@contextmanager
def _captured_apprise_log() -> Iterator[_AppriseLog]:
    """Apprise's warnings kept in lists, and nowhere else (not on stderr, not in the run's log: they may quote a
    key), while the block runs (and after it, when it sets ``keep_quiet``)."""
    logger = logging.getLogger("apprise")
    handler = _AppriseLog()
    propagate, level = logger.propagate, logger.level
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        if not handler.keep_quiet:
            logger.removeHandler(handler)
            logger.propagate = propagate
            logger.setLevel(level)


@contextmanager
def _answers_capped() -> Iterator[None]:
    """Every answer ``requests`` gets while the block runs (Apprise's and SMN's calls) read to
    :data:`MAX_ANSWER_BYTES` at most: a target sending an endless body would otherwise fill the memory until the
    budget ends. ``requests`` takes no hook for the calls Apprise makes itself, so its default hooks are widened
    for the block."""
    import requests.sessions

    # Typed here: older requests stubs (the ones pip picks on Python 3.9) leave default_hooks unannotated.
    made: Callable[[], dict[str, list[Callable[..., Any]]]] = requests.sessions.default_hooks

    def hooks() -> dict[str, list[Callable[..., Any]]]:
        chosen = made()
        chosen["response"].append(_capped_answer)
        return chosen

    requests.sessions.default_hooks = hooks
    try:
        yield
    finally:
        requests.sessions.default_hooks = made


def _capped_answer(response: Any, **options: Any) -> Any:
    """*response* with its body read now, to :data:`MAX_ANSWER_BYTES`, and the connection closed when more was
    coming (``requests`` reads a body it finds already read no further)."""
    if options.get("stream") or response._content is not False:
        return response
    body = response.raw.read(MAX_ANSWER_BYTES + 1, decode_content=True) or b""
    if len(body) > MAX_ANSWER_BYTES:
        response.raw.close()
    response._content, response._content_consumed = body[:MAX_ANSWER_BYTES], True
    return response


@contextmanager
def _requests_trusting(network: Network) -> Iterator[None]:
    """The environment that makes ``requests`` trust what the run trusts (its CA bundle), while the block runs.
    Proxies need nothing: ``requests`` reads ``HTTPS_PROXY``/``NO_PROXY`` as the run did."""
    changes = network.requests_environment()
    saved = {name: os.environ.get(name) for name in changes}
    os.environ.update(changes)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
