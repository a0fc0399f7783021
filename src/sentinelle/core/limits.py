"""The ranges a request's values must keep to, taken from where they are stored.

A number bigger than its column is refused where it is read (a form or a serializer field),
with the field's name, rather than by the database at INSERT (an OverflowError or a
DataError: a 500). The ranges are PostgreSQL's for every backend: SQLite would store more,
and a report must not be accepted on one and refused on the other."""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.backends.base.operations import BaseDatabaseOperations


def integer_range(field: models.Field) -> tuple[int, int]:
    """(lowest, highest) value the integer column of ``field`` holds, narrowed by the model
    field's own Min/MaxValueValidators."""
    low, high = BaseDatabaseOperations.integer_field_ranges[field.get_internal_type()]
    for validator in field.validators:
        if isinstance(validator, MinValueValidator) and not callable(validator.limit_value):
            low = max(low, validator.limit_value)
        elif isinstance(validator, MaxValueValidator) and not callable(validator.limit_value):
            high = min(high, validator.limit_value)
    return low, high


def column_bounds(model: type[models.Model], name: str) -> dict[str, int]:
    """``min_value``/``max_value`` keyword arguments, for a form or a serializer
    IntegerField that fills ``model.name``."""
    low, high = integer_range(model._meta.get_field(name))
    return {"min_value": low, "max_value": high}
