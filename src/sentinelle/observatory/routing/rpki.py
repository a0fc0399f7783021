"""RPKI Validated ROA Payloads (VRPs) and RFC 6811 route origin validation.

Formats read (sniffed from the content, not the file name):

* rpki-client / Routinator JSON: ``{"roas": [{"asn": 13335 | "AS13335", "prefix": "1.0.0.0/24",
  "maxLength": 24, "ta": "apnic"}]}``;
* the plain list used by BGPalerter / rpki-validator: ``[{"prefix", "maxLength", "asn"}]``;
* rpki-client / Routinator CSV: ``ASN,IP Prefix,Max Length,Trust Anchor[,Expires]``.

Validation (RFC 6811 section 2):

* *not-found*: no VRP covers the announced prefix;
* *valid*: a covering VRP has the route's origin AS and ``prefix length <= maxLength``;
* *invalid*: covered but nothing matches. The reason is ``as0`` when every covering VRP is an
  AS0 VRP (RFC 7607: the holder says "never announce"), ``invalid-length`` when a covering VRP
  has the right origin but the announcement is longer than its maxLength, else ``invalid-asn``.

AS_SET origins: RFC 6811 says the origin of a route whose path ends in an AS_SET is "NONE",
which matches no VRP; RFC 9774 (deprecating AS_SET) keeps that reading. So such a route is
*invalid* when covered (reason ``invalid-asn``: the origin is not the VRP's AS) and
*not-found* otherwise. An empty path (locally originated route) has no origin to validate;
`validate` reports it as not-found with reason ``no-origin``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .prefixes import MAX_LEN, Network, PrefixIndex, parse_prefix

MAX_VRP_FILE = 512 * 1024 * 1024  # a full global VRP export is ~30 MB in JSON


class VRPError(ValueError):
    """Bad VRP input; the message names the file and the entry/line."""


@dataclass(frozen=True, slots=True)
class VRP:
    prefix: Network
    max_length: int
    asn: int
    ta: str = ""

    def to_dict(self) -> dict:
        return {"prefix": str(self.prefix), "maxLength": self.max_length, "asn": self.asn,
                "ta": self.ta}


@dataclass(slots=True)
class Validation:
    state: str  # "valid" | "invalid" | "not-found"
    reason: str | None = None  # for invalid: "invalid-asn" | "invalid-length" | "as0"
    matched: VRP | None = None
    covering: list[VRP] = field(default_factory=list)


def parse_asn(value: object) -> int:
    """13335, "13335", "AS13335", "as13335" -> 13335; ValueError outside 0..2**32-1."""
    if isinstance(value, bool):
        raise ValueError(f"not an ASN: {value!r}")
    if isinstance(value, int):
        asn = value
    elif isinstance(value, str):
        text = value.strip()
        if text[:2].upper() == "AS":
            text = text[2:]
        if not text.isdigit():
            raise ValueError(f"not an ASN: {value!r}")
        asn = int(text)
    else:
        raise ValueError(f"not an ASN: {value!r}")
    if not 0 <= asn <= 0xFFFFFFFF:
        raise ValueError(f"ASN out of range 0..4294967295: {value!r}")
    return asn


class VRPSet:
    """An indexed set of VRPs; `validate(prefix, origin)` implements RFC 6811."""

    def __init__(self, vrps: Iterable[VRP] = (), source: str = "") -> None:
        self._index: PrefixIndex[VRP] = PrefixIndex()
        self.source = source
        for vrp in vrps:
            self.add(vrp)

    def add(self, vrp: VRP) -> None:
        self._index.add(vrp.prefix, vrp)

    def __len__(self) -> int:
        return len(self._index)

    def __iter__(self):
        return self._index.values()

    def covering(self, prefix: Network) -> list[VRP]:
        return [vrp for _, vrp in self._index.covering(prefix)]

    def validate(self, prefix: Network | str, origin: int | frozenset[int] | None) -> Validation:
        if isinstance(prefix, str):
            prefix = parse_prefix(prefix, strict=False)
        covering = self.covering(prefix)
        if not covering:
            return Validation("not-found", None if origin is not None else "no-origin")
        if origin is None:
            return Validation("not-found", "no-origin", covering=covering)
        if isinstance(origin, int):
            for vrp in covering:
                # AS0 VRPs never validate (RFC 6483 section 4, RFC 7607)
                if vrp.asn == origin and vrp.asn != 0 and prefix.prefixlen <= vrp.max_length:
                    return Validation("valid", None, vrp, covering)
            if all(vrp.asn == 0 for vrp in covering):
                reason = "as0"
            elif any(vrp.asn == origin for vrp in covering):
                reason = "invalid-length"
            else:
                reason = "invalid-asn"
            return Validation("invalid", reason, covering=covering)
        # AS_SET origin: "NONE", never matches (see module docstring)
        if all(vrp.asn == 0 for vrp in covering):
            return Validation("invalid", "as0", covering=covering)
        return Validation("invalid", "invalid-asn", covering=covering)


def _vrp_from_fields(prefix: object, max_length: object, asn: object, ta: object,
                     where: str) -> VRP:
    try:
        network = parse_prefix(str(prefix), strict=True)
    except ValueError as exc:
        raise VRPError(f"{where}: {exc}") from None
    try:
        asn_value = parse_asn(asn)
    except ValueError as exc:
        raise VRPError(f"{where}: {exc}") from None
    if max_length in (None, ""):
        length = network.prefixlen
    else:
        try:
            if isinstance(max_length, bool):
                raise ValueError
            length = int(str(max_length).strip())
        except ValueError:
            raise VRPError(f"{where}: maxLength is not an integer: {max_length!r}") from None
    if not network.prefixlen <= length <= MAX_LEN[network.version]:
        raise VRPError(
            f"{where}: maxLength {length} outside {network.prefixlen}..{MAX_LEN[network.version]}"
            f" for {network}"
        )
    return VRP(network, length, asn_value, str(ta or ""))


def parse_vrps(data: bytes | str, source: str = "<vrps>") -> VRPSet:
    """Parse VRPs from any supported format (JSON object/list or CSV)."""
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise VRPError(f"{source}: not UTF-8 text ({exc})") from None
    else:
        text = data
    stripped = text.lstrip()
    vrps = VRPSet(source=source)
    if stripped[:1] in ("{", "["):
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise VRPError(f"{source}: line {exc.lineno}: invalid JSON: {exc.msg}") from None
        if isinstance(doc, dict):
            entries = doc.get("roas", doc.get("vrps"))
            if not isinstance(entries, list):
                raise VRPError(f"{source}: JSON object without a 'roas' list")
        elif isinstance(doc, list):
            entries = doc
        else:  # pragma: no cover - json.loads of "{"/"[" text is a dict or list
            raise VRPError(f"{source}: unexpected JSON document")
        for number, entry in enumerate(entries, 1):
            where = f"{source}: entry {number}"
            if not isinstance(entry, dict):
                raise VRPError(f"{where}: not an object")
            max_length = entry.get("maxLength", entry.get("max_length", entry.get("maxlen")))
            vrps.add(_vrp_from_fields(entry.get("prefix"), max_length, entry.get("asn"),
                                      entry.get("ta", entry.get("trust_anchor", "")), where))
        return vrps
    reader = csv.reader(io.StringIO(text))
    header_seen = False
    for row in reader:
        line = reader.line_num
        if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
            continue
        if not header_seen and row[0].strip().upper() in ("ASN", "AS"):
            header_seen = True
            continue
        header_seen = True
        if len(row) < 3:
            raise VRPError(f"{source}: line {line}: expected ASN,IP Prefix,Max Length[,TA]")
        ta = row[3].strip() if len(row) > 3 else ""
        vrps.add(_vrp_from_fields(row[1].strip(), row[2], row[0], ta, f"{source}: line {line}"))
    return vrps


def load_vrps(path: str | Path) -> VRPSet:
    """Read a VRP file (see the module docstring for formats); VRPError on bad input."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_VRP_FILE:
            raise VRPError(f"{path}: file too large ({size} bytes)")
        data = path.read_bytes()
    except OSError as exc:
        raise VRPError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if data[:2] == b"\x1f\x8b":
        import gzip

        data = gzip.decompress(data)
    return parse_vrps(data, source=str(path))
