"""The network settings of a run (oms/network.py): proxies from the environment, NO_PROXY, the CA bundle's
precedence and checks; and a run behind a CONNECT proxy with a private CA, in a loopback-only namespace."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bulkretry.errors import ConfigError
from bulkretry.oms.actions import ACTIONS, GROUPS
from bulkretry.oms.network import network_from
from tests.clitools import run_argv, run_cli
from tests.netns import require_netns, run_isolated
from tests.tlsnet import TestCA

RETRY = ACTIONS["retry", GROUPS]

SCENARIOS = Path(__file__).with_name("netscenarios.py")


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test CA")
    return TestCA(tmp_path_factory.mktemp("ca"))


def test_the_proxy_is_read_from_the_environment_lower_case_first() -> None:
    """HTTPS_PROXY for https URLs, HTTP_PROXY for http ones; the lower-case spelling wins, as in requests."""
    net = network_from(
        {"HTTPS_PROXY": "http://upper:3128", "https_proxy": "http://lower:3128", "HTTP_PROXY": "proxy.corp:8080"}
    )
    assert net.proxy_for("https://oms.cn-north-4.myhuaweicloud.com/v2/x").url == "http://lower:3128"  # type: ignore[union-attr]
    assert net.proxy_for("http://oms.example/").url == "http://proxy.corp:8080"  # type: ignore[union-attr]
    assert network_from({}).proxy_for("https://oms.example/") is None


def test_no_proxy_sends_matching_hosts_direct() -> None:
    """NO_PROXY: exact hosts, domain suffixes (with or without a dot), host:port, and * for everything."""
    net = network_from(
        {"HTTPS_PROXY": "http://p:1", "NO_PROXY": "localhost, .internal,myhuaweicloud.com,10.0.0.1:8443"}
    )
    assert net.proxy_for("https://localhost:9000/") is None
    assert net.proxy_for("https://a.internal/") is None
    assert net.proxy_for("https://oms.cn-north-4.myhuaweicloud.com/") is None
    assert net.proxy_for("https://10.0.0.1:8443/") is None
    assert net.proxy_for("https://10.0.0.1:9443/") is not None
    assert net.proxy_for("https://oapi.dingtalk.com/") is not None
    assert network_from({"HTTPS_PROXY": "http://p:1", "no_proxy": "*"}).proxy_for("https://x.y/") is None


def test_proxy_credentials_go_to_the_proxy_and_are_never_shown() -> None:
    """user:password in a proxy URL become a Proxy-Authorization header for the proxy; repr and the summary
    name only host:port."""
    net = network_from({"HTTPS_PROXY": "http://alice:s%40cret@proxy.corp:3128"})
    options = net.aiohttp_options("https://oms.example/")
    assert options["proxy"] == "http://proxy.corp:3128"
    assert options["proxy_headers"] == {"Proxy-Authorization": "Basic YWxpY2U6c0BjcmV0"}  # alice:s@cret
    assert "cret" not in repr(net)
    assert net.public(["proxy.corp:3128"]) == {"proxy": "proxy.corp:3128", "ca": "system"}


def test_a_proxy_variable_that_is_no_url_is_a_usage_error_without_its_value() -> None:
    """A malformed proxy variable is named, its value (which may hold a password) is not."""
    with pytest.raises(ConfigError, match=r"\$HTTPS_PROXY is not a proxy URL") as info:
        network_from({"HTTPS_PROXY": "socks5://u:hunter2@host:1"})
    assert "hunter2" not in str(info.value)


def test_the_ca_bundle_precedence_is_the_option_then_requests_then_ssl_cert_file(ca: TestCA) -> None:
    """--ca-bundle wins over REQUESTS_CA_BUNDLE, which wins over SSL_CERT_FILE; none: the system's store."""
    env = {"REQUESTS_CA_BUNDLE": str(ca.cert), "SSL_CERT_FILE": str(ca.cert)}
    assert network_from(env, ca_bundle=str(ca.cert)).ca_source == "--ca-bundle"
    assert network_from(env).ca_source == "REQUESTS_CA_BUNDLE"
    assert network_from({"SSL_CERT_FILE": str(ca.cert)}).ca_source == "SSL_CERT_FILE"
    assert network_from({}).ca_source == "system"
    assert network_from(env, verify=False).ssl_option() is False
    assert network_from({"SSL_CERT_FILE": str(ca.cert)}).requests_environment() == {"REQUESTS_CA_BUNDLE": str(ca.cert)}


def test_a_bundle_that_is_missing_or_not_pem_is_refused(tmp_path: Path) -> None:
    """A missing file or one without a PEM certificate is a ConfigError naming where it came from."""
    with pytest.raises(ConfigError, match=r"--ca-bundle .*nope.pem: no such file"):
        network_from({}, ca_bundle=str(tmp_path / "nope.pem"))
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    with pytest.raises(ConfigError, match=r"\$SSL_CERT_FILE \(.*junk.pem\) holds no usable PEM certificate"):
        network_from({"SSL_CERT_FILE": str(junk)})


def test_a_bundle_is_read_whole_only_when_a_call_may_use_tls(tmp_path: Path, ca: TestCA) -> None:
    """The settings load a bundle's first certificate; its broken second block is found when a call may use TLS
    (a region's https endpoint, an https one, plain http through a proxy), never for a direct http:// endpoint."""
    first = Path(ca.cert).read_text(encoding="ascii")
    bundle = tmp_path / "bundle.pem"
    bundle.write_text(first + "-----BEGIN CERTIFICATE-----\nMIIB!!\n-----END CERTIFICATE-----\n", encoding="ascii")
    network_from({"SSL_CERT_FILE": str(bundle)}).check_trust("http://127.0.0.1:8080")  # no TLS: not read
    for endpoint, env in ((None, {}), ("https://oms.example.com", {}), ("http://oms.lan", {"HTTP_PROXY": "p:3128"})):
        network = network_from({"SSL_CERT_FILE": str(bundle), **env})
        with pytest.raises(ConfigError, match=r"\$SSL_CERT_FILE \(.*bundle.pem\) holds no usable PEM certificate"):
            network.check_trust(endpoint)
    from bulkretry.oms.auth import TokenAuth
    from bulkretry.oms.client import OmsClient
    from bulkretry.oms.credentials import Token

    broken = network_from({"SSL_CERT_FILE": str(bundle)})
    with pytest.raises(ConfigError, match=r"bundle.pem\) holds no usable PEM certificate"):  # when a client is made
        OmsClient(None, TokenAuth(Token("t0ken-value")), endpoint="https://oms.example.com", network=broken)  # type: ignore[arg-type]
    whole = network_from({"SSL_CERT_FILE": str(ca.cert)})
    whole.check_trust(None)
    assert whole.ssl_option() is whole.ssl_option()  # made once


def test_a_bad_ca_bundle_exits_2_before_any_call(tmp_path: Path, sim_thread, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """run --ca-bundle with a file that is not PEM: exit 2, the reason said, nothing called."""
    from tests.clitools import use_sim_credentials

    use_sim_credentials(monkeypatch, sim_thread.config)
    manifest = tmp_path / "m.csv"
    manifest.write_text("group_id\ng-1\n")
    junk = tmp_path / "junk.pem"
    junk.write_text("-----BEGIN NOTHING-----\n")
    code, _out, err = run_cli(*run_argv(manifest, sim_thread.url, "p", tmp_path / "run", "--ca-bundle", str(junk)))
    assert code == 2, err
    assert "junk.pem holds no usable PEM certificate" in err
    assert "Traceback" not in err
    assert sim_thread.simulator.traffic.calls == 0
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_a_run_behind_a_proxy_with_a_private_ca(tmp_path: Path) -> None:
    """OMS at its real host name through a CONNECT proxy whose CA is private: --ca-bundle, SSL_CERT_FILE and
    REQUESTS_CA_BUNDLE each make it succeed with no other setup; without the CA every row fails with error code
    tls_certificate; NO_PROXY goes direct; http:// goes through HTTP_PROXY as an absolute URI; proxy credentials
    reach the proxy and nothing else; summary.json records the proxy's host:port and the CA's source."""
    require_netns()
    done = run_isolated(SCENARIOS, "oms_behind_proxy", str(tmp_path))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    oms = "oms.cn-north-4.myhuaweicloud.com:443"
    for case, source in (
        ("ca_bundle", "--ca-bundle"),
        ("ssl_cert_file", "SSL_CERT_FILE"),
        ("requests_ca_bundle", "REQUESTS_CA_BUNDLE"),
        ("proxy_credentials", "--ca-bundle"),
    ):
        got = result[case]
        assert (got["exit"], got["by_outcome"]) == (0, {"succeeded": 3}), (case, got["stderr"])
        assert got["network"]["ca"] == source
        assert got["network"]["proxy"].startswith("127.0.0.1:")
        assert set(got["connects"]) == {oms}, case
    assert result["no_ca"]["exit"] == 1
    assert result["no_ca"]["by_error_code"] == {"tls_certificate": 3}
    assert result["no_ca"]["network"]["ca"] == "system"
    assert result["no_proxy"]["by_outcome"] == {"succeeded": 3}
    assert result["no_proxy"]["connects"] == [] and result["no_proxy"]["network"]["proxy"] is None
    plain = result["plain_http"]
    assert plain["by_outcome"] == {"succeeded": 3} and plain["connects"] == []
    assert len(plain["forwarded"]) == 3
    assert all(uri.startswith("http://oms.cn-north-4.myhuaweicloud.com/v2/") for uri in plain["forwarded"])
    # proxy-user:proxy-pass, on each CONNECT of that run only
    connects = len(result["proxy_credentials"]["connects"])
    assert result["authorizations"] == ["Basic cHJveHktdXNlcjpwcm94eS1wYXNz"] * connects
    assert not any(case.get("files_mention_password") for case in result.values() if isinstance(case, dict))


async def test_an_untrusted_certificate_is_error_code_tls_certificate_and_the_bundle_fixes_it(ca: TestCA) -> None:
    """On loopback: a server whose CA is not trusted fails the call with code tls_certificate (not retryable, saying
    what to do); the same call with the CA as the bundle reaches it."""
    from bulkretry.errors import TransportError
    from bulkretry.oms.auth import TokenAuth
    from bulkretry.oms.client import OmsClient, make_session
    from bulkretry.oms.credentials import Token
    from tests.tlsnet import RecordingTlsServer

    server = await RecordingTlsServer(ca.server_context(["127.0.0.1"])).start()
    try:
        async with make_session() as session:
            auth = TokenAuth(Token("t0ken-value"))
            plain = OmsClient(session, auth, endpoint=server.url, network=network_from({}))
            with pytest.raises(TransportError) as info:
                await plain.show(RETRY, "p1", "g1")
            assert (info.value.code, info.value.retryable) == ("tls_certificate", False)
            assert "certificate" in info.value.message and "--ca-bundle" in info.value.message
            trusting = OmsClient(session, auth, endpoint=server.url, network=network_from({}, ca_bundle=str(ca.cert)))
            assert await trusting.show(RETRY, "p1", "g1") == {}
    finally:
        await server.stop()
    assert [seen.path for seen in server.seen] == ["/v2/p1/taskgroups/g1"]
