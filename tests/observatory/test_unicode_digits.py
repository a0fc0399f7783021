"""Characters Python calls digits but int() refuses ("²", "①") must not reach int() (a 500)."""

import pytest

from sentinelle.observatory import services


@pytest.mark.parametrize("value", ["AS²", "²", "①", "AS 1"])
def test_an_asn_of_unicode_digits_is_no_asn(value):
    assert services._asn(value) is None


def test_a_vantage_asn_of_unicode_digits_is_left_empty():
    assert services._vantage({"geoip": {"cc": "cu", "asn": "²"}})["asn"] is None
    assert services._vantage({"geoip": {"cc": "cu", "asn": "27725"}})["asn"] == 27725
