"""A signed evidence bundle (kind routing-scan) for one live alert event.

The same shape ``sentinelle routing scan --bundle`` writes, so the platform's existing path
(``observatory.services.submit``: verify the signature and every hash, then read
``summary.alerts``) takes it unchanged: ``alerts.jsonl`` with the one alert in the scan format,
``records/<alert_id>.mrt`` (or ``.bmp`` for a BMP source) with the raw records behind it, and in
the manifest ``summary`` = {"alerts": [alert], "sources": [{"name": source}], "monitor":
{"event", "idempotency_key"}}, ``started_at`` (first seen) and ``finished_at`` (resolved, or last
seen).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sentinelle.evidence.bundle import ROUTING_SCAN, BundleWriter, read_manifest

from ..events import AlertEvent, iso

__all__ = ["alert_record", "write_bundle"]


def _int(value: float | None) -> int | None:
    return None if value is None else int(value)


def alert_record(event: AlertEvent) -> dict[str, Any]:
    """The alert in the format of a line of ``routing scan``'s alerts.jsonl."""
    first, last = _int(event.first_seen), _int(event.last_seen)
    resolved = _int(event.resolved_at)
    return {
        "id": event.alert_id,
        "key": event.alert_id.partition("@")[0],
        "type": event.type,
        "state": event.state,
        "prefix": event.prefix,
        "watched_prefix": event.watched_prefix,
        "offending_asn": event.offending_asn,
        "as_set": event.as_set,
        "legitimate_origins": list(event.legitimate_origins),
        "first_seen": first,
        "first_seen_iso": iso(first),
        "last_seen": last,
        "last_seen_iso": iso(last),
        "peers": event.peers,
        "collectors": list(event.collectors),
        "collectors_count": len(event.collectors),
        "example_paths": list(event.example_paths),
        "tags": dict(event.tags),
        "details": dict(event.details),
        "resolved_at": resolved,
        "resolved_at_iso": iso(resolved),
        "duration": event.duration,
        "samples": len(event.samples),
    }


def write_bundle(event: AlertEvent, path: Path, signing_key: Ed25519PrivateKey) -> dict:
    """Write the bundle for ``event`` to ``path``; returns the manifest."""
    alert = alert_record(event)
    started = iso(event.first_seen)
    finished = iso(event.resolved_at if event.resolved_at is not None else event.last_seen)
    with BundleWriter(path, kind=ROUTING_SCAN, signing_key=signing_key,
                      command_line=list(sys.argv)) as writer:
        writer.add_bytes("alerts.jsonl", (json.dumps(alert, ensure_ascii=False) + "\n").encode())
        if event.samples:
            suffix = "bmp" if event.source.startswith("bmp:") else "mrt"
            # alert ids are <hex key>@<unix time>; anything else is made a safe file name
            name = re.sub(r"[^A-Za-z0-9@._-]", "_", event.alert_id)
            writer.add_bytes(f"records/{name}.{suffix}", b"".join(event.samples))
        if started:
            writer.set("started_at", started)
        if finished:
            writer.set("finished_at", finished)
        writer.set("summary", {
            "alerts": [alert],
            "sources": [{"name": event.source}] if event.source else [],
            "monitor": {"event": event.event, "idempotency_key": event.idempotency_key},
        })
    return read_manifest(path)
