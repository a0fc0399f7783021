"""Characters Python calls digits but int() refuses ("²", "①") must not reach int() (a 500)."""

import pytest

from sentinelle.observatory.bundles import access, routing


@pytest.mark.parametrize("value", ["AS²", "²", "①", "AS 1"])
def test_an_asn_of_unicode_digits_is_no_asn(value):
    assert routing._asn(value) is None


def test_a_vantage_asn_of_unicode_digits_is_left_empty():
    assert access.read_vantage({"geoip": {"cc": "cu", "asn": "²"}})["asn"] is None
    assert access.read_vantage({"geoip": {"cc": "cu", "asn": "27725"}})["asn"] == 27725
