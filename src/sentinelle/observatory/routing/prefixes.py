"""Prefix helpers shared by the watch list, the RPKI validator and the detectors.

`PrefixIndex` answers "which stored prefixes cover this one". The entries live in one dict per
prefix length (network address as int -> values); for queries it also keeps, built once after
the last `add`, a table of *blocks*: every entry is filed under the fixed-length block(s) of the
address space it overlaps (/16 for IPv4, /32 for IPv6, coarser when short prefixes would need
too many copies). A query at least as long as the block length reads one block and checks its
few entries with integer arithmetic; the scanner calls it for every route of a full table, and
most routes land in an empty block. Shorter queries (rare: /8 to /15 announcements) walk the
lengths present, one dict look-up each, as before.
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


# block length per IP version, and the most block entries short prefixes may add before the
# blocks are made coarser (a /8 filed at /16 is 256 entries; memory stays a few MiB at most)
BLOCK_BITS = {4: 16, 6: 32}
MAX_EXPANSION = 1 << 18

_Entry = tuple[int, int, T]  # (prefix length, network address as int, value)


class PrefixIndex(Generic[T]):
    """Map prefixes to values; find every stored prefix that covers (or equals) a query."""

    def __init__(self) -> None:
        # (version, length) -> {network address as int: [values]}
        self._tables: dict[tuple[int, int], dict[int, list[T]]] = {}
        self._lengths: dict[int, list[int]] = {4: [], 6: []}
        self._size = 0
        # version -> (block length, {block number: [entries, least specific first]}); None
        # until the first query after an `add`
        self._blocks: dict[int, tuple[int, dict[int, list[_Entry]]]] | None = None

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
        self._blocks = None

    def _build(self) -> dict[int, tuple[int, dict[int, list[_Entry]]]]:
        blocks: dict[int, tuple[int, dict[int, list[_Entry]]]] = {}
        for version, lengths in self._lengths.items():
            bits = MAX_LEN[version]
            block = min(BLOCK_BITS[version], max(lengths, default=0))
            # coarser blocks while the short prefixes would be copied into too many of them
            while block > 0 and sum(
                    len(self._tables[(version, length)]) << (block - length)
                    for length in lengths if length < block) > MAX_EXPANSION:
                block -= 1
            table: dict[int, list[_Entry]] = {}
            # lengths ascending, each length's values in insertion order: the order of
            # `covering` (only one address per length can cover a given query)
            for length in lengths:
                for address, values in self._tables[(version, length)].items():
                    first = address >> (bits - block)
                    count = 1 << (block - length) if length < block else 1
                    items = [(length, address, value) for value in values]
                    for number in range(first, first + count):
                        entries = table.get(number)
                        if entries is None:
                            table[number] = items.copy()
                        else:
                            entries.extend(items)
            blocks[version] = (block, table)
        self._blocks = blocks
        return blocks

    def blocks(self, version: int) -> tuple[int, dict[int, list[_Entry]]]:
        """(block length, {block number: entries}) for `version`: a caller that finds no
        entry for an address's block knows no stored prefix of at least the block length
        covers it (`lookup` is the full answer)."""
        blocks = self._blocks if self._blocks is not None else self._build()
        return blocks[version]

    def lookup(self, version: int, address: int, prefixlen: int) -> list[T]:
        """Values of the stored prefixes covering `address/prefixlen` (address as an int,
        host bits allowed), least specific first: the values of `covering`, without
        building an ipaddress object. Raises KeyError for a version other than 4 and 6."""
        blocks = self._blocks if self._blocks is not None else self._build()
        block, table = blocks[version]
        bits = MAX_LEN[version]
        if prefixlen >= block:
            entries = table.get(address >> (bits - block))
            if not entries:
                return []
            return [value for length, start, value in entries
                    if length <= prefixlen and not (address ^ start) >> (bits - length)]
        found: list[T] = []
        for length in self._lengths[version]:
            if length > prefixlen:
                break
            mask = ((1 << length) - 1) << (bits - length) if length else 0
            found.extend(self._tables[(version, length)].get(address & mask, ()))
        return found

    def covering(self, network: Network) -> Iterator[tuple[int, T]]:
        """Yield (stored prefix length, value) for stored prefixes covering `network`,
        least specific first."""
        version = network.version
        bits = MAX_LEN[version]
        address = int(network.network_address)
        prefixlen = network.prefixlen
        blocks = self._blocks if self._blocks is not None else self._build()
        block, table = blocks[version]
        if prefixlen >= block:
            for length, start, value in table.get(address >> (bits - block), ()):
                if length <= prefixlen and not (address ^ start) >> (bits - length):
                    yield length, value
            return
        for length in self._lengths[version]:
            if length > prefixlen:
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
