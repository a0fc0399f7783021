"""Serving evidence: always as a download, never rendered by the browser."""

from __future__ import annotations

from django.http import FileResponse

from sentinelle.core.storage import file_response
from sentinelle.incidents.models import Evidence

# Types a browser will not execute; anything else is sent as opaque bytes.
PASSIVE_TYPES = {
    "application/pdf", "image/png", "image/jpeg", "image/gif", "image/webp", "text/plain",
    "text/csv", "application/json", "application/zip", "application/gzip",
    "application/x-bzip2", "application/vnd.tcpdump.pcap", "application/vnd.ms-outlook",
}


def evidence_response(item: Evidence) -> FileResponse:
    content_type = item.content_type if item.content_type in PASSIVE_TYPES else (
        "application/octet-stream")
    response = file_response(item.file, filename=item.filename, content_type=content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["X-Evidence-SHA256"] = item.sha256
    return response
