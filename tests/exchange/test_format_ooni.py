"""OONI JSONL: grouping, verdicts (OONI's and our probe's), raw lines kept, bad lines."""

from __future__ import annotations

import io
import json

import pytest

from sentinelle.exchange.formats import ooni
from sentinelle.exchange.records import FormatError
from tests.format_helpers import OONI_MEASUREMENT, parse, rejections, reports

MEASUREMENT = json.loads(
    (OONI_MEASUREMENT).read_text())


def line(**changes) -> bytes:
    return json.dumps({**MEASUREMENT, **changes}).encode() + b"\n"


def test_groups_and_summary():
    blocked = {**MEASUREMENT["test_keys"], "blocking": "http-diff", "accessible": False}
    data = (line() + line(test_keys=blocked)
            + line(verdict="geoblocked", verdict_reasons=["HTTP 451", "Cloudflare 1009"])
            + line(input="https://other.example/"))
    first, second = reports(parse("ooni", data))
    assert first.where == "lines 1-3" and second.where == "lines 4-4"
    assert first.category == "access-denial" and first.rsit == "availability:outage"
    assert first.indicators == [("url", "https://www.example.com/"),
                                ("domain", "www.example.com")]
    assert "blocking observed (2/3" in first.title
    assert "Cloudflare 1009 ×1" in first.description and "AS30722" in first.description
    assert [a.content for a in first.attachments] == [x.rstrip(b"\n") for x in
                                                      io.BytesIO(data).readlines()[:3]]
    assert first.started_at.isoformat() == "2024-02-14T09:06:17+00:00"
    assert second.rsit == "other:undetermined" and "no blocking observed" in second.title


def test_bad_lines_are_rejected_and_the_rest_kept():
    records = parse("ooni", line() + b"{truncated\n" + b"[]\n"
                    + line(measurement_start_time="yesterday"))
    assert [r.where for r in rejections(records)] == ["line 2", "line 3", "line 4"]
    assert len(reports(records)) == 1


def test_not_jsonl():
    with pytest.raises(FormatError, match="not OONI"):
        parse("ooni", b"title,category\nx,y\n")


def test_large_file_streams_in_bounded_groups():
    raw = line()

    class Lines(io.RawIOBase):
        def __init__(self, count):
            self.left, self.buf = count, b""

        def readable(self):
            return True

        def readinto(self, target):
            while len(self.buf) < len(target) and self.left:
                self.buf += raw
                self.left -= 1
            n = min(len(target), len(self.buf))
            target[:n], self.buf = self.buf[:n], self.buf[n:]
            return n

    records = ooni.parse(io.BufferedReader(Lines(3 * ooni.GROUP_LIMIT + 1)))
    sizes = [len(r.attachments) for r in records]
    assert sizes == [ooni.GROUP_LIMIT] * 3 + [1]
