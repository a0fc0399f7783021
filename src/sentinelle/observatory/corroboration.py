"""Corroboration of an access-denial report from outside: OONI and the State's other bundles.

``corroborate(incident, user)`` takes every denial the report's bundle observed (URL, vantage
country and network, time), asks OONI's API for measurements of the same URL from the same
country and network within ±3 days, and looks for the same URL measured by another bundle
(another vantage point) in the same window. Each measurement found is said to agree, disagree or
be inconclusive against our denial. The whole is written as one JSON file (sorted keys, so the
same findings give the same bytes but for the generation time), attached to the report as
evidence with its SHA-256, and audited.

What goes into the file is readable by whoever may read the report's evidence, so another
bundle is used only when everyone who may read this report's new file may already read that
bundle (``_shareable``): the same State's reports, never another State's, never a draft or a
stricter TLP than this report's. What is left out for that reason is counted for the user who
ran it (``CorroborationResult.withheld``), never written in the file: even a count would tell the
file's readers that a restricted measurement exists.

Running it twice attaches a second file: the generation time differs, and OONI may know more.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

import sentinelle
from sentinelle.core import audit
from sentinelle.incidents import services as incident_services
from sentinelle.incidents import visibility
from sentinelle.incidents.models import Evidence, Incident
from sentinelle.observatory import ooni_api
from sentinelle.observatory.models import (
    DENIAL_VERDICTS,
    AccessObservation,
    BundleSubmission,
    Verdict,
)

__all__ = ["FORMAT", "WINDOW", "CorroborationResult", "NotCorroborable", "agreement_of_ooni",
           "agreement_of_verdict", "corroborate", "denials_of"]

FORMAT = "sentinelle-corroboration/1"
WINDOW = dt.timedelta(days=3)
MAX_URLS = 200          # OONI queries per run; the rest are counted as not queried
# OONI measurements listed per query (all are counted): 200 URLs of thousands each would make
# a file far over the evidence limit, and the whole run would be lost.
MAX_LISTED = 200
AGREE, DISAGREE, INCONCLUSIVE = "agree", "disagree", "inconclusive"


class NotCorroborable(ValidationError):
    """The report is not one this can corroborate; the message says why."""


@dataclass
class CorroborationResult:
    evidence: Evidence
    document: dict[str, Any]
    totals: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    withheld: int = 0       # the State's own restricted measurements left out of the file

    def summary_lines(self) -> list[str]:
        lines = []
        for query in self.document["queries"]:
            counts = query["summary"]
            lines.append(_("%(url)s (%(cc)s %(asn)s): %(agree)s agree, %(disagree)s disagree, "
                           "%(inconclusive)s inconclusive") % {
                "url": query["url"], "cc": query["probe_cc"] or "–",
                "asn": f"AS{query['probe_asn']}" if query["probe_asn"] else "–", **counts})
        return lines


# --- agreement ----------------------------------------------------------------------------------

def agreement_of_ooni(m: ooni_api.Measurement) -> str:
    """OONI against our denial: a failed measurement says nothing; an anomaly (or a confirmed
    block) agrees; a measurement without anomaly or failure found the URL reachable."""
    if m.failure:
        return INCONCLUSIVE
    if m.anomaly or m.confirmed:
        return AGREE
    return DISAGREE


def agreement_of_verdict(verdict: str) -> str:
    """Another bundle's verdict against our denial."""
    if verdict in DENIAL_VERDICTS:
        return AGREE
    if verdict == Verdict.ACCESSIBLE:
        return DISAGREE
    return INCONCLUSIVE


# --- which denials, which other bundles ---------------------------------------------------------

@dataclass
class _Target:
    url: str
    cc: str
    asn: int | None
    times: list[dt.datetime]
    verdicts: Counter

    @property
    def since(self) -> dt.datetime:
        return min(self.times) - WINDOW

    @property
    def until(self) -> dt.datetime:
        return max(self.times) + WINDOW


def denials_of(submission: BundleSubmission) -> list[_Target]:
    """The report's denials, one target per (URL, country, network)."""
    targets: dict[tuple, _Target] = {}
    rows = AccessObservation.objects.filter(submission=submission,
                                            verdict__in=DENIAL_VERDICTS).order_by("id")
    for row in rows.iterator():
        key = (row.url, row.vantage_cc, row.vantage_asn)
        target = targets.setdefault(key, _Target(row.url, row.vantage_cc, row.vantage_asn, [],
                                                 Counter()))
        target.times.append(row.measured_at)
        target.verdicts[row.verdict] += 1
    return sorted(targets.values(), key=lambda t: (t.url, t.cc, t.asn or 0))


def _shareable(other: BundleSubmission, incident: Incident, tlp: str, named: set[int]) -> bool:
    """Whether every reader of a file attached now to ``incident`` (at ``tlp``, with the
    ``named`` analysts) may already read ``other``'s bundle. This report's status is left out:
    a draft's evidence reaches its TLP's readers once the report is submitted.

    Evidence is read only while its report is (visibility.item_visible), so both the bundle's
    own TLP and the other report's current TLP must let each audience in: a report restricted
    after its bundle was attached keeps that bundle from the readers it lost."""
    if other.state_id != incident.state_id:
        return False
    there = other.evidence
    report = other.incident
    items = ((there.tlp, there.named_analysts), (report.tlp, report.named_analysts))
    for audience in visibility.TLP_AUDIENCES.get(tlp, frozenset()):
        if audience == visibility.A.GROUP:
            if incident.sharing_group_id is None:
                continue        # nobody is in this report's group audience
            if report.sharing_group_id != incident.sharing_group_id:
                return False
        for item_tlp, item_named in items:
            if audience == visibility.A.NAMED:
                if not named:
                    break
                if visibility.allows({visibility.A.SECRETARIAT}, tlp=item_tlp,
                                     status=report.status):
                    continue    # the named analysts are Secretariat analysts who see it anyway
                if not named <= set(item_named.values_list("pk", flat=True)):
                    return False
            if not visibility.allows({audience}, tlp=item_tlp, status=report.status):
                return False
    return True


def _other_bundles(user, submission: BundleSubmission, target: _Target, tlp: str,
                   named: set[int]) -> tuple[list[dict], int]:
    # Another State's bundles are not even looked at (nor counted): see _shareable.
    rows = (AccessObservation.objects.for_user(user)
            .filter(submission__state_id=submission.state_id, url=target.url,
                    vantage_cc=target.cc, vantage_asn=target.asn,
                    measured_at__gte=target.since, measured_at__lte=target.until,
                    submission__kind=BundleSubmission.Kind.ACCESS)
            .exclude(submission=submission)
            .select_related("submission__evidence", "submission__incident__state")
            .order_by("measured_at", "id"))
    found, withheld, verdicts = [], 0, {}
    for row in rows[:1000]:
        other = row.submission
        if other.pk not in verdicts:
            verdicts[other.pk] = _shareable(other, submission.incident, tlp, named)
        if not verdicts[other.pk]:
            withheld += 1
            continue
        found.append({"source": "bundle", "id": f"{other.sha256}#{row.pk}",
                      "report": other.incident.reference, "bundle_sha256": other.sha256,
                      "time": _iso(row.measured_at), "verdict": row.verdict,
                      "agreement": agreement_of_verdict(row.verdict)})
    return found, withheld


# --- OONI ---------------------------------------------------------------------------------------

def _ooni(target: _Target) -> tuple[dict, str | None]:
    query = ooni_api.Query(input=target.url, probe_cc=target.cc, probe_asn=target.asn,
                           since=target.since, until=target.until)
    section: dict[str, Any] = {"query": query.params(), "responses": [], "measurements": [],
                               "truncated": False, "error": None, "ignored": 0,
                               "not_listed": 0}
    try:
        result = ooni_api.fetch(settings.OONI_API_URL, query,
                                timeout=settings.OONI_API_TIMEOUT,
                                max_bytes=settings.OONI_API_MAX_BYTES,
                                max_pages=settings.OONI_API_MAX_PAGES)
    except ooni_api.OoniError as exc:
        section["error"] = str(exc)
        return section, str(exc)
    section["truncated"] = result.truncated
    section["responses"] = [{"url": r.url, "sha256": r.sha256, "bytes": r.size}
                            for r in result.responses]
    kept = [m for m in result.measurements if _answers(m, query)]
    # The answer is outside input: what it holds beyond the question is not evidence.
    section["ignored"] = len(result.measurements) - len(kept)
    section["not_listed"] = max(0, len(kept) - MAX_LISTED)
    section["_counts"] = Counter(agreement_of_ooni(m) for m in kept)
    for m in kept[:MAX_LISTED]:
        section["measurements"].append({
            "source": "ooni", "id": m.uid, "report_id": m.report_id, "time": m.start_time,
            "input": m.input, "probe_cc": m.probe_cc, "probe_asn": m.probe_asn,
            "test_name": m.test_name,
            "flags": {"anomaly": m.anomaly, "confirmed": m.confirmed, "failure": m.failure},
            "measurement_url": m.measurement_url, "agreement": agreement_of_ooni(m)})
    return section, None


def _answers(m: ooni_api.Measurement, query: ooni_api.Query) -> bool:
    """Whether ``m`` is a measurement of what was asked: the URL, country, network, test and
    window (the times are UTC ISO strings of one format, so they compare as text)."""
    params = query.params()
    if m.input.rstrip("/") != query.input.rstrip("/") or m.test_name != query.test_name:
        return False
    if m.probe_cc.upper() != query.probe_cc.upper():
        return False
    if "probe_asn" in params and m.probe_asn.upper() != params["probe_asn"]:
        return False
    return f"{params['since']}Z" <= m.start_time <= f"{params['until']}Z"


# --- the whole ----------------------------------------------------------------------------------

def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def submission_of(incident: Incident) -> BundleSubmission:
    """The report's access-probe bundle, or NotCorroborable naming the report."""
    submission = BundleSubmission.objects.filter(incident=incident).select_related(
        "evidence").first()
    if submission is None or submission.kind != BundleSubmission.Kind.ACCESS:
        raise NotCorroborable(_("Report %(reference)s was not made from an access-probe "
                                "bundle: there is nothing to corroborate.") % {
            "reference": incident.reference})
    return submission


def corroborate(incident: Incident, user,
                on_progress: Callable[[int, int], None] | None = None) -> CorroborationResult:
    """Gather, compare, attach; see the module's docstring. Raises NotCorroborable."""
    submission = submission_of(incident)
    targets = denials_of(submission)
    if not targets:
        raise NotCorroborable(_("Report %(reference)s holds no denial of access to "
                                "corroborate.") % {"reference": incident.reference})
    skipped = max(0, len(targets) - MAX_URLS)
    targets = targets[:MAX_URLS]
    # OONI first (it may take minutes); the other bundles are chosen afterwards, in the
    # transaction that attaches the file, by the report's TLP and analysts read there under a
    # row lock: a report loosened meanwhile never gets bundles chosen for its old audience.
    sections, problems = [], []
    for done, target in enumerate(targets, start=1):
        ooni, problem = _ooni(target)
        if problem:
            problems.append(f"{target.url}: {problem}")
        sections.append(ooni)
        if on_progress:
            on_progress(len(targets), done)
    with transaction.atomic():
        fresh = Incident.objects.select_for_update().get(pk=incident.pk)
        tlp, named = fresh.tlp, set(fresh.named_analysts.values_list("pk", flat=True))
        queries, totals, withheld_total = [], Counter(), 0
        for target, ooni in zip(targets, sections, strict=True):
            bundles, withheld = _other_bundles(user, submission, target, tlp, named)
            counts = Counter({AGREE: 0, DISAGREE: 0, INCONCLUSIVE: 0})
            counts.update(ooni.pop("_counts", Counter()))
            counts.update(m["agreement"] for m in bundles)
            totals.update(counts)
            withheld_total += withheld
            queries.append({
                "url": target.url, "probe_cc": target.cc, "probe_asn": target.asn,
                "since": _iso(target.since), "until": _iso(target.until),
                "our_verdicts": dict(sorted(target.verdicts.items())),
                "our_times": [_iso(t) for t in sorted(target.times)],
                "ooni": ooni, "bundles": {"measurements": bundles},
                "summary": dict(counts)})
        generated = timezone.now()
        document = {
            "format": FORMAT,
            "generated_at": _iso(generated),
            "tool": {"name": "sentinelle", "version": sentinelle.__version__},
            "report": {"reference": incident.reference, "bundle_sha256": submission.sha256},
            "window_days": WINDOW.days,
            "ooni_api": settings.OONI_API_URL,
            "rules": {"ooni": "failure: inconclusive; anomaly or confirmed: agree; otherwise: "
                              "disagree",
                      "bundle": "a denial verdict: agree; accessible: disagree; otherwise: "
                                "inconclusive"},
            "queries": queries,
            "not_queried": skipped,
            "problems": problems,
            "summary": {AGREE: totals[AGREE], DISAGREE: totals[DISAGREE],
                        INCONCLUSIVE: totals[INCONCLUSIVE]},
        }
        body = (json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False)
                + "\n").encode()
        name = f"corroboration-{incident.reference}-{generated:%Y%m%dT%H%M%SZ}.json"
        evidence = incident_services.attach_evidence(
            fresh, user, ContentFile(body, name=name),
            _("Corroboration: OONI and other vantage points, ±%(days)s days "
              "(sentinelle observatory corroborate).") % {"days": WINDOW.days})
        audit.record("observatory.corroborate", submission, after={
            "incident": incident.pk, "evidence": evidence.pk, "sha256": evidence.sha256,
            "urls": len(queries), **document["summary"], "problems": len(problems)})
    return CorroborationResult(evidence, document, dict(document["summary"]), problems,
                               withheld_total)
