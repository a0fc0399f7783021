"""Search hits from the public statistics: a query naming a category or an RSIT class (in any
official language) finds that line of the public figures, as an anonymous reader sees them."""

from __future__ import annotations

from sentinelle.analysis.disclosure import current_year, publication
from sentinelle.incidents.models import Category, RsitClass


def _matches(query: str, labels: dict, code: str) -> bool:
    words = [w for w in query.casefold().split() if len(w) > 2]
    texts = [code.casefold(), *(str(t).casefold() for t in labels.values())]
    return bool(words) and any(all(w in text for w in words) for text in texts)


def statistics_hits(query: str, year: int | None = None) -> list[dict]:
    year = year or current_year()
    categories = [c.code for c in Category.objects.all() if _matches(query, c.labels, c.code)]
    classes = [c.code for c in RsitClass.objects.all() if _matches(query, c.labels, c.code)]
    if not categories and not classes:
        return []
    stats = publication(year)
    hits = []
    for table, wanted in (("by_category", categories), ("by_rsit_class", classes)):
        for row in getattr(stats, table):
            if row["key"] in wanted:
                hits.append({"label": row["label"], "incidents": row["incidents"],
                             "suppressed": row.get("suppressed", False), "year": year})
    return hits
