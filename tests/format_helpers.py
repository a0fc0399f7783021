"""Shared by the tests/exchange/test_format_*.py files: fixture paths and a parse-to-list helper."""

from __future__ import annotations

import io
from pathlib import Path

from sentinelle.exchange import formats
from sentinelle.exchange.records import Rejection, ReportRecord
from tests.paths import FIXTURES_DIR, SHARED_DIR

FIXTURES = FIXTURES_DIR
# OONI's Web Connectivity example measurement, from its specification.
OONI_MEASUREMENT = (FIXTURES / "probe" / "ooni-spec-examples"
                    / "ts-017-web-connectivity.measurement.json")
SHARED_FORMATS = SHARED_DIR / "data" / "formats"


def parse(fmt: str, data: bytes | Path, name: str = "") -> list:
    if isinstance(data, Path):
        name = name or data.name
        data = data.read_bytes()
    return list(formats.get(fmt).parse(io.BytesIO(data), name=name))


def reports(records: list) -> list[ReportRecord]:
    return [r for r in records if isinstance(r, ReportRecord)]


def rejections(records: list) -> list[Rejection]:
    return [r for r in records if isinstance(r, Rejection)]
