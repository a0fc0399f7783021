"""Alert destinations of the live monitor, each against a real receiver on loopback: an HTTP
server (webhook, platform stub), an SMTP server (aiosmtpd), UDP and TCP syslog listeners."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import re
import socket
import ssl
import threading
import time
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest
import trustme
from aiosmtpd.controller import Controller

from sentinelle.evidence import bundle as evidence_bundle
from sentinelle.evidence import keys
from sentinelle.observatory.routing.live.destinations import DeliveryError, parse_destination
from sentinelle.observatory.routing.live.destinations.bundle import write_bundle
from sentinelle.observatory.routing.live.destinations.syslog import format_message
from sentinelle.observatory.routing.live.destinations.webhook import sign, verify_signature
from sentinelle.observatory.routing.live.events import AlertEvent
from tests.bgp_lab import free_port

SECRET = "s3cret-for-tests"
ENV = {"SENTINELLE_WEBHOOK_SECRET": SECRET, "SENTINELLE_API_TOKEN": "tok-123"}


def raised(**changes) -> AlertEvent:
    event = AlertEvent(
        event="raised", alert_id="0123456789abcdef0123@1700000000", type="E|0", state="CU",
        prefix="198.18.0.0/16", watched_prefix="198.18.0.0/15", offending_asn=65666,
        legitimate_origins=[65001], first_seen=1_700_000_000, last_seen=1_700_000_060,
        peers=3, collectors=["127.0.0.11"], example_paths=["65010 65666"],
        tags={"roa": "invalid", "relationship": "none", "confidence": 0.8,
              "confidence_level": "high"},
        details={"note": 'a "quoted" value with \\ and ]'}, source="bmp:127.0.0.1:11019",
        observed_at=1_700_000_001.5, emitted_at=1_700_000_002.0,
        samples=[b"\x00\x01BMP-ish", b"\x02\x03more"])
    for name, value in changes.items():
        setattr(event, name, value)
    return event


class Http:
    """A loopback HTTP server recording requests; answers from a script (status, body)."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict, bytes]] = []
        self.answers: list[tuple[int, bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.requests.append((self.path, dict(self.headers), body))
                status, answer = outer.answers.pop(0) if outer.answers else (200, b"{}")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def http():
    server = Http()
    yield server
    server.close()


# --- webhook ---------------------------------------------------------------------------------

def test_webhook_posts_signed_json_the_receiver_verifies_and_a_tampered_body_fails(http):
    dest = parse_destination(f"webhook:{http.url}/hooks/bgp?x=1", environ=ENV)
    asyncio.run(dest.deliver(raised()))
    path, headers, body = http.requests[0]
    assert path == "/hooks/bgp?x=1"
    assert headers["Content-Type"] == "application/json"
    assert headers["Idempotency-Key"] == raised().idempotency_key
    assert headers["X-Sentinelle-Event"] == "raised"
    assert json.loads(body) == json.loads(json.dumps(raised().to_dict()))
    header = headers["X-Sentinelle-Signature"]
    assert re.fullmatch(r"t=\d+,v1=[0-9a-f]{64}", header)
    assert verify_signature(SECRET, header, body)
    assert not verify_signature(SECRET, header, body.replace(b"65666", b"65667"))
    assert not verify_signature("another secret", header, body)
    assert not verify_signature(SECRET, None, body)
    assert not verify_signature(SECRET, "t=abc,v1=00", body)
    # the time is signed too: an old capture is refused, within tolerance accepted
    old = sign(SECRET, body, int(time.time()) - 3600)
    assert not verify_signature(SECRET, old, body)
    assert verify_signature(SECRET, old, body, tolerance=7200)
    # a receiver rotating secrets: several v1 values
    t = int(time.time())
    rotated = sign(SECRET, body, t) + "," + sign("old", body, t).split(",")[1]
    assert verify_signature("old", rotated, body) and verify_signature(SECRET, rotated, body)


def test_webhook_answers_map_to_delivered_retry_or_rejected(http):
    dest = parse_destination(f"webhook:{http.url}/", environ=ENV)
    http.answers = [(503, b"busy"), (429, b""), (408, b""), (404, b"no such hook"),
                    (302, b""), (204, b"")]
    outcomes = []
    for _ in range(6):
        try:
            asyncio.run(dest.deliver(raised()))
            outcomes.append("ok")
        except DeliveryError as exc:
            outcomes.append("retry" if exc.retryable else f"rejected: {exc}")
    assert outcomes[:3] == ["retry"] * 3
    assert outcomes[3] == "rejected: HTTP 404 Not Found: no such hook"
    assert outcomes[4].startswith("rejected: HTTP 302")   # a redirect is not followed
    assert outcomes[5] == "ok"
    http.close()
    with pytest.raises(DeliveryError) as refused:          # connection refused
        asyncio.run(dest.deliver(raised()))
    assert refused.value.retryable


def test_webhook_needs_a_secret_and_a_valid_http_url(tmp_path):
    with pytest.raises(ValueError, match="SENTINELLE_WEBHOOK_SECRET.*--webhook-secret-file"):
        parse_destination("webhook:https://soc.example/h", environ={})
    secret = tmp_path / "secret"
    secret.write_text("from-a-file\n")
    dest = parse_destination("webhook:https://soc.example/h",
                             SimpleNamespace(webhook_secret_file=str(secret)), environ={})
    assert dest.secret == b"from-a-file"
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(ValueError, match=f"{empty} is empty"):
        parse_destination("webhook:https://soc.example/h",
                          SimpleNamespace(webhook_secret_file=str(empty)), environ={})
    with pytest.raises(ValueError, match="missing.*No such file"):
        parse_destination("webhook:https://soc.example/h",
                          SimpleNamespace(webhook_secret_file=str(tmp_path / "missing")),
                          environ={})
    for url, why in [("ftp://soc.example/h", "only http"), ("file:///etc/passwd", "only http"),
                     ("https:///nohost", "no host"), ("http://h:99999/", "port"),
                     ("http://h:0/", "port"), ("http://h:port/", "port"),
                     ("http://user:pw@h/", "password"), ("http://h/a b", "spaces")]:
        with pytest.raises(ValueError, match=why) as caught:
            parse_destination(f"webhook:{url}", environ=ENV)
        assert f"webhook:{url}" in str(caught.value)


@pytest.mark.parametrize("spec,why", [
    ("nothing", "expected webhook:URL"), ("pager:123", "unknown destination type"),
    ("syslog:127.0.0.1", "port is required"), ("syslog:127.0.0.1:70000", "1 to 65535"),
    ("syslog+tcp:127.0.0.1:x", "1 to 65535"), ("syslog:::1:514", "brackets"),
    ("syslog:[zz]:514", "not an IPv6"), ("syslog::514", "no valid host"),
    ("email:not-an-address", "not an e-mail address"),
    ("email:a@b.example\r\nBcc: x@y", "not an e-mail address"),
    ("email:a@b.example\n", "not an e-mail address"),
    ("platform:ftp://x", "only http"),
])
def test_bad_destination_specs_are_refused_naming_the_spec(spec, why):
    with pytest.raises(ValueError, match=why) as caught:
        parse_destination(spec, environ=ENV)
    assert spec in str(caught.value)


# --- email -----------------------------------------------------------------------------------

@pytest.fixture
def smtp():
    class Handler:
        def __init__(self) -> None:
            self.messages: list[tuple[str, list[str], bytes]] = []
            self.answers: list[str] = []

        async def handle_DATA(self, server, session, envelope):  # noqa: N802
            if self.answers:
                return self.answers.pop(0)
            self.messages.append((envelope.mail_from, envelope.rcpt_tos, envelope.content))
            return "250 OK"

    handler = Handler()
    handler.port = free_port("127.0.0.1")
    controller = Controller(handler, hostname="127.0.0.1", port=handler.port)
    controller.start()
    yield handler
    controller.stop()


def test_email_reaches_a_real_smtp_server_with_subject_body_json_and_stable_id(smtp):
    options = SimpleNamespace(smtp=f"127.0.0.1:{smtp.port}", mail_from="monitor@cirt.example")
    dest = parse_destination("email:soc@cirt.example", options, environ={})
    asyncio.run(dest.deliver(raised()))
    asyncio.run(dest.deliver(raised()))      # a repeat: same Message-ID
    sender, recipients, content = smtp.messages[0]
    assert (sender, recipients) == ("monitor@cirt.example", ["soc@cirt.example"])
    message: EmailMessage = email.message_from_bytes(content, policy=email.policy.default)
    assert message["Subject"] == "[Sentinelle] raised E|0 198.18.0.0/16 (CU)"
    assert message["Message-ID"] == f"<{raised().idempotency_key}@sentinelle-routing.invalid>"
    again = email.message_from_bytes(smtp.messages[1][2], policy=email.policy.default)
    assert again["Message-ID"] == message["Message-ID"]
    text = message.get_body(("plain",)).get_content()
    assert "Offending AS: AS65666" in text and "Prefix: 198.18.0.0/16" in text
    assert "First seen: 2023-11-14T22:13:20Z" in text and "65010 65666" in text
    [attachment] = list(message.iter_attachments())
    assert attachment.get_content_type() == "application/json"
    assert json.loads(attachment.get_content()) == json.loads(json.dumps(raised().to_dict()))


def test_email_uses_starttls_when_the_server_offers_it(monkeypatch):
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    from sentinelle.observatory.routing.live.destinations import email as email_destination
    monkeypatch.setattr(email_destination.ssl, "create_default_context", lambda: client_context)
    seen = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802
            seen.append(session.ssl is not None)
            return "250 OK"

    port = free_port("127.0.0.1")
    controller = Controller(Handler(), hostname="127.0.0.1", port=port,
                                              tls_context=server_context,
                                              require_starttls=True)
    controller.start()
    try:
        dest = parse_destination("email:soc@cirt.example",
                                 SimpleNamespace(smtp=f"127.0.0.1:{port}"), environ={})
        asyncio.run(dest.deliver(raised()))
    finally:
        controller.stop()
    assert seen == [True]


def test_email_smtp_4xx_is_retried_and_5xx_rejected(smtp):
    dest = parse_destination("email:soc@cirt.example",
                             SimpleNamespace(smtp=f"127.0.0.1:{smtp.port}"), environ={})
    smtp.answers = ["451 4.3.0 try again later", "554 5.7.1 no thanks"]
    with pytest.raises(DeliveryError, match="451") as first:
        asyncio.run(dest.deliver(raised()))
    assert first.value.retryable
    with pytest.raises(DeliveryError, match="554") as second:
        asyncio.run(dest.deliver(raised()))
    assert not second.value.retryable
    assert smtp.messages == []


# --- syslog ----------------------------------------------------------------------------------

# RFC 5424 section 6, strictly: HEADER SP STRUCTURED-DATA SP MSG
SD_PARAM = r'[^= \]"]{1,32}="(?:[^"\\\]]|\\["\\\]])*"'
RFC5424 = re.compile(
    r"^<(?P<pri>\d{1,3})>1 "
    r"(?P<ts>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?Z) "
    r"(?P<host>[!-~]{1,255}) (?P<app>[!-~]{1,48}) (?P<procid>[!-~]{1,128}) "
    r"(?P<msgid>[!-~]{1,32}) "
    rf"(?P<sd>\[(?P<sdid>[^= \]\"]{{1,32}})(?: {SD_PARAM})*\]) "
    r"(?P<msg>.*)$", re.S)


def sd_params(sd: str) -> dict[str, str]:
    return {m[1]: re.sub(r'\\(["\\\]])', r"\1", m[2])
            for m in re.finditer(r' ([^= \]"]+)="((?:[^"\\\]]|\\["\\\]])*)"', sd)}


def test_syslog_udp_message_is_strict_rfc5424_with_escaped_structured_data():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.settimeout(5)
        port = listener.getsockname()[1]
        dest = parse_destination(f"syslog:127.0.0.1:{port}", environ={})
        event = raised(prefix='198.18.0.0/16', source='bmp:"x"]\\y')
        asyncio.run(dest.deliver(event))
        data = listener.recv(65536)
    match = RFC5424.match(data.decode())
    assert match, data
    assert int(match["pri"]) == 16 * 8 + 3      # local0, error: raised with high confidence
    assert match["app"] == "sentinelle-routing" and match["msgid"] == "raised"
    assert match["procid"].isdecimal() and match["sdid"] == "sentinelle@32473"
    params = sd_params(match["sd"])
    assert params["source"] == 'bmp:"x"]\\y'            # escaped on the wire, intact parsed
    assert params["prefix"] == "198.18.0.0/16" and params["asn"] == "65666"
    assert params["key"] == event.idempotency_key and params["type"] == "E|0"
    assert json.loads(match["msg"])["alert_id"] == event.alert_id
    assert len(data) <= 2048


@pytest.mark.parametrize("kind,tags,facility,severity", [
    ("raised", {"confidence_level": "medium"}, "local0", 4),
    ("raised", {"confidence_level": "high"}, "local0", 3),
    ("resolved", {}, "local3", 5), ("feed-lost", {}, "daemon", 3),
    ("feed-restored", {}, "local0", 5), ("muted", {}, "local0", 6)])
def test_syslog_severity_and_facility(kind, tags, facility, severity):
    from sentinelle.observatory.routing.live.destinations.syslog import FACILITIES
    data = format_message(raised(event=kind, tags=tags), FACILITIES[facility], "h", limit=2048)
    assert int(RFC5424.match(data.decode())["pri"]) == FACILITIES[facility] * 8 + severity


def test_syslog_udp_caps_the_datagram_with_a_short_message():
    big = raised(example_paths=["65010 " * 300] * 5)
    data = format_message(big, 16, "host", limit=2048, now=1_700_000_000.25)
    match = RFC5424.match(data.decode())
    assert match and len(data) <= 2048
    assert match["ts"] == "2023-11-14T22:13:20.250Z"
    assert match["msg"] == "raised E|0 198.18.0.0/16 by AS65666 (CU)"


def test_syslog_tcp_uses_octet_counting_and_a_refusal_is_retried():
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    received = bytearray()

    def accept() -> None:
        for _ in range(2):
            conn, _ = listener.accept()
            with conn:
                while chunk := conn.recv(65536):
                    received.extend(chunk)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    dest = parse_destination(f"syslog+tcp:127.0.0.1:{port}",
                             SimpleNamespace(syslog_facility="local7"), environ={})
    asyncio.run(dest.deliver(raised()))
    asyncio.run(dest.deliver(raised(event="resolved", resolved_at=1_700_000_600)))
    thread.join(5)
    listener.close()
    frames, rest = [], bytes(received)
    while rest:
        length, _, rest = rest.partition(b" ")
        frames.append(rest[:int(length)])
        rest = rest[int(length):]
    assert len(frames) == 2
    first, second = (RFC5424.match(f.decode()) for f in frames)
    assert int(first["pri"]) == 23 * 8 + 3 and int(second["pri"]) == 23 * 8 + 5
    assert second["msgid"] == "resolved"
    with pytest.raises(DeliveryError) as refused:
        asyncio.run(dest.deliver(raised()))
    assert refused.value.retryable
    with pytest.raises(ValueError, match="syslog-facility"):
        parse_destination("syslog:127.0.0.1:514", SimpleNamespace(syslog_facility="local9"))


# --- platform --------------------------------------------------------------------------------

def parse_multipart(headers: dict, body: bytes) -> dict[str, tuple[str | None, bytes]]:
    message = email.message_from_bytes(
        f"Content-Type: {headers['Content-Type']}\r\n\r\n".encode() + body,
        policy=email.policy.HTTP)
    return {part.get_param("name", header="content-disposition"):
            (part.get_filename(), part.get_payload(decode=True))
            for part in message.iter_parts()}


@pytest.fixture
def sign_key(tmp_path):
    path, _ = keys.generate(tmp_path / "monitor.key")
    return path


def test_platform_posts_event_and_a_bundle_that_verifies(http, sign_key, tmp_path):
    dest = parse_destination(f"platform:{http.url}/", SimpleNamespace(sign_key=str(sign_key)),
                             environ=ENV)
    event = raised()
    asyncio.run(dest.deliver(event))
    path, headers, body = http.requests[0]
    assert path == "/api/v1/observatory/routing/events/"
    assert headers["Authorization"] == "Token tok-123"
    assert headers["Idempotency-Key"] == event.idempotency_key
    fields = parse_multipart(headers, body)
    assert json.loads(fields["event"][1]) == json.loads(json.dumps(event.to_dict()))
    filename, data = fields["bundle"]
    assert filename.endswith(".zip")
    (tmp_path / "got.zip").write_bytes(data)
    public = keys.load_public(str(sign_key) + ".pub")
    result = evidence_bundle.verify(tmp_path / "got.zip", public)
    assert result.ok, result.problems
    manifest = result.manifest
    assert manifest["kind"] == "routing-scan"
    assert manifest["started_at"] == "2023-11-14T22:13:20Z"
    [alert] = manifest["summary"]["alerts"]
    # what observatory.bundles.routing.parse reads
    assert alert["id"] == event.alert_id and alert["type"] == "E|0"
    assert alert["prefix"] == "198.18.0.0/16" and alert["state"] == "CU"
    assert alert["offending_asn"] == 65666 and alert["peers"] == 3
    assert alert["first_seen"] == 1_700_000_000 and alert["collectors"] == ["127.0.0.11"]
    assert alert["key"] == "0123456789abcdef0123" and alert["tags"]["roa"] == "invalid"
    assert manifest["summary"]["sources"] == [{"name": "bmp:127.0.0.1:11019"}]
    assert manifest["summary"]["monitor"] == {"event": "raised",
                                              "idempotency_key": event.idempotency_key}
    line = evidence_bundle.read_member(tmp_path / "got.zip", "alerts.jsonl")
    assert json.loads(line) == alert
    records = evidence_bundle.read_member(tmp_path / "got.zip",
                                          f"records/{event.alert_id}.bmp")
    assert records == b"\x00\x01BMP-ish\x02\x03more"


def test_platform_sends_feed_events_without_bundle_and_maps_refusals(http, sign_key):
    dest = parse_destination(f"platform:{http.url}", SimpleNamespace(sign_key=str(sign_key)),
                             environ=ENV)
    feed = AlertEvent(event="feed-lost", alert_id="feed:ris-live@1700000000", type="feed",
                      source="ris-live")
    http.answers = [(200, b"{}"), (403, b'{"code": "other-state"}'), (401, b"{}"),
                    (500, b"oops"), (400, b'{"event": "bad"}')]
    asyncio.run(dest.deliver(feed))
    assert set(parse_multipart(http.requests[0][1], http.requests[0][2])) == {"event"}
    outcomes = []
    for _ in range(4):
        with pytest.raises(DeliveryError) as caught:
            asyncio.run(dest.deliver(raised()))
        outcomes.append((caught.value.retryable, str(caught.value)))
    assert outcomes[0][0] is False and "other-state" in outcomes[0][1]
    assert outcomes[1][0] is True and "SENTINELLE_API_TOKEN" in outcomes[1][1]
    assert outcomes[2][0] is True
    assert outcomes[3][0] is False and "HTTP 400" in outcomes[3][1]


def test_platform_needs_a_token_from_the_environment_and_a_sign_key(sign_key, tmp_path):
    options = SimpleNamespace(sign_key=str(sign_key))
    with pytest.raises(ValueError, match="SENTINELLE_API_TOKEN"):
        parse_destination("platform:https://sentinelle.example", options, environ={})
    with pytest.raises(ValueError, match="--sign-key"):
        parse_destination("platform:https://sentinelle.example", SimpleNamespace(),
                          environ=ENV)
    bad = tmp_path / "bad.key"
    bad.write_text("not a key")
    with pytest.raises(ValueError, match="bad.key"):
        parse_destination("platform:https://sentinelle.example",
                          SimpleNamespace(sign_key=str(bad)), environ=ENV)


def test_a_bundle_for_a_resolved_alert_carries_its_end(tmp_path, sign_key):
    event = raised(event="resolved", resolved_at=1_700_000_600, duration=600.0, samples=[],
                   source="ris-live")
    manifest = write_bundle(event, tmp_path / "r.zip", keys.load_private(sign_key))
    assert evidence_bundle.verify(tmp_path / "r.zip").ok
    assert manifest["finished_at"] == "2023-11-14T22:23:20Z"
    [alert] = manifest["summary"]["alerts"]
    assert alert["resolved_at"] == 1_700_000_600 and alert["duration"] == 600.0
    assert [f["name"] for f in manifest["files"]] == ["alerts.jsonl"]
