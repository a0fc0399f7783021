"""Attacks on corroboration (issue 15): isolation of the file, the start URL, and OONI answers
that are hostile at the HTTP level (redirects, broken framing, trickled bodies, odd next_url).

Every server is a real one on loopback; no test reaches the Internet."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import socket
import threading
import time

import pytest

from sentinelle.core.models import Job
from sentinelle.incidents import services as incident_services
from sentinelle.incidents.models import TLP, Evidence, Incident
from sentinelle.observatory import corroboration, ooni_api
from tests.conftest import PASSWORD
from tests.observatory.test_observatory_corroborate import (
    DOCKER,
    ROUTES,
    FakeOoni,
    _file,
    _query_of,
    _report,
    _submitted,
)
from tests.observatory_helpers import result

WHEN = dt.datetime(2026, 3, 10, 12, tzinfo=dt.UTC)


def _query() -> ooni_api.Query:
    return ooni_api.Query(DOCKER, "CU", 27725, WHEN - dt.timedelta(days=3),
                          WHEN + dt.timedelta(days=3))


class RawServer:
    """A loopback TCP server that runs ``script(conn)`` for each connection; records hits."""

    def __init__(self, script):
        self.script, self.hits = script, 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.base = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.hits += 1
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn) -> None:
        with contextlib.suppress(OSError), conn:
            conn.settimeout(10)
            conn.recv(65536)
            self.script(conn)

    def __enter__(self) -> RawServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop = True
        self.sock.close()


def _answer(status: str, headers: list[str], body: bytes = b"") -> bytes:
    return (f"HTTP/1.1 {status}\r\n" + "".join(h + "\r\n" for h in headers) + "\r\n").encode() \
        + body


# --- isolation of what the file carries ----------------------------------------------------------

@pytest.fixture
def ooni(settings):
    with FakeOoni(ROUTES) as server:
        settings.OONI_API_URL = server.base
        settings.OONI_API_TIMEOUT = 5
        yield server


def test_a_report_restricted_after_its_bundle_was_attached_stays_out_of_the_file(
        ooni, alice, charlie, tmp_path):
    """Report B's bundle was attached under AMBER; B was later made RED (no analyst named):
    the Secretariat may no longer read B at all, evidence included. A's AMBER corroboration
    file is read by every Secretariat analyst, so B's reference and verdicts must stay out."""
    ooni.routes = {}
    incident = _submitted(alice, _report(alice, tmp_path / "a.zip"))
    later_red = _submitted(alice, _report(alice, tmp_path / "b.zip",
                                          [result(DOCKER, "geoblocked")]))
    assert later_red.bundle_submission.evidence.tlp == TLP.AMBER
    incident_services.amend_report(later_red, alice, {"tlp": TLP.RED}, note="restrict")
    outcome = corroboration.corroborate(incident, alice)
    data, document = _file(outcome.evidence)
    # Charlie reads A's file, and may not read B.
    evidence = Evidence.objects.get(pk=outcome.evidence.pk)
    from sentinelle.incidents import visibility
    assert visibility.item_visible(charlie, evidence)
    assert not visibility.item_visible(charlie, later_red.bundle_submission.evidence)
    assert later_red.reference.encode() not in data
    assert _query_of(document, DOCKER)["bundles"] == {"measurements": []}
    assert outcome.withheld == 1


def test_the_start_url_refuses_get_and_a_post_without_csrf_token(ooni, alice, tmp_path):
    from django.test import Client

    incident = _submitted(alice, _report(alice, tmp_path / "a.zip"))
    url = f"/observatory/submissions/{incident.bundle_submission.pk}/corroborate/"
    client = Client(enforce_csrf_checks=True)
    assert client.login(username=alice.username, password=PASSWORD)
    assert client.get(url).status_code == 404
    assert client.post(url).status_code == 403
    assert Job.objects.count() == 0


# --- hostile OONI at the HTTP level --------------------------------------------------------------

def test_a_redirect_from_the_ooni_server_to_an_internal_address_is_not_followed():
    """SSRF: urllib follows 3xx to any host unless told not to; next_url's same-host rule
    would be bypassed by a plain redirect."""
    with RawServer(lambda c: c.sendall(_answer("200 OK", ["Content-Length: 2"], b"{}"))) \
            as internal:
        target = f"{internal.base}/admin/secret"
        redirect = _answer("302 Found", [f"Location: {target}", "Content-Length: 0"])
        with RawServer(lambda c: c.sendall(redirect)) as api, \
                pytest.raises(ooni_api.OoniError, match="302"):
            ooni_api.fetch(api.base, _query(), timeout=3)
        assert internal.hits == 0


@pytest.mark.parametrize(("answer", "words"), [
    (b"SSH-2.0-OpenSSH_9.0\r\n\r\n", "OONI"),
    (_answer("200 OK", ["Content-Length: 5000"], b'{"results": ['), "before its Content-Length"),
    (_answer("200 OK", ["Transfer-Encoding: chunked"], b"zz\r\nhello\r\n"), "OONI"),
    (_answer("200 OK", [f"X-{i}: y" for i in range(150)], b"{}"), "OONI"),
])
def test_a_broken_http_answer_is_a_named_error_not_a_crash(answer, words):
    with RawServer(lambda c: c.sendall(answer)) as api, \
            pytest.raises(ooni_api.OoniError, match=words):
        ooni_api.fetch(api.base, _query(), timeout=3)


def test_a_body_trickled_a_byte_at_a_time_is_cut_at_the_timeout():
    body = b'{"results": [], "metadata": {}}' + b" " * 40

    def trickle(conn):
        conn.sendall(_answer("200 OK", [f"Content-Length: {len(body)}"]))
        for byte in body:
            conn.sendall(bytes([byte]))
            time.sleep(0.2)

    with RawServer(trickle) as api:
        start = time.monotonic()
        with pytest.raises(ooni_api.OoniUnreachable, match="within"):
            ooni_api.fetch(api.base, _query(), timeout=1)
        assert time.monotonic() - start < 3.5


@pytest.mark.parametrize("tail", ["é=1", "x=1\r\nX-Injected: 1", "a b"])
def test_a_next_url_that_is_not_a_valid_address_is_named_not_a_crash(tail):
    def answer_for(conn):
        page = {"results": [], "metadata": {"next_url": f"{api.base}/api/v1/measurements?{tail}"}}
        body = json.dumps(page).encode()
        conn.sendall(_answer("200 OK", [f"Content-Length: {len(body)}"], body))

    with RawServer(answer_for) as api:
        with pytest.raises(ooni_api.OoniError, match="next_url"):
            ooni_api.fetch(api.base, _query(), timeout=3)
        assert api.hits == 1


@pytest.mark.parametrize("body", [
    b'{"results": [{"report_id": "r", "measurement_start_time": "2026-03-10T00:00:00Z", '
    b'"anomaly": ' + b"9" * 5000 + b"}]}",
    b'{"results": [], "x": ' + b"[" * 100000 + b"]" * 100000 + b"}",
    b'{"results": [{"report_id": "r", "measurement_start_time": "2026-03-10T00:00:00Z", '
    b'"anomaly": 1e999999}]}',
    b'{"results": [{"report_id": "r", "measurement_start_time": "99999-03-10T00:00:00Z"}]}',
])
def test_numbers_and_nesting_beyond_reason_are_named(body):
    with pytest.raises(ooni_api.OoniResponseError):
        ooni_api.parse_page(body)


def test_a_hostile_measurement_url_is_kept_as_text_and_never_shown_as_a_link(ooni, alice,
                                                                            tmp_path):
    page = {"results": [_ooni_result(
        measurement_url="javascript:alert(document.cookie)//<b>x</b>")]}
    ooni.routes = {DOCKER: json.dumps(page).encode()}
    outcome = corroboration.corroborate(_report(alice, tmp_path / "a.zip"), alice)
    assert outcome.evidence.content_type in ("text/plain", "application/json")
    data, document = _file(outcome.evidence)
    assert _query_of(document, DOCKER)["ooni"]["measurements"][0]["measurement_url"].startswith(
        "javascript:")


def test_a_report_loosened_while_ooni_is_asked_gets_no_bundle_chosen_for_its_old_tlp(
        ooni, alice, tmp_path):
    """OONI may take minutes (200 URLs x 15 s). The bundles chosen for a RED report must not
    be attached to it once a focal point has loosened it to GREEN meanwhile: the file is
    stamped with the TLP of the moment it is attached."""
    from unittest import mock

    ooni.routes = {}
    incident = _submitted(alice, _report(alice, tmp_path / "a.zip"))
    incident_services.amend_report(incident, alice, {"tlp": TLP.RED}, note="restrict")
    secret = _submitted(alice, _report(alice, tmp_path / "b.zip", [result(DOCKER, "geoblocked")]))
    incident_services.amend_report(secret, alice, {"tlp": TLP.RED}, note="restrict")
    real, calls = corroboration._ooni, []

    def ooni_then_loosen(target):
        if not calls:
            incident_services.amend_report(Incident.objects.get(pk=incident.pk), alice,
                                           {"tlp": TLP.GREEN}, note="share")
        calls.append(target)
        return real(target)

    with mock.patch.object(corroboration, "_ooni", ooni_then_loosen):
        outcome = corroboration.corroborate(incident, alice)
    assert Evidence.objects.get(pk=outcome.evidence.pk).tlp == TLP.GREEN
    data, _document = _file(outcome.evidence)
    assert secret.reference.encode() not in data
    assert outcome.withheld == 1


def test_more_denied_urls_than_the_cap_are_counted_not_queried(ooni, alice, tmp_path):
    urls = [f"https://s{i:03}.example/" for i in range(205)]
    incident = _report(alice, tmp_path / "a.zip", [result(u, "tcp-blocked") for u in urls])
    outcome = corroboration.corroborate(incident, alice)
    assert len(outcome.document["queries"]) == corroboration.MAX_URLS
    assert outcome.document["not_queried"] == 205 - corroboration.MAX_URLS
    assert len(ooni.requests) == corroboration.MAX_URLS


@pytest.mark.parametrize("reference", ["", " ", "x" * 5000, "CU-2026-00001'; --", "ÇU-٢٠٢٦",
                                       "-1", "0", "99999999999999999999999"])
def test_the_command_exits_2_for_any_bad_report_value(ooni, alice, tmp_path, capsys, reference):
    from tests.observatory.test_observatory_corroborate import _sentinelle

    _report(alice, tmp_path / "a.zip")
    with pytest.raises(SystemExit) as exit_info:
        _sentinelle("observatory", "corroborate", reference, "--user", "alice")
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err and "REPORT" in err[-1] and "Traceback" not in "\n".join(err)
    assert not Evidence.objects.filter(filename__startswith="corroboration-").exists()


def test_a_sharing_group_member_and_the_council_may_not_start_it_nor_read_unshared_bundles(
        ooni, client, alice, bob, council, tmp_path):
    from sentinelle.core.models import MemberState, SharingGroup
    from sentinelle.incidents import visibility

    ooni.routes = {}
    group = SharingGroup.objects.create(name="Caribbean and friends")
    group.states.set(MemberState.objects.filter(alpha2__in=["CU", "CH"]))
    incident = _submitted(alice, _report(alice, tmp_path / "a.zip"))
    Incident.objects.filter(pk=incident.pk).update(sharing_group=group)
    unshared = _submitted(alice, _report(alice, tmp_path / "b.zip",
                                         [result(DOCKER, "geoblocked")]))
    pk = incident.bundle_submission.pk
    # Bob's State is no party to the report (404); a Council reader has the wrong role (403).
    for user, answer in ((bob, 404), (council, 403)):
        client.logout()
        assert client.login(username=user.username, password=PASSWORD)
        assert client.post(f"/observatory/submissions/{pk}/corroborate/").status_code == answer
    assert Job.objects.count() == 0
    outcome = corroboration.corroborate(Incident.objects.get(pk=incident.pk), alice)
    # Bob reads the file through the group; the other report is not shared with his State.
    assert visibility.item_visible(bob, Evidence.objects.get(pk=outcome.evidence.pk))
    assert not visibility.report_visible(bob, unshared)
    data, _document = _file(outcome.evidence)
    assert unshared.reference.encode() not in data and outcome.withheld == 1


@pytest.mark.parametrize("base", ["file:///etc/passwd", "ftp://127.0.0.1/", "gopher://x/",
                                  "//127.0.0.1:8080"])
def test_an_ooni_address_that_is_not_http_is_refused(base):
    with pytest.raises(ooni_api.OoniError, match="http or https"):
        ooni_api.fetch(base, _query(), timeout=1)


def _ooni_result(**overrides) -> dict:
    item = {"anomaly": True, "confirmed": False, "failure": False, "input": DOCKER,
            "measurement_start_time": "2026-03-10T11:00:00Z", "probe_asn": "AS27725",
            "probe_cc": "CU", "test_name": "web_connectivity"}
    item.update(overrides)
    item["measurement_uid"] = item["report_id"] = "uid-" + "-".join(
        f"{k}={v}" for k, v in sorted(overrides.items()))
    return item


def test_ooni_measurements_outside_the_question_are_not_counted(ooni, alice, tmp_path):
    """OONI's answer is hostile input: a measurement of another URL, country, network, test or
    time than asked must not count as agreeing with our denial."""
    page = {"metadata": {"next_url": None}, "results": [
        _ooni_result(),                                            # the one that counts
        _ooni_result(input="https://elsewhere.example/"),
        _ooni_result(probe_cc="IR"),
        _ooni_result(probe_asn="AS197207"),
        _ooni_result(measurement_start_time="2019-01-01T00:00:00Z"),
        _ooni_result(test_name="telegram"),
    ]}
    ooni.routes = {DOCKER: json.dumps(page).encode()}
    outcome = corroboration.corroborate(_report(alice, tmp_path / "a.zip"), alice)
    docker = _query_of(outcome.document, DOCKER)
    assert docker["summary"] == {"agree": 1, "disagree": 0, "inconclusive": 0}
    assert [m["id"] for m in docker["ooni"]["measurements"]] == ["uid-"]
    assert docker["ooni"]["ignored"] == 5


def test_an_abundant_ooni_answer_is_counted_but_listed_only_up_to_a_cap(ooni, alice, tmp_path,
                                                                       settings):
    """3,000 measurements of one URL (10 pages of OONI's 100 is 1,000; a hostile answer may
    hold 10,000 a page): listing each one would make the file of a 200-URL report far larger
    than the evidence limit, and the whole run would be lost."""
    results = [_ooni_result(anomaly=i % 3 == 0) for i in range(3000)]
    for i, item in enumerate(results):
        item["measurement_uid"] = f"uid-{i:05}"
    ooni.routes = {DOCKER: json.dumps({"metadata": {}, "results": results}).encode()}
    outcome = corroboration.corroborate(_report(alice, tmp_path / "a.zip"), alice)
    docker = _query_of(outcome.document, DOCKER)
    listed = docker["ooni"]["measurements"]
    assert len(listed) == corroboration.MAX_LISTED
    assert docker["ooni"]["not_listed"] == 3000 - corroboration.MAX_LISTED
    assert docker["summary"] == {"agree": 1000, "disagree": 2000, "inconclusive": 0}
    assert outcome.evidence.size < 200 * 1024


def test_headers_trickled_a_byte_at_a_time_are_cut_at_the_timeout():
    """Slowloris on the head: each byte comes before the socket timeout, so only a deadline
    over the whole answer ends it."""
    head = b"HTTP/1.1 200 OK\r\n" + b"X-Slow: " + b"z" * 60 + b"\r\n"

    def trickle(conn):
        for byte in head:
            conn.sendall(bytes([byte]))
            time.sleep(0.1)

    with RawServer(trickle) as api:
        start = time.monotonic()
        with pytest.raises(ooni_api.OoniUnreachable):
            ooni_api.fetch(api.base, _query(), timeout=1)
        assert time.monotonic() - start < 3
