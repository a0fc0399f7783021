"""Search by indicator (incidents/search.py): the text typed in a report list's `q=` box, read
as every kind of indicator it can be. Never an exception (a text that is no indicator finds
nothing), a bounded filter, and every regular expression it builds compiles and runs quickly
over hostile stored values (SQLite runs REGEXP with Python's re)."""

from __future__ import annotations

import ipaddress
import re

from fuzz.harness import Target
from sentinelle.incidents import search
from sentinelle.incidents.indicators import MAX_VALUE_LENGTH

# More conditions than this would be a query the database plans badly (a /1 is 128 prefixes).
MAX_CONDITIONS = 1_000
_STORED = ["https://portal.gob.cu/login?next=/", "http://[2001:db8::1]:8080/x",
           "ftp://user@" + "a." * 1000 + "example/", "http://" + "-" * 2000]


def _leaves(q) -> list[tuple[str, object]]:
    out = []
    for child in q.children:
        out.extend(_leaves(child) if hasattr(child, "children") else [child])
    return out


def run(data: bytes) -> None:
    text = data.decode("utf-8", "replace")   # as Django decodes a query string
    q = search.indicator_q(text)
    if q is None:
        return
    leaves = _leaves(q)
    if len(leaves) > MAX_CONDITIONS:
        raise AssertionError(f"{len(leaves)} conditions")
    for key, value in leaves:
        if key.endswith("__iregex"):
            pattern = re.compile(value, re.IGNORECASE)
            for stored in [*_STORED, text[:MAX_VALUE_LENGTH]]:
                pattern.search(stored)
    if "/" in text and ":" in text:
        try:
            net = ipaddress.ip_network(text.strip(), strict=False)
        except ValueError:
            return
        if isinstance(net, ipaddress.IPv6Network):
            search._ipv6_literal_start(net)


TARGET = Target(
    name="search",
    seeds=(),
    run=run,
    refusals=(),
    kind="text",
)
