"""The importer's standalone indicators on their way to the table: light rows, who holds an id,
and the write itself (issue 17: a feed of 100,000 indicators).

A `Row` carries the same fields as a SharedIndicator but is a plain slotted object: building a
Django model instance per indicator (and having the ORM prepare each field of each one for the
INSERT) was most of the import's time. On PostgreSQL new rows go in with `COPY` through psycopg,
on the import's own connection, so inside its transaction (a failure later still rolls them
back); elsewhere (SQLite) they become model instances for `bulk_create`, as before.
tests/exchange/test_import_copy.py checks that both paths write the same rows.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
import threading
from collections.abc import Iterable, Iterator
from typing import Any

from django.db import connection
from psycopg.copy import LibpqWriter

from sentinelle.exchange.models import SharedIndicator

# The columns a Row fills, in the order COPY writes them (the id comes from its identity).
FIELDS = ("stix_id", "state_id", "created_by_id", "source", "type", "value", "pattern", "name",
          "description", "labels", "tlp", "incident_id", "valid_from", "valid_until",
          "created", "modified", "added_at")
# Set to False to write through the ORM on PostgreSQL and SQLite too (the equivalence test
# does): COPY on PostgreSQL, one executemany of prepared values on SQLite (_insert_sqlite).
USE_COPY = True


class Row:
    """One SharedIndicator to create or to merge into one the State holds."""

    __slots__ = FIELDS

    def __init__(self, **values: Any) -> None:
        for name in FIELDS:
            setattr(self, name, values.get(name))

    @classmethod
    def of(cls, stix_id: str, state_id: int, created_by_id: int | None, source: str,
           type: str, value: str, pattern: str, name: str, description: str,  # noqa: A002
           labels: list, tlp: str, incident_id: int | None, valid_from: Any,
           valid_until: Any, created: Any, modified: Any) -> Row:
        """A Row from every field but added_at, without __init__'s loop over keywords (once
        per indicator of a feed)."""
        row = cls.__new__(cls)
        row.stix_id, row.state_id, row.created_by_id, row.source = (
            stix_id, state_id, created_by_id, source)
        row.type, row.value, row.pattern, row.name, row.description = (
            type, value, pattern, name, description)
        row.labels, row.tlp, row.incident_id, row.valid_from, row.valid_until = (
            labels, tlp, incident_id, valid_from, valid_until)
        row.created, row.modified, row.added_at = created, modified, None
        return row

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
    finish()
    connection.ensure_connection()
    joined = ",".join(wanted)
    with connection.connection.cursor() as cursor:
        # The table name is the model's own, never input.
        if joined.count(",") == len(wanted) - 1 and all(wanted):
            # The ids as one string split by the server: the client quotes one value instead
            # of an array of 1,000 (the import's cursor binds on the client). No id holds a
            # comma or is empty (checked), so the server's array is `wanted`.
            cursor.execute(f"SELECT stix_id, state_id FROM {table} "  # noqa: S608
                           "WHERE stix_id = ANY(string_to_array(%s, ','))", (joined,))
        else:
            cursor.execute(f"SELECT stix_id, state_id FROM {table} "  # noqa: S608
                           "WHERE stix_id = ANY(%s)", (wanted,))
        return dict(cursor.fetchall())


def create(rows: list[Row], now_of: Any, batch_size: int) -> None:
    """Insert `rows` (ids already known to be free). `now_of()` dates each one as added, as
    auto_now_add does for each instance of a bulk_create."""
    if not rows:
        return
    if USE_COPY and connection.vendor == "sqlite":
        _insert_sqlite(rows, now_of, batch_size)
        return
    if not _fast():
        SharedIndicator.objects.bulk_create([row.model() for row in rows],
                                            batch_size=batch_size)
        return
    table = SharedIndicator._meta.db_table
    # revoked: Django's default is applied in Python, the column has none.
    columns = ", ".join(f'"{name}"' for name in (*FIELDS, "revoked"))
    tuples = [(row.stix_id, row.state_id, row.created_by_id, row.source, row.type, row.value,
               row.pattern, row.name, row.description, _labels(row.labels), row.tlp,
               row.incident_id, row.valid_from, row.valid_until, row.created, row.modified,
               now_of(), False) for row in rows]
    finish()   # the previous batch's COPY, if still open
    connection.ensure_connection()
    # The text is encoded as UTF-8 here; another client encoding keeps psycopg's formatting.
    data = copy_text(tuples) if connection.connection.info.encoding == "utf-8" else None
    cursor = connection.connection.cursor()
    # Every write sent at once (flush_threshold 0), so that the server works on it while the
    # importer reads the next batch, when streaming() leaves the COPY open.
    manager = cursor.copy(f"COPY {table} ({columns}) FROM STDIN",
                          writer=LibpqWriter(cursor, flush_threshold=0))
    try:
        copy = manager.__enter__()
    except BaseException:
        cursor.close()
        raise
    try:
        if data is not None:
            copy.write(data)
        else:   # psycopg's own formatting raises what it raises (a NUL, a lone surrogate)
            for values in tuples:
                copy.write_row(values)
    except BaseException as exc:   # as a `with` block would: the COPY is cancelled
        try:
            manager.__exit__(type(exc), exc, exc.__traceback__)
        finally:
            cursor.close()
        raise
    _local.open = (cursor, manager)
    if not getattr(_local, "streaming", 0):
        finish()


def _insert_sqlite(rows: list[Row], now_of: Any, batch_size: int) -> None:
    """SQLite: the rows as bulk_create writes them (Django's own adapters for the times and
    the labels), in one executemany. The ORM prepared each field of each row for the INSERT,
    three quarters of the time the import holds SQLite's only write lock (issue 20: every
    other writer waits for it)."""
    ops = connection.ops
    table = SharedIndicator._meta.db_table
    columns = ", ".join(f'"{name}"' for name in (*FIELDS, "revoked"))
    marks = ", ".join(["%s"] * (len(FIELDS) + 1))
    times: dict[Any, Any] = {}   # a feed's rows share a few times: each adapted once

    def when(value: Any) -> Any:
        if value is None:
            return None
        found = times.get(value)
        if found is None:
            found = times[value] = ops.adapt_datetimefield_value(value)
        return found

    params = [(row.stix_id, row.state_id, row.created_by_id, row.source,
               str.__str__(row.type), row.value, row.pattern, row.name, row.description,
               _labels(row.labels), str.__str__(row.tlp), row.incident_id,
               when(row.valid_from), when(row.valid_until), when(row.created),
               when(row.modified), ops.adapt_datetimefield_value(now_of()), False)
              for row in rows]
    with connection.cursor() as cursor:
        for start in range(0, len(params), batch_size):
            # The table and columns are the model's own, never input.
            cursor.executemany(f"INSERT INTO {table} ({columns}) "  # noqa: S608
                               f"VALUES ({marks})", params[start:start + batch_size])


# Per thread, as Django's connections: the COPY of the last batch, left open under
# streaming() (`open`: (cursor, its copy() manager) or None), and how deep in streaming().
_local = threading.local()


def finish() -> None:
    """End the open COPY, if any: wait for the server, raise its error if it had one."""
    pending = getattr(_local, "open", None)
    if pending is not None:
        _local.open = None
        cursor, manager = pending
        try:
            manager.__exit__(None, None, None)
        finally:
            cursor.close()


@contextlib.contextmanager
def streaming() -> Iterator[None]:
    """Within it, a batch's COPY stays open until the next query on the connection (any query
    Django runs, the next holder lookup or batch, or the end of the block), so that PostgreSQL
    writes a batch while the importer parses the next one instead of the importer waiting for
    it (issue 17). The COPY's rows and errors are the same; an error surfaces at that next
    query instead of at the batch's end, inside the same transaction. On the way out, even by
    an exception, the COPY is ended normally, so that the transaction can still answer (the
    importer then looks up the evidence files to delete) and be rolled back."""
    def finish_first(execute, sql, params, many, context):  # noqa: ANN001 - Django's hook
        finish()
        return execute(sql, params, many, context)

    _local.streaming = getattr(_local, "streaming", 0) + 1
    try:
        with connection.execute_wrapper(finish_first):
            yield
    except BaseException:
        with contextlib.suppress(Exception):   # the error that got here is the one to raise
            finish()
        raise
    else:
        finish()
    finally:
        _local.streaming -= 1


def _labels(labels: list) -> str:
    return json.dumps(labels) if labels else "[]"


# COPY's text format: what psycopg's write_row escapes (backslash and the control characters
# it names), the same way, so the server reads the same values.
_COPY_SPECIAL = re.compile("[\b\t\n\v\f\r\\\\]")
_COPY_ESCAPES = str.maketrans({"\b": "\\b", "\t": "\\t", "\n": "\\n", "\v": "\\v",
                               "\f": "\\f", "\r": "\\r", "\\": "\\\\"})
_NONE = type(None)


def copy_text(tuples: list[tuple]) -> bytes | None:
    """The rows in COPY's text format, as psycopg's write_row would send them (issue 17:
    write_row's per-value dumpers were a tenth of the import), or None when a value is one
    this formatting does not handle (psycopg's path then raises its own error for it).

    Column by column, so that most of the work is in C (transposing, joining, searching): each
    column holds one of str (and str subclasses: a TLP member), int, bool or datetime, and
    None (psycopg's text dumpers: the text, str(value), t/f, str(value); NULL is \\N).
    tests/exchange/test_import_copy.py compares the bytes with psycopg's and the rows written."""
    if not tuples:
        return b""
    columns = []
    for column in zip(*tuples, strict=True):
        kinds = set(map(type, column))
        nulls = _NONE in kinds
        kinds.discard(_NONE)
        if not kinds:
            columns.append(("\\N",) * len(column))
            continue
        kind = kinds.pop() if len(kinds) == 1 else None
        if kind is str or (kind is None and all(issubclass(k, str) for k in kinds)) \
                or (kind is not None and issubclass(kind, str)):
            if kind is not str:
                column = [None if v is None else str.__str__(v) for v in column]
            if _COPY_SPECIAL.search("".join(v for v in column if v is not None) if nulls
                                    else "".join(column)) is not None:
                column = [None if v is None else v.translate(_COPY_ESCAPES) for v in column]
        elif kind is bool:
            column = [None if v is None else "t" if v else "f" for v in column]
        elif kind is int:
            column = list(map(str, column)) if not nulls else \
                [None if v is None else str(v) for v in column]
        elif kind is dt.datetime:
            seen: dict[dt.datetime, str] = {}   # a feed's rows often share their times
            column = [None if v is None else seen.get(v) or seen.setdefault(v, str(v))
                      for v in column]
        else:
            return None
        columns.append(["\\N" if v is None else v for v in column] if nulls else column)
    text = "\n".join(map("\t".join, zip(*columns, strict=True))) + "\n"
    if "\x00" in text:
        return None
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return None
