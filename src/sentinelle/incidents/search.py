"""Search by indicator: which reports carry the value typed in a list's search box (`q=`).

The text is read as every kind of indicator it can be (README, "Search by indicator"):

- an IP address finds reports with that address, a prefix containing it, or a URL on it;
- an IP range (``203.0.113.0/24``) finds the addresses and prefixes inside it and the prefixes
  containing it;
- a domain finds that domain and the names below it (``gob.cu`` finds ``portal.gob.cu``), URLs
  on them and e-mail addresses at them;
- an AS number (``AS27725``, any case), a hash, a URL or an e-mail address finds that value.

Only the indicators of a report's latest version count: a past version may have been under a
stricter TLP. The caller passes the reports the searcher may see (``for_user``), so a search
never finds, counts or hints at another report.

Containment is computed in SQL on SQLite and PostgreSQL alike: indicator values are stored in
their canonical text form (``indicators.normalise``), so the IPv4 addresses of a range are the
values starting with one of at most 128 dotted prefixes (a /17 is 128 /24s). IPv6 addresses
print with ``::`` compression, so a range is narrowed in SQL by its leading hextets and checked in
Python, over at most ``MAX_IPV6_SCAN`` distinct values; a wider search is refused naming the
field.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
from typing import TYPE_CHECKING

from django.db.models import F, Q, QuerySet
from django.utils.translation import gettext as _

from sentinelle.incidents.indicators import MAX_VALUE_LENGTH, IndicatorError, normalise

if TYPE_CHECKING:
    from sentinelle.incidents.models import Incident, Indicator

__all__ = ["MAX_IPV6_SCAN", "TooBroad", "incidents_matching"]

MAX_IPV6_SCAN = 100_000

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class TooBroad(ValueError):
    """The search would have to read more indicator values than the bound allows."""


def _current(incidents: QuerySet[Incident]) -> QuerySet[Indicator]:
    # Imported here: indicator_q is plain Python, fuzzed without Django (fuzz/targets/search.py).
    from sentinelle.incidents.models import Indicator

    return Indicator.objects.filter(incident__in=incidents.values("pk"),
                                    version__number=F("incident__version"))


def _supernets(address: ipaddress.IPv4Address | ipaddress.IPv6Address | Network,
               longest: int) -> list[str]:
    """The canonical text of every network of length 0..longest that contains it."""
    text = str(address).split("/")[0]
    return [str(ipaddress.ip_network(f"{text}/{n}", strict=False)) for n in range(longest + 1)]


def _ipv4_starts(net: ipaddress.IPv4Network) -> tuple[list[str], list[str]]:
    """(prefixes, exact values): an IPv4 value lies in ``net`` iff it starts with one of the
    prefixes or equals one of the exact values. At most 128 of either."""
    octets = str(net.network_address).split(".")
    full, extra = divmod(net.prefixlen, 8)
    if net.prefixlen == 32:
        return [], [str(net.network_address)]
    if extra == 0:
        return [".".join(octets[:full]) + "." if full else ""], []
    first = int(octets[full])
    values = [".".join([*octets[:full], str(v)]) for v in range(first, first + 2 ** (8 - extra))]
    if full == 3:
        return [], values
    return [v + "." for v in values], []


def _ipv4_range(net: ipaddress.IPv4Network) -> Q:
    starts, exact = _ipv4_starts(net)
    inside = Q(value__in=exact) if exact else Q(pk__in=[])
    for start in starts:
        inside |= Q(value__startswith=start)
    # a prefix lies inside when its network address does ("a.b.c.d/len" starts with it)
    prefix_inside = Q(pk__in=[])
    for start in starts:
        prefix_inside |= Q(value__startswith=start)
    for value in exact:
        prefix_inside |= Q(value__startswith=value + "/")
    return (Q(type="ipv4") & inside) | (Q(type="prefix") & prefix_inside)


def _ipv6_literal_start(net: ipaddress.IPv6Network) -> str:
    """The text every address of ``net`` starts with: its leading whole hextets, up to the first
    zero one (a zero hextet may print as ``::``)."""
    hextets = net.network_address.exploded.split(":")
    out = []
    for hextet in hextets[:net.prefixlen // 16]:
        if int(hextet, 16) == 0:
            break
        out.append(f"{int(hextet, 16):x}")
    return ":".join(out) + ":" if out else ""


def _ipv6_range_ids(net: ipaddress.IPv6Network, indicators: QuerySet[Indicator]) -> set[int]:
    start = _ipv6_literal_start(net)
    rows = (indicators.filter(type__in=("ipv6", "prefix"), value__startswith=start)
            .exclude(value__contains=".")   # IPv4 prefixes
            .values_list("value", "incident_id").order_by())
    found: set[int] = set()
    seen = 0
    for value, incident_id in rows.iterator(chunk_size=2000):
        seen += 1
        if seen > MAX_IPV6_SCAN:
            raise TooBroad(_("This IPv6 range holds too many addresses to search; give a longer "
                             "prefix."))
        try:
            item = ipaddress.ip_network(value, strict=False)
        except ValueError:
            continue
        if item.version == 6 and (item.network_address in net or net.subnet_of(item)):
            found.add(incident_id)
    return found


def _domain_q(name: str) -> Q:
    host = re.escape(name)
    # scheme://[user@]host-or-subdomain[:port] then the path, query, fragment or the end
    url_host = rf"^[a-z][a-z0-9+.-]*://([^/@?#]*@)?([^/?#@]*\.)?{host}(:[0-9]+)?([/?#]|$)"
    return ((Q(type="domain") & (Q(value=name) | Q(value__endswith="." + name)))
            | (Q(type="url") & Q(value__iregex=url_host))
            | (Q(type="email") & (Q(value__iendswith="@" + name)
                                  | Q(value__iendswith="." + name))))


def _ip_in_url_q(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> Q:
    host = re.escape(str(address) if address.version == 4 else f"[{address}]")
    return Q(type="url") & Q(value__iregex=rf"^[a-z][a-z0-9+.-]*://([^/@?#]*@)?{host}"
                                            r"(:[0-9]+)?([/?#]|$)")


def indicator_q(text: str) -> Q | None:
    """Which indicator rows the text finds, by every kind it parses as (None: no kind)."""
    text = text.strip()
    if not text or len(text) > MAX_VALUE_LENGTH:
        return None
    found = Q(value__iexact=text)      # a URL or e-mail address as typed
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        address = None
    if address is not None:
        kind = "ipv4" if address.version == 4 else "ipv6"
        found |= Q(type=kind, value=str(address))
        found |= Q(type="prefix", value__in=_supernets(address, address.max_prefixlen))
        found |= _ip_in_url_q(address)
    if "/" in text and address is None:
        try:
            net = ipaddress.ip_network(text, strict=False)
        except ValueError:
            net = None
        if net is not None:
            found |= Q(type="prefix", value__in=_supernets(net, net.prefixlen))
            if net.version == 4:
                found |= _ipv4_range(net)
    for kind in ("asn", "sha256", "email", "url"):
        with contextlib.suppress(IndicatorError):
            found |= Q(type=kind, value=normalise(kind, text))
    with contextlib.suppress(IndicatorError):
        for name in _spellings(normalise("domain", text)):
            found |= _domain_q(name)
    return found


def _spellings(name: str) -> list[str]:
    """A domain as typed and in its other IDN spelling: indicators keep the spelling they were
    reported in, so ``bücher.example`` and ``xn--bcher-kva.example`` must find each other."""
    spellings = [name]
    for convert in (lambda n: n.encode("idna").decode("ascii"),
                    lambda n: n.encode("ascii").decode("idna")):
        with contextlib.suppress(UnicodeError):
            other = convert(name).lower()
            if other not in spellings:
                spellings.append(other)
    return spellings


def incidents_matching(text: str, incidents: QuerySet[Incident]) -> Q:
    """A filter on ``incidents`` (the searcher's reports) for the reports whose latest version
    carries an indicator the text finds. Raises TooBroad for an IPv6 range over the bound."""
    indicators = _current(incidents)
    match = indicator_q(text)
    if match is None:
        return Q(pk__in=[])
    result = Q(pk__in=indicators.filter(match).values("incident_id"))
    if "/" in text and ":" in text:
        try:
            net = ipaddress.ip_network(text.strip(), strict=False)
        except ValueError:
            net = None
        if isinstance(net, ipaddress.IPv6Network):
            result |= Q(pk__in=_ipv6_range_ids(net, indicators))
    return result
