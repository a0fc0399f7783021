"""One module per format. Each exposes ``parse(stream, *, name="")`` (see records.py) and
``sniff(head: bytes, name: str = "") -> bool`` (name: the file name, for formats
known by extension); the registry below is filled as formats are added."""

from __future__ import annotations

import importlib

# name -> module path; order matters for detection (most specific first).
FORMAT_MODULES: dict[str, str] = {
    "stix": "sentinelle.exchange.formats.stix",
    # Containers with unmistakable signatures first (MIME report, XML root, zip)...
    "arf": "sentinelle.exchange.formats.arf",
    "iodef": "sentinelle.exchange.formats.iodef",
    "xlsx": "sentinelle.exchange.formats.xlsx",
    # ...then JSON told apart by their keys (MISP refuses STIX bundles itself)...
    "misp": "sentinelle.exchange.formats.misp",
    "xarf": "sentinelle.exchange.formats.xarf",
    "veris": "sentinelle.exchange.formats.veris",
    "ooni": "sentinelle.exchange.formats.ooni",
    # ...and CSV last: it accepts any file named .csv.
    "csv": "sentinelle.exchange.formats.csvxlsx",
}


def get(name: str):
    if name not in FORMAT_MODULES:
        known = ", ".join(sorted(FORMAT_MODULES)) or "none"
        raise KeyError(f"unknown format {name!r} (known: {known})")
    return importlib.import_module(FORMAT_MODULES[name])


def detect(head: bytes, name: str = "") -> str | None:
    """The first format whose sniff() accepts the start of the input, or None."""
    for fmt in FORMAT_MODULES:
        if get(fmt).sniff(head, name):
            return fmt
    return None
