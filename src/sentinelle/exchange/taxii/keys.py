"""The ``next`` key of a TAXII page (taxii/paging.py): the position of the last object sent,
``(date added, source, row pk, rank, id)``, in URL-safe base64. Plain Python, no Django: the
key comes from outside and is fuzzed alone (fuzz/targets/taxii_next.py)."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from dataclasses import dataclass

STATIC, INCIDENT, INDICATOR = 0, 1, 2
SOURCES = (STATIC, INCIDENT, INDICATOR)
MAX_KEY = 512            # a key this server gives is under 200 characters
MAX_PK = 2 ** 63 - 1     # a database bigint


class BadKey(ValueError):
    """A ``next`` this server did not give."""


@dataclass(frozen=True, order=True)
class Position:
    date: dt.datetime
    source: int
    pk: int = 0
    n: int = 0
    oid: str = ""

    def key(self) -> str:
        raw = f"{self.date.isoformat()}|{self.source}|{self.pk}|{self.n}|{self.oid}"
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def from_key(cls, key: str) -> Position:
        """The position a key names; BadKey for anything this server would not have given."""
        try:
            if len(key) > MAX_KEY:
                raise ValueError("too long")
            raw = base64.urlsafe_b64decode(key.encode("ascii") + b"==").decode()
            date, source, pk, n, oid = raw.split("|", 4)
            when = dt.datetime.fromisoformat(date)
            numbers = [int(source), int(pk), int(n)]
            if when.tzinfo is None or numbers[0] not in SOURCES or \
                    not all(0 <= x <= MAX_PK for x in numbers) or len(oid) > 200:
                raise ValueError(date)
            # In UTC, as the database compares: a far date with an offset fails here, not there.
            return cls(when.astimezone(dt.UTC), *numbers, oid)
        except (ValueError, UnicodeError, TypeError, binascii.Error, OverflowError):
            raise BadKey(key[:80]) from None
