"""STIX 2.1 bundles → Sentinelle records (see records.py for the contract, docs/formats.md for
the mapping).

Streaming. ``objects`` items are read one by one with ijson, so a 1 GB bundle never sits in
memory whole. The difficulty is that a relationship may come after the objects it links: an
indicator that ``indicates`` an incident belongs in that report, not among shared indicators.

- When the input can be rewound (a file, an upload), the parser reads it twice. The first pass
  keeps only the links (relationship ends, report containers, observed-data references, incident
  ids); the second yields standalone indicators as soon as they are read. Memory grows with the
  links and the reports, not with the indicators.
  A feed with no object the first pass learns from (indicators alone, most large feeds) is
  told by a byte scan (_may_link) and read once: the links would be empty. A JSON error is
  then raised after the records before it rather than before any record; every consumer
  imports in one transaction, so nothing it yielded stays written.
- When it cannot (a pipe), indicators are held until the end of the input, because any later
  relationship could claim them: memory then grows with the indicators. Callers that care pass
  a seekable stream.

Reports are always yielded last, in input order, once every indicator that belongs to them has
been seen. Objects Sentinelle has no place for (malware, campaign, threat-actor, sighting, …)
are read, validated and ignored; invalid objects become Rejections with their JSON path.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import ijson

from sentinelle.exchange.formats import stix_common as sc
from sentinelle.exchange.formats._common import (
    MAX_JSON_DEPTH,
    Utf8Checked,
    json_too_deep,
    lone_surrogate,
)
from sentinelle.exchange.records import (
    FormatError,
    IndicatorRecord,
    Record,
    Rejection,
    ReportRecord,
)

FORMAT = "stix"
_SNIFF_BUNDLE = re.compile(rb'"type"\s*:\s*"bundle"')
_SNIFF_SPEC = re.compile(rb'"spec_version"\s*:\s*"2\.[01]"')
_SNIFF_ID = re.compile(rb'"id"\s*:\s*"[a-z0-9-]+--[0-9a-fA-F]{8}-')
_RSIT_TAG = re.compile(r'^rsit:([a-z-]+)="?([a-z0-9-]+)"?$')
_SCO_TYPES = {"ipv4-addr", "ipv6-addr", "domain-name", "url", "email-addr", "autonomous-system",
              "file"}
# What the parser imports, and so what a rejected marking must keep out.
_MARKED_KINDS = {"incident", "indicator", "observed-data", "note", *_SCO_TYPES}
# Relationship types that tie an indicator or an observation to an incident.
_LINK_TYPES = {"indicates", "related-to", "based-on", "derived-from", "attributed-to", "uses",
               "targets"}


def sniff(head: bytes, name: str = "") -> bool:
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not text.startswith((b"{", b"[")):
        return False
    if _SNIFF_BUNDLE.search(text):
        return True
    return bool(_SNIFF_SPEC.search(text) and _SNIFF_ID.search(text))


# --- reading ---------------------------------------------------------------------------------

def _objects(stream: BinaryIO) -> Iterator[tuple[str, Any]]:
    """(JSON path, object) for each STIX object: the items of a bundle's ``objects``, of a bare
    JSON array, or a single object standing alone."""
    head = stream.read(1)
    while head and head in b" \t\r\n\xef\xbb\xbf":
        head = stream.read(1)
    if head not in (b"{", b"["):
        raise FormatError("This is not JSON: a STIX 2.1 bundle starts with '{'.")
    stream = _Rejoined(head, stream)
    base = "$.objects" if head == b"{" else "$"
    root = ijson.ObjectBuilder()   # the top-level object minus its "objects": small
    index = 0
    level = 0              # containers open outside the object being built
    skip = 0               # containers open inside an "objects" that is not an array
    objects_next = in_objects = False
    # basic_parse, not parse: parse builds a path string per event, O(depth) each, which
    # made deep nesting quadratic in time and memory. Depth is capped at MAX_JSON_DEPTH.
    events = iter(ijson.basic_parse(Utf8Checked(stream), use_float=True))
    try:
        for event, value in events:
            opens, closes = event in ("start_map", "start_array"), event in ("end_map",
                                                                           "end_array")
            if skip:
                skip += opens - closes
                if skip > MAX_JSON_DEPTH:
                    raise json_too_deep("$.objects")
            elif objects_next:
                objects_next = False
                in_objects = event == "start_array"
                level += in_objects
                skip = int(opens and not in_objects)
            elif (in_objects and level == 2) or (head == b"[" and level == 1):
                if event == "end_array":
                    level, in_objects = level - 1, False
                elif opens:
                    where = f"{base}[{index}]"
                    item = _build(events, event == "start_map", where)
                    if item is _UNFINISHED:
                        break
                    yield where, item
                    index += 1
                else:
                    yield f"{base}[{index}]", value   # a scalar where an object should be
                    index += 1
            elif head == b"{" and level == 1 and event == "map_key" and value == "objects":
                objects_next = True
            else:
                level += opens - closes
                if level > MAX_JSON_DEPTH:
                    raise json_too_deep("$")
                if head == b"{":
                    root.event(event, value)
    except ijson.common.IncompleteJSONError as exc:
        raise FormatError(f"The JSON is truncated or malformed after {base}[{index}]: "
                          f"{exc}") from None
    except ijson.JSONError as exc:
        raise FormatError(f"The JSON is malformed after {base}[{index}]: {exc}") from None
    except UnicodeDecodeError:
        raise lone_surrogate(f"{base}[{index}]") from None
    top = getattr(root, "value", None)
    if head == b"{" and isinstance(top, dict) and top.get("type") != "bundle":
        if not (isinstance(top.get("type"), str) and isinstance(top.get("id"), str)):
            raise FormatError("This JSON is neither a STIX 2.1 bundle nor a STIX object.")
        yield "$", top   # a single object standing alone is a bundle of one


_UNFINISHED = object()


def _build(events: Iterator[tuple[str, Any]], is_map: bool, where: str) -> Any:
    """The rest of one object (or array) of ``objects``, from the events after its first.

    What ijson's ObjectBuilder does, inlined in one loop (issue 17: its method calls per event
    were a fifth of the import), with the depth cap checked as each container opens."""
    item: Any = {} if is_map else []
    stack, top, key = [item], item, None
    for event, value in events:
        if event == "map_key":
            key = value
        elif event == "start_map" or event == "start_array":
            child: Any = {} if event == "start_map" else []
            if type(top) is list:
                top.append(child)
            else:
                top[key] = child
            stack.append(child)
            if len(stack) > MAX_JSON_DEPTH:
                raise json_too_deep(where)
            top = child
        elif event == "end_map" or event == "end_array":
            stack.pop()
            if not stack:
                return item
            top = stack[-1]
        elif type(top) is list:
            top.append(value)
        else:
            top[key] = value
    return _UNFINISHED   # the events ended inside it (ijson raises first)


class _Rejoined(io.RawIOBase):
    """The stream with the byte already read put back in front (ijson needs the whole text)."""

    def __init__(self, first: bytes, rest: BinaryIO):
        self._first, self._rest = first, rest

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if size == 0:
            return b""
        if self._first:
            first, self._first = self._first, b""
            more = self._rest.read(size - 1 if size and size > 0 else -1) if size != 1 else b""
            return first + (more or b"")
        return self._rest.read(size)

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)


def _seekable(stream: BinaryIO) -> bool:
    try:
        return bool(stream.seekable())
    except (AttributeError, ValueError, OSError):
        return False


# --- links between objects -------------------------------------------------------------------

@dataclass
class _Links:
    """What decides where an indicator belongs: small, proportional to links, not indicators."""

    incidents: set[str] = field(default_factory=set)
    owner: dict[str, str] = field(default_factory=dict)        # object id -> incident id
    observed_by: dict[str, str] = field(default_factory=dict)  # SCO id -> observed-data id
    markings: dict[str, str] = field(default_factory=dict)     # custom marking id -> TLP
    ties: dict[str, set[str]] = field(default_factory=dict)    # incident id -> link object ids
    # Marking definitions that fail the schema -> where: an object they mark has a TLP we
    # cannot know, and must not be imported with the default one (skip mode would).
    broken: dict[str, str] = field(default_factory=dict)

    def check_marking(self, where: str, obj: Any) -> None:
        if isinstance(obj, dict) and obj.get("type") == "marking-definition" \
                and isinstance(obj.get("id"), str) and sc.schema_error(obj) is not None:
            self.broken.setdefault(obj["id"], where)

    def broken_marking(self, obj: dict[str, Any]) -> tuple[str, str] | None:
        """(marking id, where it was rejected) of a rejected marking this object carries."""
        if not self.broken:
            return None
        for ref in sc.iter_refs(obj, "object_marking_refs"):
            if ref in self.broken:
                return ref, self.broken[ref]
        return None

    def learn(self, obj: dict[str, Any]) -> None:
        kind, oid = _str(obj.get("type")), obj.get("id")
        if not isinstance(oid, str):
            return
        if kind == "incident":
            self.incidents.add(oid)
        elif kind == "relationship" and _str(obj.get("relationship_type")) in _LINK_TYPES:
            src, dst = obj.get("source_ref"), obj.get("target_ref")
            if isinstance(dst, str) and dst.startswith("incident--") and isinstance(src, str):
                self.owner.setdefault(src, dst)
                self.ties.setdefault(dst, set()).add(oid)
            elif isinstance(src, str) and src.startswith("incident--") and isinstance(dst, str):
                self.owner.setdefault(dst, src)
                self.ties.setdefault(src, set()).add(oid)
        elif kind == "report":
            refs = list(sc.iter_refs(obj, "object_refs"))
            owners = [r for r in refs if r.startswith("incident--")]
            if len(owners) == 1:   # a container of one incident: its objects are that report's
                self.ties.setdefault(owners[0], set()).add(oid)
                for ref in refs:
                    if ref != owners[0]:
                        self.owner.setdefault(ref, owners[0])
        elif kind == "observed-data":
            for ref in sc.iter_refs(obj, "object_refs"):
                self.observed_by.setdefault(ref, oid)
        elif kind == "note":
            # A note on an incident is part of its narrative (_emit): if it is rejected, the
            # report would land without it.
            for ref in sc.iter_refs(obj, "object_refs"):
                if ref.startswith("incident--"):
                    self.ties.setdefault(ref, set()).add(oid)
        elif kind == "marking-definition":
            level = sc.tlp_of_marking(obj)
            if level:
                self.markings[oid] = level

    def incident_of(self, oid: str) -> str | None:
        return self.owner.get(oid) or self.owner.get(self.observed_by.get(oid, ""))

    def parts(self) -> dict[str, set[str]]:
        """Incident id -> the ids of every object it is made of or tied by: if one of them is
        rejected, importing the incident would import it half."""
        found = {incident: set(ids) for incident, ids in self.ties.items()}
        for oid, incident in self.owner.items():
            found.setdefault(incident, set()).add(oid)
        for sco, observed in self.observed_by.items():
            if observed in self.owner:
                found.setdefault(self.owner[observed], set()).add(sco)
        return found

    def tlp(self, obj: dict[str, Any]) -> str | None:
        refs = obj.get("object_marking_refs")
        if type(refs) is list and len(refs) == 1 and type(refs[0]) is str:
            # One marking (most objects): what the general case below gives for it.
            level = sc.TLP_BY_MARKING_ID.get(refs[0]) or self.markings.get(refs[0], "")
            return level if level in sc.TLP_ORDER else None
        refs = sc.iter_refs(obj, "object_marking_refs")
        return sc.strictest([sc.TLP_BY_MARKING_ID.get(r) or self.markings.get(r, "")
                             for r in refs])


# --- mapping ---------------------------------------------------------------------------------

def _time(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _report(where: str, obj: dict[str, Any], tlp: str | None) -> ReportRecord:
    labels = [x for x in obj.get("labels") or [] if isinstance(x, str)]
    rsit = _str(obj.get("x_sentinelle_rsit"))
    for label in labels:
        match = _RSIT_TAG.match(label)
        if rsit is None and match:
            rsit = f"{match.group(1)}:{match.group(2)}"
    x = {k[len("x_sentinelle_"):]: v for k, v in obj.items() if k.startswith("x_sentinelle_")}
    users = x.get("users_affected")
    return ReportRecord(
        where=where, source_format=FORMAT, title=str(obj.get("name", ""))[:200],
        description=str(obj.get("description") or ""), external_id=_str(obj.get("id")),
        category=_str(x.get("category")), rsit=rsit, tlp=tlp, severity=_str(x.get("severity")),
        started_at=_time(x.get("started_at")) or _time(obj.get("created")),
        ended_at=_time(x.get("ended_at")), detected_at=_time(x.get("detected_at")),
        affected_services=[s for s in x.get("affected_services") or [] if isinstance(s, str)],
        users_affected=users if isinstance(users, int) and not isinstance(users, bool) else None,
        alleged_origin_state=_str(x.get("alleged_origin_state")),
        narrative_language=str(obj.get("lang") or x.get("narrative_language") or "en"),
        tags=[t for t in labels if not _RSIT_TAG.match(t)],
        modified=_time(obj.get("modified")), sharing_group=_str(x.get("sharing_group")),
        created_by=_str(obj.get("created_by_ref")))


def _indicators(where: str, obj: dict[str, Any], tlp: str | None,
                created_by: Any = None) -> list[IndicatorRecord]:
    """One record per value a STIX indicator or SCO names; the first keeps the STIX id.
    `created_by`: the producer of the object that holds an embedded SCO."""
    oid = obj["id"]
    producer = _str(obj.get("created_by_ref")) or _str(created_by)
    if obj["type"] == "indicator":
        if obj.get("pattern_type", "stix") != "stix":
            return []   # sigma, yara, snort…: rules, not values
        pattern = str(obj.get("pattern", ""))
        pairs = sc.pattern_indicators(pattern)
        labels = obj.get("labels")
        if len(pairs) == 1:
            # Most indicators: one record, built without the shared fields' dict (issue 17).
            return [IndicatorRecord(
                where=where, source_format=FORMAT, type=pairs[0][0], value=pairs[0][1],
                external_id=oid, name=str(obj.get("name") or "")[:300],
                description=str(obj.get("description") or ""), pattern=pattern, tlp=tlp,
                valid_from=_time(obj.get("valid_from")),
                valid_until=_time(obj.get("valid_until")),
                labels=[x for x in labels if isinstance(x, str)] if labels else [],
                modified=_time(obj.get("modified")), origin=oid, created_by=producer)]
        common = {
            "name": str(obj.get("name") or "")[:300],
            "description": str(obj.get("description") or ""),
            "valid_from": _time(obj.get("valid_from")),
            "valid_until": _time(obj.get("valid_until")),
            "labels": [x for x in obj.get("labels") or [] if isinstance(x, str)],
            "modified": _time(obj.get("modified")),
        }
    else:
        pair = sc.sco_indicator(obj)
        pairs = [pair] if pair else []
        common = {}
        pattern = None
        oid = "indicator--" + oid.split("--", 1)[1]   # SCO ids are deterministic already
    records = []
    for n, (kind, value) in enumerate(pairs):
        records.append(IndicatorRecord(
            where=where, source_format=FORMAT, type=kind, value=value,
            external_id=oid if n == 0 else sc.derived_id("indicator", oid, kind, value),
            pattern=pattern if len(pairs) == 1 else sc.indicator_pattern(kind, value),
            tlp=tlp, origin=obj["id"], created_by=producer, **common))
    return records


# --- the parser ------------------------------------------------------------------------------

def parse(stream: BinaryIO, *, name: str = "") -> Iterator[Record]:
    links = _Links()
    complete = False
    if _seekable(stream):
        start = stream.tell()
        if _may_link(stream):
            stream.seek(start)
            for where, obj in _objects(stream):
                if isinstance(obj, dict):
                    links.learn(obj)
                    links.check_marking(where, obj)
        stream.seek(start)
        complete = True
    yield from _emit(_objects(stream), links, complete)


# The first pass learns only from objects of these types (_Links.learn, check_marking). A
# type is a JSON string, so an object of one of them puts the quoted name in the bytes, unless
# the name or the key is spelt with \u escapes of ASCII characters: either is searched for.
_LINK_NAMES = re.compile(
    rb'"(?:incident|relationship|report|observed-data|note|marking-definition)"'
    rb'|\\u00[2-7][0-9a-fA-F]')
_SCAN_CHUNK, _SCAN_OVERLAP = 1 << 20, 32   # the longest match is 20 bytes


def _may_link(stream: BinaryIO) -> bool:
    """False when the input cannot hold an object the first pass would learn from: a feed of
    indicators alone then skips that pass, whose result would be empty (issue 17: it was a
    quarter of the parse). True (read it all) at the first sign of one, or of an escape."""
    tail = b""
    while chunk := stream.read(_SCAN_CHUNK):
        text = tail + chunk
        # The regular expression starts at every quote; bytes.find (memchr) looks for the
        # names and the escape far faster, and the expression decides only where one is.
        if any(needle in text for needle in _LINK_NEEDLES) and _LINK_NAMES.search(text):
            return True
        tail = chunk[-_SCAN_OVERLAP:]
    return False


# Every match of _LINK_NAMES holds one of these.
_LINK_NEEDLES = (b'"incident"', b'"relationship"', b'"report"', b'"observed-data"', b'"note"',
                 b'"marking-definition"', b"\\u00")


def _emit(objects: Iterable[tuple[str, Any]], links: _Links,
          complete: bool) -> Iterator[Record]:
    reports: dict[str, ReportRecord] = {}
    pending: dict[str, list[tuple[str, str]]] = {}   # incident id -> indicators seen before it
    notes: dict[str, list[str]] = {}
    held: list[tuple[str, IndicatorRecord]] = []     # single pass: owner unknown until the end
    # The ids a report is made of (known after the first pass): a rejection carries its
    # object's id only if it is one of them, since the importer keeps every id it is given, and
    # a file of millions of small invalid objects would otherwise fill its memory.
    tied = set().union(*links.parts().values()) if complete else None

    def place(oid: str, records: list[IndicatorRecord]) -> Iterator[Record]:
        owner = links.incident_of(oid)
        if owner is None and not complete:
            held.extend((oid, r) for r in records)
            return
        for record in records:
            if owner in reports:
                _add(reports[owner].indicators, (record.type, record.value))
            elif owner in links.incidents:
                _add(pending.setdefault(owner, []), (record.type, record.value))
            else:   # standalone, or linked to a report the receiving instance already has
                record.report_ref = owner
                yield record

    for where, obj in objects:
        problem = None if _stix20(obj) else sc.schema_error(obj)
        if problem is not None:
            path, reason = problem
            oid = obj.get("id") if isinstance(obj, dict) else None
            keep = isinstance(oid, str) and (tied is None or oid in tied)
            yield Rejection(where=f"{where}{path}", reason=reason, ref=oid if keep else None)
            if not complete:
                links.check_marking(where, obj)
            continue
        if not complete:
            links.learn(obj)
        kind, oid = _str(obj.get("type")), obj.get("id", "")
        if obj.get("revoked") is True:
            continue   # withdrawn by its producer: nothing to import
        broken = links.broken_marking(obj)
        if broken is not None and kind in _MARKED_KINDS:
            yield Rejection(where=f"{where}.object_marking_refs", reason=(
                f"its marking {broken[0]} was rejected at {broken[1]}: its TLP cannot be "
                f"known"), ref=oid if isinstance(oid, str) else None)
            continue
        if kind == "incident":
            record = _report(where, obj, links.tlp(obj))
            for pair in pending.pop(oid, []):
                _add(record.indicators, pair)
            reports[oid] = record
        elif kind == "indicator" or kind in _SCO_TYPES:
            yield from place(oid, _indicators(where, obj, links.tlp(obj)))
        elif kind == "observed-data" and isinstance(obj.get("objects"), dict):
            # STIX 2.0-style embedded observables belong to the observed-data's owner.
            tlp = links.tlp(obj)
            for key, sco in obj["objects"].items():
                if isinstance(sco, dict) and _str(sco.get("type")) in _SCO_TYPES:
                    sco = {**sco, "id": sco.get("id") or sc.derived_id(sco["type"], oid, key)}
                    yield from place(oid, _indicators(f"{where}.objects.{key}", sco, tlp,
                                                      obj.get("created_by_ref")))
        elif kind == "note":
            text = "\n".join(str(obj.get(k)) for k in ("abstract", "content") if obj.get(k))
            for ref in sc.iter_refs(obj, "object_refs"):
                if ref.startswith("incident--") and text:
                    notes.setdefault(ref, []).append(text)

    for oid, record in held:   # single pass: every relationship is known now
        owner = links.incident_of(oid)
        if owner in reports:
            _add(reports[owner].indicators, (record.type, record.value))
        else:
            record.report_ref = owner
            yield record
    parts = links.parts() if reports else {}
    for oid, record in reports.items():
        record.refs = sorted(parts.get(oid, ()))
        for text in notes.get(oid, []):
            record.description = f"{record.description}\n\n{text}".strip()
        yield record


def _stix20(obj: Any) -> bool:
    """A STIX 2.0 domain or relationship object (no spec_version; TAXII servers still hold
    them): the 2.1 schemas do not apply. Its pattern, if any, is read all the same."""
    return (isinstance(obj, dict) and "spec_version" not in obj and isinstance(obj.get("id"), str)
            and _str(obj.get("type")) not in _SCO_TYPES and not sc.is_sco_type(obj.get("type")))


def _str(value: Any) -> str | None:
    """The value when it is a string, else None: a dict where a type name should be is
    unhashable, and a record field must hold what the importer expects."""
    return value if isinstance(value, str) else None


def _add(values: list[tuple[str, str]], pair: tuple[str, str]) -> None:
    if pair not in values:
        values.append(pair)
