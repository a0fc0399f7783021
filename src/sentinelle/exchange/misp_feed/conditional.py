"""The two pieces of outside input the MISP feed reads besides its token, kept free of Django so
that they are fuzzed alone (fuzz/targets/misp_feed.py): the request path, matched by strict
patterns, and the ``If-None-Match`` header."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

# A collection name ("all", "tlp-green", "group-12") and a lower-case uuid: nothing else, so
# "..", "%2f" (decoded or not), NULs and upper-case variants never reach a view.
COLLECTION = r"(?P<collection>[a-z0-9-]{1,40})"
EVENT_UUID = r"(?P<event_uuid>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"
MANIFEST_PATH = rf"^{COLLECTION}/manifest\.json$"
HASHES_PATH = rf"^{COLLECTION}/hashes\.csv$"
EVENT_PATH = rf"^{COLLECTION}/{EVENT_UUID}\.json$"
PATHS = (MANIFEST_PATH, HASHES_PATH, EVENT_PATH)


def resolve(path: str) -> dict[str, str] | None:
    """What the URL patterns would pass to a view for this path (below /feeds/misp/)."""
    for pattern in PATHS:
        found = re.fullmatch(pattern, path)   # as Django matches an endpoint ending in $
        if found:
            return found.groupdict()
    return None


def etag(chunks: Iterable[bytes]) -> str:
    """Strong ETag of a body: the sha256 of its bytes, the same in every process."""
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    return f'"{digest.hexdigest()}"'


def matches(header: str, current: str) -> bool:
    """RFC 9110 13.1.2 (If-None-Match uses the weak comparison): a list of tags, W/ tags, "*".
    Anything else is simply no match, whatever the header holds."""
    return any(tag == "*" or tag.removeprefix("W/") == current
               for tag in (part.strip() for part in header.split(",")))
