"""Parsing shared by the web form and the API, so both refuse the same input the same way."""

from __future__ import annotations

import functools
import unicodedata

from django.core.exceptions import ValidationError
from django.db import connection
from django.utils.translation import gettext as _

from sentinelle.core.joined import Joined
from sentinelle.core.models import MemberState
from sentinelle.incidents.indicators import IndicatorError, normalise
from sentinelle.incidents.models import Category, Indicator, RsitClass, RsitType

MAX_INDICATORS = 1000
MAX_SERVICES = 50


def validate_single_line(value: str) -> None:
    """A title goes into e-mail bodies and lists as one line: a line break (or another control
    character) there would let it forge lines of its own in a receipt e-mail."""
    if any(unicodedata.category(char) == "Cc" for char in str(value)):
        raise ValidationError(_("The title must be one line, without control characters."),
                              code="single_line")


def lookup_key(value: object) -> str:
    """A lookup key from a request: PostgreSQL refuses a NUL in a query parameter with a
    ValueError (a 500), and no code holds one, so it is dropped: the lookup finds nothing."""
    return str(value).strip().replace("\x00", "\ufffd")


def parse_category(code: str) -> Category:
    category = Category.objects.filter(code=lookup_key(code), active=True).first()
    if category is None:
        raise ValidationError(_("Unknown category “%(code)s”.") % {"code": code})
    return category


def parse_rsit(value: str) -> RsitType:
    text = lookup_key(value)
    if ":" not in text:
        raise ValidationError(_("Give the RSIT class and type as “class:type”, "
                                "e.g. “availability:ddos”."))
    class_code, type_code = (part.strip() for part in text.split(":", 1))
    rsit_type = RsitType.objects.select_related("rsit_class").filter(
        rsit_class__code=class_code, code=type_code).first()
    if rsit_type is None:
        raise ValidationError(_("Unknown RSIT class and type “%(value)s”.") % {"value": text})
    return rsit_type


def parse_taxonomy(code: object, value: object) -> tuple[Category, RsitType] | None:
    """The category and the RSIT type a report names, in one query (issue 17: a submission
    asked for each in turn); None unless both are found, and then ``parse_category`` and
    ``parse_rsit`` say what is wrong, with their own messages. The same rows as theirs: the
    RSIT type with its class, the active category with that code (both keys are unique)."""
    if not isinstance(code, str) or not isinstance(value, str) or ":" not in value:
        return None
    class_code, type_code = (part.strip() for part in lookup_key(value).split(":", 1))
    joined, sql = _taxonomy_query()
    with connection.cursor() as cursor:
        cursor.execute(sql, [lookup_key(code), True, class_code, type_code])
        row = cursor.fetchone()
    if row is None:
        return None
    rsit_type, rsit_class, category = joined.instances(row)
    if category is None:
        return None
    RsitType.rsit_class.field.set_cached_value(rsit_type, rsit_class)
    return category, rsit_type


@functools.cache
def _taxonomy_query() -> tuple[Joined, str]:
    """The RSIT type, its class and the category (a LEFT JOIN: whether the category exists
    is told apart from whether the type does), written out once."""
    joined = Joined([(RsitType, "t"), (RsitClass, "k"), (Category, "c")])
    quote, table = connection.ops.quote_name, joined.table
    # Names from the models, values as parameters.
    sql = (f"SELECT {joined.select()} FROM {table(RsitType)} t "  # noqa: S608
           f"INNER JOIN {table(RsitClass)} k ON k.{quote('id')} = t.{quote('rsit_class_id')} "
           f"LEFT JOIN {table(Category)} c ON c.{quote('code')} = %s "
           f"AND c.{quote('active')} = %s "
           f"WHERE k.{quote('code')} = %s AND t.{quote('code')} = %s")
    return joined, sql


def parse_state(alpha2: str) -> MemberState:
    state = MemberState.objects.filter(alpha2=lookup_key(alpha2).upper()).first()
    if state is None:
        raise ValidationError(_("Unknown Member State “%(code)s”.") % {"code": alpha2})
    return state


def parse_indicators(items: list[tuple[str, str]], label: str = "#") -> list[tuple[str, str]]:
    """Validate (type, value) pairs; errors name the item's position from 1."""
    if len(items) > MAX_INDICATORS:
        raise ValidationError(_("At most %(n)s indicators per report.") % {"n": MAX_INDICATORS})
    cleaned, errors, seen = [], [], set()
    for position, (kind, value) in enumerate(items, start=1):
        if kind not in Indicator.Type.values:
            errors.append(_("%(where)s %(n)s: unknown indicator type “%(type)s”.") % {
                "where": label, "n": position, "type": kind})
            continue
        try:
            normal = normalise(kind, value)
        except IndicatorError as exc:
            errors.append(_("%(where)s %(n)s: %(reason)s") % {
                "where": label, "n": position, "reason": exc})
            continue
        if (kind, normal) not in seen:
            seen.add((kind, normal))
            cleaned.append((kind, normal))
    if errors:
        raise ValidationError(errors)
    return cleaned


def parse_services(items: list[str]) -> list[str]:
    services = [str(item).strip()[:200] for item in items if str(item).strip()]
    if len(services) > MAX_SERVICES:
        raise ValidationError(_("At most %(n)s affected services.") % {"n": MAX_SERVICES})
    return services
