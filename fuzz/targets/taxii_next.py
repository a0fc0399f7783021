"""The ``next`` key of a TAXII page (exchange/taxii/keys.py), as a client sends it back in
``?next=``: anything but a key this server gave is BadKey (a TAXII 400), never another
exception; a key that is read gives the same key again.

Seeds: ``fuzz/corpus/taxii_next/`` (keys this server gives)."""

from __future__ import annotations

from fuzz.harness import Target
from sentinelle.exchange.taxii.keys import BadKey, Position


def run(data: bytes) -> None:
    text = data.decode("utf-8", "replace")   # as Django decodes a query string
    position = Position.from_key(text)
    again = Position.from_key(position.key())
    if again != position:
        raise AssertionError(f"{text[:80]!r} reads back as {again}, not {position}")


TARGET = Target(
    name="taxii_next",
    seeds=(),
    run=run,
    refusals=(BadKey,),
    kind="text",
)
