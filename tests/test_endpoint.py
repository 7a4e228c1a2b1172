"""Region ids and --endpoint URLs: what may name the host a call (and its credentials) goes to."""

from __future__ import annotations

import pytest

from bulkretry.errors import ConfigError
from bulkretry.oms.endpoint import check_region, endpoint_for_region, region_problem

GOOD_REGIONS = ["cn-north-4", "ap-southeast-1", "my-kualalumpur-1", "eu-west-101", "la-south-2", "ru-moscow-1",
                "af-south-1", "cn-southwest-2", "a1"]
BAD_REGIONS = ["", "x@127.0.0.1:18444#", "oms.evil.example/", "a/b", "a?b", "a#b", "a:1", "a@b", "CN-NORTH-4",
               "-a", "a-", "a.b", "a b", " cn-north-4", "a\nb", "a\x00b", "区域", "cn-north-4\u200b", "a" * 64, "x",
               "a%2Fb", "a\\b"]


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
