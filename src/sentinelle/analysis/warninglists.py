"""Values that link nothing: warning lists for correlation (README, "Duplicates and correlation").

A documentation address (203.0.113.7), a private range, ``example.net``, the hash of an empty file
or a public resolver appears in reports that have nothing to do with each other; correlating on
it would tie every report to every other. ``why_listed`` says why a value is one of these, or
``None`` when it is specific enough to correlate on.

Two sources, both offline:

- the special-use registries, coded here: IP addresses that are not globally routable
  (RFC 1918 private, RFC 5737 / RFC 3849 documentation, RFC 6598 shared, loopback, link-local,
  multicast, reserved), special-use domain names (RFC 2606 / RFC 6761: ``example``, ``test``,
  ``invalid``, ``localhost`` and ``example.com/net/org``) and reserved AS numbers (RFC 5398
  documentation, RFC 6996 private, RFC 7300 last, RFC 7607 zero, RFC 6793 AS_TRANS);
- MISP's warning lists as the ``pymispwarninglists`` wheel ships them (``LISTS`` below: public
  DNS resolvers, sinkholes, empty-file and false-positive hashes, and MISP's own copies of the
  registries above). Only these lists are loaded: the wheel also ships top-site rankings, which
  would hide the very government portals that States report as targets.

Plain Python (no Django), loaded once per process.
"""

from __future__ import annotations

import functools
import ipaddress
import json
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

__all__ = ["LISTS", "why_listed"]

# The MISP lists consulted, by their folder name in the misp-warninglists repository.
LISTS = ("rfc1918", "rfc5735", "rfc3849", "rfc6598", "rfc6761", "multicast", "ipv6-linklocal",
         "public-dns-v4", "public-dns-v6", "public-dns-hostname", "sinkholes", "empty-hashes",
         "common-ioc-false-positive", "second-level-tlds")

_DOCUMENTATION = {
    "RFC 5737": [ipaddress.ip_network(n) for n in
                 ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")],
    "RFC 3849": [ipaddress.ip_network("2001:db8::/32")],
}
# RFC 2606 and RFC 6761 special-use names (".local" is RFC 6762 multicast DNS).
_RESERVED_TLDS = {"example", "test", "invalid", "localhost", "local"}
_RESERVED_DOMAINS = {"example.com", "example.net", "example.org"}
_RESERVED_ASNS = [
    (0, 0, "RFC 7607"), (23456, 23456, "RFC 6793"), (64496, 64511, "RFC 5398"),
    (64512, 65534, "RFC 6996"), (65535, 65535, "RFC 7300"), (65536, 65551, "RFC 5398"),
    (4200000000, 4294967294, "RFC 6996"), (4294967295, 4294967295, "RFC 7300"),
]


@dataclass
class _List:
    name: str
    kind: str                                     # MISP's list type: string, hostname, cidr
    strings: set[str] = field(default_factory=set)
    # cidr lists: networks grouped by prefix length, so one lookup per length present
    networks: dict[tuple[int, int], set[str]] = field(default_factory=dict)

    def has_address(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        if str(address) in self.strings:
            return True
        for version, length in self.networks:
            if version == address.version:
                net = ipaddress.ip_network(f"{address}/{length}", strict=False)
                if str(net) in self.networks[(version, length)]:
                    return True
        return False

    def has_name(self, name: str) -> bool:
        if self.kind == "hostname":   # the name or any domain above it
            labels = name.split(".")
            return any(".".join(labels[i:]) in self.strings for i in range(len(labels)))
        return name in self.strings


def _data_dir() -> Path:
    import pymispwarninglists

    return Path(pymispwarninglists.__file__).parent / "data" / "misp-warninglists" / "lists"


@functools.cache
def _lists() -> tuple[_List, ...]:
    out = []
    for folder in LISTS:
        path = _data_dir() / folder / "list.json"
        if not path.exists():   # a newer wheel that dropped a list: the registries still apply
            continue
        data = json.loads(path.read_text(encoding="utf-8"))
        wl = _List(data["name"], data["type"])
        for entry in data["list"]:
            entry = entry.strip().lower().rstrip(".")
            if wl.kind != "cidr":
                wl.strings.add(entry)
                continue
            try:
                net = ipaddress.ip_network(entry, strict=False)
            except ValueError:
                wl.strings.add(entry)
                continue
            if net.num_addresses == 1:
                wl.strings.add(str(net.network_address))
            else:
                wl.networks.setdefault((net.version, net.prefixlen), set()).add(str(net))
        out.append(wl)
    return tuple(out)


def _address(value: str) -> str | None:
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    for rfc, networks in _DOCUMENTATION.items():
        if any(address in n for n in networks):
            return f"documentation range ({rfc})"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if address.is_private:
        return "private or reserved range"
    if not address.is_global:
        return "not globally routable"
    for wl in _lists():
        if wl.kind == "cidr" and wl.has_address(address):
            return f"MISP warning list: {wl.name}"
    return None


def _prefix(value: str) -> str | None:
    try:
        net = ipaddress.ip_network(value, strict=False)
    except ValueError:
        return None
    # A prefix that starts or ends in a special range is about that range.
    return _address(str(net.network_address)) or _address(str(net.broadcast_address))


def _domain(value: str) -> str | None:
    name = value.strip().lower().rstrip(".")
    if not name:
        return "empty"
    labels = name.split(".")
    if labels[-1] in _RESERVED_TLDS:
        return f"special-use domain (.{labels[-1]})"
    if ".".join(labels[-2:]) in _RESERVED_DOMAINS:
        return "special-use domain (RFC 2606)"
    if _address(name):   # a URL or e-mail with an address for a host
        return _address(name)
    for wl in _lists():
        if wl.kind in ("string", "hostname") and wl.has_name(name):
            return f"MISP warning list: {wl.name}"
    return None


def _asn(value: str) -> str | None:
    digits = value.upper().removeprefix("AS")
    if not digits.isdecimal():   # "²" is a digit int() refuses
        return None
    number = int(digits)
    for low, high, rfc in _RESERVED_ASNS:
        if low <= number <= high:
            return f"reserved AS number ({rfc})"
    return None


def _hash(value: str) -> str | None:
    for wl in _lists():
        if wl.kind == "string" and value.lower() in wl.strings:
            return f"MISP warning list: {wl.name}"
    return None


def why_listed(kind: str, value: str) -> str | None:
    """Why a value of this indicator kind correlates nothing, or None when it may.

    ``kind`` is an indicator type (``ipv4``, ``ipv6``, ``prefix``, ``asn``, ``domain``, ``url``,
    ``email``, ``sha256``) or a derived key (``net24``, ``net48``, ``network``, ``as``)."""
    if kind in ("ipv4", "ipv6"):
        return _address(value)
    if kind in ("prefix", "net24", "net48", "network"):
        return _prefix(value)
    if kind in ("asn", "as"):
        return _asn(value)
    if kind == "domain":
        return _domain(value)
    if kind == "email":
        return _domain(value.rsplit("@", 1)[-1])
    if kind == "url":
        try:
            host = urlsplit(value).hostname
        except ValueError:
            return None
        return _domain(host) if host else None
    if kind == "sha256":
        return _hash(value)
    return None
