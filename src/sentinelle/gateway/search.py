"""Full-text search over published gateway entries, in every official language.

PostgreSQL: each row of ``gateway_searchentry`` carries a ``vector`` built with the text-search
configuration of its language (french stems "pratiques" to "pratiqu", so it finds "pratique");
the query is parsed with the same configuration, ranked with ts_rank_cd and highlighted with
ts_headline. Arabic and Chinese have no stemmer in PostgreSQL: they use ``simple``.
SQLite (the embedded default): the rows are mirrored in the FTS5 table ``gateway_fts``
(unicode61 tokenizer, diacritics folded), ranked with bm25 and highlighted with highlight() and
snippet(); no stemming, so a word is found as written.

Only published entries are ever indexed (the services add and remove rows as the status
changes), and results are checked against the published entries again before they are shown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.db import connection
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from sentinelle.gateway.models import GatewayEntry, SearchEntry

CONFIGS = {"en": "english", "fr": "french", "es": "spanish", "ru": "russian",
           "ar": "simple", "zh": "simple"}
# Markers from the Unicode private-use area: never in real text (removed at indexing), so the
# highlighted text can be HTML-escaped first and the markers turned into <mark> afterwards.
START, STOP = "\ue000", "\ue001"
# Fields searched besides the translatable texts (names, not translated).
EXTRA_FIELDS = ("organisations", "themes", "clause", "host_organisation", "provider", "email")
MAX_QUERY = 200
MAX_RESULTS = 50


@dataclass
class Hit:
    entry: GatewayEntry
    language: str
    title: SafeString
    snippet: SafeString
    rank: float


def _clean(text: str) -> str:
    return text.replace(START, "").replace(STOP, "")


def _documents(entry: GatewayEntry) -> list[tuple[str, str, str]]:
    extra = [str(getattr(entry, f, "") or "") for f in EXTRA_FIELDS]
    extra = [text for text in extra if text]
    if entry.state_id:
        extra.append(entry.state.name_en)
    docs = []
    for language, texts in entry.texts_by_language().items():
        title = texts.get(entry.TITLE_FIELD) or entry.title_text
        body = [v for k, v in texts.items() if k != entry.TITLE_FIELD and v]
        docs.append((language, _clean(title)[:200], _clean("\n".join(body + extra))))
    return docs


def unindex(entry: GatewayEntry) -> None:
    rows = SearchEntry.objects.filter(kind=entry.KIND, entry_id=entry.pk)
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            for pk in rows.values_list("pk", flat=True):
                cursor.execute("DELETE FROM gateway_fts WHERE rowid = %s", [pk])
    rows.delete()


def index(entry: GatewayEntry) -> None:
    """(Re)build the rows of one entry; called inside the service's transaction."""
    unindex(entry)
    for language, title, body in _documents(entry):
        row = SearchEntry.objects.create(kind=entry.KIND, entry_id=entry.pk, language=language,
                                         config=CONFIGS.get(language, "simple"),
                                         title=title, body=body)
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(
                    "UPDATE gateway_searchentry SET vector = "
                    "setweight(to_tsvector(config::regconfig, title), 'A') || "
                    "setweight(to_tsvector(config::regconfig, body), 'B') WHERE id = %s",
                    [row.pk])
            elif connection.vendor == "sqlite":
                cursor.execute("INSERT INTO gateway_fts (rowid, title, body) VALUES (%s, %s, %s)",
                               [row.pk, title, body])


def _marked(text: str) -> SafeString:
    return mark_safe(escape(text).replace(START, "<mark>").replace(STOP, "</mark>"))  # noqa: S308


def _fts5_query(query: str) -> str:
    # Each word quoted: user input can never be read as FTS5 syntax (NEAR, column filters…).
    words = re.findall(r"\w+", query)
    return " ".join('"' + w.replace('"', '""') + '"' for w in words[:20])


def _raw_hits(query: str, limit: int) -> list[tuple]:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            options = f"StartSel={START}, StopSel={STOP}"
            cursor.execute(
                "SELECT s.kind, s.entry_id, s.language, ts_rank_cd(s.vector, q.query) AS rank, "
                "ts_headline(s.config::regconfig, s.title, q.query, %s), "
                "ts_headline(s.config::regconfig, s.body, q.query, %s) "
                "FROM gateway_searchentry s, "
                "LATERAL (SELECT websearch_to_tsquery(s.config::regconfig, %s) AS query) q "
                "WHERE s.vector @@ q.query ORDER BY rank DESC, s.id LIMIT %s",
                [options + ", HighlightAll=true",
                 options + ", MaxFragments=2, MaxWords=30, MinWords=10", query, limit])
            return cursor.fetchall()
        if connection.vendor == "sqlite":
            match = _fts5_query(query)
            if not match:
                return []
            cursor.execute(
                "SELECT s.kind, s.entry_id, s.language, -bm25(gateway_fts, 5.0, 1.0) AS rank, "
                "highlight(gateway_fts, 0, %s, %s), "
                "snippet(gateway_fts, 1, %s, %s, '…', 30) "
                "FROM gateway_fts JOIN gateway_searchentry s ON s.id = gateway_fts.rowid "
                "WHERE gateway_fts MATCH %s ORDER BY rank DESC, s.id LIMIT %s",
                [START, STOP, START, STOP, match, limit])
            return cursor.fetchall()
    return []


def run(query: str, kinds: dict[str, type[GatewayEntry]], limit: int = MAX_RESULTS) -> list[Hit]:
    """Ranked hits, best first, one per entry (its best-matching language)."""
    query = (query or "").strip()[:MAX_QUERY]
    if not query:
        return []
    best: dict[tuple[str, int], tuple] = {}
    for row in _raw_hits(query, limit * 3):
        best.setdefault((row[0], row[1]), row)
    published = {}
    for kind, model in kinds.items():
        ids = [eid for (k, eid) in best if k == kind]
        if ids:
            for entry in model.objects.published().filter(pk__in=ids).select_related("state"):
                published[(kind, entry.pk)] = entry
    hits = [Hit(entry=published[key], language=row[2], title=_marked(row[4] or ""),
                snippet=_marked(row[5] or ""), rank=float(row[3] or 0))
            for key, row in best.items() if key in published]
    return hits[:limit]
