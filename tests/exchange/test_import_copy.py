"""The import's fast paths (issue 17) land what the old paths landed: COPY on PostgreSQL writes
the rows bulk_create writes, a failure late in a large feed leaves no row, and the STIX parser's
skipped first pass gives the records the full one gives."""

import io
import json
import uuid

import pytest
from django.db import connection

from sentinelle.exchange import importer, indicator_rows
from sentinelle.exchange.formats import stix
from sentinelle.exchange.importer import import_records
from sentinelle.exchange.models import SharedIndicator
from sentinelle.exchange.records import FormatError
from sentinelle.incidents.indicators import IndicatorError, normalise
from tests.paths import FIXTURES_DIR

FIXTURES = FIXTURES_DIR / "stix21"
GREEN = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
RED = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"
NS = uuid.UUID("0f6b1c9e-1d2b-4c3a-9e8f-7a6b5c4d3e2f")


def indicator(n: int, **extra) -> dict:
    return {"type": "indicator", "spec_version": "2.1",
            "id": f"indicator--{uuid.uuid5(NS, str(n))}",
            "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
            "name": f"C2 {n}", "pattern": f"[ipv4-addr:value = '10.0.{n // 256}.{n % 256}']",
            "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z",
            "object_marking_refs": [GREEN], **extra}


def bundle(objects: list) -> bytes:
    return json.dumps({"type": "bundle", "id": f"bundle--{uuid.uuid4()}",
                       "objects": objects}).encode()


def run(user, data: bytes, **kw):
    return import_records(stix.parse(io.BytesIO(data)), user=user, **kw)


def varied(count: int) -> list:
    """Indicators of every shape the rows carry: labels, texts, validity, TLP, several values
    in one pattern, a domain and a URL, a repeat of the same id."""
    objects = []
    for n in range(count):
        extra = {}
        if n % 3 == 0:
            extra = {"labels": ["botnet", "c2"], "description": f"line {n}\nnext",
                     "valid_until": "2027-06-01T12:30:00.250Z",
                     "modified": "2026-03-04T05:06:07.891Z"}
        if n % 5 == 0:
            extra["object_marking_refs"] = [RED]
        if n % 7 == 0:
            extra["pattern"] = (f"[domain-name:value = 'h{n}.example.org'] OR "
                                f"[url:value = 'http://h{n}.example.org/a?b=c']")
        objects.append(indicator(n, **extra))
    objects.append(indicator(1))   # the same id twice: merged, not written twice
    return objects


def rows() -> list[tuple]:
    columns = [f for f in indicator_rows.FIELDS if f != "added_at"] + ["revoked"]
    return sorted(SharedIndicator.objects.values_list(*columns))


def stored() -> list[tuple]:
    """The rows as the database holds them (SQLite compares times as the text it stores)."""
    columns = ", ".join(f for f in indicator_rows.FIELDS if f not in ("added_at", "stix_id"))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {columns}, revoked FROM "  # noqa: S608 - the test's own names
                       f"{SharedIndicator._meta.db_table} ORDER BY stix_id")
        return cursor.fetchall()


def test_copy_writes_the_rows_bulk_create_writes(alice, bob, charlie, monkeypatch):
    """COPY on PostgreSQL, the prepared executemany on SQLite (issue 20: the lock is held
    while rows are written) write what the ORM writes, to the stored text."""
    monkeypatch.setattr(importer, "INDICATOR_BATCH", 7)   # several batches
    data = bundle(varied(40))
    # An id bob's State holds already: alice's copy moves to her own namespace either way.
    run(bob, bundle([indicator(3)]))
    bob_rows = rows()
    written = {}
    for use_copy in (False, True):
        monkeypatch.setattr(indicator_rows, "USE_COPY", use_copy)
        summary = run(alice, data, default_tlp="amber")
        written[use_copy] = (summary.as_dict(), [r for r in rows() if r not in bob_rows],
                             stored())
        SharedIndicator.objects.filter(state=alice.state).delete()
    assert written[True] == written[False]
    written[True] = written[True][:2]
    summary, alice_rows = written[True]
    assert summary["indicators_created"] == len(alice_rows) == 46
    assert summary["indicators_merged"] == 1
    # Attribution and TLP as before: alice's State, the marking's TLP; bob's row untouched.
    assert {r[1] for r in alice_rows} == {alice.state_id}
    assert {r[10] for r in alice_rows} == {"green", "red"}
    assert bob_rows == [r for r in rows() if r[1] == bob.state_id]
    # Written for alice's State only: her RED indicators stay hers, her GREEN ones are shared.
    run(alice, data, default_tlp="amber")
    for outsider in (bob, charlie):
        seen = SharedIndicator.objects.for_user(outsider).filter(state=alice.state)
        assert not seen.filter(tlp="red").exists() and seen.filter(tlp="green").exists()


def test_failure_at_the_last_object_leaves_no_row(alice, monkeypatch):
    monkeypatch.setattr(importer, "INDICATOR_BATCH", 10)
    objects = [indicator(n) for n in range(99)] + [indicator(99, valid_from="yesterday")]
    summary = run(alice, bundle(objects))
    assert not summary.ok and [r.where for r in summary.rejected] == \
        ["$.objects[99].valid_from"]
    assert not SharedIndicator.objects.exists()


def test_truncated_feed_after_many_batches_leaves_no_row(alice, monkeypatch):
    monkeypatch.setattr(importer, "INDICATOR_BATCH", 10)
    data = bundle([indicator(n) for n in range(100)])
    with pytest.raises(FormatError):
        run(alice, data[:-40], on_invalid="skip")
    assert not SharedIndicator.objects.exists()


def test_skip_writes_every_valid_row(alice, bob):
    objects = [indicator(n) for n in range(30)]
    objects[17] = indicator(17, pattern=5)
    summary = run(alice, bundle(objects), on_invalid="skip")
    assert (summary.indicators_created, summary.rejected_total) == (29, 1)
    assert SharedIndicator.objects.filter(state=alice.state).count() == 29
    assert not SharedIndicator.objects.for_user(bob).filter(tlp="red").exists()


def _records(data: bytes, monkeypatch, scan: bool) -> list:
    if not scan:
        monkeypatch.setattr(stix, "_may_link", lambda stream: True)
    try:
        return list(stix.parse(io.BytesIO(data)))
    except FormatError as exc:
        return [("FormatError", str(exc))]
    finally:
        monkeypatch.undo()


def test_skipped_first_pass_gives_the_same_records(monkeypatch):
    inputs = [p.read_bytes() for p in sorted(FIXTURES.rglob("*.json"))]
    inputs += [bundle(varied(20)), bundle([indicator(1)])[:-5], b"[" + json.dumps(
        indicator(2)).encode() + b"]"]
    assert len(inputs) > 10
    for data in inputs:
        assert _records(data, monkeypatch, True) == _records(data, monkeypatch, False)


def test_an_escaped_link_type_is_still_seen(monkeypatch):
    incident = {"type": "incident", "spec_version": "2.1",
                "id": "incident--6f1b9d1e-5a4c-4d55-9a34-8c2f0f6c2b71", "name": "Hijack",
                "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z"}
    link = {"type": "relationship", "spec_version": "2.1",
            "id": "relationship--1f1b9d1e-5a4c-4d55-9a34-8c2f0f6c2b71",
            "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
            "relationship_type": "indicates", "source_ref": indicator(1)["id"],
            "target_ref": incident["id"]}
    data = bundle([indicator(1), link, incident])
    escaped = data.replace(b'"relationship"', b'"rel\\u0061tionship"') \
        .replace(b'"incident"', b'"\\u0069ncident"')
    assert b'"relationship"' not in escaped and b'"incident"' not in escaped
    records = list(stix.parse(io.BytesIO(escaped)))
    assert [type(r).__name__ for r in records] == ["ReportRecord"]
    assert records[0].indicators == [("ipv4", "10.0.0.1")]
    assert records == _records(escaped, monkeypatch, False)


def test_dotted_quads_skip_normalise_only_when_it_would_return_them():
    octets = ["0", "00", "1", "01", "9", "10", "099", "99", "100", "199", "200", "249", "250",
              "255", "256", "300", "\u0661", "-1", "+1", " 1", "1 ", "0x1", ""]
    fast = 0
    for a in octets:
        for b in ("0", "255", "01", "256"):
            for c in octets:
                for d in ("1", "25", "250", "255", "256", "1\n", "\u0662"):
                    value = f"{a}.{b}.{c}.{d}"
                    try:
                        expected = normalise("ipv4", value)
                    except IndicatorError:
                        expected = None
                    if importer._DOTTED_QUAD.fullmatch(value):
                        fast += 1
                        assert expected == value
    assert fast > 500


def test_objects_are_built_as_json_reads_them():
    for path in sorted(FIXTURES.rglob("*.json")):
        try:
            document = json.loads(path.read_bytes())
        except ValueError:
            continue
        items = document.get("objects") if isinstance(document, dict) else document
        if isinstance(items, list) and items:
            built = [obj for _where, obj in stix._objects(io.BytesIO(path.read_bytes()))]
            assert built == items, path.name


def test_depth_cap_counts_as_before():
    def nested(depth: int) -> bytes:
        inner = b'{"a": ' * (depth - 1) + b"{}" + b"}" * (depth - 1)
        return b'{"type": "bundle", "objects": [' + inner + b"]}"
    assert len(list(stix._objects(io.BytesIO(nested(64))))) == 1
    with pytest.raises(FormatError, match=r"^\$\.objects\[0\]: the JSON nests deeper"):
        list(stix._objects(io.BytesIO(nested(65))))


# --- round 2 (issue 17): pre-formatted COPY text, the one-string holder lookup, the scan ---

ODD_TEXTS = ["plain", "", "tab\there", "new\nline", "cr\rlf\r\n", "back\\slash", "\\N",
             "\\\\N", "N\\", "bell\b vt\v ff\f", "ünïcödé 中文 العربية", "'quote\" ; --", "\t",
             "\\t", "trailing\\", "x" * 300]


def odd_indicator(n: int, text: str) -> dict:
    return indicator(n, name=text, description=text + "\n" + text, labels=[text or "x", "é\\"],
                     pattern=f"[domain-name:value = 'h{n}.example.org'] AND "
                             f"[x-custom:value = '{text.replace(chr(39), '')}']")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY is PostgreSQL's")
def test_copy_text_lands_what_write_row_lands(alice, bob, monkeypatch):
    """Every escape COPY's text format has, in every text column, and time zones other than
    UTC: the pre-formatted text and psycopg's write_row store the same rows."""
    monkeypatch.setattr(importer, "INDICATOR_BATCH", 5)
    objects = [odd_indicator(n, text) for n, text in enumerate(ODD_TEXTS)]
    objects += [indicator(100, modified="2026-03-04T05:06:07.891234Z",
                          valid_until="2099-12-31T23:59:59.999999Z"),
                indicator(101, created="2026-01-01T00:00:00.001Z",
                          modified="2026-01-01T00:00:00.001Z")]
    data = bundle(objects)
    written = {}
    for formatted in (False, True):
        if not formatted:
            monkeypatch.setattr(indicator_rows, "copy_text", lambda tuples: None)
        summary = run(alice, data, default_tlp="amber")
        monkeypatch.undo()
        monkeypatch.setattr(importer, "INDICATOR_BATCH", 5)
        written[formatted] = (summary.as_dict(), rows())
        SharedIndicator.objects.filter(state=alice.state).delete()
    assert written[True] == written[False]
    assert written[True][0]["indicators_created"] == len(ODD_TEXTS) + 2
    names = {r[7] for r in written[True][1]}
    assert set(ODD_TEXTS) <= names
    assert not SharedIndicator.objects.for_user(bob).exists()


def test_copy_text_formats_as_write_row():
    """copy_text gives, byte for byte, what psycopg's text COPY formatter gives for the types
    rows carry (str, int, bool, None, aware datetimes in any offset), and gives up (None) on a
    NUL, a lone surrogate or any other type, leaving psycopg to raise its own error."""
    import datetime as dt

    from psycopg import adapt
    from psycopg._copy_base import TextFormatter

    from sentinelle.incidents.models import TLP

    zones = [dt.UTC, dt.timezone(dt.timedelta(hours=5, minutes=30)),
             dt.timezone(-dt.timedelta(hours=3, minutes=15, seconds=7))]
    tuples = [(text, n, n % 2 == 0, None, dt.datetime(2026, 1 + n % 12, 1, n % 24, 5, 6,
                                                      n * 997 % 1_000_000, zones[n % 3]),
               "json [\"" + text + "\"]") for n, text in enumerate(ODD_TEXTS * 3)]
    # Columns where some rows hold NULL, and a TLP member (a str subclass) among plain text.
    tuples += [(None, None, None, None, None, TLP.CLEAR), ("x\\", 7, False, None, None, "y")]
    formatter = TextFormatter(adapt.Transformer())
    expected = b"".join(bytes(formatter.write_row(values)) for values in tuples)
    expected += bytes(formatter.end())
    assert indicator_rows.copy_text(tuples) == expected
    for odd in ("nul\x00", "lone \udc80", 1.5, b"bytes", uuid.uuid4(), True):
        assert indicator_rows.copy_text([("ok", 1), ("ok", odd)]) is None
    assert indicator_rows.copy_text([]) == b""


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the array lookup is PostgreSQL's")
def test_holders_are_found_the_same_whatever_the_ids(alice, bob):
    run(alice, bundle([indicator(n) for n in range(5)]))
    run(bob, bundle([indicator(n) for n in range(5, 8)]))
    held = dict(SharedIndicator.objects.values_list("stix_id", "state_id"))
    ids = [*held, "indicator--unknown", indicator(9)["id"]]
    assert indicator_rows.holders(ids) == held
    # An id with a comma, or an empty one, takes the array parameter: still the same answer.
    assert indicator_rows.holders([*ids, "a,b"]) == held
    assert indicator_rows.holders([*ids, ""]) == held
    assert indicator_rows.holders([]) == {}


def test_link_scan_answers_as_its_expression(monkeypatch):
    """_may_link's byte search first, expression after, says what the expression alone says:
    on the fixtures, and with each link name or escape placed across the 1 MiB chunk edge."""
    def by_expression(stream) -> bool:
        data = stream.read()
        return bool(stix._LINK_NAMES.search(data))

    inputs = [p.read_bytes() for p in sorted(FIXTURES.rglob("*.json"))]
    for needle in (b'"incident"', b'"note"', b'"marking-definition"', b"\\u0069",
                   b"\\u00e9", b'"report"', b"\\u00"):
        for shift in (0, 1, 5, len(needle) - 1):
            pad = b" " * (stix._SCAN_CHUNK - shift)
            inputs.append(pad + needle + b" ")
    assert len(inputs) > 30
    for data in inputs:
        assert stix._may_link(io.BytesIO(data)) == by_expression(io.BytesIO(data))


def test_one_marking_gives_the_tlp_many_give():
    links = stix._Links(markings={"marking-definition--custom": "amber"})
    refs = [GREEN, RED, "marking-definition--custom", "marking-definition--unknown",
            "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9", "", 5, None]
    for ref in refs:
        one, padded = {"object_marking_refs": [ref]}, {"object_marking_refs": [ref, "x"]}
        assert links.tlp(one) == links.tlp(padded)
    assert links.tlp({"object_marking_refs": [RED]}) == "red"
    assert links.tlp({"object_marking_refs": ["marking-definition--custom"]}) == "amber"
    assert links.tlp({"object_marking_refs": GREEN}) == "green"
    assert links.tlp({}) is None


def test_plain_pattern_fast_path_reads_as_the_general_one():
    """pattern_indicators' short cut for "[type:value = 'x']" gives what the general reading
    gives, on the common forms with odd values and on near misses of that form."""
    from sentinelle.exchange.formats import stix_common

    values = ["10.0.0.1", "10.0.0.1/32", "10.0.0.0/8", "2001:db8::1", "2001:db8::/128",
              "example.org", "http://a.example/b?c=d&e=[f]", "", " ", "a:b=5", "x = 'y",
              "]", "[", "a'b", "a\\'b", "a\\\\b", "ünï 中", "x:value = '1'", "\n", "AS1"]
    kinds = ["ipv4-addr", "ipv6-addr", "domain-name", "url", "email-addr", "file",
             "autonomous-system", "network-traffic", "x-custom", "Ipv4-addr", "ipv4_addr", ""]
    patterns = []
    for kind in kinds:
        for value in values:
            patterns += [f"[{kind}:value = '{value}']", f"[{kind}:value='{value}']",
                         f"[{kind}:value = '{value}'] OR [{kind}:value = 'z']",
                         f" [{kind}:value = '{value}']", f"[{kind}:value = '{value}'] ",
                         f"[{kind}:number = '{value}']", f"[{kind}:value = {value}]",
                         f"[{kind}:value = '{value}']\n", f"x[{kind}:value = '{value}']"]
    patterns += ["[autonomous-system:number = 64500]", "[file:hashes.'SHA-256' = 'AB']"]
    fast = 0
    for pattern in patterns:
        expected = stix_common._pattern_indicators(pattern)
        assert stix_common.pattern_indicators(pattern) == expected, pattern
        fast += stix_common._PLAIN_VALUE.fullmatch(pattern) is not None
    assert fast > 100


@pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY is PostgreSQL's")
def test_a_copy_left_open_reports_its_error_and_leaves_nothing(alice, monkeypatch):
    """A batch's COPY stays open while the next batch is read (indicator_rows.streaming): a
    failure of that COPY (here a duplicate id the lookup was made to miss) still fails the
    import, and nothing of it stays, the rows held before untouched."""
    import psycopg

    run(alice, bundle([indicator(5, name="kept")]))
    before = rows()
    monkeypatch.setattr(importer, "INDICATOR_BATCH", 4)
    monkeypatch.setattr(indicator_rows, "holders", lambda ids: {})
    with pytest.raises(psycopg.errors.UniqueViolation):
        run(alice, bundle([indicator(n) for n in range(10)]))
    assert rows() == before
    # The same when the failing batch is the last one: its COPY is ended on the way out.
    with pytest.raises(psycopg.errors.UniqueViolation):
        run(alice, bundle([indicator(n) for n in (0, 1, 2, 3, 5)]))
    assert rows() == before and SharedIndicator.objects.get().name == "kept"
