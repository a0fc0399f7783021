"""Annual summary returns: validation shared by the form, the API and the CSV upload."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils.translation import gettext as _

from sentinelle.core import audit
from sentinelle.core.errors import Refused
from sentinelle.core.limits import integer_range
from sentinelle.incidents.fields import lookup_key, parse_category
from sentinelle.incidents.models import Category, RsitClass, SummaryLine, SummaryReturn

CSV_COLUMNS = ("category", "rsit_class", "incidents", "user_hours")
MAX_CSV_BYTES = 1024 * 1024
T = TypeVar("T")


@dataclass
class ReturnLine:
    category: Category
    rsit_class: RsitClass
    incidents: int
    user_hours: float


def parse_rsit_class(code: str) -> RsitClass:
    found = RsitClass.objects.filter(code=lookup_key(code)).first()
    if found is None:
        raise ValidationError(_("Unknown RSIT class “%(code)s”.") % {"code": code})
    return found


# More user-hours than everyone alive spends in a year (8.1 billion × 8,784 h ≈ 7.1e13): no line
# can count more. Without a bound, two lines near the float maximum summed to infinity and the
# statistics API, which cannot write it as JSON, answered 500 (Schemathesis, issue 19).
MAX_USER_HOURS = 1e14


def check_lines(lines: list[ReturnLine]) -> None:
    seen = set()
    for number, line in enumerate(lines, start=1):
        if not 0 <= line.user_hours <= MAX_USER_HOURS:
            raise ValidationError(_("Line %(n)s: user_hours must be between 0 and %(max)s.") % {
                "n": number, "max": f"{MAX_USER_HOURS:.0e}"})
        key = (line.category.pk, line.rsit_class.pk)
        if key in seen:
            raise ValidationError(_("Line %(n)s repeats %(category)s × %(rsit)s.") % {
                "n": number, "category": line.category.code, "rsit": line.rsit_class.code})
        seen.add(key)
    if not lines:
        raise ValidationError(_("A return needs at least one line."))


def parse_csv(data: bytes) -> list[ReturnLine]:
    """Read a CSV return; every error names its line, and one bad line rejects the file."""
    if len(data) > MAX_CSV_BYTES:
        raise ValidationError(_("The file is larger than %(n)s bytes.") % {"n": MAX_CSV_BYTES})
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationError(_("The file is not UTF-8 text.")) from None
    # newline="": the csv module reads CR, LF and CRLF line ends itself (a spreadsheet saved
    # on an old Mac ends lines with a bare CR, which StringIO's default refuses with csv.Error).
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        return _read_rows(reader)
    except csv.Error as exc:   # an unclosed quote, a field over csv.field_size_limit()
        raise ValidationError(_("Line %(n)s: %(reason)s") % {
            "n": reader.line_num or 1, "reason": exc}) from None


def _read_rows(reader: csv.DictReader) -> list[ReturnLine]:
    missing = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise ValidationError(_("Line 1: missing column(s) %(cols)s.") % {
            "cols": ", ".join(missing)})
    top = integer_range(SummaryLine._meta.get_field("incidents"))[1]
    # Each code looked up once: a 1 MB file holds ~30,000 lines naming the same few codes,
    # and two queries a line kept a request busy for half a minute (issue 20's fuzzing).
    category, rsit_class = _memo(parse_category), _memo(parse_rsit_class)
    lines, errors = [], []
    for row in reader:
        number = reader.line_num
        try:
            # int() of more than 4,300 digits is a ValueError too (sys.set_int_max_str_digits).
            incidents = int((row.get("incidents") or "").strip())
            user_hours = float((row.get("user_hours") or "0").strip() or 0)
            if not 0 <= incidents <= top or user_hours < 0 or not math.isfinite(user_hours):
                raise ValueError
        except ValueError:
            # (The column's top is no count a State reports: the message need not name it.)
            errors.append(_("Line %(n)s: incidents and user_hours must be non-negative numbers.")
                          % {"n": number})
            continue
        try:
            lines.append(ReturnLine(category(row.get("category") or ""),
                                    rsit_class(row.get("rsit_class") or ""),
                                    incidents, user_hours))
        except ValidationError as exc:
            errors.append(_("Line %(n)s: %(reason)s") % {"n": number, "reason": exc.messages[0]})
    if errors:
        raise ValidationError(errors)
    return lines


def _memo(parse: Callable[[str], T]) -> Callable[[str], T]:
    """``parse`` with its answers (and its refusals) kept per code."""
    found: dict[str, T | ValidationError] = {}

    def lookup(code: str) -> T:
        if code not in found:
            try:
                found[code] = parse(code)
            except ValidationError as exc:
                found[code] = exc
        answer = found[code]
        if isinstance(answer, ValidationError):
            raise answer
        return answer
    return lookup


def template_csv() -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    writer.writerow(["routing-disruption", "availability", 3, 1250.5])
    return out.getvalue()


def submit_return(user, year: int, lines: list[ReturnLine], notes: str = "") -> SummaryReturn:
    """Add a return for the user's State; a second one for the same year is a new version."""
    if not (user.is_authenticated and user.is_focal_point):
        raise Refused(_("Only a Member State's focal point can send a summary return."))
    check_lines(lines)   # before the transaction: SQLite's write lock is held only to write
    with transaction.atomic():
        return _write_return(user, year, lines, notes)


def _write_return(user, year: int, lines: list[ReturnLine], notes: str) -> SummaryReturn:
    last = SummaryReturn.objects.filter(
        state_id=user.state_id, year=year).aggregate(v=Max("version"))["v"]
    summary = SummaryReturn.objects.create(state_id=user.state_id, year=year,
                                           version=(last or 0) + 1, submitted_by=user,
                                           notes=notes)
    SummaryLine.objects.bulk_create(
        SummaryLine(summary=summary, category=line.category, rsit_class=line.rsit_class,
                    incidents=line.incidents, user_hours=line.user_hours) for line in lines)
    audit.record("summary.submit", summary, after={
        "state": user.state.alpha2, "year": year, "version": summary.version,
        "lines": [[line.category.code, line.rsit_class.code, line.incidents, line.user_hours]
                  for line in lines]})
    return summary
