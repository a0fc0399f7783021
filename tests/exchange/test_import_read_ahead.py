"""read_ahead (exchange/reading.py): on SQLite an import's records are all read before its
transaction takes the write lock, and come back the same; PostgreSQL keeps streaming."""

from __future__ import annotations

import io
import json

import pytest
from django.db import connection

from sentinelle.exchange.importer import import_records
from sentinelle.exchange.models import SharedIndicator
from sentinelle.exchange.reading import open_records, read_ahead
from sentinelle.exchange.records import FormatError
from sentinelle.incidents.models import Evidence, Incident
from tests.exchange.import_stress import write_bundle, write_ooni
from tests.exchange.test_import_formats import EXAMPLES

SQLITE = connection.vendor == "sqlite"


def records_of(path, fmt):
    with open(path, "rb") as stream:
        return list(open_records(stream, fmt, path.name)[1])


@pytest.mark.skipif(not SQLITE, reason="PostgreSQL locks rows: its import streams")
@pytest.mark.parametrize("fmt, path", EXAMPLES, ids=[p.name for _f, p in EXAMPLES])
def test_every_format_is_read_whole_first_and_comes_back_the_same(fmt, path):
    direct = records_of(path, fmt)
    finished = []

    def parsed():
        yield from direct
        finished.append(True)

    seen = []
    records, progress = read_ahead(parsed(), progress=seen.append)
    assert finished and len(seen) == len(direct)     # read to the end before anything is written
    assert progress is None                          # and the progress reported while reading
    assert list(records) == direct


@pytest.mark.skipif(not SQLITE, reason="PostgreSQL locks rows: its import streams")
def test_a_large_feed_comes_back_whole_in_order(tmp_path):
    bundle, ooni = tmp_path / "feed.json", tmp_path / "feed.jsonl"
    write_bundle(bundle, indicators=2500, reports=3)   # more than one chunk of the spool
    write_ooni(ooni, reports=4)
    for path, fmt in ((bundle, "stix"), (ooni, "ooni")):
        direct = records_of(path, fmt)
        records, _progress = read_ahead(iter(direct))
        assert list(records) == direct


@pytest.mark.skipif(not SQLITE, reason="PostgreSQL locks rows: its import streams")
def test_a_file_that_breaks_half_way_fails_before_anything_is_written():
    def breaking():
        yield from records_of(EXAMPLES[0][1], "misp")
        raise FormatError("line 9: truncated")

    with pytest.raises(FormatError, match="truncated"):
        read_ahead(breaking())


def test_inside_a_callers_transaction_or_on_postgresql_the_records_stream(db):
    """A transaction that is open already holds SQLite's lock (pytest's own, here): reading
    first would gain nothing, and PostgreSQL parses beside its COPY."""
    records = iter([])
    assert read_ahead(records)[0] is records


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_imports_outside_a_transaction_write_all_or_nothing(alice, bob, charlie, tmp_path):
    """The import as a job or the command runs it (no transaction around it): on SQLite
    through read_ahead. A feed whose last line is broken writes nothing, not even the evidence
    of its first reports; the whole feed then writes everything, and the audit chain holds."""
    from sentinelle.core import audit
    from sentinelle.core.models import AuditEntry

    ooni = tmp_path / "feed.jsonl"
    write_ooni(ooni, reports=3)
    good = ooni.read_bytes()
    entries = AuditEntry.objects.count()
    for broken in (good + b"{not json\n", good + b'{"probe_cc": "CU", "input": 7}\n'):
        _fmt, records = open_records(io.BytesIO(broken), "ooni", "feed.jsonl")
        summary = import_records(records, user=alice)
        assert not summary.ok and summary.reports_created == 3   # counted, then rolled back
        assert not Incident.objects.exists() and not Evidence.objects.exists()
    assert AuditEntry.objects.count() == entries
    _fmt, records = open_records(io.BytesIO(good), "ooni", "feed.jsonl")
    summary = import_records(records, user=alice)
    assert summary.ok and Incident.objects.filter(state=alice.state).count() == 3
    assert Evidence.objects.count() == 6
    bundle = tmp_path / "feed.json"
    write_bundle(bundle, indicators=1200, reports=2)
    with open(bundle, "rb") as stream:
        summary = import_records(open_records(stream, "stix")[1], user=alice)
    assert summary.indicators_created == 1200 and SharedIndicator.objects.count() == 1200
    assert audit.verify_chain() is None
    actions = list(AuditEntry.objects.order_by("seq").values_list("action", flat=True))
    assert actions[-1] == "exchange.import" and actions.count("exchange.import") == 2
    # Bob (another State) sees none of Cuba's amber reports through the import.
    assert not Incident.objects.filter(state=bob.state).exists()
    assert json.loads(json.dumps(summary.as_dict()))["reports_created"] == 2
