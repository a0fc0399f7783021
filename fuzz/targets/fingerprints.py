"""Block-page fingerprints (observatory/access/fingerprints.py), both ways in: a user's own
fingerprint file (``probe run --fingerprints mine.yaml``), then the answer of a hostile server
(status, headers, body) matched against the file's fingerprints and the built-in ones."""

import base64
import tempfile
from pathlib import Path

from fuzz.harness import Target
from sentinelle.observatory.access import fingerprints, verdict

_BUILTIN = fingerprints.load()
_HEADERS = [("Server", "cloudflare"), ("Content-Type", "text/html; charset=utf-8")]


def run(data: bytes) -> None:
    # The page side first: it must never raise, whatever the server sent.
    _BUILTIN.match(data[:3].decode("latin-1"), _HEADERS + [("X", data[:200])], data)
    # A body the server claims is compressed is inflated for matching: any bytes, no raise.
    body = {"format": "base64", "data": base64.b64encode(data).decode()}
    for encoding in ("gzip", "deflate"):
        verdict.match_text({"body": body, "headers_list": [["Content-Encoding", encoding]]})
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "mine.yaml"
        path.write_bytes(data)
        loaded = fingerprints.load_file(path)
    fingerprints.FingerprintSet(loaded).match(403, _HEADERS, data)


TARGET = Target(
    name="fingerprints",
    seeds=("src/sentinelle/observatory/access/data/fingerprints.yaml",),
    run=run,
    refusals=(fingerprints.FingerprintError,),
    kind="yaml",
)
