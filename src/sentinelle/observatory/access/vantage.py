"""Who is measuring: the country and network (ASN) of a vantage point, as its operator reports
them and as a GeoIP database (MMDB) places its address — both recorded, a mismatch flagged.

Geolocation errors have put whole cloud ranges inside country blocks, so a complaint must show
where the databases (which CDNs use too) put the vantage point, and whether that agrees with
what the operator says. Reads MaxMind GeoLite2-Country / GeoLite2-ASN layouts (``country.
iso_code``, ``autonomous_system_number``) and any MMDB holding both, such as one built with
mmdb-writer from RIR data. Plain Python (maxminddb), no Django.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from pathlib import Path
from typing import Any

import maxminddb

_CC = re.compile(r"[A-Z]{2}")


class VantageError(ValueError):
    """Bad input (address, country code, ASN) or an unreadable database; says which."""


class GeoDB:
    """One or two MMDB files opened once; ``lookup(ip)`` gives country and ASN facts.

    The same file may be given as both (a database with both layouts), or only one of them:
    each file is asked for every field it has.
    """

    def __init__(self, country_db: str | Path | None = None,
                 asn_db: str | Path | None = None) -> None:
        self.country_path = Path(country_db) if country_db else None
        self.asn_path = Path(asn_db) if asn_db else None
        self._readers: dict[Path, Any] = {}
        try:
            for path in (self.country_path, self.asn_path):
                if path is not None and path not in self._readers:
                    self._readers[path] = _open(path)
        except VantageError:
            self.close()
            raise

    def close(self) -> None:
        for reader in self._readers.values():
            reader.close()
        self._readers.clear()

    def __enter__(self) -> GeoDB:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def describe(self) -> dict[str, Any]:
        """Database names and build dates, for the record."""
        out: dict[str, Any] = {"db": None, "db_build": None, "asn_db": None,
                               "asn_db_build": None}
        if self.country_path is not None:
            out["db"], out["db_build"] = self.country_path.name, self._built(self.country_path)
        if self.asn_path is not None:
            out["asn_db"], out["asn_db_build"] = self.asn_path.name, self._built(self.asn_path)
        return out

    def _built(self, path: Path) -> str | None:
        epoch = getattr(self._readers[path].metadata(), "build_epoch", None)
        if not isinstance(epoch, int):
            return None
        return dt.datetime.fromtimestamp(epoch, dt.UTC).date().isoformat()

    def lookup(self, ip: str) -> dict[str, Any]:
        """{"cc", "asn", "as_org", "network"} for ``ip``; None where the databases say nothing."""
        address = _address(ip)
        facts: dict[str, Any] = {"cc": None, "asn": None, "as_org": None, "network": None}
        found = {path: self._get(path, address) for path in self._readers}
        # Country from the country database first, ASN from the ASN database first; the other
        # file fills what is still missing (one combined file works as either).
        for path in (self.country_path, self.asn_path):
            record, prefix = found.get(path, (None, None)) if path else (None, None)
            if isinstance(record, dict) and facts["network"] is None and prefix is not None:
                facts["network"] = _network(address, prefix)
            if isinstance(record, dict) and facts["cc"] is None:
                facts["cc"] = _country(record)
        for path in (self.asn_path, self.country_path):
            record, _prefix = found.get(path, (None, None)) if path else (None, None)
            if not isinstance(record, dict) or facts["asn"] is not None:
                continue
            asn = record.get("autonomous_system_number")
            if isinstance(asn, int) and not isinstance(asn, bool):
                org = record.get("autonomous_system_organization")
                facts["asn"], facts["as_org"] = asn, org if isinstance(org, str) else None
        return facts

    def asn(self, ip: str) -> int | None:
        """The ASN of ``ip`` or None (also for addresses that are not valid)."""
        try:
            return self.lookup(ip)["asn"]
        except VantageError:
            return None

    def _get(self, path: Path, address: ipaddress._BaseAddress) -> tuple[Any, int | None]:
        reader = self._readers[path]
        try:
            return reader.get_with_prefix_len(str(address))
        except ValueError:      # an IPv6 address asked of an IPv4-only database
            return None, None
        except maxminddb.InvalidDatabaseError as exc:
            raise VantageError(f"{path}: damaged MMDB database: {exc}") from None


def identify(ip: str | None, self_cc: str | None, self_asn: int | None,
             country_db: str | Path | None, asn_db: str | Path | None) -> dict[str, Any]:
    """The vantage record of contracts.md::

        {"self_reported": {"cc", "asn"}, "geoip": {"cc", "asn", "as_org", "network", "db",
         "db_build", "asn_db", "asn_db_build"}, "ip", "mismatch", "mismatch_reasons"}

    ``ip`` is the vantage point's public address (None if unknown: then only the self-reported
    values are recorded). Raises VantageError for a malformed address, country code or ASN, or
    a database that cannot be read.
    """
    cc = _self_cc(self_cc)
    asn = _self_asn(self_asn)
    geoip: dict[str, Any] = {"cc": None, "asn": None, "as_org": None, "network": None,
                             "db": None, "db_build": None, "asn_db": None, "asn_db_build": None}
    if ip is not None:
        ip = str(_address(ip))
    if country_db or asn_db:
        with GeoDB(country_db, asn_db) as db:
            geoip.update(db.describe())
            if ip is not None:
                geoip.update(db.lookup(ip))
    reasons: list[str] = []
    if cc and geoip["cc"] and cc != geoip["cc"]:
        reasons.append(f"self-reported country {cc}, GeoIP country {geoip['cc']} for {ip}"
                       f"{_db_phrase(geoip, 'db', 'asn_db')}")
    if asn is not None and geoip["asn"] is not None and asn != geoip["asn"]:
        reasons.append(f"self-reported AS{asn}, GeoIP AS{geoip['asn']} for {ip}"
                       f"{_db_phrase(geoip, 'asn_db', 'db')}")
    return {"self_reported": {"cc": cc, "asn": asn}, "geoip": geoip, "ip": ip,
            "mismatch": bool(reasons), "mismatch_reasons": reasons}


def best(vantage: dict[str, Any] | None) -> tuple[str | None, int | None]:
    """(cc, asn) to publish: the self-reported values, else the GeoIP ones."""
    if not vantage:
        return None, None
    own = vantage.get("self_reported") or {}
    geo = vantage.get("geoip") or {}
    return own.get("cc") or geo.get("cc"), (own.get("asn") if own.get("asn") is not None
                                              else geo.get("asn"))


def _db_phrase(geoip: dict[str, Any], first: str, second: str) -> str:
    """ (GeoLite2-Country.mmdb built 2026-11-01)": the database that most likely answered."""
    key = first if geoip.get(first) else second
    if not geoip.get(key):
        return ""
    return f" ({geoip[key]} built {geoip[key + '_build'] or 'on an unknown date'})"


def _open(path: Path) -> Any:
    try:
        return maxminddb.open_database(str(path))
    except FileNotFoundError:
        raise VantageError(f"{path}: GeoIP database not found") from None
    except (OSError, ValueError, maxminddb.InvalidDatabaseError) as exc:
        raise VantageError(f"{path}: not a readable MMDB database: {exc}") from None


def _address(ip: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    try:
        return ipaddress.ip_address(str(ip).strip())
    except ValueError:
        raise VantageError(f"{ip!r} is not an IP address") from None


def _network(address: ipaddress._BaseAddress, prefix: int) -> str:
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def _country(record: dict[str, Any]) -> str | None:
    for key in ("country", "registered_country"):
        value = record.get(key)
        if isinstance(value, dict) and isinstance(value.get("iso_code"), str):
            code = value["iso_code"].strip().upper()
            if _CC.fullmatch(code):
                return code
    return None


def _self_cc(value: str | None) -> str | None:
    if value is None or str(value).strip() == "":
        return None
    code = str(value).strip().upper()
    if not _CC.fullmatch(code):
        raise VantageError(f"country {value!r} is not a two-letter ISO 3166 code")
    return code


def _self_asn(value: int | str | None) -> int | None:
    if value is None or str(value).strip() == "":
        return None
    text = str(value).strip().upper().removeprefix("AS")
    if not text.isdigit() or int(text) > 4294967295:
        raise VantageError(f"ASN {value!r} is not a number between 0 and 4294967295")
    return int(text)
