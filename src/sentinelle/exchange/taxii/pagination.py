"""TAXII pagination: ``limit`` and an opaque ``next``. The key is the position in the
collection's stable order (date added, then id) plus the last id returned, so a stale key
(the collection changed under the client) is detected rather than silently skipping."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import TypeVar

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
T = TypeVar("T")


def _decode(key: str | None) -> tuple[int, str]:
    if not key:
        return 0, ""
    try:
        offset, _sep, last = base64.urlsafe_b64decode(key.encode() + b"==").decode().partition("|")
        return max(int(offset), 0), last
    except (ValueError, UnicodeDecodeError):
        return 0, ""


def page(items: Sequence[T], limit: str | None, key: str | None) -> tuple[list[T], bool, str]:
    """(this page, whether more follow, the key of the next page)."""
    try:
        size = min(max(int(limit), 1), MAX_LIMIT) if limit else DEFAULT_LIMIT
    except ValueError:
        size = DEFAULT_LIMIT
    offset, last = _decode(key)
    if last and 0 < offset <= len(items) and getattr(items[offset - 1], "id", last) != last:
        # The collection moved: find where the client really was.
        ids = [getattr(item, "id", None) for item in items]
        offset = ids.index(last) + 1 if last in ids else offset
    chosen = list(items[offset:offset + size])
    end = offset + len(chosen)
    more = end < len(items)
    next_key = ""
    if more and chosen:
        raw = f"{end}|{getattr(chosen[-1], 'id', '')}".encode()
        next_key = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    return chosen, more, next_key
