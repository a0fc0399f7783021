"""Evidence bundles for the observatory tests, written with the real BundleWriter."""

from __future__ import annotations

import json
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sentinelle.evidence.bundle import BundleWriter

VANTAGE = {"self_reported": {"cc": "CU", "asn": 27725},
           "geoip": {"cc": "CU", "asn": 27725, "db": "test.mmdb", "db_build": "2026-11-01"},
           "ip": "127.0.0.2", "mismatch": False, "mismatch_reasons": []}
CONTROL = {"self_reported": {"cc": "CH", "asn": 559},
           "geoip": {"cc": "CH", "asn": 559, "db": "test.mmdb", "db_build": "2026-11-01"},
           "ip": "127.0.0.3", "mismatch": False, "mismatch_reasons": []}


def result(url: str, verdict: str, when: str = "2026-03-10 12:00:00",
           provider: str | None = None, category: str = "NEWS") -> dict:
    return {"input": url, "category_code": category, "verdict": verdict,
            "verdict_reasons": [f"test: {verdict}"], "provider": provider,
            "measurement_start_time": when}


DEFAULT_RESULTS = [
    result("https://hub.docker.com/", "geoblocked", provider="Docker"),
    result("https://hub.docker.com/v2/", "geoblocked", provider="Docker"),
    result("https://dl.google.com/android", "server-denied", provider="Google"),
    result("https://news.example.org/", "accessible"),
    result("https://slow.example.net/", "inconclusive"),
]


def access_bundle(path: Path, results: list[dict] | None = None, *,
                  key: Ed25519PrivateKey | None = None, vantage: dict | None = None) -> Path:
    results = DEFAULT_RESULTS if results is None else results
    key = key or Ed25519PrivateKey.generate()
    with BundleWriter(path, kind="access-probe", signing_key=key,
                      command_line=["sentinelle", "probe", "run"]) as w:
        w.add_bytes("measurements.jsonl",
                    b"".join(json.dumps(r).encode() + b"\n" for r in results))
        w.add_bytes("transcripts/0001.json", b'{"exchange": "raw"}')
        w.set("vantage", vantage or VANTAGE)
        w.set("control", CONTROL)
        w.set("started_at", "2026-03-10T11:59:00+00:00")
        w.set("finished_at", "2026-03-10T12:30:00+00:00")
        verdicts: dict[str, int] = {}
        for r in results:
            verdicts[r["verdict"]] = verdicts.get(r["verdict"], 0) + 1
        w.set("summary", {"list": "test-list.csv", "count": len(results), "verdicts": verdicts,
                          "results": results})
    return path


ALERTS = [
    {"id": "a1", "type": "E|0", "prefix": "190.6.64.0/19", "offending_asn": 64666,
     "first_seen": 1773144000, "last_seen": 1773147600, "peers": 12, "collectors": 3,
     "state": "CU", "example_paths": [[3356, 64666]]},
    {"id": "a2", "type": "S|0", "prefix": "190.6.64.0/24", "offending_asn": 64666,
     "first_seen": "2026-03-10T13:00:00Z", "last_seen": "2026-03-10T14:00:00Z", "peers": 9,
     "collectors": 2, "state": "CU"},
]


def routing_bundle(path: Path, alerts: list[dict] | None = None, *,
                   key: Ed25519PrivateKey | None = None) -> Path:
    alerts = ALERTS if alerts is None else alerts
    key = key or Ed25519PrivateKey.generate()
    with BundleWriter(path, kind="routing-scan", signing_key=key,
                      command_line=["sentinelle", "routing", "scan"]) as w:
        w.add_bytes("alerts.jsonl", b"".join(json.dumps(a).encode() + b"\n" for a in alerts))
        w.add_bytes("records/a1.mrt", b"\x00" * 12)
        w.add_bytes("watch.yaml", b"states:\n  CU:\n    asns: [27725]\n")
        w.set("summary", {"watch": "watch.yaml", "states": ["CU"],
                          "sources": [{"name": "updates.20260310.1200.gz", "sha256": "0" * 64,
                                       "records": 1200, "skipped": 0}],
                          "alerts": alerts})
    return path


def flip_byte(path: Path, member: str) -> None:
    """Change one byte of a stored member's data in place (bundles are not compressed)."""
    data = bytearray(path.read_bytes())
    import zipfile

    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(member)
    # Local header: 30 bytes + name + extra, then the data.
    start = info.header_offset
    name_len = int.from_bytes(data[start + 26:start + 28], "little")
    extra_len = int.from_bytes(data[start + 28:start + 30], "little")
    offset = start + 30 + name_len + extra_len
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))
