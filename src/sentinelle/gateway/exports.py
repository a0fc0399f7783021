"""Open data: every published entry as plain rows (JSON, CSV, the read-only API)."""

from __future__ import annotations

import csv
import io
from typing import Any

from sentinelle.core.tabular import neutralise
from sentinelle.gateway.kinds import KINDS
from sentinelle.gateway.models import GatewayEntry

# Never exported: moderation notes and people.
PRIVATE = {"id", "review_message", "created_by", "reviewed_by", "status"}


def row(entry: GatewayEntry) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": entry.KIND, "id": entry.pk}
    for field in entry._meta.concrete_fields:
        if field.name in PRIVATE:
            continue
        value = getattr(entry, field.attname)
        if field.name == "state":
            value = entry.state.alpha2 if entry.state_id else None
        elif hasattr(value, "isoformat"):
            value = value.isoformat()
        out[field.name] = value
    for field in entry._meta.many_to_many:
        out[field.name] = sorted(s.alpha2 for s in getattr(entry, field.name).all())
    return out


def published_rows(kinds: list[str] | None = None) -> list[dict[str, Any]]:
    rows = []
    for kind, model in KINDS.items():
        if kinds and kind not in kinds:
            continue
        qs = model.objects.published().select_related("state").order_by("pk")
        if model._meta.many_to_many:
            qs = qs.prefetch_related(*(f.name for f in model._meta.many_to_many))
        rows.extend(row(entry) for entry in qs)
    return rows


def to_csv(rows: list[dict[str, Any]]) -> str:
    """One CSV for every type: the union of columns; lists joined with "; ". Cells that a
    spreadsheet would run as a formula are neutralised."""
    columns: list[str] = []
    for r in rows:
        columns.extend(k for k in r if k not in columns)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for r in rows:
        cells = []
        for column in columns:
            value = r.get(column, "")
            if isinstance(value, list):
                value = "; ".join(value)
            elif isinstance(value, dict):
                value = ""  # translations: in the JSON export only
            cells.append(neutralise("" if value is None else value))
        writer.writerow(cells)
    return buffer.getvalue()
