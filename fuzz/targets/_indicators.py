"""Exchange targets that also normalise every indicator, as the importer does
(incidents.fields.parse_indicators): a parser may hand on any text as an indicator, and the
importer must then refuse it with IndicatorError, never crash on it (an URL such as
``http://[1.2.3.4]/`` once raised urllib's own ValueError there)."""

from __future__ import annotations

import contextlib
import io

from fuzz.targets._exchange import check_record
from sentinelle.exchange.reading import open_records
from sentinelle.exchange.records import IndicatorRecord, ReportRecord
from sentinelle.incidents.indicators import IndicatorError, normalise


def run_format_normalised(fmt: str, data: bytes, name: str = "") -> None:
    _fmt, records = open_records(io.BytesIO(data), fmt, name)
    for record in records:
        check_record(record)
        if isinstance(record, ReportRecord):
            pairs = record.indicators
        elif isinstance(record, IndicatorRecord):
            pairs = [(record.type, record.value)]
        else:
            continue
        for kind, value in pairs:
            with contextlib.suppress(IndicatorError):   # the importer's refusal
                normalise(kind, value)
