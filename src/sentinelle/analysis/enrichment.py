"""IP address → AS number, AS organisation and country, from MaxMind-format (MMDB) files.

Plain Python, no Django: the administrator points SENTINELLE_GEOIP_ASN_DB and
SENTINELLE_GEOIP_COUNTRY_DB at GeoLite2/GeoIP2 (or compatible, e.g. DB-IP, IPinfo) databases;
``sentinelle enrich`` stores the answers with each database's build date, because an IP's
owner changes and a finding must say which edition of the data it came from.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import maxminddb

__all__ = ["EnrichmentError", "Enricher", "IpFacts", "database_build"]


class EnrichmentError(ValueError):
    """A database cannot be opened or read."""


@dataclass(frozen=True)
class IpFacts:
    ip: str
    asn: int | None = None
    as_organisation: str = ""
    country: str = ""          # ISO 3166-1 alpha-2, upper case
    network: str = ""          # the database's network containing the IP (ASN db first)
    asn_db_built: dt.datetime | None = None
    country_db_built: dt.datetime | None = None

    @property
    def found(self) -> bool:
        return self.asn is not None or bool(self.country)


def _open(path: str | Path | None) -> maxminddb.Reader | None:
    if not path:
        return None
    try:
        return maxminddb.open_database(str(path))
    except (OSError, ValueError, maxminddb.InvalidDatabaseError) as exc:
        raise EnrichmentError(f"cannot read the MMDB file {path}: {exc}") from None


def database_build(reader: maxminddb.Reader) -> dt.datetime:
    """The database's build time (its metadata build_epoch), in UTC."""
    return dt.datetime.fromtimestamp(reader.metadata().build_epoch, tz=dt.UTC)


class Enricher:
    """Looks IPs up in one ASN and/or one country database. Use as a context manager."""

    def __init__(self, asn_db: str | Path | None = None,
                 country_db: str | Path | None = None) -> None:
        if not asn_db and not country_db:
            raise EnrichmentError("no MMDB database configured (SENTINELLE_GEOIP_ASN_DB, "
                                  "SENTINELLE_GEOIP_COUNTRY_DB)")
        self._asn = _open(asn_db)
        try:
            self._country = _open(country_db)
        except EnrichmentError:
            self.close()
            raise
        self.asn_built = database_build(self._asn) if self._asn else None
        self.country_built = database_build(self._country) if self._country else None

    def __enter__(self) -> Enricher:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        for reader in (getattr(self, "_asn", None), getattr(self, "_country", None)):
            if reader is not None:
                reader.close()

    def lookup(self, ip: str) -> IpFacts:
        """Facts about one address; an address in no network gives empty facts, a string that
        is not an address raises ValueError."""
        address = ipaddress.ip_address(ip.strip())
        asn, org, country, network = None, "", "", ""
        if self._asn is not None:
            record, prefix_len = self._get(self._asn, address)
            if isinstance(record, dict):
                asn = record.get("autonomous_system_number")
                org = str(record.get("autonomous_system_organization") or "")
                network = str(ipaddress.ip_network(f"{address}/{prefix_len}", strict=False))
        if self._country is not None:
            record, prefix_len = self._get(self._country, address)
            if isinstance(record, dict):
                # GeoIP2 puts the place in "country"; fall back to the registered country.
                place = record.get("country") or record.get("registered_country") or {}
                country = str(place.get("iso_code") or "").upper()
                if not network:
                    network = str(ipaddress.ip_network(f"{address}/{prefix_len}", strict=False))
        return IpFacts(ip=str(address), asn=int(asn) if asn is not None else None,
                       as_organisation=org, country=country, network=network,
                       asn_db_built=self.asn_built, country_db_built=self.country_built)

    @staticmethod
    def _get(reader: maxminddb.Reader,
             address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> tuple[object, int]:
        try:
            return reader.get_with_prefix_len(address)
        except ValueError:
            # An IPv6 address in an IPv4-only database.
            return None, 0
        except maxminddb.InvalidDatabaseError as exc:
            raise EnrichmentError(f"corrupt MMDB database: {exc}") from None
