# The platform has one English, read by Member States everywhere: Django's "en" formats are the
# United States' ("11/30/2026 11 p.m."), which most readers take for 11 November. Day first and
# 24-hour time in prose; ISO 8601 dates in lists and tables, unambiguous in every country.
DATE_FORMAT = "j F Y"
DATETIME_FORMAT = "j F Y, H:i"
SHORT_DATE_FORMAT = "Y-m-d"
SHORT_DATETIME_FORMAT = "Y-m-d H:i"
FIRST_DAY_OF_WEEK = 1  # Monday (ISO 8601)
