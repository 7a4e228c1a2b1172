"""Our table of the regions OMS serves (``oms/endpoint.py``'s ``OMS_REGIONS``) against the official SDK's, and the
advice given for a region it does not hold."""

from __future__ import annotations

from huaweicloudsdkoms.v2.region.oms_region import OmsRegion

from bulkretry.oms.endpoint import OMS_REGIONS, endpoint_for_region, unknown_region


def test_the_region_table_is_the_sdks():
    """Every region of the SDK's OmsRegion is in our table and no other, so the two cannot drift apart."""
    assert sorted(OMS_REGIONS) == sorted(OmsRegion.static_fields)
    assert len(set(OMS_REGIONS)) == len(OMS_REGIONS)


def test_each_region_has_the_sdks_endpoint():
    """The endpoint we build for each region is the one the SDK names for it."""
    for region_id, region in OmsRegion.static_fields.items():
        assert endpoint_for_region(region_id).origin == region.endpoints[0]


def test_a_typo_is_told_its_closest_region():
    """A misspelt region gets the region it most looks like, and a known one no problem."""
    assert unknown_region("cn-north-4") == ""
    assert "did you mean cn-north-4?" in unknown_region("cn-nort-4")
    assert "did you mean ap-southeast-1?" in unknown_region("ap-southeast1")


def test_a_region_like_no_other_is_given_the_list():
    """A region close to none is told every region OMS serves."""
    problem = unknown_region("moon-base-1")
    assert "did you mean" not in problem
    assert all(region in problem for region in OMS_REGIONS)
