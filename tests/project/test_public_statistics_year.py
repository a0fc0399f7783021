"""Every public page shows the same year by default (issue 12, public visitor): "this year" is the
platform's calendar year (SENTINELLE_TIME_ZONE) everywhere, not UTC on some pages and the local
date on others, which around New Year showed two different years side by side."""

from __future__ import annotations

import datetime as dt
import re
from unittest import mock

import pytest

from tests.conftest import page

# 12:00 UTC on 31 December 2026 is already 1 January 2027 in Kiritimati (UTC+14).
NEW_YEAR_ABROAD = dt.datetime(2026, 12, 31, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def new_year_in_kiritimati(settings):
    settings.TIME_ZONE = "Pacific/Kiritimati"
    with mock.patch("django.utils.timezone.now", return_value=NEW_YEAR_ABROAD):
        yield


def test_every_public_page_defaults_to_the_same_year(client, db, new_year_in_kiritimati):
    home = page(client.get("/"))
    assert "Incidents by category, 2027" in home
    public = client.get("/analysis/public/").content.decode()
    assert re.search(r'<option value="2027" selected>', public)
    gateway = page(client.get("/gateway/statistics/"))
    assert "Public statistics, 2027" in gateway
    assert client.get("/api/v1/statistics/").json()["filter"]["year"] == 2027
