"""A minimal line-per-record format used only by the importer tests, so they do not depend on
any real format's parser."""

import datetime as dt
import json

from sentinelle.exchange.records import (
    Attachment,
    FormatError,
    IndicatorRecord,
    Rejection,
    ReportRecord,
)


def sniff(head: bytes, name: str = "") -> bool:
    return head.startswith(b'{"t":')


def parse(stream, *, name=""):
    for number, line in enumerate(stream, start=1):
        try:
            item = json.loads(line)
        except ValueError:
            if number == 1:
                raise FormatError("not JSON lines") from None
            yield Rejection(f"line {number}", "not JSON")
            continue
        where = f"line {number}"
        if item["t"] == "report":
            yield ReportRecord(
                where=where, source_format="testjsonl", title=item.get("title", ""),
                external_id=item.get("id"), category=item.get("category"),
                rsit=item.get("rsit"), tlp=item.get("tlp"),
                started_at=dt.datetime.fromisoformat(item["start"]) if "start" in item else None,
                indicators=[tuple(i) for i in item.get("indicators", [])],
                modified=dt.datetime.fromisoformat(item["modified"])
                if "modified" in item else None,
                attachments=[Attachment("raw.json", line)] if item.get("attach") else [])
        else:
            yield IndicatorRecord(where=where, source_format="testjsonl", type=item["type"],
                                  value=item["value"], external_id=item.get("id"),
                                  tlp=item.get("tlp"))
