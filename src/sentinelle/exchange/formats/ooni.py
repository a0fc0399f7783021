"""OONI measurements as JSON lines (one measurement per line, data format 0.2.0), as OONI
Probe, miniooni, the OONI S3 archive and Sentinelle's own access probe write them.

Grouping (docs/formats.md, "OONI"): consecutive measurements with the same (probe_cc, input)
make one ``access-denial`` report, each measurement kept *verbatim* as an attachment (the
evidence, byte for byte). A group is closed when the key changes or it reaches GROUP_LIMIT
measurements, so memory stays bounded by one group whatever the file size. Probe output
is written input by input, which makes consecutive grouping the natural one.

Blocking is summarised in the description: OONI's web_connectivity ``blocking`` and
``accessible`` test keys, and the ``verdict`` / ``verdict_reasons`` our probe adds (at the top
level or in test_keys).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from sentinelle.exchange.formats._common import (
    guess_indicator,
    head_text,
    loads_limited,
    maybe_time,
    safe_name,
    wrong_format,
)
from sentinelle.exchange.records import (
    Attachment,
    FormatError,
    Record,
    Rejection,
    ReportRecord,
)

NAME = "ooni"
GROUP_LIMIT = 500
MAX_LINE = 32 * 1024 * 1024   # OONI caps bodies at 512 KiB; 32 MiB is far beyond any real line
ANOMALIES = {"dns", "tcp_ip", "http-failure", "http-diff"}


def sniff(head: bytes, name: str = "") -> bool:
    text = head_text(head)
    if not text.startswith("{"):
        return False
    first = text.split("\n", 1)[0]
    if '"test_keys"' in first or ('"probe_cc"' in first and '"measurement_start_time"' in first):
        return True
    # One pretty-printed measurement, as in OONI's specification examples.
    return '"measurement_start_time"' in text and '"data_format_version"' in text


@dataclass
class _Group:
    key: tuple[str, str]
    first_line: int
    test_name: str
    lines: list[tuple[int, bytes, dict]] = field(default_factory=list)


def parse(stream: BinaryIO, *, name: str = "") -> Iterator[Record]:
    group: _Group | None = None
    for number, raw, measurement in _measurements(stream, name):
        if isinstance(measurement, Rejection):
            yield measurement
            continue
        problem = _check(measurement)
        if problem:
            yield Rejection(f"line {number}", problem)
            continue
        key = (str(measurement.get("probe_cc") or "ZZ"),
               str(measurement.get("input") or measurement.get("test_name") or ""))
        if group is not None and (group.key != key or len(group.lines) >= GROUP_LIMIT):
            yield _record(group)
            group = None
        if group is None:
            group = _Group(key, number, str(measurement.get("test_name") or "measurement"))
        group.lines.append((number, raw.rstrip(b"\r\n"), measurement))
    if group is not None:
        yield _record(group)


def _measurements(stream: BinaryIO, name: str) -> Iterator[tuple[int, bytes, Any]]:
    """(line number, raw bytes, measurement or Rejection), from JSON lines or, as OONI's
    specification examples are written, one pretty-printed measurement (or a list of them)."""
    for number, raw in enumerate(iter(lambda: stream.readline(MAX_LINE), b""), start=1):
        if not raw.strip():
            continue
        if len(raw) >= MAX_LINE and not raw.endswith(b"\n"):
            yield number, raw, Rejection(f"line {number}", f"longer than {MAX_LINE} bytes")
            _skip_rest_of_line(stream)
            continue
        try:
            # FormatError is a ValueError: too deep, a lone surrogate, a 5,000-digit number.
            yield number, raw, loads_limited(raw, f"line {number}")
        except ValueError as exc:
            if number == 1:
                yield from _whole_document(stream, name, exc)
                return
            yield number, raw, Rejection(f"line {number}", f"not a JSON measurement: {exc}")


def _whole_document(stream: BinaryIO, name: str, first_error: ValueError):
    stream.seek(0)
    data = stream.read(MAX_LINE + 1)
    try:
        if len(data) > MAX_LINE:
            raise ValueError(f"larger than {MAX_LINE} bytes")
        document = loads_limited(data, "the document")
    except FormatError:
        raise
    except ValueError:
        raise wrong_format("OONI measurements", data[:65536], name,
                           f"line 1 is not JSON: {first_error}") from None
    if isinstance(document, dict):
        yield 1, data, document
    elif isinstance(document, list):
        for position, item in enumerate(document):
            yield position + 1, json.dumps(item, ensure_ascii=False).encode(), item
    else:
        raise wrong_format("OONI measurements", data[:65536], name, "not a measurement")


def _skip_rest_of_line(stream: BinaryIO) -> None:
    while True:
        chunk = stream.readline(MAX_LINE)
        if not chunk or chunk.endswith(b"\n"):
            return


def _check(measurement: Any) -> str | None:
    if not isinstance(measurement, dict):
        return "a measurement must be a JSON object"
    if "measurement_start_time" not in measurement:
        return "measurement_start_time is missing"
    if maybe_time(measurement["measurement_start_time"]) is None:
        return f"measurement_start_time {measurement['measurement_start_time']!r} is not a date"
    if not isinstance(measurement.get("test_keys", {}), dict):
        return "test_keys must be an object"
    return None


def verdict(measurement: dict) -> tuple[str, list[str]]:
    """(verdict, reasons) of one measurement: ours if the probe gave one, else OONI's."""
    keys = measurement.get("test_keys") or {}
    ours = measurement.get("verdict", keys.get("verdict"))
    reasons = measurement.get("verdict_reasons", keys.get("verdict_reasons")) or []
    if isinstance(ours, str) and ours:
        return ours, [str(r) for r in reasons] if isinstance(reasons, list) else [str(reasons)]
    blocking = keys.get("blocking")
    if isinstance(blocking, str) and blocking:
        return "blocked", [f"OONI blocking={blocking}"]
    if keys.get("accessible") is True or blocking is False:
        return "accessible", []
    if keys.get("accessible") is False:
        return "inaccessible", ["OONI accessible=false"]
    return "undetermined", []


def _anomalous(value: str) -> bool:
    # "challenged" (our probe's verdict for a bot check such as Cloudflare's "Just a moment...")
    # is no blocking: a browser passes it.
    return value not in ("accessible", "undetermined", "ok", "inconclusive", "challenged")


def _record(group: _Group) -> ReportRecord:
    cc, target = group.key
    measurements = [m for _n, _raw, m in group.lines]
    starts = [t for t in (maybe_time(m.get("measurement_start_time")) for m in measurements)
              if t is not None]
    verdicts = [verdict(m) for m in measurements]
    counts = Counter(v for v, _r in verdicts)
    reasons = Counter(r for _v, rs in verdicts for r in rs)
    networks = Counter(f"{m.get('probe_asn', 'AS0')} {m.get('probe_network_name', '')}".strip()
                       for m in measurements)
    anomalies = sum(n for v, n in counts.items() if _anomalous(v))
    try:
        host = urlsplit(target).hostname if "://" in target else None
    except ValueError:   # "Invalid IPv6 URL", a bracketed IPv4 address: no host to name
        host = None
    indicators = []
    if "://" in target:
        indicators.append(("url", target))
    if host and guess_indicator(host):
        indicators.append(guess_indicator(host))   # type: ignore[arg-type]
    summary = ", ".join(f"{v} ×{n}" for v, n in counts.most_common())
    lines = [
        f"{len(measurements)} OONI {group.test_name} measurement(s) of {target or '(no input)'} "
        f"from {cc}, {min(starts):%Y-%m-%d %H:%M} to {max(starts):%Y-%m-%d %H:%M} UTC.",
        f"Verdicts: {summary}.",
    ]
    if reasons:
        lines.append("Reasons: " + "; ".join(f"{r} ×{n}" for r, n in reasons.most_common(20)))
    lines.append("Vantage points: " + "; ".join(f"{n} ×{c}" for n, c in networks.most_common(10)))
    lines.append("Each measurement is attached unchanged (JSON), as recorded by the probe.")
    state = "blocking observed" if anomalies else "no blocking observed"
    attachments = [
        Attachment(
            name=safe_name(f"ooni-{m.get('report_id') or 'measurement'}-line{n}.json"),
            content=raw,
            description=f"OONI {m.get('test_name', '')} measurement, line {n}: "
                        f"{verdict(m)[0]}")
        for n, raw, m in group.lines]
    digest = hashlib.sha256(f"{cc}|{target}".encode()).hexdigest()[:16]
    first_report = measurements[0].get("report_id") or ""
    return ReportRecord(
        where=f"lines {group.first_line}-{group.lines[-1][0]}", source_format=NAME,
        title=f"Access to {host or target or group.test_name} from {cc}: {state} "
              f"({anomalies}/{len(measurements)} OONI measurements)"[:200],
        description="\n".join(lines),
        # Same file, same lines -> same id: re-importing merges instead of duplicating.
        external_id=f"ooni:{first_report}:{digest}:{group.first_line}",
        category="access-denial",
        rsit="availability:outage" if anomalies else "other:undetermined",
        severity="medium" if anomalies else "low",
        started_at=min(starts), ended_at=max(starts) if len(starts) > 1 else None,
        detected_at=min(starts),
        affected_services=["web"] if group.test_name == "web_connectivity" else [],
        indicators=indicators,
        tags=[f"ooni:test={group.test_name}", f"ooni:probe_cc={cc}",
              *(f"ooni:verdict={v}" for v in counts)],
        attachments=attachments,
    )
