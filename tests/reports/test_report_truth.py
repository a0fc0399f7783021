"""The Council report says only what the data says (issue 12, point 1): every sentence that states
a fact about the platform or the data is computed, so changing the data changes the sentence."""

from __future__ import annotations

import datetime as dt

import pytest

from sentinelle.gateway import services as gateway
from sentinelle.gateway.models import CirtTeam, GoodPractice, Initiative
from sentinelle.incidents import services
from sentinelle.incidents.models import Status, Transition
from sentinelle.reports import content
from sentinelle.reports.document import Bullets, Figure, Paragraph, Table
from sentinelle.reports.options import ReportOptions
from tests.conftest import file_report
from tests.report_helpers import sentences

YEAR = 2026


@pytest.fixture(autouse=True)
def _no_small_count_suppression(settings):
    # The disclosure rule is tested elsewhere; here a single report must show in every figure.
    settings.SMALL_COUNT = 1


def build():
    return content.build(ReportOptions(year=YEAR, lang="en", fmt="html",
                                       date=dt.date(2027, 3, 1)))


def section_text(number: str) -> str:
    section = next(s for s in build().sections if s.number == number)
    return " ".join(sentences(section))


def every_sentence(doc) -> set[str]:
    out = {p.text for p in doc.summary + doc.action_required}
    for s in doc.sections + doc.annexes:
        out.update(sentences(s))
    return out


def cirt(name: str, state=None, year: int = YEAR) -> CirtTeam:
    entry = gateway.seed_entry(CirtTeam, {
        "name": name, "state": state, "language": "en", "constituency": "Operators.",
        "email": "cirt@cirt.example.org"}, "test")
    CirtTeam.objects.filter(pk=entry.pk).update(
        published_at=dt.datetime(year, 5, 1, tzinfo=dt.UTC))
    return entry


@pytest.mark.django_db
def test_gateway_section_says_none_when_nothing_is_published():
    text = section_text("7")
    assert "not yet in service" not in text
    assert ("No entry (initiative, good practice, national CIRT or resource) was published in "
            f"the cybersecurity gateway in {YEAR}.") in text
    assert "the directory of national CIRTs lists no team." in text


@pytest.mark.django_db
def test_gateway_section_counts_the_entries_published_in_the_year(alice):
    cirt("CIRT of Cuba", alice.state)
    cirt("Regional CIRT")
    cirt("Old CIRT", year=YEAR - 1)              # listed, but not published this year
    gateway.seed_entry(GoodPractice, {"measure": "Spam filtering at the IXP", "state": None,
                                      "language": "en", "problem": "Spam."}, "test")
    GoodPractice.objects.update(published_at=dt.datetime(YEAR, 2, 1, tzinfo=dt.UTC))
    draft = Initiative(title="Draft drill", scope="national", description="Not yet.")
    draft.save()                                 # a draft counts nowhere

    doc = build()
    text = " ".join(sentences(doc.sections[6]))
    assert f"3 entries were published in the cybersecurity gateway in {YEAR}." in text
    assert "the directory of national CIRTs lists 3 teams." in text
    table = next(t for t in doc.tables() if t.key == "gateway")
    rows = {r[0]: r[1:] for r in table.rows}
    assert rows["National CIRTs"] == ["2", "3"]
    assert rows["Good practices"] == ["1", "1"]
    assert rows["Initiatives"] == ["0", "0"]
    annex = {(r.key, r.column): r.value for r in doc.csv if r.table == "gateway"}
    assert annex[("cirts", "published_in_year")] == "2"

    CirtTeam.objects.filter(name="Old CIRT").update(status="unpublished")
    assert "the directory of national CIRTs lists 2 teams." in section_text("7")


@pytest.mark.django_db
def test_response_times_say_none_then_follow_the_transitions(alice, charlie):
    incident = file_report(alice)
    text = section_text("3")
    assert f"No report of {YEAR} has been acknowledged so far." in text
    assert f"No report of {YEAR} has been closed so far." in text
    assert "0 hours" not in text

    services.change_status(incident, charlie, Status.ACKNOWLEDGED)
    incident.refresh_from_db()
    # Acknowledged 30 hours after submission.
    Transition.objects.filter(incident=incident, to_status=Status.ACKNOWLEDGED).update(
        at=incident.submitted_at + dt.timedelta(hours=30))
    text = section_text("3")
    assert "Median time from submission to acknowledgement: 30 hours" in text
    assert "has been acknowledged so far" not in text


@pytest.mark.django_db
def test_reporting_section_counts_only_the_channels_it_recorded(alice):
    """Since issue 16 the channel is recorded, so section 2 counts it: one row per channel
    used, and a report made without one (the service layer alone) counts as not recorded."""
    file_report(alice)
    assert "“Not recorded” counts reports filed before" in section_text("2")
    table = next(t for t in build().tables() if t.key == "by_channel")
    assert [row[0] for row in table.rows] == ["Not recorded"]


# Sentences that state the mandate or the method (what the code does, whatever the data).
FIXED = ("Resolution 130 (Rev. Busan, 2014) invites", "Resolution 64 (Rev. Busan, 2014)",
         "The Council is invited", "Figures in this report were produced",
         "Reports form a cluster when", "An indicator is on track", "What counts:", "Naming:",
         "Confidentiality:", "Figures not published:", "Access-denial index:",
         "Linked incidents:",
         "Action plan: progress",
         "Member States can submit signed evidence bundles", "Every table of this annex")
# Sentences chosen by data this test does not add (access measurements, routing alerts, an
# action plan, a previous year, clusters): test_report.py and test_report_access.py change it.
NOT_EXERCISED = ("No access measurement was submitted", "No routing alert was submitted",
                 "No action plan has been recorded", "Change from 2025 to 2026",
                 "No cluster of")


@pytest.mark.django_db
def test_every_sentence_not_about_mandate_or_method_follows_the_data(alice, bob, charlie):
    empty = every_sentence(build())
    for n, user in enumerate((alice, bob, alice)):
        incident = file_report(user, tlp="green")
        services.change_status(incident, charlie, Status.ACKNOWLEDGED)
        if n == 0:
            services.change_status(incident, charlie, Status.UNDER_ANALYSIS)
            services.change_status(incident, charlie, Status.CLOSED)
    cirt("CIRT of Cuba", alice.state)
    full = every_sentence(build())
    unchanged = {s for s in empty & full if not s.startswith(FIXED + NOT_EXERCISED)}
    assert unchanged == set()


@pytest.mark.django_db
def test_clusters_section_follows_the_shared_specific_indicators(alice, bob):
    sample = {"type": "sha256", "value": "ab" * 32}
    doc_ip = [{"type": "ipv4", "value": "203.0.113.7"}]   # documentation range: links nothing
    file_report(alice, indicators=doc_ip)
    file_report(bob, indicators=doc_ip)
    assert f"No cluster of 1 or more related reports from two or more Member States was found " \
           f"for {YEAR}." in section_text("5")

    file_report(alice, indicators=[sample])
    file_report(bob, indicators=[sample])
    doc = build()
    assert "Reports form a cluster when they share" in " ".join(sentences(doc.sections[4]))
    table = next(t for t in doc.tables() if t.key == "clusters")
    assert [row[1:3] for row in table.rows] == [["2", "2"]]


def test_the_method_sentences_describe_the_code():
    """The fixed method sentences (Annex B, §6, §8) name thresholds and verdicts: they must be
    the ones the code applies, or the sentences must change with them."""
    from sentinelle.actionplan import evaluation
    from sentinelle.analysis.statistics import COUNTED_EXCLUDED_STATUSES
    from sentinelle.observatory.models import DENIAL_VERDICTS, Verdict

    assert (evaluation.ON_TRACK_TOLERANCE, evaluation.AT_RISK_TOLERANCE) == (0.10, 0.25)
    assert (evaluation.OVERALL_ON_TRACK_SHARE, evaluation.OVERALL_AT_RISK_SHARE) == (0.75, 0.50)
    assert set(DENIAL_VERDICTS) == {Verdict.GEOBLOCKED, Verdict.SERVER_DENIED,
                                    Verdict.DNS_TAMPERING, Verdict.TCP_BLOCKED,
                                    Verdict.TLS_INTERFERENCE, Verdict.HTTP_DIFF}
    # "What counts: every submitted report (not drafts, withdrawn reports or duplicates)".
    assert set(COUNTED_EXCLUDED_STATUSES) == {Status.DRAFT, Status.WITHDRAWN, Status.DUPLICATE}


def _figures(doc):
    """Every figure of the report, in sentences and in table cells, as the reader sees it."""
    for s in doc.sections + doc.annexes:
        stack = [s]
        while stack:
            section = stack.pop()
            stack.extend(section.subsections)
            for block in section.blocks:
                items = block.items if isinstance(block, Bullets) else [block]
                for item in items:
                    if isinstance(item, Paragraph):
                        yield from (p for p in item.parts if isinstance(p, Figure))
                    elif isinstance(item, Table):
                        yield from (c for row in item.rows for c in row
                                    if isinstance(c, Figure))


@pytest.mark.django_db
def test_a_hidden_figure_never_reads_as_a_small_count(alice, bob, settings):
    # Cuba's 7 reports and one from Bolivia: the year's total (8) is hidden, as Cuba would
    # learn from it that the others sent fewer than 3. The old report printed "<3 ICT security
    # incidents" for these 8, and "<3" for the 7 in the table by category.
    settings.SMALL_COUNT = 3
    for _n in range(7):
        file_report(alice, tlp="green")
    file_report(bob, tlp="green")
    doc = build()
    hidden = [f for f in _figures(doc) if f.suppressed]
    assert hidden, "the dominance rule should hide the year's figures"
    for figure in hidden:
        if figure.text == "<3":
            # Only where it is true: the States reporting, hidden only when 1 or 2.
            assert figure.source.endswith("states_reporting"), figure
        else:
            assert figure.text == "n.p.", figure
    text = " ".join(every_sentence(doc))
    assert "<3 ICT security incidents" not in text
    assert "In 2026, <3 Member States reported n.p. ICT security incidents" in text
