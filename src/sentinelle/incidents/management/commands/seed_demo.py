from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass, field
from unittest import mock

from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand
from django.db import transaction
from django.test.utils import override_settings
from django.utils import timezone
from rich.progress import Progress

from sentinelle.core import audit
from sentinelle.core.models import MemberState, Role, User
from sentinelle.incidents import services, summaries
from sentinelle.incidents.demo.stories import (
    CAMPAIGNS,
    DOMAIN_TLDS,
    DOMAIN_WORDS,
    SERVICES,
    STORIES,
)
from sentinelle.incidents.models import (
    TLP,
    Category,
    Incident,
    RsitClass,
    RsitType,
    Severity,
    Status,
)

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


# Hours from one step of a report to the next: log-normal (median, spread), as handling times
# are: most within a working day, a long tail over days. "create" follows the detection.
DELAYS = {
    "create": (8, 1.0),
    Status.SUBMITTED: (4, 1.2),
    Status.ACKNOWLEDGED: (9, 1.0),
    Status.UNDER_ANALYSIS: (20, 0.9),
    Status.INFO_REQUESTED: (30, 0.8),
    "answer": (70, 0.8),
    Status.CLOSED: (300, 0.7),
    Status.WITHDRAWN: (48, 1.0),
    Status.DUPLICATE: (24, 1.0),
    "amend": (60, 1.0),
}
# One campaign (a few related reports from different States) for about every 25 reports.
REPORTS_PER_CAMPAIGN = 25


def _pick(rng: random.Random, weighted):
    return rng.choices([v for v, _ in weighted], weights=[w for _, w in weighted])[0]


def _delay(rng: random.Random, step: str) -> dt.timedelta:
    median, spread = DELAYS[step]
    return dt.timedelta(hours=rng.lognormvariate(math.log(median), spread))


# How the demo reports arrived, so the Council report shows a channel breakdown: most through
# the web form, the rest by API, file import and federation (observatory reports come from
# seed-observatory's bundles). Cycled by report number: no draw from the seeded random
# generator, so every other demo figure stays as it was.
CHANNEL_CYCLE = ["web"] * 11 + ["api"] * 4 + ["import"] * 3 + ["federation"] * 2


@dataclass
class _Plan:
    """One demo report: what it says and, in time order, what happens to it."""

    n: int
    code: str
    category: str
    story: tuple[str, str, str]
    start: dt.datetime
    indicators: list[tuple[str, str]]
    # The report must count in the year (submitted, not withdrawn nor a duplicate).
    counted: bool = False
    events: list[tuple[dt.datetime, str]] = field(default_factory=list)
    incident: Incident | None = None


class _Clock:
    """The demo's clock: every timestamp the services write (``timezone.now``: transitions,
    messages, versions, evidence, receipts, audit entries) reads the time of the event being
    replayed, so the year looks lived-in and the audit chain stays in time order."""

    def __init__(self, moment: dt.datetime):
        self.moment = moment
        self._patch = mock.patch("django.utils.timezone.now", lambda: self.moment)

    def __enter__(self) -> _Clock:
        self._patch.start()
        return self

    def __exit__(self, *exc) -> None:
        self._patch.stop()


class Command(BaseCommand):
    help = ("Build a realistic demo year: States with focal points, 300+ reports, evidence, "
            "messages, versions and summary returns. Example: sentinelle seed-demo --reports 320")

    def add_arguments(self, parser):
        parser.add_argument("--reports", type=int, default=320,
                            help="number of reports (default 320)")
        parser.add_argument("--year", type=int, default=dt.date.today().year,
                            help="the demo year (default: this year)")
        parser.add_argument("--seed", type=int, default=2026,
                            help="random seed: the same seed gives the same data (default 2026)")

    def handle(self, *args, **options):
        if User.objects.filter(username="analyst").exists():
            self.stdout.write("demo data already present; nothing to do")
            self._print_accounts()
            return
        rng = random.Random(options["seed"])
        # The demo's people are fictitious: their notification e-mails go nowhere.
        quiet_mail = override_settings(
            EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend")
        year = options["year"]
        now = timezone.now()
        with quiet_mail, audit.audit_context(actor="command:seed-demo"), transaction.atomic(), \
                _Clock(min(now, dt.datetime(year, 1, 1, tzinfo=dt.UTC))) as clock:
            people = self._people()
            self._returns(people, year - 1)
            self._reports(rng, people, options["reports"], year, clock, now)
            self._link(people["analysts"][0])
        self._print_accounts()

    @staticmethod
    def _link(analyst: User) -> None:
        """Link one campaign reported by several States as one incident, as an analyst would:
        the first cluster of two or three counted reports from as many States."""
        from sentinelle.analysis import correlation, linking

        for cluster in correlation.clusters(analyst):
            states = {i.state_id for i in cluster.incidents}
            # Every analyst reads the linked incident's name: never one taken from a report
            # that only its named analysts may see.
            if any(i.tlp in linking.RESTRICTED_TLP for i in cluster.incidents):
                continue
            if 2 <= len(cluster.incidents) <= 3 and len(states) == len(cluster.incidents):
                first = cluster.incidents[0]
                linking.link(analyst, cluster.incidents, label=first.title[:200],
                             note="seed-demo: the same campaign reported by several States")
                return

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

    def _reports(self, rng: random.Random, people: dict, count: int, year: int,
                 clock: _Clock, now: dt.datetime) -> None:
        """Plan the year's reports, then replay every event of every report in time order."""
        plans = self._plans(rng, count, year, now)
        events = sorted((when, plan.n, i, step) for plan in plans
                        for i, (when, step) in enumerate(plan.events))
        by_n = {plan.n: plan for plan in plans}
        with Progress(disable=not self.stdout.isatty()) as progress:
            task = progress.add_task("demo reports", total=len(events))
            for when, n, _i, step in events:
                clock.moment = when
                self._event(rng, by_n[n], step, people, plans)
                progress.advance(task)

    def _plans(self, rng: random.Random, count: int, year: int, now: dt.datetime) -> list[_Plan]:
        first = dt.datetime(year, 1, 1, tzinfo=dt.UTC)
        # The newest reports start the day before today and are still being handled.
        last = min(now - dt.timedelta(days=1), dt.datetime(year + 1, 1, 1, tzinfo=dt.UTC))
        span = max(int((last - first).total_seconds() // 3600), 1)
        plans: list[_Plan] = []
        campaigns = max(2, count // REPORTS_PER_CAMPAIGN) if count >= 4 else 0
        while campaigns and len(plans) + 2 <= count:
            campaigns -= 1
            category, title, rsit_code, narrative = rng.choice(CAMPAIGNS)
            size = min(rng.randint(2, 5), count - len(plans))
            sample = rng.randbytes(32).hex()
            words = rng.sample(DOMAIN_WORDS, 3)
            domain = (f"{words[0]}-{words[1]}-{words[2]}{rng.randrange(10, 99)}."
                      f"{rng.choice(DOMAIN_TLDS)}")
            day = first + dt.timedelta(hours=rng.randrange(span))
            for code in rng.sample(DEMO_STATES, size):
                start = min(day + dt.timedelta(hours=rng.randrange(96)), last)
                plans.append(_Plan(len(plans), code, category, (title, rsit_code, narrative),
                                   start, [("sha256", sample), ("domain", domain),
                                           *self._common_indicators(rng)]))
        # Every State reports at least once (when there are enough reports), so that each
        # counts in the year and the consenting ones are named.
        unheard = [code for code in DEMO_STATES if code not in {p.code for p in plans}]
        while len(plans) < count:
            category = rng.choice(list(STORIES))
            # A State's first report starts a month before the last day at the latest, so that
            # it has been submitted by now.
            late = 0 if not unheard else min(24 * 30, span - 1)
            start = first + dt.timedelta(hours=rng.randrange(span - late))
            indicators = self._common_indicators(rng)
            if rng.random() < 0.4:  # a sample seen by this State only
                indicators.append(("sha256", rng.randbytes(32).hex()))
            counted = bool(unheard)
            code = unheard.pop(0) if unheard else rng.choice(DEMO_STATES)
            plans.append(_Plan(len(plans), code, category, rng.choice(STORIES[category]),
                               start, indicators, counted=counted))
        for plan in plans:
            self._schedule(rng, plan, now)
        return plans

    @staticmethod
    def _common_indicators(rng: random.Random) -> list[tuple[str, str]]:
        # Documentation addresses and AS numbers (RFC 5737, RFC 5398): on the warning lists, so
        # they are searchable but link no report to another.
        return [("ipv4", f"203.0.113.{rng.randrange(1, 255)}"),
                ("asn", f"AS{rng.randrange(64496, 64511)}")]

    def _schedule(self, rng: random.Random, plan: _Plan, now: dt.datetime) -> None:
        """The report's events in time order; those that would fall after now do not happen
        (the report stays where it is, as the newest reports of a real year do)."""
        when = plan.start + dt.timedelta(minutes=rng.randrange(5, 240)) + _delay(rng, "create")
        paths = [(path, weight) for path, weight in PATHS if not plan.counted
                 or (path and path[-1] not in (Status.WITHDRAWN, Status.DUPLICATE))]
        steps = ["create", *_pick(rng, paths)]
        if plan.n % 5 == 0:
            steps.insert(2 if len(steps) > 1 else 1, "amend")
        for i, step in enumerate(steps):
            if i:
                when = when + _delay(rng, step)
            if when >= now:
                break
            plan.events.append((when, step))

    def _event(self, rng: random.Random, plan: _Plan, step: str, people: dict,
               plans: list[_Plan]) -> None:
        reporter = people["focal"][plan.code]
        if step == "create":
            plan.incident = self._create(rng, plan, reporter, people)
            return
        incident = plan.incident
        analyst = rng.choice(people["analysts"])
        if incident.tlp in (TLP.AMBER_STRICT, TLP.RED):
            analyst = people["analysts"][0]
        if step == "amend":
            if incident.status in (Status.CLOSED, Status.WITHDRAWN, Status.DUPLICATE):
                return
            services.amend_report(incident, reporter,
                                  {"users_affected": incident.users_affected * 2},
                                  note="Updated count from operators")
        elif step == "answer":
            services.post_message(incident, reporter,
                                  "Packet captures and operator logs are attached.")
        elif step in (Status.SUBMITTED, Status.WITHDRAWN):
            services.change_status(incident, reporter, step)
        elif step == Status.INFO_REQUESTED:
            services.change_status(incident, analyst, step,
                                   note="Please send the affected prefixes and timestamps.")
        elif step == Status.DUPLICATE:
            same_state = [p.incident for p in plans if p.incident is not None
                          and p.code == plan.code and p.n != plan.n
                          and p.incident.status != Status.DRAFT]
            if not same_state:
                return
            services.change_status(incident, analyst, step, duplicate_of=same_state[-1])
        else:
            services.change_status(incident, analyst, step)
        incident.refresh_from_db()

    def _create(self, rng: random.Random, plan: _Plan, reporter, people: dict) -> Incident:
        if not hasattr(self, "_taxonomy"):
            self._taxonomy = ({c.code: c for c in Category.objects.all()},
                              {t.code: t for t in RsitType.objects.select_related("rsit_class")})
        categories, types = self._taxonomy
        title, rsit_code, narrative = plan.story
        start = plan.start
        hours = rng.choice([0.5, 1, 2, 3, 6, 12, 24, 48, 96])
        tlp = _pick(rng, TLP_WEIGHTS)
        cleaned = {
            "title": title, "category": categories[plan.category],
            "rsit_type": types[rsit_code],
            "tlp": tlp, "severity": rng.choice(Severity.values),
            "started_at": start, "ended_at": start + dt.timedelta(hours=hours),
            "detected_at": start + dt.timedelta(minutes=rng.randrange(5, 240)),
            "affected_services": rng.sample(SERVICES, rng.randint(1, 3)),
            "users_affected": rng.choice([200, 5_000, 40_000, 250_000, 1_200_000]),
            "alleged_origin_state": None, "description": narrative,
            "narrative_language": "en", "consent_to_name": plan.code in CONSENTING_STATES,
            "indicators": plan.indicators,
            "named_analysts": [people["analysts"][0]]
            if tlp in (TLP.AMBER_STRICT, TLP.RED) else [],
        }
        incident = services.create_report(
            reporter, cleaned, channel=CHANNEL_CYCLE[plan.n % len(CHANNEL_CYCLE)])
        if plan.n % 4 == 0:
            body = (f"timestamp,src,dst,bytes\n{start.isoformat()},203.0.113.9,{plan.code},"
                    "1500\n")
            upload = SimpleUploadedFile(f"netflow-{plan.n:03d}.csv", body.encode())
            services.attach_evidence(incident, reporter, upload, "NetFlow extract")
        return incident

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
