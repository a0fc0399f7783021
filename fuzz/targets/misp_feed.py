"""The MISP feed's request input (exchange/misp_feed/conditional.py): each line is a path below
/feeds/misp/, matched by the URL patterns (`resolve`), and an ``If-None-Match`` header
(`matches`). Nothing is refused: a path either names a plain collection and a canonical
lower-case uuid, or resolves to nothing (404); a header matches or does not.

Seeds in ``fuzz/corpus/misp_feed/``: the three kinds of path, a traversal attempt, a header with
a strong, a weak and a "*" tag."""

from __future__ import annotations

import uuid

from fuzz.harness import Target
from sentinelle.exchange.misp_feed.conditional import etag, matches, resolve

CURRENT = etag([b"{}"])


def run(data: bytes) -> None:
    text = data.decode("latin-1")
    for line in text.splitlines()[:1000] or [text]:
        found = resolve(line)
        if found is not None:
            collection = found["collection"]
            assert collection and ".." not in collection and "/" not in collection, found
            assert set(collection) <= set("abcdefghijklmnopqrstuvwxyz0123456789-"), found
            if "event_uuid" in found:
                assert str(uuid.UUID(found["event_uuid"])) == found["event_uuid"], found
        hit = matches(line, CURRENT)
        assert isinstance(hit, bool)
        assert not hit or "*" in line or CURRENT in line, line


TARGET = Target(
    name="misp_feed",
    seeds=(),
    run=run,
    refusals=(),
    kind="text",
)
