"""Detection: each sample is recognised as its own format, and a file given as the wrong
format raises a FormatError naming what it looks like."""

from __future__ import annotations

import io

import pytest

from sentinelle.exchange import formats
from sentinelle.exchange.reading import open_records
from sentinelle.exchange.records import FormatError
from sentinelle.exchange.templates_csv import template_csv, template_xlsx
from tests.format_helpers import FIXTURES, OONI_MEASUREMENT

SAMPLES = {
    "misp": FIXTURES / "misp" / "misp_event.json",
    "iodef": FIXTURES / "iodef" / "incidents.xml",
    "veris": FIXTURES / "veris" / "incidents.json",
    "xarf": FIXTURES / "xarf" / "messaging-spam.json",
    "arf": FIXTURES / "arf" / "002.eml",
}


def ooni_line() -> bytes:
    text = (OONI_MEASUREMENT).read_text()
    import json
    return json.dumps(json.loads(text)).encode() + b"\n"


def all_samples() -> dict[str, tuple[bytes, str]]:
    found = {fmt: (path.read_bytes(), path.name) for fmt, path in SAMPLES.items()}
    found["ooni"] = (ooni_line(), "measurements.jsonl")
    found["csv"] = (template_csv("fr"), "reports.csv")
    found["xlsx"] = (template_xlsx("es"), "reports.xlsx")
    return found


@pytest.mark.parametrize("fmt", sorted(all_samples()))
def test_detected(fmt):
    data, name = all_samples()[fmt]
    assert formats.detect(data[:65536], name) == fmt
    assert formats.detect(data[:65536]) == fmt or fmt == "csv" and formats.detect(
        data[:65536]) == "csv"


@pytest.mark.parametrize(("given", "actual"), [("iodef", "misp"), ("misp", "xarf"),
                                               ("csv", "ooni"), ("veris", "arf")])
def test_wrong_format_names_the_right_one(given, actual):
    data, name = all_samples()[actual]
    with pytest.raises(FormatError, match=f"looks like {actual}"):
        open_records(io.BytesIO(data), given, name.rsplit(".", 1)[0])
