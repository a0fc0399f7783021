"""Validation and normalisation of technical indicators. Plain Python: reused by the parsers."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

MAX_VALUE_LENGTH = 2048
_DOMAIN_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_EMAIL = re.compile(r"^[^@\s<>\"]{1,64}@[^@\s<>\"]{1,253}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class IndicatorError(ValueError):
    pass


def _domain(value: str) -> str:
    value = value.rstrip(".").lower()
    try:
        ascii_value = value.encode("idna").decode("ascii")
    except UnicodeError:
        raise IndicatorError(f"{value!r} is not a valid domain name") from None
    labels = ascii_value.split(".")
    if len(ascii_value) > 253 or len(labels) < 2 or not all(_DOMAIN_LABEL.match(x) for x in labels):
        raise IndicatorError(f"{value!r} is not a valid domain name")
    return value


def normalise(kind: str, value: str) -> str:
    """Return the canonical form of an indicator, or raise IndicatorError saying why not."""
    if not isinstance(value, str):
        raise IndicatorError("the value must be text")
    value = value.strip()
    if not value:
        raise IndicatorError("the value is empty")
    if len(value) > MAX_VALUE_LENGTH:
        raise IndicatorError(f"the value is longer than {MAX_VALUE_LENGTH} characters")
    try:
        if kind == "ipv4":
            return str(ipaddress.IPv4Address(value))
        if kind == "ipv6":
            return str(ipaddress.IPv6Address(value))
        if kind == "prefix":
            return str(ipaddress.ip_network(value, strict=True))
    except ValueError as exc:
        raise IndicatorError(str(exc)) from None
    if kind == "asn":
        digits = value.upper().removeprefix("AS")
        # isdecimal, not isdigit: "²" is a digit that int() refuses (a ValueError, not ours).
        if not digits.isdecimal() or not 0 < int(digits) < 2**32:
            raise IndicatorError(f"{value!r} is not an AS number (1 to 4294967295)")
        return f"AS{int(digits)}"
    if kind == "domain":
        return _domain(value)
    if kind == "url":
        try:
            parts = urlsplit(value)
        except ValueError as exc:   # "Invalid IPv6 URL", "An IPv4 address cannot be in brackets"
            raise IndicatorError(f"{value!r} is not a valid URL ({exc})") from None
        if parts.scheme.lower() not in ("http", "https", "ftp") or not parts.hostname:
            raise IndicatorError(f"{value!r} is not an absolute http, https or ftp URL")
        try:
            parts.port   # noqa: B018 -- raises for a port that is no number or over 65535
        except ValueError as exc:
            raise IndicatorError(f"{value!r} is not a valid URL ({exc})") from None
        return value
    if kind == "email":
        if not _EMAIL.match(value):
            raise IndicatorError(f"{value!r} is not an e-mail address")
        local, domain = value.rsplit("@", 1)
        return f"{local}@{_domain(domain)}"
    if kind == "sha256":
        if not _SHA256.match(value.lower()):
            raise IndicatorError("a SHA-256 hash is 64 hexadecimal characters")
        return value.lower()
    raise IndicatorError(f"unknown indicator type {kind!r}")
