"""IP enrichment from MMDB files: MaxMind's test databases and one built here with mmdb-writer."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from sentinelle.analysis.enrichment import Enricher, EnrichmentError
from sentinelle.analysis.models import IpEnrichment
from tests.conftest import SHARED, file_report
from tests.paths import FIXTURES_DIR

FIXTURES = FIXTURES_DIR / "maxmind"


@pytest.fixture
def maxmind_dir(tmp_path) -> Path:
    """The shared test databases when /work/shared is there, else the copies in fixtures."""
    shared = SHARED / "data" / "probe" / "maxmind-test-mmdb"
    source = shared if (shared / "GeoLite2-ASN-Test.mmdb").exists() else FIXTURES
    if not (source / "GeoLite2-ASN-Test.mmdb").exists():
        pytest.skip("MaxMind test databases not available")
    return source


@pytest.fixture
def built_db(tmp_path) -> Path:
    """A tiny ASN + country database, as an administrator's own (e.g. an RIR-derived) file."""
    mmdb_writer = pytest.importorskip("mmdb_writer")
    from netaddr import IPSet

    writer = mmdb_writer.MMDBWriter(ip_version=6, ipv4_compatible=True,
                                    database_type="Sentinelle-Test", description="test")
    writer.insert_network(IPSet(["203.0.113.0/24"]), {
        "autonomous_system_number": 64500, "autonomous_system_organization": "Example Net",
        "country": {"iso_code": "ch"}})
    writer.insert_network(IPSet(["2001:db8::/32"]), {
        "autonomous_system_number": 64501, "autonomous_system_organization": "Doc Six"})
    path = tmp_path / "built.mmdb"
    writer.to_db_file(str(path))
    return path


def test_maxmind_test_databases(maxmind_dir):
    with Enricher(maxmind_dir / "GeoLite2-ASN-Test.mmdb",
                  maxmind_dir / "GeoLite2-Country-Test.mmdb") as enricher:
        facts = enricher.lookup("1.128.0.1")
        assert (facts.asn, facts.as_organisation) == (1221, "Telstra Pty Ltd")
        assert facts.network == "1.128.0.0/11"
        assert enricher.lookup("81.2.69.142").country == "GB"
        assert facts.asn_db_built is not None and facts.asn_db_built.year >= 2015
        assert not enricher.lookup("192.0.2.1").found
        with pytest.raises(ValueError):
            enricher.lookup("not-an-ip")


def test_built_database_and_ipv6(built_db):
    with Enricher(built_db, built_db) as enricher:
        facts = enricher.lookup("203.0.113.7")
        assert (facts.asn, facts.country, facts.network) == (64500, "CH", "203.0.113.0/24")
        assert enricher.lookup("2001:db8::1").asn == 64501
        assert abs(facts.asn_db_built - dt.datetime.now(dt.UTC)) < dt.timedelta(hours=1)


def test_bad_configuration(tmp_path):
    with pytest.raises(EnrichmentError):
        Enricher()
    bad = tmp_path / "bad.mmdb"
    bad.write_bytes(b"not a database")
    with pytest.raises(EnrichmentError):
        Enricher(bad)


def test_enrich_command_stores_build_date(settings, built_db, alice, bob, charlie, tmp_path):
    settings.GEOIP_ASN_DB = str(built_db)
    settings.GEOIP_COUNTRY_DB = ""
    file_report(alice, tlp="red")  # 203.0.113.7: enrichment covers every report, any TLP
    file_report(bob, indicators=[{"type": "ipv6", "value": "2001:db8::5"}])
    out = io.StringIO()
    call_command("enrich", stdout=out)
    assert "2 found" in out.getvalue()
    row = IpEnrichment.objects.get(ip="203.0.113.7")
    assert (row.asn, row.as_organisation, row.country) == (64500, "Example Net", "")
    assert row.asn_db_built is not None and row.country_db_built is None
    call_command("enrich", "--since", "2999-01-01", stdout=out)
    assert "enriched 0 addresses" in out.getvalue()


def test_enrich_command_errors(settings, db, tmp_path):
    settings.GEOIP_ASN_DB = settings.GEOIP_COUNTRY_DB = ""
    with pytest.raises(CommandError, match="no MMDB database"):
        call_command("enrich")
    settings.GEOIP_ASN_DB = str(tmp_path / "missing.mmdb")
    with pytest.raises(CommandError, match="cannot read"):
        call_command("enrich")
    with pytest.raises(CommandError, match="--since"):
        call_command("enrich", "--since", "yesterday")


def test_fixture_copies_carry_their_licence():
    assert (FIXTURES / "LICENSE-MIT").exists() and (FIXTURES / "SOURCES.txt").exists()
