"""AS relationships (CAIDA as-rel) and a valley-free (Gao-Rexford) route-leak check.

Input format (CAIDA serial-1/serial-2 ``as-rel``)::

    # comment lines start with '#'
    <provider-as>|<customer-as>|-1
    <peer-as>|<peer-as>|0
    a|b|1          (sibling; not in CAIDA's files, accepted for hand-made lists)

Serial-2 adds a fourth ``|source`` column, ignored here. ``.gz``/``.bz2`` files are read
transparently.

The check (`valley_free`) walks the path from the origin towards the collector. Each link the
route crosses is *up* (customer to provider), *flat* (peer to peer) or *down* (provider to
customer). A valley-free path is ``up* flat? down*``. The first AS that received the route
from a provider or a peer and passed it to a provider or a peer is the leaker (RFC 7908 type 1
to 4 leaks all show up as this pattern); the result names it and the offending triple.

Known blind spots (treat a result as a lead to check, never as proof):

* **missing relationships**: CAIDA infers them from public BGP data; links not seen (many
  peerings at IXPs, private interconnects, new links) are unknown and the triple is skipped,
  so leaks through unknown links go unnoticed;
* **incorrect relationships**: an inference error turns a normal path into a "leak" (false
  positive) or hides a real one; CAIDA's own validation reports a few percent of p2p/p2c errors;
* **siblings** (ASes of one organisation, e.g. after a merger) exchange everything; sibling
  links are treated as transparent, but CAIDA's as-rel does not list them (use as2org to add
  them as ``|1``), so sibling transit looks like a leak;
* **partial transit** (a provider selling only its customer cone or one region) and
  **hybrid relationships** (peer in one place, customer in another, per-PoP or per-prefix
  policies) cannot be expressed by one label per AS pair;
* **prepending** is collapsed before the check; an AS_SET hop breaks the chain: triples
  containing a set are skipped;
* **route-server ASes** at IXPs are usually not in the AS path (transparent route servers), so
  two members look directly connected and peer-to-peer; and the collector's own peer may send
  the collector routes it would never send to a provider (the last hop to the collector is not
  checked, since the collector is not in the path).
"""

from __future__ import annotations

import bz2
import gzip
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

P2C = -1  # a is the provider of b
P2P = 0
S2S = 1

# relationship of a towards b, as seen from a
PROVIDER, CUSTOMER, PEER, SIBLING = "provider", "customer", "peer", "sibling"


class ASRelError(ValueError):
    """Bad as-rel input; the message names the file and line."""


@dataclass(frozen=True, slots=True)
class Leak:
    leaker: int
    # a contiguous slice of the de-prepended path, in path order (collector side first):
    # (AS the leaker sent the route to, leaker, AS the leaker learned it from)
    triple: tuple[int, int, int]
    learned_from: str  # "provider" | "peer": what the leaker's source is to the leaker
    sent_to: str  # "provider" | "peer": what the receiver is to the leaker

    def describe(self) -> str:
        to_as, leaker, from_as = self.triple
        return (f"AS{leaker} learned the route from its {self.learned_from} AS{from_as} and "
                f"passed it to its {self.sent_to} AS{to_as}")


# paths whose check is remembered (`ASRelationships.leak`); RIBs repeat a path for every
# prefix its origin announces, update files much less
LEAK_CACHE_SIZE = 1 << 16


class ASRelationships:
    def __init__(self) -> None:
        self._rel: dict[tuple[int, int], str] = {}
        self.source = ""
        self._leaks: dict[tuple[int | frozenset[int], ...], Leak | None] = {}

    def __len__(self) -> int:
        return len(self._rel) // 2

    def add(self, a: int, b: int, rel: int) -> None:
        self._leaks.clear()  # a remembered answer may change with the new link
        if rel == P2C:
            self._rel[(a, b)] = PROVIDER  # a is provider of b
            self._rel[(b, a)] = CUSTOMER
        elif rel == P2P:
            self._rel[(a, b)] = self._rel[(b, a)] = PEER
        elif rel == S2S:
            self._rel[(a, b)] = self._rel[(b, a)] = SIBLING
        else:
            raise ValueError(f"unknown relationship {rel}")

    def leak(self, path: tuple[int | frozenset[int], ...]) -> Leak | None:
        """`valley_free(path, self)`, remembered per path (Leak is immutable)."""
        try:
            return self._leaks[path]
        except KeyError:
            pass
        except TypeError:  # an unhashable path (a list hop from a hand-made element)
            return valley_free(path, self)
        result = valley_free(path, self)
        if len(self._leaks) >= LEAK_CACHE_SIZE:
            self._leaks.clear()
        self._leaks[path] = result
        return result

    def relation(self, a: int, b: int) -> str | None:
        """What `a` is to `b`: "provider", "customer", "peer", "sibling" or None (unknown)."""
        return self._rel.get((a, b))

    @classmethod
    def parse(cls, lines: Iterable[str], source: str = "<as-rel>") -> ASRelationships:
        rels = cls()
        rels.source = source
        for number, raw in enumerate(lines, 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split("|")
            if len(parts) < 3:
                raise ASRelError(f"{source}: line {number}: expected a|b|rel, got {line[:60]!r}")
            try:
                a, b, rel = int(parts[0]), int(parts[1]), int(parts[2])
            except ValueError:
                raise ASRelError(f"{source}: line {number}: not integers: {line[:60]!r}") from None
            if not (0 <= a <= 0xFFFFFFFF and 0 <= b <= 0xFFFFFFFF):
                raise ASRelError(f"{source}: line {number}: ASN out of range")
            try:
                rels.add(a, b, rel)
            except ValueError:
                raise ASRelError(
                    f"{source}: line {number}: relationship must be -1, 0 or 1, got {rel}"
                ) from None
        return rels

    @classmethod
    def load(cls, path: str | Path) -> ASRelationships:
        path = Path(path)
        try:
            with path.open("rb") as probe:
                magic = probe.read(3)
            opener = gzip.open if magic[:2] == b"\x1f\x8b" else bz2.open if magic == b"BZh" \
                else open
            with opener(path, "rt", encoding="utf-8") as stream:
                return cls.parse(stream, str(path))
        except OSError as exc:
            raise ASRelError(f"{path}: cannot read: {exc.strerror or exc}") from None
        except UnicodeDecodeError as exc:
            raise ASRelError(f"{path}: not UTF-8 text ({exc.reason})") from None


def deprepend(path: Sequence[int | frozenset[int]]) -> list[int | frozenset[int]]:
    """Collapse consecutive repeats (prepending): 1 2 2 2 3 -> 1 2 3."""
    out: list[int | frozenset[int]] = []
    for hop in path:
        if not out or out[-1] != hop:
            out.append(hop)
    return out


def first_hop(path: Sequence[int | frozenset[int]]) -> int | frozenset[int] | None:
    """``deprepend(path)[-2]``, the AS next to the origin once prepending is collapsed, or None
    when the path has no such hop (empty, or the origin repeated); the first-hop check reads
    it for every route of a watched prefix, and this walks back from the origin instead of
    copying the path."""
    if not path:
        return None
    origin = path[-1]
    for index in range(len(path) - 2, -1, -1):
        hop = path[index]
        if hop != origin:
            return hop
    return None


def valley_free(path: Sequence[int | frozenset[int]], rels: ASRelationships) -> Leak | None:
    """Return the first leak on `path` (collector side first, origin last), or None.

    Unknown links and links touching an AS_SET are skipped (see the module docstring).
    """
    hops = deprepend(path)
    # walk from the origin (end) towards the collector (start)
    for i in range(len(hops) - 2, 0, -1):
        receiver, leaker, source = hops[i - 1], hops[i], hops[i + 1]
        if not all(isinstance(h, int) for h in (receiver, leaker, source)):
            continue
        learned = rels.relation(source, leaker)  # what the source is to the leaker
        sent = rels.relation(receiver, leaker)  # what the receiver is to the leaker
        if learned in (PROVIDER, PEER) and sent in (PROVIDER, PEER):
            return Leak(leaker, (receiver, leaker, source), learned, sent)  # type: ignore[arg-type]
    return None
