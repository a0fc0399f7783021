"""One row of several models joined one to one, read with hand-written SQL as the ORM reads it.

For the few lookups every API request or submission makes (issue 17): building and compiling
the ORM query cost more CPU than running it (the token with its user and State, the category
beside the RSIT type). The SQL is written once per process from the models' metadata; each
column's value goes through the converters the ORM would apply (the backend's, then the
field's), and each model is built with ``Model.from_db`` as the ORM builds it. The callers'
tests compare the instances with the ORM's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection
from django.db.models import Model
from django.db.models.expressions import Col


class Joined:
    """The columns of ``models`` (model, alias pairs) in one SELECT list, in order."""

    def __init__(self, models: Sequence[tuple[type[Model], str]]) -> None:
        self.columns = [(model, [Col(alias, field) for field in model._meta.concrete_fields])
                        for model, alias in models]

    def select(self) -> str:
        quote = connection.ops.quote_name
        return ", ".join(f"{col.alias}.{quote(col.target.column)}"
                         for _model, cols in self.columns for col in cols)

    @staticmethod
    def table(model: type[Model]) -> str:
        return connection.ops.quote_name(model._meta.db_table)

    def instances(self, row: Sequence[Any]) -> list[Model | None]:
        """One instance per model of ``row``; None for a model whose primary key is NULL
        (the missing side of a LEFT JOIN)."""
        found: list[Model | None] = []
        position = 0
        for model, cols in self.columns:
            values = [_converted(col, raw) for col, raw in zip(cols, row[position:], strict=False)]
            position += len(cols)
            pk = model._meta.pk.attname
            names = [col.target.attname for col in cols]
            if values[names.index(pk)] is None:
                found.append(None)
                continue
            found.append(model.from_db(connection.alias, names, values))
        return found


def _converted(col: Col, value: Any) -> Any:
    # As SQLCompiler.apply_converters: the backend's converters, then the field's own.
    for converter in (*connection.ops.get_db_converters(col),
                      *col.target.get_db_converters(connection)):
        value = converter(value, col, connection)
    return value
