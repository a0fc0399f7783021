"""The importer's standalone indicators on their way to the table: light rows, who holds an id,
and the write itself (issue 17: a feed of 100,000 indicators).

A `Row` carries the same fields as a SharedIndicator but is a plain slotted object: building a
Django model instance per indicator (and having the ORM prepare each field of each one for the
INSERT) was most of the import's time. On PostgreSQL new rows go in with `COPY` through psycopg,
on the import's own connection, so inside its transaction (a failure later still rolls them
back); elsewhere (SQLite) they become model instances for `bulk_create`, as before.
tests/test_import_copy.py checks that both paths write the same rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from django.db import connection

from sentinelle.exchange.models import SharedIndicator

# The columns a Row fills, in the order COPY writes them (the id comes from its identity).
FIELDS = ("stix_id", "state_id", "created_by_id", "source", "type", "value", "pattern", "name",
          "description", "labels", "tlp", "incident_id", "valid_from", "valid_until",
          "created", "modified", "added_at")
# Set to False to write through the ORM on PostgreSQL too (the equivalence test does).
USE_COPY = True


class Row:
    """One SharedIndicator to create or to merge into one the State holds."""

    __slots__ = FIELDS

    def __init__(self, **values: Any) -> None:
        for name in FIELDS:
            setattr(self, name, values.get(name))

    def model(self) -> SharedIndicator:
        return SharedIndicator(**{name: getattr(self, name) for name in FIELDS
                                  if name != "added_at"})


def _fast() -> bool:
    return USE_COPY and connection.vendor == "postgresql"


def holders(stix_ids: Iterable[str]) -> dict[str, int | None]:
    """stix_id -> state_id of the rows that exist among `stix_ids`."""
    wanted = list(stix_ids)
    if not wanted:
        return {}
    if not _fast():
        return dict(SharedIndicator.objects.filter(stix_id__in=wanted)
                    .values_list("stix_id", "state_id"))
    # One parameter (an array) instead of the ORM's IN list of 1,000 placeholders quoted on
    # the client: the same rows, a fraction of the time.
    table = SharedIndicator._meta.db_table
    connection.ensure_connection()
    with connection.connection.cursor() as cursor:
        # The table name is the model's own, never input.
        cursor.execute(f"SELECT stix_id, state_id FROM {table} "  # noqa: S608
                       "WHERE stix_id = ANY(%s)", (wanted,))
        return dict(cursor.fetchall())


def create(rows: list[Row], now_of: Any, batch_size: int) -> None:
    """Insert `rows` (ids already known to be free). `now_of()` dates each one as added, as
    auto_now_add does for each instance of a bulk_create."""
    if not rows:
        return
    if not _fast():
        SharedIndicator.objects.bulk_create([row.model() for row in rows],
                                            batch_size=batch_size)
        return
    table = SharedIndicator._meta.db_table
    # revoked: Django's default is applied in Python, the column has none.
    columns = ", ".join(f'"{name}"' for name in (*FIELDS, "revoked"))
    connection.ensure_connection()
    with connection.connection.cursor() as cursor, \
            cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row((row.stix_id, row.state_id, row.created_by_id, row.source,
                            row.type, row.value, row.pattern, row.name, row.description,
                            json.dumps(row.labels), row.tlp, row.incident_id,
                            row.valid_from, row.valid_until, row.created, row.modified,
                            now_of(), False))
