"""Corroboration from outside (issue 15, point 5): OONI's API and other vantage points.

OONI is a real HTTP server on loopback serving recorded answers (tests/data/ooni_api, hand-made
in the documented shape); no test reaches the Internet."""

from __future__ import annotations

import contextlib
import hashlib
import json
import socket
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from unittest import mock

import pytest
from django.db import connections

from sentinelle import cli as sentinelle_cli
from sentinelle.core.models import AuditEntry, Job
from sentinelle.incidents import services as incident_services
from sentinelle.incidents.models import TLP, Evidence, Incident
from sentinelle.incidents.models.workflow import Status
from sentinelle.observatory import corroboration, ooni_api, services
from tests.conftest import PASSWORD, page
from tests.observatory_helpers import VANTAGE, access_bundle, result
from tests.paths import DATA_DIR

FIXTURES = DATA_DIR / "ooni_api"
DOCKER, DOCKER_V2, GOOGLE = ("https://hub.docker.com/", "https://hub.docker.com/v2/",
                             "https://dl.google.com/android")


# --- a real OONI stand-in on loopback ------------------------------------------------------------

class FakeOoni:
    """Serves a fixture per `input`; `{base}` in a fixture becomes this server's address."""

    def __init__(self, routes: dict[str, str | bytes] | None = None, delay: float = 0.0):
        self.routes, self.delay, self.requests = dict(routes or {}), delay, []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                owner.requests.append(self.path)
                query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
                if owner.delay:
                    time.sleep(owner.delay)
                what = query.get("fixture") or owner.routes.get(query.get("input", ""),
                                                                "empty.json")
                body = what if isinstance(what, bytes) else owner.body(what)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                # The client may give up first (size cap, timeout): nothing to do then.
                with contextlib.suppress(OSError):
                    self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def body(self, name: str) -> bytes:
        return (FIXTURES / name).read_bytes().replace(b"{base}", self.base.encode())

    def queries(self) -> list[dict]:
        return [dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(p).query))
                for p in self.requests]

    def __enter__(self) -> FakeOoni:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def closed_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


ROUTES = {DOCKER: "agree.json", DOCKER_V2: "page1.json", GOOGLE: "disagree.json"}


@pytest.fixture
def ooni(settings):
    with FakeOoni(ROUTES) as server:
        settings.OONI_API_URL = server.base
        settings.OONI_API_TIMEOUT = 5
        yield server


def _query(url: str = DOCKER) -> ooni_api.Query:
    import datetime as dt

    when = dt.datetime(2026, 3, 10, 12, tzinfo=dt.UTC)
    return ooni_api.Query(url, "CU", 27725, when - dt.timedelta(days=3),
                          when + dt.timedelta(days=3))


# --- the client ----------------------------------------------------------------------------------

def test_the_client_asks_for_the_url_country_network_and_window_and_reads_the_flags():
    with FakeOoni(ROUTES) as server:
        found = ooni_api.fetch(server.base, _query())
    assert server.queries() == [{"input": DOCKER, "probe_cc": "CU", "probe_asn": "AS27725",
                                 "since": "2026-03-07T12:00:00", "until": "2026-03-13T12:00:00",
                                 "test_name": "web_connectivity", "limit": "100"}]
    assert [(m.anomaly, m.confirmed, m.failure) for m in found.measurements] == [
        (True, True, False), (True, False, False)]
    assert found.responses[0].sha256 == hashlib.sha256(server.body("agree.json")).hexdigest()
    assert found.measurements[0].start_time == "2026-03-09T12:00:01Z"


def test_the_window_is_sent_in_utc_whatever_the_zone_it_was_given_in():
    import datetime as dt

    havana = dt.timezone(dt.timedelta(hours=-5))
    query = ooni_api.Query(DOCKER, "CU", None, dt.datetime(2026, 3, 7, 7, tzinfo=havana),
                           dt.datetime(2026, 3, 13, 7, tzinfo=havana))
    params = query.params()
    assert (params["since"], params["until"]) == ("2026-03-07T12:00:00", "2026-03-13T12:00:00")
    assert "probe_asn" not in params


def test_the_client_follows_next_url_up_to_the_page_cap():
    with FakeOoni(ROUTES) as server:
        both = ooni_api.fetch(server.base, _query(DOCKER_V2))
        capped = ooni_api.fetch(server.base, _query(DOCKER_V2), max_pages=1)
    assert [m.start_time for m in both.measurements] == ["2026-03-10T09:00:00Z",
                                                         "2026-03-12T09:00:00Z"]
    assert len(both.responses) == 2 and not both.truncated
    assert "fixture=page2.json" in both.responses[1].url
    assert len(capped.measurements) == 1 and capped.truncated


def test_a_next_url_to_another_host_is_refused_not_followed():
    hostile = json.dumps({"metadata": {"next_url": "http://169.254.169.254/latest"},
                          "results": []}).encode()
    with FakeOoni({DOCKER: hostile}) as server, \
            pytest.raises(ooni_api.OoniResponseError, match="next_url.*is not on"):
        ooni_api.fetch(server.base, _query())
    assert len(server.requests) == 1


@pytest.mark.parametrize(("name", "words"), [
    ("malformed.json", "not JSON"),
    ("wrong_type.json", r"results\[0\].anomaly: expected true or false"),
])
def test_a_malformed_answer_is_an_error_naming_what_is_wrong(name, words):
    with FakeOoni({DOCKER: name}) as server, pytest.raises(ooni_api.OoniResponseError,
                                                           match=words):
        ooni_api.fetch(server.base, _query())


@pytest.mark.parametrize(("body", "words"), [
    (b"[]", "not a JSON object"),
    (b'{"results": "x"}', "results: missing or not a list"),
    (b'{"results": [1]}', r"results\[0\]: expected an object"),
    (b'{"results": [{"measurement_uid": "u"}]}', r"results\[0\].measurement_start_time: missing"),
    (b'{"results": [{"measurement_uid": "u", "measurement_start_time": "soon"}]}',
     "not a date-time"),
    (b'{"metadata": [], "results": []}', "metadata: expected an object"),
    (b'{"metadata": {"next_url": 5}, "results": []}', "next_url: expected a string"),
    (b"\xff\xfe", "not UTF-8"),
    (b"[" * 100_000, "not JSON"),
    (b'{"results": [], "metadata": {"count": ' + b"9" * 5000 + b"}}", "not JSON"),
])
def test_the_parser_names_the_field_of_hostile_input(body, words):
    with pytest.raises(ooni_api.OoniResponseError, match=words):
        ooni_api.parse_page(body)


def test_a_huge_answer_is_refused_at_the_size_cap():
    huge = b'{"results": [], "padding": "' + b"x" * 300_000 + b'"}'
    with FakeOoni({DOCKER: huge}) as server, \
            pytest.raises(ooni_api.OoniResponseError, match="larger than 100000 bytes"):
        ooni_api.fetch(server.base, _query(), max_bytes=100_000)


def test_a_server_that_is_down_or_too_slow_is_unreachable():
    with pytest.raises(ooni_api.OoniUnreachable, match="OONI could not be reached"):
        ooni_api.fetch(closed_port(), _query(), timeout=2)
    with FakeOoni(ROUTES, delay=1.5) as server:
        started = time.monotonic()
        with pytest.raises(ooni_api.OoniUnreachable, match="OONI could not be reached"):
            ooni_api.fetch(server.base, _query(), timeout=0.3)
        assert time.monotonic() - started < 1.4


# --- corroborating a report ----------------------------------------------------------------------

def _report(user, path: Path, results=None, vantage=None) -> Incident:
    return services.submit(user, access_bundle(path, results, vantage=vantage)).incident


def _submitted(user, incident: Incident) -> Incident:
    incident_services.change_status(incident, user, Status.SUBMITTED)
    return Incident.objects.get(pk=incident.pk)


def _file(evidence: Evidence) -> tuple[bytes, dict]:
    with evidence.file.open("rb") as handle:
        data = handle.read()
    return data, json.loads(data)


def _query_of(document: dict, url: str) -> dict:
    return next(q for q in document["queries"] if q["url"] == url)


def test_corroboration_attaches_a_hashed_file_saying_which_measurements_agree(
        ooni, alice, charlie, tmp_path):
    incident = _report(alice, tmp_path / "a.zip")
    outcome = corroboration.corroborate(incident, alice)
    data, document = _file(outcome.evidence)
    evidence = Evidence.objects.get(pk=outcome.evidence.pk)
    assert evidence.incident_id == incident.pk and evidence.filename.startswith("corroboration-")
    assert evidence.sha256 == hashlib.sha256(data).hexdigest() and evidence.size == len(data)
    # Stable key order: the bytes are the sorted dump of the document.
    assert data.decode() == json.dumps(document, sort_keys=True, indent=2,
                                       ensure_ascii=False) + "\n"
    assert document["report"]["reference"] == incident.reference
    assert document["tool"]["name"] == "sentinelle" and document["generated_at"].endswith("Z")
    assert [q["url"] for q in document["queries"]] == [GOOGLE, DOCKER, DOCKER_V2]
    docker = _query_of(document, DOCKER)
    assert (docker["probe_cc"], docker["probe_asn"]) == ("CU", 27725)
    assert (docker["since"], docker["until"]) == ("2026-03-07T12:00:00Z", "2026-03-13T12:00:00Z")
    assert [m["agreement"] for m in docker["ooni"]["measurements"]] == ["agree", "agree"]
    assert docker["ooni"]["measurements"][0]["measurement_url"].startswith(
        "https://api.ooni.io/api/v1/raw_measurement?")
    assert docker["ooni"]["responses"][0]["sha256"] == hashlib.sha256(
        ooni.body("agree.json")).hexdigest()
    assert docker["summary"] == {"agree": 2, "disagree": 0, "inconclusive": 0}
    assert _query_of(document, GOOGLE)["summary"] == {"agree": 0, "disagree": 1,
                                                      "inconclusive": 0}
    paged = _query_of(document, DOCKER_V2)
    assert [r["sha256"] for r in paged["ooni"]["responses"]] == [
        hashlib.sha256(ooni.body(n)).hexdigest() for n in ("page1.json", "page2.json")]
    assert paged["summary"] == {"agree": 1, "disagree": 1, "inconclusive": 0}
    assert document["summary"] == outcome.totals == {"agree": 3, "disagree": 2,
                                                     "inconclusive": 0}
    entry = AuditEntry.objects.filter(action="observatory.corroborate").get()
    assert entry.after["sha256"] == evidence.sha256
    assert AuditEntry.objects.filter(action="evidence.add",
                                     after__sha256=evidence.sha256).exists()
    # Running it again attaches a second file (the generation time differs); both stay.
    corroboration.corroborate(incident, charlie)
    assert Evidence.objects.filter(incident=incident,
                                   filename__startswith="corroboration-").count() == 2


def test_a_failed_ooni_measurement_is_inconclusive(ooni, alice, tmp_path):
    ooni.routes[DOCKER] = "failure.json"
    document = corroboration.corroborate(_report(alice, tmp_path / "a.zip"), alice).document
    assert _query_of(document, DOCKER)["summary"] == {"agree": 0, "disagree": 0,
                                                      "inconclusive": 1}


def test_a_bad_or_absent_ooni_is_reported_and_the_rest_still_gathered(
        ooni, alice, tmp_path, settings):
    ooni.routes[DOCKER] = "wrong_type.json"
    incident = _report(alice, tmp_path / "a.zip")
    other = _submitted(alice, _report(alice, tmp_path / "b.zip", [
        result(DOCKER, "tcp-blocked", when="2026-03-11 09:00:00")]))
    document = corroboration.corroborate(incident, alice).document
    docker = _query_of(document, DOCKER)
    assert "results[0].anomaly" in docker["ooni"]["error"]
    assert [m["report"] for m in docker["bundles"]["measurements"]] == [other.reference]
    assert _query_of(document, GOOGLE)["summary"]["disagree"] == 1
    settings.OONI_API_URL = closed_port()
    outcome = corroboration.corroborate(incident, alice)
    assert all(p.split(": ", 1)[1].startswith("OONI could not be reached")
               for p in outcome.problems) and len(outcome.problems) == 3
    assert _query_of(outcome.document, DOCKER)["summary"] == {"agree": 1, "disagree": 0,
                                                              "inconclusive": 0}


def test_other_vantage_points_of_the_state_count_and_another_states_never(
        ooni, alice, bob, tmp_path):
    ooni.routes = {}     # OONI knows nothing: only bundles count
    incident = _report(alice, tmp_path / "a.zip")
    agreeing = _submitted(alice, _report(alice, tmp_path / "b.zip", [
        result(DOCKER, "dns-tampering", when="2026-03-12 09:00:00"),
        result(GOOGLE, "accessible", when="2026-03-09 09:00:00"),
        result(DOCKER_V2, "inconclusive", when="2026-03-10 13:00:00"),
        result(DOCKER, "geoblocked", when="2026-03-20 09:00:00")]))        # outside ±3 days
    other_network = dict(VANTAGE, self_reported={"cc": "CU", "asn": 11960},
                         geoip={"cc": "CU", "asn": 11960})
    _submitted(alice, _report(alice, tmp_path / "c.zip", [result(DOCKER, "accessible")],
                              vantage=other_network))
    # Bob's State measured the same URL from the same network: never part of Cuba's file.
    _submitted(bob, _report(bob, tmp_path / "d.zip", [result(DOCKER, "accessible")]))
    # Alice's own draft (only her State sees it): counted for her, not in the file.
    _report(alice, tmp_path / "e.zip", [result(DOCKER, "accessible",
                                               when="2026-03-10 15:00:00")])
    outcome = corroboration.corroborate(incident, alice)
    data, document = _file(outcome.evidence)
    docker = _query_of(document, DOCKER)
    assert [(m["report"], m["verdict"], m["agreement"])
            for m in docker["bundles"]["measurements"]] == [
        (agreeing.reference, "dns-tampering", "agree")]
    assert outcome.withheld == 1 and b"withheld" not in data
    assert _query_of(document, GOOGLE)["summary"] == {"agree": 0, "disagree": 1,
                                                      "inconclusive": 0}
    assert _query_of(document, DOCKER_V2)["summary"] == {"agree": 0, "disagree": 0,
                                                         "inconclusive": 1}
    assert b"CH-" not in data and b"11960" not in data


def test_the_secretariat_acting_never_brings_in_another_states_bundle(ooni, alice, bob,
                                                                     charlie, tmp_path):
    ooni.routes = {}
    incident = _submitted(alice, _report(alice, tmp_path / "a.zip"))
    _submitted(bob, _report(bob, tmp_path / "b.zip", [result(DOCKER, "accessible")]))
    own = _submitted(alice, _report(alice, tmp_path / "c.zip", [result(DOCKER, "geoblocked")]))
    # Charlie may read both States' submitted bundles; the file is Cuba's report's evidence.
    outcome = corroboration.corroborate(incident, charlie)
    docker = _query_of(outcome.document, DOCKER)
    assert [m["report"] for m in docker["bundles"]["measurements"]] == [own.reference]
    assert outcome.withheld == 0


def test_restricted_bundles_reach_a_restricted_report_only_for_the_same_analysts(
        ooni, alice, charlie, tmp_path):
    from tests.conftest import make_user

    dora = make_user("dora", "analyst")
    ooni.routes = {}
    incident = _submitted(alice, _report(alice, tmp_path / "a.zip"))
    incident_services.amend_report(incident, alice, {"tlp": TLP.RED, "named_analysts": [charlie]},
                                   note="restrict")
    same = _submitted(alice, _report(alice, tmp_path / "b.zip", [result(DOCKER, "geoblocked")]))
    other = _submitted(alice, _report(alice, tmp_path / "c.zip", [result(DOCKER, "accessible")]))
    # Bundles attached while their reports were RED, named to charlie and to dora.
    for report, analyst in ((same, charlie), (other, dora)):
        evidence = report.bundle_submission.evidence
        Evidence.objects.filter(pk=evidence.pk).update(tlp=TLP.RED)
        evidence.named_analysts.set([analyst])
    outcome = corroboration.corroborate(incident, alice)
    docker = _query_of(outcome.document, DOCKER)
    assert [m["report"] for m in docker["bundles"]["measurements"]] == [same.reference]
    assert outcome.withheld == 1


def test_a_stricter_report_of_the_state_is_withheld_from_a_looser_one(ooni, alice, tmp_path):
    incident = _report(alice, tmp_path / "a.zip")
    incident_services.amend_report(incident, alice, {"tlp": TLP.GREEN}, note="share widely")
    red = _submitted(alice, _report(alice, tmp_path / "b.zip", [result(DOCKER, "geoblocked")]))
    assert red.tlp == TLP.AMBER
    outcome = corroboration.corroborate(incident, alice)
    assert _query_of(outcome.document, DOCKER)["bundles"] == {"measurements": []}
    assert outcome.withheld == 1


def test_a_report_without_an_access_bundle_or_denial_is_refused(ooni, alice, tmp_path):
    from tests.conftest import file_report

    with pytest.raises(corroboration.NotCorroborable, match="not made from an access-probe"):
        corroboration.corroborate(file_report(alice), alice)
    fine = _report(alice, tmp_path / "a.zip", [result(DOCKER, "accessible")])
    with pytest.raises(corroboration.NotCorroborable, match="no denial"):
        corroboration.corroborate(fine, alice)
    assert not Evidence.objects.filter(filename__startswith="corroboration-").exists()


# --- the command ---------------------------------------------------------------------------------

def _sentinelle(*argv: str) -> None:
    # A command run from the command line closes every connection when it ends; hold that off
    # so the test's transaction stays (as test_observatory_end_to_end.py does).
    with mock.patch.object(connections, "close_all"):
        sentinelle_cli.main(["sentinelle", *argv])


def test_the_command_prints_the_summary_and_attaches_the_file(ooni, alice, tmp_path, capsys):
    incident = _report(alice, tmp_path / "a.zip")
    _sentinelle("observatory", "corroborate", incident.reference, "--user", "alice")
    out = capsys.readouterr().out
    evidence = Evidence.objects.get(incident=incident, filename__startswith="corroboration-")
    assert f"{DOCKER} (CU AS27725): 2 agree, 0 disagree, 0 inconclusive" in out
    assert f"{incident.reference}: 3 agree, 2 disagree, 0 inconclusive" in out
    assert evidence.sha256 in out
    _sentinelle("observatory", "corroborate", str(incident.pk), "--user", "alice")
    assert Evidence.objects.filter(incident=incident,
                                   filename__startswith="corroboration-").count() == 2


@pytest.mark.parametrize(("argv", "words"), [
    (["CU-2026-99999", "--user", "alice"], "REPORT: no report 'CU-2026-99999'"),
    (["nonsense", "--user", "alice"], "REPORT: no report 'nonsense'"),
    (["{ref}", "--user", "nobody"], "--user: no active user 'nobody'"),
    (["{ref}", "--user", "bob"], "REPORT: no report"),
    (["{other}", "--user", "alice"], "not made from an access-probe bundle"),
])
def test_the_command_exits_2_naming_what_is_wrong(ooni, alice, bob, tmp_path, capsys, argv,
                                                  words):
    from tests.conftest import file_report

    incident = _report(alice, tmp_path / "a.zip")
    other = file_report(alice)
    argv = [a.format(ref=incident.reference, other=other.reference) for a in argv]
    with pytest.raises(SystemExit) as exit_info:
        _sentinelle("observatory", "corroborate", *argv)
    assert exit_info.value.code == 2
    assert words in capsys.readouterr().err
    assert not Evidence.objects.filter(filename__startswith="corroboration-").exists()


def test_a_file_over_the_evidence_limit_is_not_attached_and_says_why(ooni, alice, tmp_path,
                                                                     capsys, settings):
    incident = _report(alice, tmp_path / "a.zip")
    settings.EVIDENCE_MAX_BYTES = 1000
    with pytest.raises(SystemExit) as exit_info:
        _sentinelle("observatory", "corroborate", incident.reference, "--user", "alice")
    assert exit_info.value.code == 1
    assert "the limit is 1000 bytes" in capsys.readouterr().err
    assert not Evidence.objects.filter(filename__startswith="corroboration-").exists()
    assert not AuditEntry.objects.filter(action="observatory.corroborate").exists()


def test_the_command_has_help_for_every_option(capsys):
    with pytest.raises(SystemExit) as exit_info:
        _sentinelle("observatory", "corroborate", "--help")
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "--user" in out and "CU-2026-00012" in out and "REPORT" in out


# --- the job through the pages -------------------------------------------------------------------

def _login(client, user) -> None:
    assert client.login(username=user.username, password=PASSWORD)


def test_the_button_runs_the_job_and_the_report_shows_the_file(ooni, client, alice, charlie,
                                                               tmp_path):
    incident = _submitted(alice, _report(alice, tmp_path / "a.zip"))
    submission = incident.bundle_submission
    for user in (alice, charlie):
        client.logout()
        _login(client, user)
        detail = page(client.get(f"/observatory/submissions/{submission.pk}/"))
        assert "Corroborate with OONI and other vantage points" in detail
        response = client.post(f"/observatory/submissions/{submission.pk}/corroborate/")
        job = Job.objects.filter(owner=user).get()
        assert response.status_code == 302 and response["Location"] == f"/jobs/{job.pk}/"
        assert job.kind == "observatory-corroborate"
        assert job.status == Job.Status.SUCCEEDED, job.message
        assert job.result["agree"] == 3 and job.result["disagree"] == 2
        status = page(client.get(f"/jobs/{job.pk}/"))
        assert incident.get_absolute_url() in status and job.result["sha256"] in status
        report = page(client.get(incident.get_absolute_url()))
        assert job.result["file"] in report
    assert Evidence.objects.filter(incident=incident,
                                   filename__startswith="corroboration-").count() == 2


def test_a_routing_bundle_has_no_button(ooni, client, alice, tmp_path):
    from tests.observatory_helpers import routing_bundle

    incident = services.submit(alice, routing_bundle(tmp_path / "r.zip")).incident
    submission = incident.bundle_submission
    _login(client, alice)
    assert "Corroborate" not in page(client.get(f"/observatory/submissions/{submission.pk}/"))
    assert client.post(f"/observatory/submissions/{submission.pk}/corroborate/"
                       ).status_code == 404


def test_another_state_gets_404_for_the_button_and_sees_no_job(ooni, client, alice, bob,
                                                               tmp_path):
    incident = _submitted(alice, _report(alice, tmp_path / "a.zip"))
    # Loosened to GREEN: Bob reads the report, but the bundle (attached under AMBER) stays
    # out of his sight, and he may not act for Cuba.
    incident_services.amend_report(incident, alice, {"tlp": TLP.GREEN}, note="share")
    submission = incident.bundle_submission
    _login(client, alice)
    client.post(f"/observatory/submissions/{submission.pk}/corroborate/")
    job = Job.objects.get()
    assert job.status == Job.Status.SUCCEEDED, job.message
    client.logout()
    _login(client, bob)
    assert client.get(incident.get_absolute_url()).status_code == 200
    for method in (client.get, client.post):
        assert method(f"/observatory/submissions/{submission.pk}/").status_code in (404, 405)
        assert method(f"/observatory/submissions/{submission.pk}/corroborate/"
                      ).status_code == 404
    assert Job.objects.count() == 1
    status = client.get(f"/jobs/{job.pk}/")
    assert status.status_code == 404 or job.result["sha256"] not in status.content.decode()
    # The corroboration file was attached under GREEN: Bob may read it with the report, and
    # it holds nothing but Cuba's own measurements and OONI's public ones.
    assert job.result["file"] in page(client.get(incident.get_absolute_url()))
    with pytest.raises(SystemExit) as exit_info:
        _sentinelle("observatory", "corroborate", incident.reference, "--user", "bob")
    assert exit_info.value.code == 2


def test_a_secretariat_analyst_may_not_act_on_a_report_they_cannot_see(ooni, client, alice,
                                                                       charlie, tmp_path):
    incident = _submitted(alice, _report(alice, tmp_path / "a.zip"))
    incident_services.amend_report(incident, alice, {"tlp": TLP.RED}, note="restrict")
    pk = incident.bundle_submission.pk
    _login(client, charlie)
    assert client.post(f"/observatory/submissions/{pk}/corroborate/").status_code == 404
    assert Job.objects.count() == 0
