"""The observatory end to end, with the real tools and the real platform in one run.

(a) A real probe run on the loopback farm (tests/probe_farm.py), signed bundle and all, is
    submitted through the `sentinelle` command (`probe submit BUNDLE --user alice`): a draft
    access-denial report of Cuba with the bundle as evidence, one observation per JSONL line
    with the same verdict, Cloudflare named; once the report is submitted the access-denial
    index shows the geoblocked host for Cuba, and Switzerland's focal point sees none of it.
(b) The probe's JSONL and the OONI specification examples go through `sentinelle import
    --format ooni`.
(c) A routing scan of a real RIS update file (RIPE RIS rrc03, 2010) with a watch list that gives
    one of its prefixes to Cuba is submitted through `sentinelle routing submit`: a draft
    routing-disruption report with the E|0 and S|0 alerts as rows and the MRT records kept.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from unittest import mock

import pytest
from django.core.management import call_command
from django.db import connections

from sentinelle import cli as sentinelle_cli
from sentinelle.evidence import bundle as evidence_bundle
from sentinelle.evidence import keys
from sentinelle.incidents import services as incident_services
from sentinelle.incidents.models import Evidence, Incident, Status
from sentinelle.observatory.access_index import IndexFilter, compute_index
from sentinelle.observatory.models import AccessObservation, BundleSubmission, RoutingAlertRecord
from tests.conftest import PASSWORD, page

FIXTURES = Path(__file__).parent / "fixtures"
OONI_EXAMPLES = FIXTURES / "probe" / "ooni-spec-examples"
RIS_UPDATES = FIXTURES / "bgp" / "mrt" / "bgpkit-parser" / \
    "updates.20100227.1600.first-796-records.gz"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _sentinelle(*argv: str) -> None:
    """`sentinelle ARGV...` in this process (so it writes to the test database).

    A management command run from the command line closes every database connection when it
    ends (``BaseCommand.run_from_argv``); on PostgreSQL that would close the connection holding
    the test's transaction, so closing is held off for the call."""
    with mock.patch.object(connections, "close_all"):
        sentinelle_cli.main(["sentinelle", *argv])


# --- (a) a real probe run, submitted ---------------------------------------------------------

@pytest.fixture(scope="module")
def probe_run(tmp_path_factory):
    """Every farm scenario measured from 'Cuba' with the control in 'Switzerland', bundled and
    signed exactly as a CIRT would (`sentinelle probe run ... --bundle --sign-key`)."""
    for module in ("dnslib", "trustme", "mmdb_writer", "maxminddb"):
        pytest.importorskip(module)
    from tests import probe_farm
    from tests.test_probe_run import probe_args, write_list

    work = tmp_path_factory.mktemp("e2e-probe")
    farm_gen = probe_farm.running_farm(work / "farm")
    farm = next(farm_gen)
    control_gen = probe_farm.running_control(farm)
    control = next(control_gen)
    try:
        private, public = keys.generate(work / "probe.key")
        listing = write_list(work / "farm.csv", farm)
        output, bundle = work / "out.jsonl", work / "evidence.zip"
        try:
            _sentinelle("probe", *probe_args(farm, control.url, listing, output,
                                             "--sign-key", str(private),
                                             "--bundle", str(bundle)))
        except SystemExit as exit_:
            assert exit_.code in (0, None), f"probe run exited {exit_.code}"
        cloudflare_url = farm.url("cloudflare-1009-https")
    finally:
        for gen in (control_gen, farm_gen):
            gen.close()
    return {"output": output, "bundle": bundle, "public": public,
            "cloudflare_url": cloudflare_url,
            "cloudflare_host": cloudflare_url.split("//")[1].split(":")[0]}


def test_a_real_probe_run_becomes_a_draft_report_then_counts_in_the_index(
        probe_run, alice, bob, client, capsys):
    bundle, output = probe_run["bundle"], probe_run["output"]
    assert evidence_bundle.verify(bundle, keys.load_public(probe_run["public"])).ok
    lines = _lines(output)
    geoblocked_host = probe_run["cloudflare_host"]

    _sentinelle("probe", "submit", str(bundle), "--user", alice.username,
                "--key", str(probe_run["public"]))
    printed = capsys.readouterr().out
    incident = Incident.objects.get()
    assert incident.reference in printed and "Draft report" in printed
    assert incident.status == Status.DRAFT and incident.state.alpha2 == "CU"
    assert incident.category.code == "access-denial"
    assert geoblocked_host in incident.affected_services
    assert "Cloudflare" in incident.description

    # The bundle is the evidence, byte for byte.
    evidence = Evidence.objects.get(incident=incident)
    assert evidence.sha256 == _sha256(bundle) == BundleSubmission.objects.get().sha256
    with evidence.file.open("rb") as stored:
        assert stored.read() == bundle.read_bytes()

    # One observation per JSONL line, the same verdict, the provider named.
    observed = {o.url: o for o in AccessObservation.objects.filter(incident=incident)}
    assert {u: o.verdict for u, o in observed.items()} == \
        {line["input"]: line["verdict"] for line in lines}
    cloudflare = observed[probe_run["cloudflare_url"]]
    assert (cloudflare.verdict, cloudflare.provider, cloudflare.service) == (
        "geoblocked", "Cloudflare", geoblocked_host)
    assert (cloudflare.vantage_cc, cloudflare.vantage_asn, cloudflare.control_cc) == (
        "CU", 27725, "CH")

    # A draft counts nowhere; once submitted, the index shows the geoblocked host for Cuba.
    assert compute_index(IndexFilter(), alice).rows == []
    incident_services.change_status(incident, alice, Status.SUBMITTED)
    index = compute_index(IndexFilter(), alice, group_by=("state", "service"))
    row = next(r for r in index.rows if r["service"] == geoblocked_host)
    assert row["state"] == "CU" and row["denied"] == row["conclusive"] == 1
    assert row["index"] == 1.0
    public = compute_index(IndexFilter(), None, group_by=("service",), threshold=0)
    assert any(r["service"] == geoblocked_host and r["denied"] == 1 for r in public.rows)

    # Switzerland's focal point: 404 on Cuba's submission and report, nothing in his index.
    submission = BundleSubmission.objects.get()
    assert client.login(username=bob.username, password=PASSWORD)
    for url in (f"/observatory/submissions/{submission.pk}/",
                f"/observatory/submissions/{submission.pk}/observations.csv",
                incident.get_absolute_url()):
        assert client.get(url).status_code == 404, url
    for group_by in (("state", "service", "month"), ("service",), ("state",)):
        view = compute_index(IndexFilter(), bob, group_by=group_by)
        assert view.rows == [], (group_by, view.rows)
    for url in ("/observatory/", "/observatory/index/", "/observatory/index.csv"):
        response = client.get(url)
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert geoblocked_host.encode() not in body and incident.reference.encode() not in body


def test_the_draft_made_through_the_command_is_refused_to_bob_before_submission(
        probe_run, alice, bob, client):
    call_command("submit_bundle", str(probe_run["bundle"]), "--user", alice.username,
                 "--expect", "probe", stdout=io.StringIO())
    incident = Incident.objects.get()
    assert client.login(username=bob.username, password=PASSWORD)
    assert client.get(incident.get_absolute_url()).status_code == 404
    assert client.get(
        f"/observatory/submissions/{BundleSubmission.objects.get().pk}/").status_code == 404
    assert client.login(username=alice.username, password=PASSWORD)
    text = page(client.get(incident.get_absolute_url()))
    assert "evidence.zip" in text and _sha256(probe_run["bundle"]) in text


# --- (b) the OONI importer reads our JSONL and OONI's examples ------------------------------

def test_the_probe_jsonl_imports_with_the_ooni_format(probe_run, alice):
    out = io.StringIO()
    call_command("import", str(probe_run["output"]), "--format", "ooni", "--user",
                 alice.username, stdout=out)
    n = len(_lines(probe_run["output"]))
    assert f"reports: {n} created" in out.getvalue(), out.getvalue()
    reports = Incident.objects.filter(state__alpha2="CU", category__code="access-denial")
    assert reports.exists()
    assert all(r.status == Status.SUBMITTED for r in reports)
    text = " ".join(r.title + " " + r.description for r in reports)
    assert probe_run["cloudflare_host"] in text
    # Importing again adds nothing.
    before = Incident.objects.count()
    call_command("import", str(probe_run["output"]), "--format", "ooni", "--user",
                 alice.username, stdout=io.StringIO())
    assert Incident.objects.count() == before


OONI_MEASUREMENTS = ["ts-017-web-connectivity.measurement.json", "df-000-base.example1.json",
                     "df-000-base.example3.json"]


@pytest.mark.parametrize("name", OONI_MEASUREMENTS)
def test_the_ooni_specification_examples_import_through_the_command(name, alice):
    out = io.StringIO()
    call_command("import", str(OONI_EXAMPLES / name), "--format", "ooni", "--user",
                 alice.username, stdout=out)
    assert "reports: 1 created" in out.getvalue(), out.getvalue()
    assert Incident.objects.get().category.code == "access-denial"


# --- (c) a routing scan of real RIS data, submitted ------------------------------------------

# RIPE RIS rrc03 saw 94.101.128.0/21 and eight /24s inside it originated by AS43395 on
# 2010-02-27. The watch list below pretends the /21 is Cuba's (origin AS27725, nothing more
# specific than /22 allowed), so the real announcements are an exact-prefix origin hijack (E|0)
# and sub-prefix hijacks (S|0) by AS43395.
ROUTING_WATCH = """states:
  CU:
    asns: [27725]
    prefixes:
      - {prefix: 94.101.128.0/21, origins: [27725], max_length: 22}
"""


@pytest.fixture
def routing_scan(tmp_path):
    routing_cli = pytest.importorskip("sentinelle.observatory.routing.cli")
    watch = tmp_path / "watch.yaml"
    watch.write_text(ROUTING_WATCH)
    private, public = keys.generate(tmp_path / "cirt.key")
    bundle, alerts = tmp_path / "scan.zip", tmp_path / "alerts.jsonl"
    code = routing_cli.main(["scan", "--mrt", str(RIS_UPDATES), "--watch", str(watch),
                             "--output", str(alerts), "--bundle", str(bundle),
                             "--sign-key", str(private), "--quiet"])
    assert code == 0
    return {"bundle": bundle, "alerts": _lines(alerts), "public": public}


def test_a_routing_scan_of_real_ris_data_becomes_a_draft_routing_report(routing_scan, alice,
                                                                         capsys):
    alerts = routing_scan["alerts"]
    assert {a["type"] for a in alerts} == {"E|0", "S|0"}
    assert {a["offending_asn"] for a in alerts} == {43395}
    _sentinelle("routing", "submit", str(routing_scan["bundle"]), "--user", alice.username,
                "--key", str(routing_scan["public"]))
    incident = Incident.objects.get()
    assert incident.reference in capsys.readouterr().out
    assert incident.status == Status.DRAFT and incident.category.code == "routing-disruption"
    assert "94.101.128.0/21" in incident.affected_services
    rows = RoutingAlertRecord.objects.filter(incident=incident)
    assert sorted((r.type, r.prefix, r.offending_asn) for r in rows) == sorted(
        (a["type"], a["prefix"], a["offending_asn"]) for a in alerts)
    exact = rows.get(type="E|0")
    assert exact.prefix == "94.101.128.0/21" and exact.peers >= 1
    assert exact.first_seen.year == 2010
    evidence = Evidence.objects.get(incident=incident)
    assert evidence.sha256 == _sha256(routing_scan["bundle"])
    # The raw MRT records behind the alerts travel in the bundle.
    manifest = evidence_bundle.read_manifest(routing_scan["bundle"])
    names = [entry["name"] for entry in manifest["files"]]
    assert any(name.endswith(".mrt") for name in names), names
    # Submitting the same bundle again through the command gives the same report.
    _sentinelle("routing", "submit", str(routing_scan["bundle"]), "--user", alice.username)
    assert "already submitted" in capsys.readouterr().out
    assert Incident.objects.count() == 1 and RoutingAlertRecord.objects.count() == len(alerts)


def test_routing_submit_refuses_a_probe_bundle(probe_run, alice):
    with pytest.raises(SystemExit) as exit_:
        _sentinelle("routing", "submit", str(probe_run["bundle"]), "--user", alice.username)
    assert exit_.value.code == 1
    assert Incident.objects.count() == 0


# --- the upload job in a worker keeps the uploader's language -----------------------------------

def test_the_upload_job_run_by_a_worker_writes_in_the_uploaders_language(
        alice, client, tmp_path, monkeypatch, catalogues):
    """`make demo` runs jobs in a database worker, whose language is the default one; the
    narrative and the job's message must still be in the language of the page the bundle was
    uploaded from (as with the immediate backend of the tests)."""
    from types import SimpleNamespace

    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.utils import translation

    from sentinelle.core import jobs
    from sentinelle.core.models import Job
    from tests.observatory_helpers import access_bundle

    queued: list[int] = []
    real_task = jobs.run_job
    monkeypatch.setattr(jobs, "run_job", SimpleNamespace(enqueue=queued.append))
    assert client.login(username=alice.username, password=PASSWORD)
    client.cookies["django_language"] = "fr"
    path = access_bundle(tmp_path / "run.zip")
    client.post("/observatory/", {"file": SimpleUploadedFile(path.name, path.read_bytes()),
                                  "expect": "probe"})
    job = Job.objects.get()
    assert queued == [job.pk] and job.status == Job.Status.QUEUED
    with translation.override("en"):          # the worker's own language
        real_task.call(job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, job.message
    incident = Incident.objects.get()
    assert incident.narrative_language == "fr"
    assert "Denial of access" not in incident.title and "CU" in incident.title
    assert not job.result["message"].startswith("Draft report")   # French too
