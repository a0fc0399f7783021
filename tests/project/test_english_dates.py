"""English dates are read in every Member State: never the United States' month-first form."""

import datetime as dt

from django.utils import formats, translation


def test_english_dates_are_day_first_or_iso():
    moment = dt.datetime(2026, 11, 30, 23, 5)
    with translation.override("en"):
        assert formats.date_format(moment, "SHORT_DATETIME_FORMAT") == "2026-11-30 23:05"
        assert formats.date_format(moment.date(), "SHORT_DATE_FORMAT") == "2026-11-30"
        assert formats.date_format(moment.date(), "DATE_FORMAT") == "30 November 2026"
