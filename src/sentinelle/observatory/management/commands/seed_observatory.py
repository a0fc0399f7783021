"""Demo observatory data: signed evidence bundles submitted by demo States, as a CIRT would.

For Cuba, Iran and Syria, three monthly access-probe runs against services known to deny those
countries (Docker Hub's export-control page, GitLab behind Cloudflare's 1020, Google's "not
available in your country" pages, a CloudFront country block) beside services that answer; and
for Cuba one routing scan of a small MRT update file in which AS64500 (a documentation ASN)
announces Cuba's 152.206.0.0/16 (E|0) and a /24 inside it (S|0). Every bundle is written by the
evidence module, signed with a demo key kept under SENTINELLE_DATA_DIR, submitted through
``observatory.services.submit`` and its report submitted, so the access-denial index, the
observatory pages and section 8 of the Council report have figures. Cuba also gets a routing
watch list and a few days of live routing monitor events (open and resolved alerts, a feed
outage, a mute) for /observatory/routing/.

Idempotent: a bundle whose file name the State has already submitted is left alone.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import json
import struct
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.test.utils import override_settings
from django.utils import timezone, translation
from django.utils.translation import ngettext

from sentinelle import __version__
from sentinelle.core import audit
from sentinelle.core.models import MemberState, Role, User
from sentinelle.evidence import keys
from sentinelle.evidence.bundle import ACCESS_PROBE, BundleWriter
from sentinelle.incidents import services as incident_services
from sentinelle.incidents.models import Status
from sentinelle.observatory import services
from sentinelle.observatory.models import BundleSubmission, Verdict

ACTOR = "command:seed-observatory"
DEMO_PASSWORD = "sentinelle-demo"   # as seed-demo's accounts

# Why a page is judged denied, in the probe's words (verdict_reasons).
REASONS = {
    "Docker": ["status 403 here, 200 at the control",
               "fingerprint docker-export-control (body): 'export control'"],
    "Cloudflare": ["status 403 here, 200 at the control",
                   "fingerprint cloudflare-1020 (body): 'Access denied' / 'Error 1020'"],
    "Google": ["status 403 here, 200 at the control",
               "fingerprint google-country-unavailable (body): 'not available in your "
               "country'"],
    "Amazon CloudFront": ["status 403 here, 200 at the control",
                          "fingerprint cloudfront-country-block (body): 'configured to block "
                          "access from your country'"],
    None: ["status 403 here, 200 at the control", "no block-page fingerprint matched"],
}

# service host: (category code, URLs)
SERVICES = {
    "hub.docker.com": ("HOST", ["https://hub.docker.com/",
                                "https://hub.docker.com/v2/repositories/library/python/"]),
    "gitlab.com": ("HOST", ["https://gitlab.com/users/sign_in", "https://gitlab.com/explore"]),
    "developer.android.com": ("HOST", ["https://developer.android.com/studio",
                                       "https://developer.android.com/"]),
    "cloud.google.com": ("HOST", ["https://cloud.google.com/", "https://cloud.google.com/sdk"]),
    "www.coursera.org": ("MISC", ["https://www.coursera.org/",
                                  "https://www.coursera.org/browse"]),
    "www.nvidia.com": ("MISC", ["https://www.nvidia.com/en-us/drivers/",
                                "https://www.nvidia.com/en-us/"]),
    "www.wikipedia.org": ("CULTR", ["https://www.wikipedia.org/",
                                    "https://en.wikipedia.org/wiki/Internet"]),
    "www.bbc.com": ("NEWS", ["https://www.bbc.com/news", "https://www.bbc.com/"]),
}

# State: vantage (ASN, network), control (country, ASN), {service: (verdict, provider)}.
ACCESS = {
    "CU": ((27725, "Empresa de Telecomunicaciones de Cuba, S.A."), ("CH", 3303), {
        "hub.docker.com": (Verdict.GEOBLOCKED, "Docker"),
        "gitlab.com": (Verdict.GEOBLOCKED, "Cloudflare"),
        "developer.android.com": (Verdict.GEOBLOCKED, "Google"),
        "www.coursera.org": (Verdict.GEOBLOCKED, "Amazon CloudFront"),
        "www.wikipedia.org": (Verdict.ACCESSIBLE, None),
        "www.bbc.com": (Verdict.ACCESSIBLE, None)}),
    "IR": ((58224, "Iran Telecommunication Company PJS"), ("DE", 3320), {
        "hub.docker.com": (Verdict.GEOBLOCKED, "Docker"),
        "gitlab.com": (Verdict.GEOBLOCKED, "Cloudflare"),
        "developer.android.com": (Verdict.GEOBLOCKED, "Google"),
        "www.coursera.org": (Verdict.GEOBLOCKED, "Amazon CloudFront"),
        "www.nvidia.com": (Verdict.SERVER_DENIED, None),
        "www.bbc.com": (Verdict.ACCESSIBLE, None)}),
    "SY": ((29256, "Syrian Telecommunications Establishment"), ("FR", 3215), {
        "hub.docker.com": (Verdict.GEOBLOCKED, "Docker"),
        "cloud.google.com": (Verdict.GEOBLOCKED, "Google"),
        "developer.android.com": (Verdict.GEOBLOCKED, "Google"),
        "www.coursera.org": (Verdict.GEOBLOCKED, "Amazon CloudFront"),
        "www.wikipedia.org": (Verdict.ACCESSIBLE, None)}),
}
LANGUAGE = {"CU": "es", "IR": "en", "SY": "ar"}
# States whose demo reports consent to be named in the Council report (Cuba and Iran; Syria not).
CONSENTING = {"CU", "IR"}

ROUTING_STATE = "CU"
HIJACKER = 64500                      # a documentation ASN (RFC 5398), not a real operator
PEERS = [(3356, "192.0.2.1"), (1299, "192.0.2.2"), (6939, "192.0.2.3")]
WATCH = """# Demo watch list: Cuba's address space and its origin.
states:
  CU:
    asns: [27725]
    prefixes:
      - {prefix: 152.206.0.0/16, origins: [27725], max_length: 24}
      - {prefix: 169.158.0.0/16, origins: [27725], max_length: 24}
"""


def run_times(year: int) -> list[dt.datetime]:
    """Three monthly runs: the last three months of ``year`` already past, else Sep-Nov."""
    now = timezone.now()
    if year == now.year:
        times = [now - dt.timedelta(days=days) for days in (75, 45, 15)]
        times = [t for t in times if t.year == year] or [now - dt.timedelta(hours=2)]
    else:
        times = [dt.datetime(year, month, 14, tzinfo=dt.UTC) for month in (9, 10, 11)]
    return [t.replace(hour=9, minute=30, second=0, microsecond=0) for t in times]


def _vantage(cc: str, asn: int, network: str = "") -> dict:
    own = {"cc": cc, "asn": asn}
    return {"self_reported": own, "geoip": {**own, "db": "GeoLite2 (demo)", "network": network},
            "mismatch": False, "mismatch_reasons": []}


def _ooni_time(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M:%S")


def _measurement(url: str, category: str, verdict: str, provider: str | None,
                 when: dt.datetime, cc: str, asn: int, network: str, report_id: str,
                 control: tuple[str, int]) -> dict:
    """One line of the probe's JSONL: OONI's base fields, a Web Connectivity shape, ours."""
    if verdict == Verdict.INCONCLUSIVE:
        code, reasons = None, ["the control helper did not answer in time"]
    elif verdict == Verdict.ACCESSIBLE:
        code, reasons = 200, ["same status, title and body length as the control"]
    else:
        code, reasons = 403, REASONS.get(provider, REASONS[None])
    return {
        "annotations": {"engine_name": "sentinelle", "platform": "linux"},
        "data_format_version": "0.2.0", "input": url, "category_code": category,
        "measurement_start_time": _ooni_time(when), "test_start_time": _ooni_time(when),
        "probe_asn": f"AS{asn}", "probe_cc": cc, "probe_network_name": network,
        "report_id": report_id, "software_name": "sentinelle", "software_version": __version__,
        "test_name": "web_connectivity", "test_version": "0.4.3", "test_runtime": 1.7,
        "test_keys": {"requests": [] if code is None else [{
            "request": {"method": "GET", "url": url},
            "response": {"code": code, "body_length": 2048 if code == 403 else 48_000}}],
            "control_failure": "generic_timeout_error" if code is None else None},
        "verdict": verdict, "verdict_reasons": reasons, "provider": provider,
        "vantage": _vantage(cc, asn, network), "control_vantage": _vantage(*control)}


def _bgp4mp_update(when: int, peer_asn: int, peer_ip: str, path: list[int],
                   prefix: str) -> bytes:
    """One MRT BGP4MP_MESSAGE_AS4 record holding a BGP UPDATE that announces ``prefix``."""
    net = ipaddress.ip_network(prefix)
    nlri = bytes([net.prefixlen]) + net.network_address.packed[:(net.prefixlen + 7) // 8]
    as_path = bytes([2, len(path)]) + b"".join(struct.pack("!I", a) for a in path)
    attributes = (bytes([0x40, 1, 1, 0]) + bytes([0x40, 2, len(as_path)]) + as_path
                  + bytes([0x40, 3, 4]) + ipaddress.ip_address(peer_ip).packed)
    update = struct.pack("!HH", 0, len(attributes)) + attributes + nlri
    message = b"\xff" * 16 + struct.pack("!HB", 19 + len(update), 2) + update
    body = (struct.pack("!IIHH", peer_asn, 12654, 0, 1) + ipaddress.ip_address(peer_ip).packed
            + ipaddress.ip_address("193.0.4.28").packed + message)
    return struct.pack("!IHHI", when, 16, 4, len(body)) + body


def _fields(event) -> dict:
    """An AlertEvent's own fields (to copy it into another kind of event)."""
    return {name: getattr(event, name) for name in event.__dataclass_fields__}


class Command(BaseCommand):
    help = ("Submit demo evidence bundles (access probe runs for CU, IR and SY, a routing scan "
            "for CU) and their reports, so the observatory and the access-denial index show "
            "figures. Idempotent. Example: sentinelle seed-observatory")

    def add_arguments(self, parser):
        parser.add_argument("--year", type=int, default=dt.date.today().year,
                            help="the year the demo measurements are dated in (default: this "
                                 "year)")

    def handle(self, *args, **options):
        folder = Path(settings.DATA_DIR) / "demo-observatory"
        folder.mkdir(parents=True, exist_ok=True)
        key_path = folder / "demo-probe.key"
        if not key_path.exists():
            keys.generate(key_path)
        signing_key = keys.load_private(key_path)
        times = run_times(options["year"])
        created = skipped = 0
        quiet_mail = override_settings(
            EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend")
        with quiet_mail, audit.audit_context(actor=ACTOR):
            for code, spec in ACCESS.items():
                user = self._focal_point(code)
                for when in times:
                    name = f"{code.lower()}-probe-{when:%Y-%m}.zip"
                    if self._submitted(user, name):
                        skipped += 1
                        continue
                    path = self._access_bundle(folder / name, code, spec, when, signing_key)
                    self._submit(user, path)
                    created += 1
            user = self._focal_point(ROUTING_STATE)
            name = f"{ROUTING_STATE.lower()}-routing-{times[-1]:%Y-%m}.zip"
            if self._submitted(user, name):
                skipped += 1
            else:
                self._submit(user, self._routing_bundle(folder / name, times[-1], key_path))
                created += 1
            self._live_routing(user)
        self.stdout.write(ngettext("observatory: %(created)d bundle submitted",
                                   "observatory: %(created)d bundles submitted", created)
                          % {"created": created}
                          + f", {skipped} already there (bundles and the demo key "
                            f"{key_path.name}.pub in {folder})")

    # --- people and idempotency ------------------------------------------------------------

    def _focal_point(self, code: str) -> User:
        user = User.objects.filter(username=f"fp-{code.lower()}").select_related("state").first()
        if user is not None:
            if not user.is_focal_point:
                raise CommandError(f"{user.username} is not a focal point")
            return user
        state = MemberState.objects.filter(alpha2=code).first()
        if state is None:
            raise CommandError(f"Member State {code} is missing: run migrate first")
        user = User(username=f"fp-{code.lower()}", role=Role.FOCAL_POINT, state=state,
                    email=f"fp-{code.lower()}@demo.invalid", language=LANGUAGE.get(code, "en"))
        user.set_password(DEMO_PASSWORD)
        user.save()
        self.stdout.write(f"created focal point {user.username} (password: {DEMO_PASSWORD})")
        return user

    @staticmethod
    def _submitted(user: User, name: str) -> bool:
        return BundleSubmission.objects.filter(state_id=user.state_id,
                                               evidence__filename=name).exists()

    def _submit(self, user: User, path: Path) -> None:
        with translation.override(user.language or "en"), transaction.atomic():
            outcome = services.submit(user, path)
            incident = outcome.incident
            if incident.status == Status.DRAFT:
                if user.state.alpha2 in CONSENTING:
                    # As a complaining State would: named in the Council report.
                    incident_services.amend_report(incident, user, {"consent_to_name": True},
                                                   note="consent to be named")
                incident_services.change_status(incident, user, Status.SUBMITTED)
        self.stdout.write(f"  {path.name} -> {incident.reference} (submitted)")

    # --- the live routing monitor's page ------------------------------------------------------

    def _live_routing(self, user: User) -> None:
        """Cuba's watch list and what a live monitor would have delivered over the last days:
        two open alerts, three raised and resolved, a feed lost and back, a mute. Through the
        same service the API uses; left alone once Cuba has live alerts."""
        from sentinelle.observatory import live
        from sentinelle.observatory.models import LiveRoutingAlert, RoutingWatch
        from sentinelle.observatory.routing.live.events import AlertEvent

        if not RoutingWatch.objects.filter(state=user.state).exists():
            live.save_watch(user, user.state, WATCH)
        if LiveRoutingAlert.objects.filter(state=user.state).exists():
            return
        now = int(timezone.now().timestamp())
        collectors = ["rrc00", "rrc21", "bmp:192.0.2.10:11019"]

        def alert(type_: str, prefix: str, asn: int | None, ago: int,
                  lasted: int | None = None, **tags) -> AlertEvent:
            key = hashlib.sha256(f"{type_}|{prefix}|{asn}|CU".encode()).hexdigest()[:20]
            first = now - ago
            return AlertEvent(
                event="raised", alert_id=f"{key}@{first}", type=type_, state="CU", prefix=prefix,
                watched_prefix=prefix if type_ != "S|0" else "152.206.0.0/16",
                offending_asn=asn, legitimate_origins=[27725], first_seen=first,
                last_seen=first + (lasted or 60), peers=len(PEERS) + 4,
                collectors=collectors, example_paths=[f"3356 174 {asn or 27725}"],
                tags=tags, source="ris-live")

        high = {"roa": "invalid", "relationship": "none", "confidence": 0.86,
                "confidence_level": "high"}
        events = [
            alert("visibility-loss", "169.158.0.0/16", None, 5 * 86400, 7800,
                  roa="unknown", relationship="unknown", confidence=0.5,
                  confidence_level="medium"),
            alert("S|0", "152.206.200.0/24", HIJACKER, 2 * 86400, 2820, **high),
            alert("route-leak", "169.158.0.0/16", 64511, 86400, 1500,
                  roa="valid", relationship="customer", confidence=0.35,
                  confidence_level="low"),
            alert("E|0", "152.206.0.0/16", HIJACKER, 3 * 3600, **high),
            alert("S|0", "152.206.128.0/24", HIJACKER, 40 * 60, roa="not-found",
                  relationship="none", confidence=0.55, confidence_level="medium"),
        ]
        for raised in events[:3]:
            events.append(AlertEvent(**{**_fields(raised), "event": "resolved",
                                        "resolved_at": raised.last_seen,
                                        "duration": raised.last_seen - raised.first_seen}))
        lost_at = now - 6 * 3600
        events += [
            AlertEvent(event="feed-lost", alert_id=f"feed:ris-live@{lost_at}", type="feed",
                       source="ris-live", first_seen=lost_at),
            AlertEvent(event="feed-restored", alert_id=f"feed:ris-live@{lost_at}", type="feed",
                       source="ris-live", first_seen=lost_at, resolved_at=lost_at + 240,
                       duration=240.0),
            AlertEvent(event="muted", alert_id="mute:demo-maintenance", type="mute", state="CU",
                       prefix="169.158.0.0/16",
                       details={"id": "demo-maintenance", "prefix": "169.158.0.0/16",
                                "type": "visibility-loss", "until": now + 86400,
                                "reason": "planned maintenance of the border routers",
                                "by": "noc"}),
        ]
        for event in events:
            live.record_event(user, event.to_dict())
        self.stdout.write(f"  live routing monitor: {len(events)} events for "
                          f"{user.state.alpha2}")

    # --- bundles -----------------------------------------------------------------------------

    def _access_bundle(self, path: Path, code: str, spec, when: dt.datetime,
                       signing_key) -> Path:
        (asn, network), control, verdicts = spec
        report_id = hashlib.sha256(f"{code}{when:%Y%m%d}".encode()).hexdigest()[:24]
        results, lines = [], []
        step = 0
        for service, (verdict, provider) in verdicts.items():
            category, urls = SERVICES[service]
            for url in urls:
                at = when + dt.timedelta(seconds=7 * step)
                # One measurement in eleven: the control did not answer (not counted).
                this = Verdict.INCONCLUSIVE if (step + when.month) % 11 == 0 else verdict
                line = _measurement(url, category, this, provider if this == verdict else None,
                                    at, code, asn, network, report_id, control)
                lines.append(json.dumps(line, ensure_ascii=False).encode() + b"\n")
                results.append({key: line[key] for key in (
                    "input", "category_code", "verdict", "verdict_reasons", "provider",
                    "measurement_start_time")})
                step += 1
        counts: dict[str, int] = {}
        for r in results:
            counts[r["verdict"]] = counts.get(r["verdict"], 0) + 1
        finished = when + dt.timedelta(seconds=7 * step + 5)
        listing = f"demo-{code.lower()}.csv"
        with BundleWriter(path, kind=ACCESS_PROBE, signing_key=signing_key,
                          command_line=["sentinelle", "probe", "run", "--list", listing,
                                        "--control", "https://control.demo.invalid/",
                                        "--control-token", "***", "--output",
                                        "measurements.jsonl", "--bundle", path.name]) as writer:
            writer.add_bytes("measurements.jsonl", b"".join(lines))
            writer.set("vantage", _vantage(code, asn, network))
            writer.set("control", _vantage(*control))
            writer.set("started_at", when.isoformat())
            writer.set("finished_at", finished.isoformat())
            writer.set("summary", {"list": listing, "count": len(results), "verdicts": counts,
                                   "results": results, "list_problems": []})
        return path

    def _routing_bundle(self, path: Path, when: dt.datetime, key_path: Path) -> Path:
        """The real scanner (`sentinelle routing scan`) over a small MRT file made here."""
        from sentinelle.observatory.routing import run as routing_run

        work = path.with_suffix("")
        work.mkdir(exist_ok=True)
        start = int(when.timestamp())
        records = []
        for n, (peer_asn, peer_ip) in enumerate(PEERS):
            records += [
                _bgp4mp_update(start + n, peer_asn, peer_ip, [peer_asn, 11960, 27725],
                               "169.158.0.0/16"),
                _bgp4mp_update(start + 600 + n, peer_asn, peer_ip, [peer_asn, 174, HIJACKER],
                               "152.206.0.0/16"),
                _bgp4mp_update(start + 900 + n, peer_asn, peer_ip, [peer_asn, 174, HIJACKER],
                               "152.206.128.0/24")]
        mrt = work / f"updates.{when:%Y%m%d.%H%M}"
        mrt.write_bytes(b"".join(records))
        watch = work / "watch.yaml"
        watch.write_text(WATCH, encoding="utf-8")
        try:
            routing_run.run(routing_run.RunOptions(
                watch=watch, output=work / "alerts.jsonl", mrt=[mrt], bundle=path,
                sign_key=key_path))
        except (routing_run.RunError, OSError) as exc:
            raise CommandError(f"routing scan failed: {exc}") from None
        return path
