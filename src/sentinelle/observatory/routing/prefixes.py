"""Prefix helpers shared by the watch list, the RPKI validator and the detectors.

`PrefixIndex` answers "which stored prefixes cover this one" with one dict look-up per prefix
length that is actually present in the index (a handful for real VRP sets), so it stays fast
for hundreds of thousands of entries without a hand-written trie.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Generic, TypeVar

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
T = TypeVar("T")

MAX_LEN = {4: 32, 6: 128}


def parse_prefix(text: str, *, strict: bool = True) -> Network:
    """Parse "190.6.64.0/19"; strict refuses host bits set (ValueError names the problem)."""
    if not isinstance(text, str) or "/" not in text:
        raise ValueError(f"not a prefix (expected address/length): {text!r}")
    try:
        return ipaddress.ip_network(text.strip(), strict=strict)
    except ValueError as exc:
        if strict and "has host bits set" in str(exc):
            raise ValueError(f"host bits set in {text!r}") from None
        raise ValueError(f"invalid prefix {text!r}: {exc}") from None


def normalise(text: str) -> str:
    """Canonical text form of a prefix, host bits cleared (as announcements may carry them)."""
    return str(ipaddress.ip_network(text.strip(), strict=False))


class PrefixIndex(Generic[T]):
    """Map prefixes to values; find every stored prefix that covers (or equals) a query."""

    def __init__(self) -> None:
        # (version, length) -> {network address as int: [values]}
        self._tables: dict[tuple[int, int], dict[int, list[T]]] = {}
        self._lengths: dict[int, list[int]] = {4: [], 6: []}
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def add(self, network: Network, value: T) -> None:
        key = (network.version, network.prefixlen)
        table = self._tables.get(key)
        if table is None:
            table = self._tables[key] = {}
            lengths = self._lengths[network.version]
            lengths.append(network.prefixlen)
            lengths.sort()
        table.setdefault(int(network.network_address), []).append(value)
        self._size += 1

    def covering(self, network: Network) -> Iterator[tuple[int, T]]:
        """Yield (stored prefix length, value) for stored prefixes covering `network`,
        least specific first."""
        version = network.version
        bits = MAX_LEN[version]
        address = int(network.network_address)
        for length in self._lengths[version]:
            if length > network.prefixlen:
                break
            mask = ((1 << length) - 1) << (bits - length) if length else 0
            for value in self._tables[(version, length)].get(address & mask, ()):
                yield length, value

    def exact(self, network: Network) -> list[T]:
        table = self._tables.get((network.version, network.prefixlen), {})
        return list(table.get(int(network.network_address), ()))

    def values(self) -> Iterator[T]:
        for table in self._tables.values():
            for items in table.values():
                yield from items


def covers(outer: Network, inner: Network) -> bool:
    """True when `inner` equals `outer` or is a more-specific of it."""
    return (
        outer.version == inner.version
        and outer.prefixlen <= inner.prefixlen
        and inner.supernet(new_prefix=outer.prefixlen) == outer
    )
