"""The DNS half of the verdict (verdict.py): what each resolver answered at the vantage and at
the control, OONI's dns_consistency, and the strong signs of tampering (NXDOMAIN or a bogon
address where the control resolved the name)."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

__all__ = ["DNS_DENIALS", "AsnLookup", "DnsAnswers", "Resolver", "dns_answers",
           "dns_consistency", "dns_reason", "dns_tampering", "is_bogon"]

DNS_DENIALS = frozenset({"dns_nxdomain_error", "dns_no_answer", "dns_refused_error",
                         "dns_bogon_error"})
# an address -> its AS number (a mapping, a function, or nothing)
AsnLookup = Mapping[str, "int | None"] | Callable[[str], "int | None"] | None


@dataclass(slots=True)
class Resolver:
    name: str
    engine: str = "system"
    addresses: set[str] = field(default_factory=set)
    failures: list[str] = field(default_factory=list)


@dataclass(slots=True)
class DnsAnswers:
    queried: bool
    resolvers: list[Resolver]
    addresses: set[str]
    asns: set[int]

    @property
    def failure(self) -> str | None:
        if self.addresses or not self.queried:
            return None
        failures = [f for r in self.resolvers for f in r.failures]
        if "dns_nxdomain_error" in failures:
            return "dns_nxdomain_error"
        return failures[0] if failures else "dns_no_answer"


def dns_answers(measurement: dict | None, lookup: AsnLookup) -> DnsAnswers:
    resolvers: dict[str, Resolver] = {}
    asns: set[int] = set()
    queries = (measurement or {}).get("queries")
    for query in queries if isinstance(queries, list) else []:
        if not isinstance(query, dict):
            continue
        engine = str(query.get("engine") or "system")
        name = f"{engine} resolver"
        if query.get("resolver_address"):
            name += f" {query['resolver_address']}"
        resolver = resolvers.setdefault(name, Resolver(name, engine))
        if query.get("failure"):
            resolver.failures.append(str(query["failure"]))
        answers = query.get("answers")
        # The control's answer is outside input: "answers": 1 must not end the run.
        for answer in answers if isinstance(answers, list) else []:
            if not isinstance(answer, dict):
                continue
            address = answer.get("ipv4") or answer.get("ipv6")
            if not isinstance(address, str) or not _is_ip(address):
                continue
            resolver.addresses.add(address)
            asn = answer.get("asn")
            if not isinstance(asn, int) or isinstance(asn, bool) or asn <= 0:
                asn = _lookup(lookup, address)
            if asn:
                asns.add(asn)
    addresses = set().union(*(r.addresses for r in resolvers.values())) if resolvers else set()
    return DnsAnswers(bool(resolvers), list(resolvers.values()), addresses, asns)


def _lookup(lookup: AsnLookup, address: str) -> int | None:
    try:
        value = lookup(address) if callable(lookup) else (lookup or {}).get(address)
    except (ValueError, KeyError):
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def is_bogon(address: str) -> bool:
    """Private, loopback, link-local, reserved, multicast or unspecified (OONI's "bogon")."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved
            or ip.is_multicast or ip.is_unspecified)


def dns_consistency(local: DnsAnswers, control: DnsAnswers) -> str | None:
    """OONI's dns_consistency: "consistent", "inconsistent" or None (nothing to compare)."""
    if not local.queried or not control.queried:
        return None
    if local.failure and control.failure:
        return "consistent" if local.failure == control.failure else "inconsistent"
    if local.addresses & control.addresses or local.asns & control.asns:
        return "consistent"
    return "inconsistent"


def dns_tampering(local: DnsAnswers, control: DnsAnswers) -> str | None:
    """The strong signs of rule 5, as a reason, or None."""
    if not control.addresses:
        return None
    shown = ", ".join(sorted(control.addresses)[:3])
    for resolver in local.resolvers:
        if not resolver.addresses and resolver.failures:
            failure = ("dns_nxdomain_error" if "dns_nxdomain_error" in resolver.failures
                       else resolver.failures[0])
            if local.addresses and failure not in DNS_DENIALS:
                # One resolver timing out while another answered is flakiness, not a lie.
                continue
            if any(r.engine == resolver.engine and not r.addresses and r.failures
                   for r in control.resolvers):
                # The control's resolver of the same kind failed too: the name is unknown
                # to that kind of resolver (e.g. a local zone), not hidden from this vantage.
                continue
            what = "NXDOMAIN" if failure == "dns_nxdomain_error" else "no address"
            return (f"{resolver.name} answered {what} ({failure}) while the control resolved "
                    f"{len(control.addresses)} address(es) ({shown})")
        bogons = {a for a in resolver.addresses if is_bogon(a)} - control.addresses
        if bogons and not resolver.addresses & control.addresses:
            return (f"{resolver.name} answered bogon address(es) "
                    f"{', '.join(sorted(bogons)[:3])} while the control resolved {shown}")
    return None


def dns_reason(local: DnsAnswers, control: DnsAnswers) -> str:
    mine = ", ".join(sorted(local.addresses)[:3]) or "nothing"
    theirs = ", ".join(sorted(control.addresses)[:3]) or "nothing"
    asns = (f"; ASNs {_asns(local.asns)} vs {_asns(control.asns)}"
            if local.asns or control.asns else "")
    return (f"DNS answers share no address and no ASN with the control's (local {mine}, "
            f"control {theirs}{asns})")


def _asns(asns: set[int]) -> str:
    return ", ".join(f"AS{a}" for a in sorted(asns)[:3]) or "unknown"
