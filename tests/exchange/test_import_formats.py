"""Every shipped positive example goes through the whole import (parse, validate, write), and
what Sentinelle exports comes back the same."""

import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command

from sentinelle.exchange.exporting import export
from sentinelle.exchange.importer import import_records
from sentinelle.exchange.reading import open_records
from sentinelle.incidents.models import Evidence, Incident
from tests.conftest import SHARED, file_report
from tests.format_helpers import OONI_MEASUREMENT
from tests.paths import FIXTURES_DIR

FIXTURES = FIXTURES_DIR

EXAMPLES = [
    ("misp", FIXTURES / "misp" / "misp_event.json"),
    ("misp", FIXTURES / "misp" / "existing_event.json"),
    ("iodef", FIXTURES / "iodef" / "incidents.xml"),
    ("veris", FIXTURES / "veris" / "incidents.json"),
    ("xarf", FIXTURES / "xarf" / "messaging-spam.json"),
    ("xarf", FIXTURES / "xarf" / "connection-ddos.json"),
    ("xarf", FIXTURES / "xarf" / "connection-login-attack.json"),
    ("xarf", FIXTURES / "xarf" / "abusix-v3-spam_sample.json"),
    ("arf", FIXTURES / "arf" / "001.eml"),
    ("arf", FIXTURES / "arf" / "002.eml"),
    ("arf", FIXTURES / "arf" / "003.eml"),
    ("ooni", OONI_MEASUREMENT),
]


def run_import(user, path: Path, fmt: str = "auto"):
    with open(path, "rb") as stream:
        detected, records = open_records(stream, fmt, path.name)
        return detected, import_records(records, user=user, default_tlp="green")


@pytest.mark.parametrize("fmt, path", EXAMPLES, ids=[p.name for _f, p in EXAMPLES])
def test_official_example_imports(alice, fmt, path):
    detected, summary = run_import(alice, path)
    assert detected == fmt
    assert summary.ok, summary.rejected
    assert summary.reports_created + summary.indicators_created > 0
    # Importing the same file again merges: nothing new.
    _again, again = run_import(alice, path)
    assert again.reports_created == 0 and again.indicators_created == 0


def test_ooni_measurements_become_evidence_on_an_access_denial_report(alice):
    run_import(alice, OONI_MEASUREMENT)
    incident = Incident.objects.get()
    assert incident.category.code == "access-denial"
    assert Evidence.objects.filter(incident=incident).exists()


def test_arf_keeps_the_original_message_as_evidence(alice):
    run_import(alice, FIXTURES / "arf" / "001.eml")
    incident = Incident.objects.get()
    assert incident.rsit == "abusive-content:spam"
    assert Evidence.objects.get(incident=incident).filename.endswith(".eml")


@pytest.mark.parametrize("fmt", ["misp", "csv", "xlsx"])
def test_export_then_import_gives_the_same_content(alice, bob, fmt):
    original = file_report(alice, tlp="green", title="Route leak",
                           indicators=[{"type": "prefix", "value": "190.6.64.0/19"},
                                       {"type": "asn", "value": "AS27725"}])
    stream = io.BytesIO()
    export(fmt, alice, stream)
    Incident.objects.filter(pk=original.pk).update(stix_id="incident--moved-away")
    stream.seek(0)
    _fmt, records = open_records(stream, fmt, f"export.{fmt}")
    summary = import_records(records, user=alice)
    assert summary.ok, summary.rejected
    copy = Incident.objects.exclude(pk=original.pk).get()
    for field in ("title", "tlp", "started_at", "ended_at", "users_affected", "description"):
        assert getattr(copy, field) == getattr(original, field), field
    assert copy.category == original.category and copy.rsit_type == original.rsit_type
    assert sorted(copy.versions.get().content["indicators"], key=json.dumps) == sorted(
        original.versions.get().content["indicators"], key=json.dumps)


@pytest.mark.parametrize("fmt", ["stix", "misp", "csv", "xlsx"])
def test_exports_never_carry_another_states_amber_report(alice, bob, fmt):
    file_report(alice, tlp="amber", title="Secret cable tap")
    file_report(alice, tlp="green", title="Public route leak")
    stream = io.BytesIO()
    export(fmt, bob, stream)
    if fmt == "xlsx":
        from openpyxl import load_workbook

        stream.seek(0)
        text = " ".join(str(c.value) for sheet in load_workbook(stream).worksheets
                        for row in sheet.iter_rows() for c in row)
    else:
        text = stream.getvalue().decode()
    assert "Public route leak" in text and "Secret cable tap" not in text


def test_the_command_names_the_format_a_wrong_file_looks_like(alice, tmp_path, capsys):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="looks like"):
        call_command("import", str(FIXTURES / "misp" / "misp_event.json"), "--format",
                     "iodef", "--state", "CU")


@pytest.mark.skipif(not (SHARED / "data" / "formats").is_dir(),
                    reason="../shared/data/formats is absent (a user's clone has no shared/)")
def test_every_shared_misp_test_event_imports(alice):
    events = sorted((SHARED / "data" / "formats" / "misp").rglob("*.json"))
    imported = 0
    for path in events:
        with open(path, "rb") as stream:
            head = stream.read(4096)
        if b'"Event"' not in head and b'"info"' not in head:
            continue
        _fmt, summary = run_import(alice, path, "misp")
        assert summary.ok, (path.name, summary.rejected[:3])
        imported += 1
    assert imported > 0


@pytest.mark.skipif(not (SHARED / "data" / "probe").is_dir(),
                    reason="../shared/data/probe is absent (a user's clone has no shared/)")
def test_ooni_specification_examples_are_read(alice):
    folder = SHARED / "data" / "probe" / "ooni-spec-examples"
    # Whole measurements; example2 of df-000 is an annotations fragment, not a measurement.
    examples = [folder / "ts-017-web-connectivity.measurement.json",
                folder / "df-000-base.example1.json", folder / "df-000-base.example3.json"]
    for path in examples:
        _fmt, summary = run_import(alice, path, "ooni")
        assert summary.ok, (path.name, summary.rejected)
    assert Incident.objects.filter(category__code="access-denial").count() >= len(examples)
