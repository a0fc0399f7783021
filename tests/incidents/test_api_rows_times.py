"""The list's times (incidents/api/rows.py ``_Times``) as DRF's DateTimeField writes them, on
the shortcut for values PostgreSQL gives in UTC (issue 17) and on the general path."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.utils import timezone
from rest_framework import serializers

from sentinelle.incidents.api.rows import _Times

VALUES = [
    dt.datetime(2026, 5, 4, 6, 30, 15, 123456, tzinfo=dt.UTC),
    dt.datetime(2026, 5, 4, 6, 30, 15, tzinfo=dt.UTC),            # no microseconds
    dt.datetime(1999, 12, 31, 23, 59, 59, 1, tzinfo=zoneinfo.ZoneInfo("UTC")),
    dt.datetime(2026, 7, 1, 12, 0, tzinfo=zoneinfo.ZoneInfo("Europe/Paris")),
    dt.datetime(2026, 1, 1, 0, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
]


@pytest.mark.parametrize("zone", ["UTC", "Asia/Tokyo"])
def test_times_are_written_as_drf_writes_them(zone):
    field = serializers.DateTimeField()
    with timezone.override(zoneinfo.ZoneInfo(zone)):
        times = _Times()
        assert times.utc == (zone == "UTC")
        for value in VALUES:
            assert times(value) == field.to_representation(value), value
        assert times(None) is None
