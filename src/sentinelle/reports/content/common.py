"""What every section of the Council report shares: headings, figure formatting, sentences
with figures, the public statistics and the consent rule."""

from __future__ import annotations

import re

from django.utils.translation import gettext as _

from sentinelle.analysis import disclosure
from sentinelle.analysis.statistics import StatsFilter, compute
from sentinelle.core import formatting
from sentinelle.reports.document import Figure, Paragraph

__all__ = ["MAX_CLEAR_EXAMPLES", "TREND_YEARS", "Fmt", "HIDDEN_CSV", "labels", "named_states",
           "para", "public_stats", "raw_text", "withheld_marker"]

TREND_YEARS = 5
MAX_CLEAR_EXAMPLES = 10


def labels() -> dict[str, str]:
    """The report's fixed headings and cover phrases, one gettext call each so that
    ``makemessages`` finds them all (call inside ``translation.override``)."""
    return {
        "council": _("Council %(year)s"),
        "agenda_item": _("Agenda item: %(item)s"),
        "document": _("Document %(number)s"),
        # Translators: cover of a Council document; the report is drafted in English.
        "original": _("Original: English"),
        "report_by": _("Report by the Secretary-General"),
        "title": _("Annual report on ICT security incidents reported by Member States in "
                   "%(year)s and evaluation of the action plan"),
        "summary": _("Summary"),
        "action_required": _("Action required"),
        "references": _("References"),
        "introduction": _("Introduction"),
        "reporting": _("Reporting in %(year)s"),
        "analysis": _("Analysis of the incidents"),
        "by_category": _("By category"),
        "by_rsit": _("By RSIT class"),
        "by_month": _("By month"),
        "response": _("Response times and evidence"),
        "trends": _("Trends over the previous years"),
        "clusters": _("Notable clusters"),
        "actionplan": _("Evaluation of the action plan"),
        "gateway": _("Cybersecurity gateway and cooperation"),
        "access": _("Denial of access to public Internet resources"),
        "annex_a": _("Annex A – Data tables"),
        "annex_b": _("Annex B – Method"),
    }


class Fmt:
    """Figures formatted for the report's language, remembering their source."""

    def __init__(self, year: int, threshold: int):
        self.year, self.k = year, threshold

    def fig(self, value, path: str, digits: int = 0, year: int | None = None) -> Figure:
        source = f"{year or self.year}|{path}" if path else ""
        if value is None:
            return self.withheld(source)
        return Figure(formatting.number(value, digits), source, raw=value)

    def count(self, value, path: str, year: int | None = None, digits: int = 0) -> Figure:
        """A breakdown count: withheld below the threshold or when the publication hid it."""
        source = f"{year or self.year}|{path}" if path else ""
        if value is None or 0 < value < self.k:
            return self.withheld(source, raw=value)
        return Figure(formatting.number(value, digits), source, raw=value)

    def states(self, value, path: str, year: int | None = None) -> Figure:
        """The number of States reporting: hidden only when it is from 1 to k−1
        (``disclosure.publish``), never to protect another figure, so "<k" is true there."""
        if value is None:
            return Figure(f"<{self.k}", f"{year or self.year}|{path}", suppressed=True)
        return self.fig(value, path, year=year)

    def withheld(self, source: str = "", raw=None) -> Figure:
        """A figure the disclosure rule hides. It reads "n.p." (not published), never "<k":
        the rule also hides counts of 40 (one State holds all but a few of them, or a
        subtraction from a neighbour would give a small one), indexes and shares, and "<3"
        there states a false size. One marker for every hidden cell, small or not, because two
        markers would tell a reader which hidden cells are small, and with a margin that can
        be enough to work one out."""
        return Figure(withheld_marker(), source, suppressed=True, raw=raw)

    def share(self, value, path: str) -> Figure:
        if value is None:
            return Figure("–", f"{self.year}|{path}", raw=None)
        return Figure(formatting.percent(value, 1), f"{self.year}|{path}", raw=value)


def withheld_marker() -> str:
    # Translators: a table cell or a figure in a sentence that is not published because, with
    # the figures around it, it would reveal a single Member State's figures. Keep it short.
    return _("n.p.")


# The annex CSV's token for a hidden figure, the same in every language (a program reads it).
HIDDEN_CSV = "n.p."


def para(template: str, **figures) -> Paragraph:
    """A translated sentence with %(name)s placeholders replaced by figures (or strings)."""
    parts: list = []
    pos = 0
    for match in re.finditer(r"%\((\w+)\)s", template):
        if match.start() > pos:
            parts.append(template[pos:match.start()])
        value = figures[match.group(1)]
        parts.append(value if isinstance(value, Figure) else str(value))
        pos = match.end()
    if pos < len(template):
        parts.append(template[pos:])
    return Paragraph(parts)


def public_stats(flt: StatsFilter, with_year_over_year: bool = True, raws: dict | None = None):
    """(raw, public) statistics of a year: the raw ones say whether anything was received and
    how many States are not named; only the public ones (``disclosure.publish``, the same
    computation as ``disclosure.publication`` behind every public surface) are printed.
    ``raws`` ({filter: raw statistics}) lets one report compute each year once."""
    raws = {} if raws is None else raws

    def raw_of(one: StatsFilter):
        if one not in raws:
            raws[one] = compute(one, with_shares=True, with_year_over_year=False)
        return raws[one]

    raw = raw_of(flt)
    previous = None
    if with_year_over_year and flt.previous_year() is not None:
        previous = raw_of(flt.previous_year())
    return raw, disclosure.publish(raw, previous)


def named_states(raw) -> set[str]:
    """States that consented to be named (the disclosure rule's, see ``disclosure``)."""
    return disclosure.named_states(raw)


def raw_text(value) -> str:
    """A figure as the annex CSV writes it: nothing for None, 12 rather than 12.0."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
