"""Path converters of the API's hand-written routes (the routers' ids are checked by DRF's
get_object_or_404)."""

from __future__ import annotations


class IdConverter:
    """A row id: digits, at most 18 of them. Django's `int` converter takes any length, and a
    lookup through a relation with a number over 2**63 overflows SQLite (a 500); no row has such
    an id, so the route does not match and the API answers its 404."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)
