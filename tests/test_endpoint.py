"""Region ids and --endpoint URLs: what may name the host a call (and its credentials) goes to."""

from __future__ import annotations

import pytest

from bulkretry.errors import ConfigError
from bulkretry.oms.endpoint import check_region, endpoint_for_region, parse_endpoint, region_problem

GOOD_REGIONS = [
    "cn-north-4",
    "ap-southeast-1",
    "my-kualalumpur-1",
    "eu-west-101",
    "la-south-2",
    "ru-moscow-1",
    "af-south-1",
    "cn-southwest-2",
    "a1",
]
BAD_REGIONS = [
    "",
    "x@127.0.0.1:18444#",
    "oms.evil.example/",
    "a/b",
    "a?b",
    "a#b",
    "a:1",
    "a@b",
    "CN-NORTH-4",
    "-a",
    "a-",
    "a.b",
    "a b",
    " cn-north-4",
    "a\nb",
    "a\x00b",
    "区域",
    "cn-north-4\u200b",
    "a" * 64,
    "x",
    "a%2Fb",
    "a\\b",
]


@pytest.mark.parametrize("region", GOOD_REGIONS)
def test_region_ids_make_the_oms_endpoint(region: str) -> None:
    """A region id (lower-case letters, digits, inner dashes) becomes https://oms.{region}.myhuaweicloud.com."""
    assert region_problem(region) == "" and check_region(region) == region
    endpoint = endpoint_for_region(region)
    assert endpoint.origin == f"https://oms.{region}.myhuaweicloud.com"
    assert (endpoint.host, endpoint.netloc, endpoint.port) == (f"oms.{region}.myhuaweicloud.com",) * 2 + (None,)


@pytest.mark.parametrize("region", BAD_REGIONS)
def test_anything_else_is_not_a_region(region: str) -> None:
    """Anything that is not one DNS label of a-z 0-9 - (2..63 long) is refused, with what a region looks like."""
    problem = region_problem(region)
    assert "cn-north-4" in problem if region else problem == "the region is empty"
    with pytest.raises(ConfigError, match=r"^--region: "):
        check_region(region)
    with pytest.raises(ConfigError):
        endpoint_for_region(region)
    assert len(problem) < 300


GOOD_ENDPOINTS = {  # given -> (origin, host compared, port)
    "http://127.0.0.1:8080": ("http://127.0.0.1:8080", "127.0.0.1", 8080),
    "https://oms.cn-north-4.myhuaweicloud.com/": (
        "https://oms.cn-north-4.myhuaweicloud.com",
        "oms.cn-north-4.myhuaweicloud.com",
        None,
    ),
    "HTTP://Sim.Local:1": ("http://Sim.Local:1", "sim.local", 1),
    "http://[::1]:8080": ("http://[::1]:8080", "::1", 8080),
    "http://sim_host:65535/": ("http://sim_host:65535", "sim_host", 65535),
}
#: Each refused, whatever the host: (endpoint, a word the message says).
BAD_ENDPOINTS = [
    ("", "empty"),
    ("127.0.0.1:8080", "scheme"),
    ("oms.cn-north-4.myhuaweicloud.com", "scheme"),
    ("ftp://127.0.0.1:8080", "scheme"),
    ("file:///etc/passwd", "scheme"),
    ("http://", "host"),
    ("http://:8080", "host"),
    ("http:///v2", "path"),
    ("http://127.0.0.1 :8080", "spaces"),
    (" http://127.0.0.1:8080", "spaces"),
    ("http://127.0.0.1:8080\n", "spaces"),
    ("http://127.0.0.1:70000", "port"),
    ("http://127.0.0.1:99999999999", "port"),
    ("http://127.0.0.1:0", "port"),
    ("http://127.0.0.1:", "port"),
    ("http://127.0.0.1:80x", "port"),
    ("http://127.0.0.1:8080/v2", "path"),
    ("http://127.0.0.1:8080/oms/", "path"),
    ("http://127.0.0.1:8080?x=1", "query"),
    ("http://127.0.0.1:8080/?", "query"),
    ("http://127.0.0.1:8080#f", "fragment"),
    ("http://[::1", "host"),
    ("http://[zz::1]:80", "IPv6"),
    ("http://ex%41mple.com", "host name"),
    ("http://例子.测试", "host name"),
    ("http://a\\b.com", "host name"),
]


@pytest.mark.parametrize("url", list(GOOD_ENDPOINTS))
def test_an_endpoint_is_scheme_host_and_port(url: str) -> None:
    """http(s)://host[:port] with an optional trailing slash: origin, the host to compare, the port."""
    endpoint = parse_endpoint(url)
    assert (endpoint.origin, endpoint.host, endpoint.port) == GOOD_ENDPOINTS[url]


@pytest.mark.parametrize(("url", "word"), BAD_ENDPOINTS)
def test_anything_else_is_refused_naming_the_option_and_the_form(url: str, word: str) -> None:
    """No scheme, another scheme, no host, spaces, a bad port, a path/query/fragment: refused, never cut."""
    with pytest.raises(ConfigError) as info:
        parse_endpoint(url, option="--endpoint")
    message = str(info.value)
    assert message.startswith("--endpoint") and "https://host[:port]" in message and word in message, message
    assert message.isprintable() and len(message) < 400
