"""The CSMS stand-in and our CSMS call against the official SDK (``huaweicloudsdkcsms``): what the stand-in
answers parses into the SDK's models, and our request is the SDK client's, signed as the SDK's signer signs it."""

from __future__ import annotations

import anyio
import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer
from huaweicloudsdkcsms.v1 import CsmsClient as SdkCsmsClient
from huaweicloudsdkcsms.v1 import ShowSecretVersionRequest

from bulkretry.oms.auth import AkSkAuth
from bulkretry.oms.client import make_session
from bulkretry.oms.credentials import AkSk
from bulkretry.oms.csms import CsmsClient
from bulkretry.sim import SimConfig, SimulatorThread
from bulkretry.sim.traffic import ReceivedRequest

VALUE = '{"ak": "SECRETAK000000000001", "sk": "secret-sk-of-the-stand-in"}'


@pytest.fixture
def sim_config() -> SimConfig:
    """A simulator whose CSMS stand-in holds one secret."""
    return SimConfig(groups=2, secrets=(("oms-keys", VALUE),))


def _sdk(sim_thread: SimulatorThread) -> SdkCsmsClient:
    """The SDK's CSMS client, signing with the simulator's AK/SK, pointed at it."""
    http_config = HttpConfig.get_default_config()
    http_config.timeout = (5, 10)
    config = sim_thread.config
    return (
        SdkCsmsClient.new_builder()
        .with_http_config(http_config)
        .with_credentials(BasicCredentials(config.ak, config.sk, config.project_id))
        .with_endpoints([sim_thread.url])
        .build()
    )


def _ours(sim_thread: SimulatorThread, version: str) -> object:
    """Our CSMS client's answer for ``oms-keys`` at *version*."""
    config = sim_thread.config

    async def fetch() -> object:
        async with make_session() as session:
            client = CsmsClient(session, AkSkAuth(AkSk(config.ak, config.sk)), endpoint=sim_thread.url)
            return await client.secret_version(config.project_id, "oms-keys", version)

    return anyio.run(fetch)


def _last(sim_thread: SimulatorThread) -> ReceivedRequest:
    return sim_thread.simulator.received[-1]


def test_the_stand_in_answers_what_the_sdk_parses(sim_thread: SimulatorThread) -> None:
    """ShowSecretVersionResponse reads the stand-in's secret_string and metadata; an unknown secret is the
    SDK's ClientRequestException with status 404."""
    sdk = _sdk(sim_thread)
    answer = sdk.show_secret_version(ShowSecretVersionRequest(secret_name="oms-keys", version_id="latest"))
    assert answer.version.secret_string == VALUE
    assert answer.version.version_metadata.secret_name == "oms-keys"
    assert answer.version.version_metadata.version_stages == ["SYSCURRENT"]
    with pytest.raises(ClientRequestException) as caught:
        sdk.show_secret_version(ShowSecretVersionRequest(secret_name="nope", version_id="latest"))
    assert caught.value.status_code == 404


def test_our_request_is_the_sdk_clients(sim_thread: SimulatorThread) -> None:
    """Same method and path as the SDK client's request, and the Authorization the SDK's signer makes for it."""
    _sdk(sim_thread).show_secret_version(ShowSecretVersionRequest(secret_name="oms-keys", version_id="v1"))
    theirs = _last(sim_thread)
    assert _ours(sim_thread, "v1") == {"version": _ours_version(sim_thread)}
    ours = _last(sim_thread)
    assert (ours.method, ours.raw_path) == (theirs.method, theirs.raw_path)
    headers = {k: v for k, v in ours.headers.items() if k.lower() != "authorization"}
    signed_names = ours.headers["Authorization"].split("SignedHeaders=")[1].split(",")[0].split(";")
    kept = {k: v for k, v in headers.items() if k.lower() in signed_names}
    request = SdkRequest(
        method=ours.method,
        schema="http",
        host=kept.pop("Host"),
        resource_path=ours.raw_path,
        query_params=[],
        header_params=kept,
        body=ours.body,
    )
    config = sim_thread.config
    oracle = Signer(BasicCredentials(config.ak, config.sk)).sign(request)
    assert oracle.header_params["Authorization"] == ours.headers["Authorization"]


def _ours_version(sim_thread: SimulatorThread) -> object:
    """The stand-in's version object of ``oms-keys`` (what our client must hand back as it came)."""
    return sim_thread.simulator.state.secret_store.version("oms-keys", "v1")["version"]
