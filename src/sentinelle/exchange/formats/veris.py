"""VERIS incidents (VCDB style): one incident object per file, or a JSON array of them
(streamed one at a time).

VERIS describes *what happened* (actor, action, asset, attribute) rather than how to share
it, so the mapping to a Sentinelle category and RSIT type is a documented table
(docs/formats.md, "VERIS"), applied in order: the first rule that matches wins. Every VERIS
enumeration value is also kept as a tag (``veris:action.hacking.variety=DoS``) so that nothing
the table does not use is lost.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

from sentinelle.exchange.formats._common import (
    as_uuid,
    first_line,
    iter_json,
    json_has,
    maybe_time,
    wrong_format,
)
from sentinelle.exchange.records import FormatError, Record, Rejection, ReportRecord

NAME = "veris"
ESPIONAGE_STATES = {"Nation-state", "State-affiliated"}
SURVEILLANCE = {"Wiretapping", "Surveillance"}
INTERCEPTION_MALWARE = {"Capture app data", "Packet sniffer", "Capture stored data"}
INTERCEPTION_HACKING = {"MitM", "Routing detour"}
RATINGS = {"Insignificant": "low", "Distracting": "low", "Painful": "medium",
           "Damaging": "high", "Catastrophic": "critical"}


def _varieties(incident: dict, *path: str) -> set[str]:
    node: Any = incident
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    if isinstance(node, list):
        return {str(v) for v in node}
    return {str(node)} if isinstance(node, str) else set()


def _has(incident: dict, action: str) -> bool:
    return isinstance((incident.get("action") or {}).get(action), dict)


def _espionage(incident: dict) -> bool:
    actor = (incident.get("actor") or {}).get("external") or {}
    return bool(ESPIONAGE_STATES & set(actor.get("variety") or [])) and \
        "Espionage" in (actor.get("motive") or [])


# (rule, category, rsit) in priority order. A rule reads the incident and says if it applies.
Rule = tuple[Callable[[dict], bool], str, str]
RULES: list[Rule] = [
    (lambda i: bool(SURVEILLANCE & _varieties(i, "action", "physical", "variety")),
     "interception-surveillance", "information-gathering:sniffing"),
    (lambda i: bool(INTERCEPTION_HACKING & _varieties(i, "action", "hacking", "variety")),
     "interception-surveillance", "information-gathering:sniffing"),
    (lambda i: bool(INTERCEPTION_MALWARE & _varieties(i, "action", "malware", "variety"))
     and _espionage(i), "interception-surveillance", "information-gathering:sniffing"),
    (lambda i: "Phishing" in _varieties(i, "action", "social", "variety"),
     "trust-security", "fraud:phishing"),
    (lambda i: "Spam" in _varieties(i, "action", "social", "variety"),
     "trust-security", "abusive-content:spam"),
    (lambda i: "DoS" in _varieties(i, "action", "hacking", "variety"),
     "trust-security", "availability:ddos"),
    (lambda i: "C2" in _varieties(i, "action", "malware", "variety"),
     "trust-security", "malicious-code:c2-server"),
    (lambda i: _has(i, "malware"), "trust-security", "malicious-code:infected-system"),
    (lambda i: "Brute force" in _varieties(i, "action", "hacking", "variety"),
     "trust-security", "intrusion-attempts:brute-force"),
    (lambda i: "Use of stolen creds" in _varieties(i, "action", "hacking", "variety"),
     "trust-security", "intrusions:unprivileged-account-compromise"),
    (lambda i: "Exploit vuln" in _varieties(i, "action", "hacking", "variety"),
     "trust-security", "intrusions:application-compromise"),
    (lambda i: _has(i, "hacking"), "trust-security", "intrusions:system-compromise"),
    (lambda i: _has(i, "social"), "trust-security", "information-gathering:social-engineering"),
    (lambda i: "Theft" in _varieties(i, "action", "physical", "variety"),
     "trust-security", "intrusions:burglary"),
    (lambda i: _has(i, "physical"), "trust-security", "availability:sabotage"),
    (lambda i: _has(i, "misuse"), "trust-security",
     "information-content-security:unauthorised-information-access"),
    (lambda i: "Misconfiguration" in _varieties(i, "action", "error", "variety"),
     "other", "availability:misconfiguration"),
    (lambda i: bool({"Misdelivery", "Publishing error", "Loss", "Disposal error"}
                    & _varieties(i, "action", "error", "variety")),
     "other", "information-content-security:data-leak"),
    (lambda i: _has(i, "error"), "other", "availability:misconfiguration"),
    (lambda i: _has(i, "environmental"), "other", "availability:outage"),
]
# A state espionage actor makes it interception whatever the action (Res. 130 3(i)),
# unless a rule above already chose that category.


def sniff(head: bytes, name: str = "") -> bool:
    if not (json_has(head, "action") or json_has(head, "actor") or json_has(head, "timeline")):
        return False
    return json_has(head, "schema_version") or json_has(head, "security_incident") or (
        json_has(head, "victim") and json_has(head, "timeline"))


def parse(stream: BinaryIO, *, name: str = "") -> Iterator[Record]:
    single: dict[str, Any] = {}
    try:
        for path, value in iter_json(stream):
            if path.startswith("$["):
                yield from _safe(value, path)
            else:
                single[path[2:]] = value
    except FormatError as exc:
        raise FormatError(f"VERIS: {exc}") from None
    if isinstance(single.get("incident"), dict) and "action" not in single:
        single = single["incident"]   # the VERIS validation-test wrapper
    if single:
        if not {"action", "actor", "timeline"} & set(single):
            stream.seek(0)
            raise wrong_format("VERIS", stream.read(65536), name,
                               "no action, actor or timeline")
        yield from _safe(single, "$")


def _safe(value: Any, where: str) -> Iterator[Record]:
    if not isinstance(value, dict):
        yield Rejection(where, "a VERIS incident must be a JSON object")
        return
    if isinstance(value.get("security_incident"), list):
        yield Rejection(where, "this is a VERIS enumeration list, not an incident")
        return
    try:
        yield _incident(value, where)
    except (TypeError, AttributeError, ValueError) as exc:
        yield Rejection(where, f"unexpected VERIS structure: {exc}")


def classify(incident: dict) -> tuple[str | None, str | None]:
    """(category, rsit) by the first matching rule; espionage by a State overrides the
    category (not the RSIT type, which says what was done)."""
    category, rsit = None, None
    for rule, rule_category, rule_rsit in RULES:
        if rule(incident):
            category, rsit = rule_category, rule_rsit
            break
    if _espionage(incident):
        category = "interception-surveillance"
    if rsit is None and _has(incident, "unknown"):
        category, rsit = "other", "other:undetermined"
    return category, rsit


def _tags(node: Any, prefix: str = "veris") -> Iterator[str]:
    """Every enumeration (string or list of strings) under action, actor, asset, attribute."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("notes", "cve", "name", "amount"):
                continue
            yield from _tags(value, f"{prefix}.{key}" if prefix != "veris" else f"veris:{key}")
    elif isinstance(node, list):
        for item in node:
            yield from _tags(item, prefix)
    elif isinstance(node, str) and len(node) <= 100:
        yield f"{prefix}={node}"


def _when(incident: dict) -> dt.datetime | None:
    timeline = (incident.get("timeline") or {}).get("incident") or {}
    year = timeline.get("year")
    if not isinstance(year, int):
        return None
    month = timeline.get("month") if isinstance(timeline.get("month"), int) else 1
    day = timeline.get("day") if isinstance(timeline.get("day"), int) else 1
    try:
        start = dt.datetime(year, month, day, tzinfo=dt.UTC)
    except (ValueError, OverflowError):   # OverflowError: a year beyond a C int
        raise ValueError(f"timeline.incident: {year}-{month}-{day} is not a date") from None
    clock = timeline.get("time")
    if isinstance(clock, str) and maybe_time(f"{start:%Y-%m-%d}T{clock}"):
        start = maybe_time(f"{start:%Y-%m-%d}T{clock}") or start
    return start


def _incident(incident: dict, where: str) -> ReportRecord:
    category, rsit = classify(incident)
    summary = str(incident.get("summary") or "").strip()
    incident_id = str(incident.get("incident_id") or "").strip()
    source = str(incident.get("source_id") or "veris")
    actor = (incident.get("actor") or {}).get("external") or {}
    origins = [c for c in actor.get("country") or [] if isinstance(c, str)
               and len(c) == 2 and c.isalpha() and c.upper() not in ("ZZ",)]
    impact = incident.get("impact") or {}
    tags = []
    for part in ("action", "actor", "asset", "attribute", "discovery_method", "victim"):
        tags.extend(_tags({part: incident.get(part)}) if incident.get(part) else [])
    for key in ("security_incident", "confidence", "targeted"):
        if isinstance(incident.get(key), str):
            tags.append(f"veris:{key}={incident[key]}")
    lines = [summary] if summary else []
    if isinstance(incident.get("notes"), str) and incident["notes"].strip():
        lines.append(incident["notes"].strip())
    if incident.get("reference"):
        lines.append(f"References: {incident['reference']}")
    victims = (incident.get("victim") or {}).get("country") or []
    if victims:
        lines.append("Victim country: " + ", ".join(map(str, victims)))
    lines.append(f"Imported from VERIS incident {source}:{incident_id or '?'} (schema "
                 f"{incident.get('schema_version', '?')}).")
    plus = incident.get("plus") or {}
    uid = as_uuid(incident_id)
    return ReportRecord(
        where=where, source_format=NAME,
        title=first_line(summary) or f"VERIS incident {incident_id or '(no id)'}",
        description="\n\n".join(lines),
        external_id=f"{source}:{uid or incident_id}" if incident_id else None,
        category=category, rsit=rsit,
        severity=RATINGS.get(str(impact.get("overall_rating"))),
        started_at=_when(incident),
        alleged_origin_state=origins[0].upper() if len(origins) == 1 else None,
        tags=list(dict.fromkeys(tags)),
        modified=maybe_time(plus.get("modified")),
    )
