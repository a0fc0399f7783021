"""Issue 17 attack (E5): the COPY import path against hostile text, and the STIX fast check
against the schema engine on hostile indicators.

COPY (PostgreSQL) must write what bulk_create writes, for every character COPY's text format
treats specially (tab, newline, carriage return, backslash, ``\\.``), NUL, huge and non-BMP
text, and a refused value must leave no row on either path."""

from __future__ import annotations

import copy
import uuid

import pytest
from django.db import connection

from sentinelle.exchange import importer, indicator_rows
from sentinelle.exchange.formats import stix_common
from sentinelle.exchange.formats.stix_fastcheck import indicator_valid
from sentinelle.exchange.models import SharedIndicator
from tests.exchange.test_import_copy import bundle, indicator, run

HOSTILE = [
    "tab\there", "new\nline", "cr\rhere", "crlf\r\n", "back\\slash", "\\.", "end\\.\n",
    "\\N", "\\\\N", "trailing\\", "\u202eevil\u202c", "\u200f\u05e9\u05dc\u05d5\u05dd",
    "\U0001F4A9 pile", "\U00010348 gothic", "<script>alert(1)</script>&amp;", "=cmd|' /C calc'!A0",
    "+1+1", "@SUM(1)", "-2+3", "x" * 70_000, "\u2028\u2029", "\ufeffbom", "\udcff"[:0] + "ok",
]


def rows() -> list[tuple]:
    columns = [f for f in indicator_rows.FIELDS if f != "added_at"] + ["revoked"]
    return sorted(SharedIndicator.objects.values_list(*columns), key=repr)


def hostile_objects() -> list[dict]:
    objects = []
    for n, text in enumerate(HOSTILE):
        objects.append(indicator(n, name=text[:300], description=text, labels=[text, "c2"]))
    # A pattern whose value holds a backslash escape and a quote.
    objects.append(indicator(len(HOSTILE), pattern="[url:value = 'http://h.example/a\\\\b\\'c']"))
    return objects


def _both_paths(user, data: bytes, monkeypatch) -> dict:
    written = {}
    for use_copy in (False, True):
        monkeypatch.setattr(indicator_rows, "USE_COPY", use_copy)
        try:
            summary = run(user, data, on_invalid="skip").as_dict()
        except Exception as exc:  # noqa: BLE001 - the same failure is what must match
            summary = ("raised", type(exc).__name__)
        written[use_copy] = (summary, rows())
        SharedIndicator.objects.all().delete()
    return written


@pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY is PostgreSQL's")
def test_copy_equals_bulk_create_on_hostile_text(alice, monkeypatch):
    monkeypatch.setattr(importer, "INDICATOR_BATCH", 5)
    written = _both_paths(alice, bundle(hostile_objects()), monkeypatch)
    assert written[True] == written[False]
    summary, landed = written[True]
    assert summary["indicators_created"] == len(HOSTILE) + 1
    names = {r[7] for r in landed}
    descriptions = {r[8] for r in landed}
    for text in HOSTILE:
        assert text in descriptions and text[:300] in names


def test_hostile_text_lands_unchanged(alice):
    summary = run(alice, bundle(hostile_objects()), on_invalid="skip")
    assert summary.indicators_created == len(HOSTILE) + 1
    got = {r.description: (r.name, r.labels) for r in SharedIndicator.objects.all()}
    for text in HOSTILE:
        assert got[text] == (text[:300], [text, "c2"])


@pytest.mark.parametrize("field", ["name", "description", "label", "pattern"])
def test_nul_is_a_rejection_not_a_server_error(alice, monkeypatch, field):
    """NUL cannot be stored in PostgreSQL text: bulk_create raised DataError and COPY raised
    UntranslatableCharacter (for labels), a server error for the whole feed. Both paths now
    refuse the one object, by name, and write the rest (skip) or nothing (all or nothing)."""
    objects = [indicator(n) for n in range(12)]
    value = "bad\x00value"
    if field == "label":
        objects[11] = indicator(11, labels=[value])
    elif field == "pattern":
        objects[11] = indicator(11, pattern="[url:value = 'http://h.example/\x00']")
    else:
        objects[11] = indicator(11, **{field: value})
    monkeypatch.setattr(importer, "INDICATOR_BATCH", 5)
    written = _both_paths(alice, bundle(objects), monkeypatch)
    assert written[True] == written[False]
    summary, landed = written[True]
    assert isinstance(summary, dict), summary
    assert summary["indicators_created"] == len(landed) == 11
    assert [r["where"] for r in summary["rejected"]] == ["$.objects[11]"] or \
        summary["rejected"][0]["where"].startswith("$.objects[11]")
    assert not any("\x00" in repr(r) for r in landed)
    monkeypatch.setattr(indicator_rows, "USE_COPY", True)
    strict = run(alice, bundle(objects))
    assert not strict.ok and not SharedIndicator.objects.exists()


# --- the fast check never accepts what the schema refuses ------------------------------------

def _schema_accepts(obj) -> bool:
    validator = stix_common._validator("indicator")
    return not any(True for _e in validator.iter_errors(obj))


def _variants():
    base = indicator(1)
    out = []

    def v(**changes):
        obj = copy.deepcopy(base)
        for key, value in changes.items():
            if value is KeyError:
                obj.pop(key, None)
            else:
                obj[key] = value
        out.append(obj)

    for ts in ["2026-02-30T00:00:00Z", "2026-12-31T23:59:60Z", "2026-01-01T00:00:00z",
               "2026-01-01t00:00:00Z", "2026-01-01T00:00:00Z\n", "2026-01-01T00:00:00+00:00",
               "2026-01-01T00:00:00.Z", "\u0662026-01-01T00:00:00Z", "2026-01-01 00:00:00Z",
               "2026-13-01T00:00:00Z", "2026-01-01T24:00:00Z", "+2026-01-01T00:00:00Z", ""]:
        v(valid_from=ts)
        v(valid_until=ts)
        v(created=ts.replace("Z", ".000Z", 1) if "Z" in ts else ts)
        v(modified=ts)
    for ident in ["indicator--" + str(uuid.uuid4()).upper(), "Indicator--" + str(uuid.uuid4()),
                  "indicator--" + str(uuid.uuid4()) + "\n", "indicator--00000000-0000-0000-0000"
                  "-000000000000", "malware--" + str(uuid.uuid4()),
                  "indicator-" + str(uuid.uuid4()),
                  "indicator--" + str(uuid.uuid4()).replace("-", ""), ""]:
        v(id=ident)
    for spec in ["2.0", "2.1", "2.2", 2.1, "2.1 ", None]:
        v(spec_version=spec)
    for conf in [0, 100, 101, -1, 50.0, True, "50", None]:
        v(confidence=conf)
    for key in ["x_custom", "X_custom", "x-custom", "ab", "abc", "id", "a_bin", "a_hex", "é_x",
                "abc\n", "severity", "action", "username", "phone_numbers", "kill_chain_phases",
                "x_" + "a" * 260, "toplevel_ref"]:
        for value in ["v", [], ["x"], {}, 1, 1.5, True, None, "zz"]:
            v(**{key: value})
    for key in ["type", "spec_version", "id", "created", "modified", "pattern", "pattern_type",
                "valid_from"]:
        v(**{key: KeyError})
    for value in [[], [""], ["a", 1], "a", None]:
        v(labels=value)
        v(indicator_types=value)
        v(object_marking_refs=value)
    for value in [1, None, ["x"], ""]:
        v(pattern=value)
        v(name=value)
        v(pattern_type=value)
        v(lang=value)
    v(type="Indicator")
    v(revoked="false")
    v(revoked=0)
    v(created_by_ref="identity--" + str(uuid.uuid4()).upper())
    v(created_by_ref="identity--x")
    return out


def test_fast_check_never_accepts_what_the_schema_refuses():
    variants = _variants()
    assert len(variants) > 200
    wrong = [obj for obj in variants if indicator_valid(obj) and not _schema_accepts(obj)]
    assert wrong == []
    # And whatever the fast check says, schema_error's verdict is the schema engine's.
    for obj in variants:
        if obj.get("type") != "indicator":   # another type: its own (or no) schema decides
            continue
        assert (stix_common.schema_error(obj) is None) == _schema_accepts(obj), obj


@pytest.mark.parametrize("field", ["name", "description"])
def test_a_report_holding_nul_is_a_rejection_not_a_server_error(alice, field):
    """The same for a report: PostgreSQL raised DataError for the whole feed (SQLite stored
    the NUL). Now the report is refused by name and, skipping, the rest is written."""
    from sentinelle.incidents.models import Incident

    incident = {"type": "incident", "spec_version": "2.1",
                "id": "incident--6f1b9d1e-5a4c-4d55-9a34-8c2f0f6c2b71", "name": "Hijack",
                "description": "text", "created": "2026-01-01T00:00:00.000Z",
                "modified": "2026-01-01T00:00:00.000Z"}
    incident[field] = "bad \x00 text"
    summary = run(alice, bundle([incident, indicator(3)]), on_invalid="skip")
    assert summary.reports_created == 0 and summary.indicators_created == 1
    assert [r.where for r in summary.rejected] == ["$.objects[0]"]
    assert "Null characters" in summary.rejected[0].reason
    assert not Incident.objects.exists()
    SharedIndicator.objects.all().delete()
    strict = run(alice, bundle([incident, indicator(3)]))
    assert not strict.ok
    assert not Incident.objects.exists() and not SharedIndicator.objects.exists()
