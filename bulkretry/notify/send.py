"""Sending a run's notification to every ``--notify`` target through Apprise, the SMN plugin included.

:func:`resolve_targets` runs before any call: ``env:NAME`` read from the environment, every URL checked (an
Apprise URL it knows, or a well-formed ``smn://`` topic), so a typo is exit 2 and not a silent loss after a
six-hour run. :func:`send_notifications` runs when the run has ended: one target after another, each within
its timeout, through the run's proxy and trust (:class:`bulkretry.oms.network.Network`). It never raises: what
could not be sent comes back as warnings, with every part of the target's URL taken out (the URLs hold keys).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from bulkretry.errors import ConfigError
from bulkretry.masking import ENV_PREFIX, is_env_reference, redact_url, shown_url
from bulkretry.notify.message import Message
from bulkretry.notify.smn import SCHEME, Signer, SmnTopic, parse_smn_url
from bulkretry.oms.auth import Authenticator, OutgoingRequest
from bulkretry.oms.errorbody import short_text
from bulkretry.oms.network import Network

__all__ = ["NOTIFY_ON", "Target", "resolve_targets", "send_notifications", "signer_for"]

#: ``--notify-on``: when the notification is sent.
NOTIFY_ON = ("always", "failure")
#: Seconds to connect, and to read the answer, per target.
DEFAULT_TIMEOUT = 10.0


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


def send_notifications(
    targets: Sequence[Target],
    message: Message,
    *,
    network: Network,
    failed: bool,
    sign: Signer | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> list[str]:
    """Send *message* to each of *targets*; the warnings (one per target not reached), never an exception.

    *failed* picks the notification type (a failure or a success); *sign* signs ``smn://`` targets (None: they
    are not sent, with a warning).
    """
    import apprise

    warnings = []
    kind = apprise.NotifyType.FAILURE if failed else apprise.NotifyType.SUCCESS
    with _requests_trusting(network), _captured_apprise_log() as said:
        for target in targets:
            said.clear()
            try:
                sent = _send_one(apprise, target, message, kind, network, sign, timeout)
            except Exception as exc:  # a plugin's bug must not change the run's ending
                said.append(f"{type(exc).__name__}: {exc}")
                sent = False
            if not sent:
                why = redact_url(" ".join(said[-3:]), target.url) or "not sent"
                warnings.append(f"notification to {target.label} not sent: {short_text(why, 300)}")
    return warnings


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
    """Apprise's settings: nothing kept on disk, its own log lines without secrets where it can."""
    return apprise.AppriseAsset(storage_mode=apprise.PersistentStoreMode.MEMORY, secure_logging=True)


def _apprise_plugin(url: str) -> Any:
    """Apprise's plugin for *url*, or None when Apprise takes no such URL (what it logs is dropped: it may quote
    the URL)."""
    import apprise

    with _captured_apprise_log():
        return apprise.Apprise.instantiate(url, asset=_asset(apprise))


class _ListHandler(logging.Handler):
    """Apprise's warnings, and its debug line with the exception behind a connection error (a certificate not
    trusted, a proxy refusing), which its warning leaves out."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__(logging.DEBUG)
        self.lines = lines

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if record.levelno >= logging.WARNING or message.startswith("Socket Exception"):
            self.lines.append(message)


@contextmanager
def _captured_apprise_log() -> Iterator[list[str]]:
    """Apprise's warnings kept in a list, and nowhere else (not on stderr, not in the run's log: they may quote a
    key), while the block runs."""
    logger = logging.getLogger("apprise")
    lines: list[str] = []
    handler = _ListHandler(lines)
    propagate, level = logger.propagate, logger.level
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    try:
        yield lines
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate
        logger.setLevel(level)


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
