"""The scanner's per-route prefix parsing and its local fast path (observatory/routing/scan.py):
each line of the input is a route's prefix text (RIS-Live frames carry whatever a peer sent).
`parse_prefix_fast` must give what ``ipaddress.ip_network(text, strict=False)`` gives (or
refuse what it refuses), and `Scanner.feed_all` must leave the same findings and counters as
`Scanner.feed` one element at a time. The compiled parser of feed_all's fast path
(`_mrt_accel.v4_prefix_code`, when built) must accept exactly the texts the Python test
accepts, with the same address and length. A disagreement raises AssertionError: a crash."""

import ipaddress

from fuzz.harness import Target
from sentinelle.observatory.routing import mrt_accel
from sentinelle.observatory.routing.elements import Element
from sentinelle.observatory.routing.scan import (
    Scanner,
    ScanOptions,
    parse_prefix_fast,
    v4_prefix_code_py,
)
from sentinelle.observatory.routing.watchlist import loads

_WATCH = loads("states:\n  CU:\n    asns: [27725]\n    prefixes:\n"
               "      - prefix: 190.6.64.0/19\n        max_length: 24\n"
               "      - 2001:db8:cc00::/40\n", "fuzz.yaml")


def _reference(text: str) -> tuple[int, int, int] | None:
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None
    return network.version, int(network.network_address), network.prefixlen


def _scan(elements: list[Element], one_by_one: bool) -> tuple:
    scanner = Scanner(_WATCH, options=ScanOptions(full_feed_v4=2, full_feed_v6=2,
                                                  visibility_bucket=60))
    if one_by_one:
        for element in elements:
            scanner.feed(element)
    else:
        scanner.feed_all(elements)
    return [a.to_dict() for a in scanner.finish()], scanner.stats.to_dict()


def run(data: bytes) -> None:
    lines = data.decode("utf-8", "replace").splitlines()[:200]
    elements = []
    for number, text in enumerate(lines):
        assert parse_prefix_fast(text) == _reference(text), text
        if mrt_accel.available():
            assert mrt_accel._mrt_accel.v4_prefix_code(text) == v4_prefix_code_py(text), text  # type: ignore[union-attr]
        origin = 666 if number % 3 else 27725
        elements.append(Element("AW"[number % 5 == 4], 1_700_000_000 + 7 * number,
                                f"192.0.2.{number % 3}", 64500, text, (3356, origin)))
    assert _scan(elements, True) == _scan(elements, False)


TARGET = Target(
    name="scan_prefix",
    seeds=("fuzz/corpus/scan_prefix/*",),
    run=run,
    refusals=(),
    kind="text",
)
