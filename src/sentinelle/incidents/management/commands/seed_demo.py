from __future__ import annotations

import datetime as dt
import random

from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand
from django.db import transaction
from django.test.utils import override_settings
from rich.progress import Progress

from sentinelle.core import audit
from sentinelle.core.models import MemberState, Role, User
from sentinelle.incidents import services, summaries
from sentinelle.incidents.demo.stories import SERVICES, STORIES
from sentinelle.incidents.models import TLP, Category, RsitClass, RsitType, Severity, Status

DEMO_PASSWORD = "sentinelle-demo"
# About twenty States from every ITU-D region.
DEMO_STATES = ["CU", "BR", "MX", "AR", "FR", "DE", "CH", "ES", "RU", "KZ", "EG", "SA", "DZ",
               "NG", "KE", "ZA", "SN", "CN", "IN", "ID", "AU", "IR"]
# A State decides once whether it may be named in public figures and the Council report, and a
# State is named only when all its reports of the year consent (README, "Disclosure rule"): in
# the demo these eight do (Cuba and Iran as in seed-observatory), the other fourteen do not.
CONSENTING_STATES = {"CU", "IR", "BR", "FR", "KE", "ID", "ZA", "MX"}
TLP_WEIGHTS = [(TLP.CLEAR, 15), (TLP.GREEN, 30), (TLP.AMBER, 40), (TLP.AMBER_STRICT, 8),
               (TLP.RED, 7)]
# Where a report ends up, and the steps that take it there.
PATHS = [
    ([], 5),
    ([Status.SUBMITTED], 15),
    ([Status.SUBMITTED, Status.ACKNOWLEDGED], 15),
    ([Status.SUBMITTED, Status.ACKNOWLEDGED, Status.UNDER_ANALYSIS], 20),
    ([Status.SUBMITTED, Status.ACKNOWLEDGED, Status.INFO_REQUESTED], 10),
    ([Status.SUBMITTED, Status.ACKNOWLEDGED, Status.INFO_REQUESTED, "answer"], 10),
    ([Status.SUBMITTED, Status.ACKNOWLEDGED, Status.UNDER_ANALYSIS, Status.CLOSED], 20),
    ([Status.SUBMITTED, Status.WITHDRAWN], 3),
    ([Status.SUBMITTED, Status.DUPLICATE], 2),
]


def _pick(rng: random.Random, weighted):
    return rng.choices([v for v, _ in weighted], weights=[w for _, w in weighted])[0]


class Command(BaseCommand):
    help = ("Build a realistic demo year: States with focal points, 300+ reports, evidence, "
            "messages, versions and summary returns. Example: sentinelle seed-demo --reports 320")

    def add_arguments(self, parser):
        parser.add_argument("--reports", type=int, default=320)
        parser.add_argument("--year", type=int, default=dt.date.today().year)
        parser.add_argument("--seed", type=int, default=2026)

    def handle(self, *args, **options):
        if User.objects.filter(username="analyst").exists():
            self.stdout.write("demo data already present; nothing to do")
            self._print_accounts()
            return
        rng = random.Random(options["seed"])
        # The demo's people are fictitious: their notification e-mails go nowhere.
        quiet_mail = override_settings(
            EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend")
        with quiet_mail, audit.audit_context(actor="command:seed-demo"), transaction.atomic():
            people = self._people()
            self._reports(rng, people, options["reports"], options["year"])
            self._returns(people, options["year"] - 1)
        self._print_accounts()

    def _people(self) -> dict:
        def user(name, role, state=None, language="en"):
            account = User(username=name, role=role, email=f"{name}@demo.invalid",
                           language=language, state=state,
                           is_staff=role == Role.ADMIN, is_superuser=role == Role.ADMIN)
            account.set_password(DEMO_PASSWORD)
            account.save()
            return account

        focal = {}
        for code in DEMO_STATES:
            state = MemberState.objects.get(alpha2=code)
            language = {"FR": "fr", "CH": "fr", "SN": "fr", "DZ": "fr", "ES": "es", "MX": "es",
                        "AR": "es", "CU": "es"}.get(code, "en")
            focal[code] = user(f"fp-{code.lower()}", Role.FOCAL_POINT, state, language)
        return {
            "focal": focal,
            "analysts": [user("analyst", Role.ANALYST), user("analyst2", Role.ANALYST, None, "fr")],
            "admin": user("admin", Role.ADMIN),
            "council": user("council", Role.COUNCIL),
        }

    def _reports(self, rng: random.Random, people: dict, count: int, year: int) -> None:
        categories = {c.code: c for c in Category.objects.all()}
        types = {t.code: t for t in RsitType.objects.select_related("rsit_class")}
        states = list(people["focal"])
        last_day = min(dt.date.today(), dt.date(year, 12, 31))
        span = (last_day - dt.date(year, 1, 1)).days
        created = []
        with Progress(disable=not self.stdout.isatty()) as progress:
            task = progress.add_task("demo reports", total=count)
            for n in range(count):
                code = rng.choice(states)
                reporter = people["focal"][code]
                category = rng.choice(list(STORIES))
                title, rsit_code, narrative = rng.choice(STORIES[category])
                start = dt.datetime(year, 1, 1, tzinfo=dt.UTC) + dt.timedelta(
                    days=rng.randrange(max(span, 1)), hours=rng.randrange(24))
                hours = rng.choice([0.5, 1, 2, 3, 6, 12, 24, 48, 96])
                tlp = _pick(rng, TLP_WEIGHTS)
                cleaned = {
                    "title": title, "category": categories[category],
                    "rsit_type": types[rsit_code], "tlp": tlp,
                    "severity": rng.choice(Severity.values),
                    "started_at": start, "ended_at": start + dt.timedelta(hours=hours),
                    "detected_at": start + dt.timedelta(minutes=rng.randrange(5, 240)),
                    "affected_services": rng.sample(SERVICES, rng.randint(1, 3)),
                    "users_affected": rng.choice([200, 5_000, 40_000, 250_000, 1_200_000]),
                    "alleged_origin_state": None, "description": narrative,
                    "narrative_language": "en", "consent_to_name": code in CONSENTING_STATES,
                    "indicators": [("ipv4", f"203.0.113.{rng.randrange(1, 255)}"),
                                   ("asn", f"AS{rng.randrange(64496, 64511)}")],
                    "named_analysts": [people["analysts"][0]]
                    if tlp in (TLP.AMBER_STRICT, TLP.RED) else [],
                }
                incident = services.create_report(reporter, cleaned)
                self._walk(rng, incident, reporter, people, created)
                if n % 4 == 0:
                    body = f"timestamp,src,dst,bytes\n{start.isoformat()},203.0.113.9,{code},1500\n"
                    upload = SimpleUploadedFile(f"netflow-{n:03d}.csv", body.encode())
                    services.attach_evidence(incident, reporter, upload, "NetFlow extract")
                if n % 5 == 0 and incident.status not in (Status.CLOSED, Status.WITHDRAWN,
                                                          Status.DUPLICATE):
                    services.amend_report(incident, reporter,
                                          {"users_affected": cleaned["users_affected"] * 2},
                                          note="Updated count from operators")
                created.append(incident)
                progress.advance(task)

    def _walk(self, rng, incident, reporter, people, created) -> None:
        analyst = rng.choice(people["analysts"])
        if incident.tlp in (TLP.AMBER_STRICT, TLP.RED):
            analyst = people["analysts"][0]
        for step in _pick(rng, PATHS):
            if step == "answer":
                services.post_message(incident, reporter,
                                      "Packet captures and operator logs are attached.")
            elif step == Status.SUBMITTED or step == Status.WITHDRAWN:
                services.change_status(incident, reporter, step)
            elif step == Status.INFO_REQUESTED:
                services.change_status(incident, analyst, step,
                                       note="Please send the affected prefixes and timestamps.")
            elif step == Status.DUPLICATE:
                same_state = [c for c in created if c.state_id == incident.state_id
                              and c.status != Status.DRAFT]
                if same_state:
                    services.change_status(incident, analyst, step, duplicate_of=same_state[-1])
            else:
                services.change_status(incident, analyst, step)
            incident.refresh_from_db()

    def _returns(self, people: dict, year: int) -> None:
        classes = {c.code: c for c in RsitClass.objects.all()}
        categories = {c.code: c for c in Category.objects.all()}
        for code, rows in (("CU", [("access-denial", "availability", 41, 18_500.0),
                                   ("routing-disruption", "availability", 3, 96_000.0),
                                   ("trust-security", "fraud", 120, 0.0)]),
                           ("FR", [("trust-security", "availability", 57, 310_000.0),
                                   ("trust-security", "intrusions", 22, 4_200.0)])):
            lines = [summaries.ReturnLine(categories[c], classes[r], n, uh)
                     for c, r, n, uh in rows]
            summaries.submit_return(people["focal"][code], year, lines,
                                    notes="Figures from the national authority.")

    def _print_accounts(self) -> None:
        states = ", ".join(DEMO_STATES)
        self.stdout.write(
            f"\nDemo accounts (password: {DEMO_PASSWORD})\n"
            "  analyst, analyst2   Secretariat analysts\n"
            "  admin               Secretariat administrator (/admin/)\n"
            "  council             Council reader\n"
            f"  fp-cu, fp-fr, ...   focal points: fp-<ISO code> for {states}\n")
