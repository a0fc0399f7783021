"""The DNS phase of a measurement: the system resolver and one configurable UDP resolver.

A name is resolved through the system resolver (``getaddrinfo``, what users of this network
get) and through one configurable resolver over UDP (dnslib), so a lying ISP resolver shows
against an independent one. Each query is recorded in the session's ``queries`` (OONI's
layout) and, for UDP, with its raw packets in the transcripts.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import socket
from typing import TYPE_CHECKING, Any

import dnslib

from .failures import RCODE_FAILURES, failure_string

if TYPE_CHECKING:
    from .measure import Session

__all__ = ["MAX_ADDRESSES", "MAX_DNS_PACKET", "resolve"]

MAX_ADDRESSES = 8               # TCP connects per host name (OONI tests every address; bound it)
MAX_DNS_PACKET = 65535


async def resolve(session: Session, host: str) -> tuple[list[str], str | None]:
    """Addresses for the fetch and the first DNS failure. The system resolver's answer is
    what users of this network get, so it is used first; the configurable resolver's answer
    is used when the system one fails (the control helper still needs to fetch) and both
    are TCP-tested (first hop) so a lie shows up as a difference."""
    try:
        ipaddress.ip_address(host)
        return [host], None
    except ValueError:
        pass
    tasks = []
    if session.config.system_resolver:
        tasks.append(system_dns(session, host))
    if session.config.resolver:
        tasks.append(udp_dns(session, host))
    if not tasks:
        return [], "dns_server_misbehaving"
    results = await asyncio.gather(*tasks)
    ordered: list[str] = []
    # The union is TCP-tested; the preferred (first) resolver's addresses come first.
    for addresses, _problem in results:
        ordered += [a for a in addresses if a not in ordered]
    if not ordered:
        return [], next((problem for _a, problem in results if problem), None)
    kept = usable(session, ordered)
    if not kept:
        return [], "address_family_not_supported_error"
    return kept, None


def usable(session: Session, addresses: list[str]) -> list[str]:
    """Addresses reachable from the bind address's family, bounded."""
    if session.config.bind:
        family = ipaddress.ip_address(session.config.bind).version
        addresses = [a for a in addresses if ipaddress.ip_address(a).version == family]
    return addresses[:MAX_ADDRESSES]


def _answer(session: Session, kind: str, value: str, ttl: int | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {"answer_type": kind, "ttl": ttl}
    if kind == "A":
        answer["ipv4"] = value
    elif kind == "AAAA":
        answer["ipv6"] = value
    else:
        answer["hostname"] = value
    asn = org = None
    if kind in ("A", "AAAA") and session.config.asn_lookup:
        asn, org = session.config.asn_lookup(value)
    answer["asn"], answer["as_org_name"] = asn, org
    return answer


async def system_dns(session: Session, host: str) -> tuple[list[str], str | None]:
    start = session.now()
    failure = None
    v4: list[str] = []
    v6: list[str] = []
    try:
        infos = await asyncio.wait_for(
            session.loop.getaddrinfo(host, None, type=socket.SOCK_STREAM),
            session.config.dns_timeout)
        for family, _type, _proto, _name, sockaddr in infos:
            target = v4 if family == socket.AF_INET else v6
            if sockaddr[0] not in target:
                target.append(sockaddr[0])
    except Exception as exc:  # noqa: BLE001 - every failure is data here
        failure = failure_string(exc)
    if failure is None and not v4 and not v6:
        failure = "dns_no_answer"
    end = session.now()
    for qtype, found in (("A", v4), ("AAAA", v6)):
        session.queries.append({
            "hostname": host, "query_type": qtype, "engine": "system",
            "resolver_address": "", "resolver_hostname": None, "resolver_port": None,
            "failure": failure, "answers": [_answer(session, qtype, a) for a in found],
            "t0": start, "t": end})
    return v4 + v6, failure


async def udp_dns(session: Session, host: str) -> tuple[list[str], str | None]:
    results = await asyncio.gather(udp_query(session, host, "A"),
                                   udp_query(session, host, "AAAA"))
    addresses = [a for found, _f in results for a in found]
    failures = [f for _found, f in results if f]
    if addresses:
        return addresses, None
    return [], failures[0] if failures else "dns_no_answer"


async def udp_query(session: Session, host: str, qtype: str) -> tuple[list[str], str | None]:
    assert session.config.resolver is not None
    server, port = session.config.resolver
    query = dnslib.DNSRecord.question(host, qtype)
    packet = query.pack()
    start = session.now()
    raw: bytes | None = None
    failure: str | None = None
    answers: list[dict] = []
    found: list[str] = []
    transport = None
    try:
        future: asyncio.Future[bytes] = session.loop.create_future()
        local = None
        if session.config.bind and (ipaddress.ip_address(session.config.bind).version
                                    == ipaddress.ip_address(server).version):
            local = (session.config.bind, 0)
        transport, _protocol = await session.loop.create_datagram_endpoint(
            lambda: _DnsProtocol(future, query.header.id), remote_addr=(server, port),
            local_addr=local)
        transport.sendto(packet)
        raw = await asyncio.wait_for(future, session.config.dns_timeout)
        reply = dnslib.DNSRecord.parse(raw)
        rcode = reply.header.rcode
        if rcode:
            failure = RCODE_FAILURES.get(rcode, "dns_server_misbehaving")
        for rr in reply.rr:
            rtype = dnslib.QTYPE.get(rr.rtype)
            value = str(rr.rdata)
            if rtype in ("A", "AAAA"):
                if rtype == qtype:
                    found.append(value)
                answers.append(_answer(session, rtype, value, rr.ttl))
            elif rtype == "CNAME":
                answers.append(_answer(session, "CNAME", value.rstrip("."), rr.ttl))
    except Exception as exc:  # noqa: BLE001 - every failure is data here
        failure = failure_string(exc) if not isinstance(exc, dnslib.DNSError) \
            else "dns_server_misbehaving"
    finally:
        if transport is not None:
            transport.close()
    address = f"[{server}]:{port}" if ":" in server else f"{server}:{port}"
    entry = {"hostname": host, "query_type": qtype, "engine": "udp",
             "resolver_address": address, "resolver_hostname": None,
             "resolver_port": str(port), "failure": failure, "answers": answers,
             "raw_response": base64.b64encode(raw).decode() if raw else None,
             "t0": start, "t": session.now()}
    session.queries.append(entry)
    session.transcripts.append({"type": "dns", "engine": "udp", "resolver": address,
                                "hostname": host, "query_type": qtype,
                                "query": base64.b64encode(packet).decode(),
                                "response": entry["raw_response"], "failure": failure,
                                "t0": start, "t": entry["t"]})
    return found, failure


class _DnsProtocol(asyncio.DatagramProtocol):
    def __init__(self, future: asyncio.Future, query_id: int) -> None:
        self.future, self.query_id = future, query_id

    def datagram_received(self, data: bytes, addr) -> None:
        # Only the answer to our query id counts: an off-path spoofer must also guess it.
        if self.future.done() or len(data) < 2 or int.from_bytes(data[:2], "big") != self.query_id:
            return
        self.future.set_result(data)

    def error_received(self, exc: Exception) -> None:
        if not self.future.done():
            self.future.set_exception(exc)
