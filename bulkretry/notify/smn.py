"""``smn://TOPIC_URN``: Huawei Cloud SMN publish as an Apprise plugin, so every notification goes one way.

``POST /v2/{project_id}/notifications/topics/{topic_urn}/publish`` at ``https://smn.{region}.myhuaweicloud.com``
(or ``$HUAWEICLOUD_SDK_REGION_SMN_<REGION>``), body ``{"subject", "message"}``, signed with the run's credentials
(AK/SK as the SDK signs, a token, or an IAM password token). SMN fans the message out to its subscriptions
(e-mail, SMS, chat bots) itself. A topic URN reads ``urn:smn:{region}:{project_id}:{name}``: the region and
project come from it; ``?region=``/``?project_id=`` or the run's own fill in for a URN that lacks them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import apprise
import requests

from bulkretry.errors import ConfigError
from bulkretry.notify.message import cut_bytes
from bulkretry.oms.auth import OutgoingRequest
from bulkretry.oms.client import encode_segment
from bulkretry.oms.endpoint import Endpoint, check_region, parse_endpoint
from bulkretry.oms.errorbody import parse_error_body, short_text

__all__ = ["SCHEME", "SUBJECT_MAX_BYTES", "SmnNotify", "SmnTopic", "parse_smn_url"]

SCHEME = "smn"
#: SMN's limit on a subject, in UTF-8 bytes.
SUBJECT_MAX_BYTES = 512
#: The environment variable naming SMN's endpoint for a region (as the SDK reads it).
ENDPOINT_ENV = "HUAWEICLOUD_SDK_REGION_SMN_{}"


@dataclass(frozen=True)
class SmnTopic:
    """Where an ``smn://`` URL publishes: the topic, its project and the endpoint of its region."""

    urn: str
    project_id: str
    endpoint: Endpoint

    @property
    def path(self) -> str:
        return f"/v2/{encode_segment(self.project_id)}/notifications/topics/{encode_segment(self.urn)}/publish"


def parse_smn_url(
    url: str, env: Mapping[str, str], *, region: str | None = None, project_id: str | None = None
) -> SmnTopic:
    """``smn://TOPIC_URN[?region=R&project_id=P]`` as an :class:`SmnTopic`; ConfigError saying what is missing.

    *region* and *project_id* are the run's, used when neither the URN nor the query gives one.
    """
    rest = url.split("://", 1)[1]
    urn, _, query = rest.partition("?")
    urn = urn.rstrip("/")
    options = dict(parse_qsl(query))
    parts = urn.split(":")
    if len(parts) != 5 or parts[:2] != ["urn", "smn"] or not parts[4]:
        raise ConfigError(
            "--notify smn://…: expected smn://urn:smn:REGION:PROJECT_ID:TOPIC_NAME (the topic's URN "
            "as the SMN console shows it)"
        )
    region = parts[2] or options.get("region") or region
    project = parts[3] or options.get("project_id") or project_id
    if not region or not project:
        raise ConfigError("--notify smn://…: the topic URN names no region or project; add ?region=R&project_id=P")
    check_region(region, option="--notify smn://… region")
    variable = ENDPOINT_ENV.format(region.upper().replace("-", "_"))
    if env.get(variable):
        endpoint = parse_endpoint(env[variable].strip(), option=f"${variable}")
    else:
        host = f"smn.{region}.myhuaweicloud.com"
        endpoint = Endpoint("https", host, None, host, f"https://{host}")
    return SmnTopic(urn, project, endpoint)


#: Signs a request: the headers to send (``Authenticator.authorize``, run to completion).
Signer = Callable[[OutgoingRequest], Mapping[str, str]]


#: Apprise's plugin base, untyped here (its annotations do not describe its subclasses' attributes).
_NotifyBase: Any = apprise.NotifyBase


class SmnNotify(_NotifyBase):  # type: ignore[misc]
    """Apprise's plugin for an :class:`SmnTopic`, made by :mod:`bulkretry.notify.send` (never from a URL alone:
    it needs the run's credentials, through *sign*)."""

    service_name = "Huawei Cloud SMN"
    service_url = "https://www.huaweicloud.com/product/smn.html"
    protocol = SCHEME
    secure_protocol = SCHEME
    title_maxlen = SUBJECT_MAX_BYTES  # the title is the subject (cut to 512 bytes below), not a line of the body
    body_maxlen = 10_000
    request_rate_per_sec = 0

    def __init__(self, topic: SmnTopic, sign: Signer, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.topic = topic
        self._sign = sign

    def url(self, privacy: bool = False, *args: Any, **kwargs: Any) -> str:
        return f"{SCHEME}://{'***' if privacy else self.topic.urn}"

    @property
    def url_identifier(self) -> tuple[str, str]:
        return (SCHEME, self.topic.urn)

    def send(self, body: str, title: str = "", notify_type: str = "info", **kwargs: Any) -> bool:
        """Publish *body* with *title* as the subject (else the first line of *body*), within 512 bytes."""
        subject = title or body.split("\n", 1)[0]
        payload = json.dumps(
            {"subject": cut_bytes(subject, SUBJECT_MAX_BYTES), "message": body}, ensure_ascii=False
        ).encode("utf-8")
        endpoint = self.topic.endpoint
        request = OutgoingRequest(
            "POST",
            endpoint.netloc,
            self.topic.path,
            [],
            {"Content-Type": "application/json;charset=UTF-8"},
            payload,
            self.topic.project_id,
        )
        try:
            headers = dict(self._sign(request))
            answer = requests.post(
                endpoint.origin + self.topic.path,
                data=payload,
                headers=headers,
                verify=self.verify_certificate,
                timeout=self.request_timeout,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            self.logger.warning(f"Failed to send SMN notification: {type(exc).__name__}: {short_text(str(exc))}")
            return False
        except Exception as exc:  # signing: a refused or unavailable IAM login
            self.logger.warning(f"Failed to sign the SMN notification: {short_text(str(exc))}")
            return False
        if answer.status_code != 200:
            code, message = parse_error_body(answer.status_code, answer.text[:4000])
            self.logger.warning(f"Failed to send SMN notification: HTTP {answer.status_code} {code}: {message}")
            return False
        self.logger.info("Sent SMN notification.")
        return True
