"""`sentinelle seed-observatory`: demo bundles, signed and submitted, that give the observatory,
the access-denial index and the Council report figures; a second run adds nothing."""

from __future__ import annotations

import datetime as dt
import hashlib
import io

from django.core.management import call_command

from sentinelle.core.models import Role
from sentinelle.evidence import bundle as evidence_bundle
from sentinelle.evidence import keys
from sentinelle.incidents.models import Evidence, Incident, Status
from sentinelle.observatory.access_index import IndexFilter, compute_index, routing_alert_counts
from sentinelle.observatory.models import AccessObservation, BundleSubmission, RoutingAlertRecord
from sentinelle.reports import content
from sentinelle.reports.options import ReportOptions
from tests.conftest import PASSWORD, make_user


def _counts() -> tuple[int, ...]:
    return (Incident.objects.count(), Evidence.objects.count(), BundleSubmission.objects.count(),
            AccessObservation.objects.count(), RoutingAlertRecord.objects.count())


def test_seed_observatory_submits_verifiable_bundles_once(db, settings, tmp_path, client):
    settings.DATA_DIR = tmp_path / "data"
    out = io.StringIO()
    call_command("seed_observatory", stdout=out)
    first = _counts()
    assert "bundles submitted" in out.getvalue()

    # Three monthly probe runs for CU, IR and SY, and one routing scan for CU; all submitted.
    submissions = BundleSubmission.objects.select_related("incident", "state")
    assert sorted((s.state.alpha2, s.kind) for s in submissions) == sorted(
        [(cc, "access-probe") for cc in ("CU", "IR", "SY") for _n in range(3)]
        + [("CU", "routing-scan")])
    assert {s.incident.status for s in submissions} == {Status.SUBMITTED}
    assert {s.incident.category.code for s in submissions if s.kind == "access-probe"} == {
        "access-denial"}

    # The stored bundles verify with the demo key under SENTINELLE_DATA_DIR.
    public = keys.load_public(settings.DATA_DIR / "demo-observatory" / "demo-probe.key.pub")
    for evidence in Evidence.objects.all():
        path = settings.DATA_DIR / "demo-observatory" / evidence.filename
        assert evidence.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
        assert evidence_bundle.verify(path, public).ok, evidence.filename

    # The index has figures: Docker Hub denied to Cuba, Wikipedia reachable.
    index = compute_index(IndexFilter(), None, group_by=("state", "service"))
    rows = {(r["state"], r["service"]): r for r in index.rows}
    docker = rows[("CU", "hub.docker.com")]
    assert docker["conclusive"] >= 3 and docker["index"] == 1.0
    assert rows[("CU", "www.wikipedia.org")]["index"] == 0.0
    assert rows[("IR", "www.nvidia.com")]["denied"] >= 3
    assert set(AccessObservation.objects.filter(verdict="geoblocked").values_list(
        "provider", flat=True)) == {"Docker", "Cloudflare", "Google", "Amazon CloudFront"}
    assert AccessObservation.objects.filter(verdict="inconclusive").exists()
    alerts = routing_alert_counts(IndexFilter(), None, ("state", "type"))
    assert [(r["state"], r["type"]) for r in alerts] == [("CU", "E|0"), ("CU", "S|0")]
    assert set(RoutingAlertRecord.objects.values_list("offending_asn", flat=True)) == {64500}
    assert RoutingAlertRecord.objects.get(type="E|0").peers == 3

    # Section 8 of the Council report gives the figures for the year measured.
    measured_year = AccessObservation.objects.order_by("-measured_at").first().measured_at.year
    document = content.build(ReportOptions(year=measured_year, lang="en", fmt="html",
                                           date=dt.date(measured_year + 1, 3, 1)))
    tables = {t.key: t for t in document.tables()}
    by_service = {row[0]: [c if isinstance(c, str) else c.text for c in row]
                  for row in tables["access_index_by_service"].rows}
    assert by_service["hub.docker.com"][1] == "3"   # measured from CU, IR and SY
    # Syria did not consent: the pooled figure minus Cuba's and Iran's named rows would be
    # Syria's, so it is hidden; a service only consenting States measured is shown.
    assert by_service["hub.docker.com"][2] == "n.p."
    assert by_service["gitlab.com"][2] == "100%"
    assert [row[0] for row in tables["routing_alerts"].rows] == ["E|0", "S|0"]

    # The demo focal points can sign in and see their State's submissions.
    assert client.login(username="fp-sy", password="sentinelle-demo")
    assert client.get("/observatory/").status_code == 200

    # A second run adds nothing.
    again = io.StringIO()
    call_command("seed_observatory", stdout=again)
    assert _counts() == first
    assert "0 bundles submitted, 10 already there" in again.getvalue()


def test_seed_observatory_uses_existing_demo_focal_points(db, settings, tmp_path):
    settings.DATA_DIR = tmp_path / "data"
    fp_cu = make_user("fp-cu", Role.FOCAL_POINT, "CU")
    call_command("seed_observatory", stdout=io.StringIO())
    assert BundleSubmission.objects.filter(state__alpha2="CU").first().submitted_by == fp_cu
    fp_cu.refresh_from_db()
    assert fp_cu.check_password(PASSWORD)   # an existing account is left as it was

