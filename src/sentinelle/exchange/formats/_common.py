"""Helpers shared by the format parsers: dates, indicator guessing, safe names, JSON streaming.

Plain Python (no Django) like the parsers themselves, so they run and fuzz alone.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import re
import unicodedata
import uuid
from collections.abc import Iterator
from typing import Any, BinaryIO

import ijson

from sentinelle.exchange.records import FormatError
from sentinelle.incidents.indicators import IndicatorError, normalise

# RSIT (ENISA/TF-CSIRT machinetag v1003): class -> types. Used to check mapped values; the
# importer checks again against the database, which is the truth (taxonomy is data).
RSIT: dict[str, tuple[str, ...]] = {
    "abusive-content": ("spam", "harmful-speech", "violence"),
    "malicious-code": ("infected-system", "c2-server", "malware-distribution",
                       "malware-configuration"),
    "information-gathering": ("scanner", "sniffing", "social-engineering"),
    "intrusion-attempts": ("ids-alert", "brute-force", "exploit"),
    "intrusions": ("privileged-account-compromise", "unprivileged-account-compromise",
                   "application-compromise", "system-compromise", "burglary"),
    "availability": ("dos", "ddos", "misconfiguration", "sabotage", "outage"),
    "information-content-security": ("unauthorised-information-access",
                                     "unauthorised-information-modification", "data-loss",
                                     "data-leak"),
    "fraud": ("unauthorised-use-of-resources", "copyright", "masquerade", "phishing"),
    "vulnerable": ("weak-crypto", "ddos-amplifier", "potentially-unwanted-accessible",
                   "information-disclosure", "vulnerable-system"),
    "other": ("other", "undetermined"),
    "test": ("test",),
}

TLP_VALUES = ("clear", "green", "amber", "amber+strict", "red")
# Strictness order, to keep the strictest when a source marks parts of a report differently.
TLP_RANK = {value: rank for rank, value in enumerate(TLP_VALUES)}


def valid_rsit(value: str | None) -> str | None:
    if not value or ":" not in value:
        return None
    klass, kind = value.split(":", 1)
    return value if kind in RSIT.get(klass, ()) else None


def default_category(rsit: str | None) -> str | None:
    """The resolution category a CSIRT incident type falls under when the source says nothing
    (docs/formats.md): sniffing is interception (Res. 130 3(i)); every other malicious practice
    undermines trust and security (3(ii)); undetermined stays for the importer's default."""
    if not rsit:
        return None
    if rsit == "information-gathering:sniffing":
        return "interception-surveillance"
    if rsit.startswith(("other:", "test:")):
        return "other"
    return "trust-security"


def tlp_from_text(text: str) -> str | None:
    """'tlp:white', 'TLP:AMBER+STRICT', 'amber' -> a TLP 2.0 value, else None."""
    value = text.strip().strip('"').lower().removeprefix("tlp:").strip()
    value = {"white": "clear"}.get(value, value)
    return value if value in TLP_RANK else None


def strictest(*values: str | None) -> str | None:
    present = [v for v in values if v]
    return max(present, key=TLP_RANK.__getitem__) if present else None


# -- dates ---------------------------------------------------------------------------------

_OONI_TIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")


def parse_time(value: Any) -> dt.datetime:
    """A datetime from ISO 8601, 'YYYY-MM-DD hh:mm:ss', RFC 5322 or a Unix time.

    Times without a zone are taken as UTC: every format here (OONI, MISP dates, CSV templates)
    either says UTC or has no zone at all, and a report's time window must be comparable.
    Raises ValueError naming the value.
    """
    if isinstance(value, dt.datetime):
        result = value
    elif isinstance(value, dt.date):
        result = dt.datetime(value.year, value.month, value.day)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        result = dt.datetime.fromtimestamp(value, dt.UTC)
    elif isinstance(value, str):
        text = value.strip()
        if text.isdigit() and len(text) >= 9:
            result = dt.datetime.fromtimestamp(int(text), dt.UTC)
        elif _OONI_TIME.match(text):
            result = dt.datetime.strptime(text, "%Y-%m-%d %H:%M:%S")
        else:
            try:
                result = dt.datetime.fromisoformat(text.replace("Z", "+00:00")
                                                   if text.endswith("Z") else text)
            except ValueError:
                try:
                    result = email.utils.parsedate_to_datetime(text)
                except (TypeError, ValueError, IndexError):
                    raise ValueError(f"{value!r} is not a date and time") from None
    else:
        raise ValueError(f"{value!r} is not a date and time")
    if result.tzinfo is None:
        result = result.replace(tzinfo=dt.UTC)
    return result


def maybe_time(value: Any) -> dt.datetime | None:
    """parse_time, or None when the value is absent or unreadable (optional fields)."""
    if value in (None, ""):
        return None
    try:
        return parse_time(value)
    except (ValueError, OverflowError, OSError):
        return None


# -- indicators ----------------------------------------------------------------------------

def guess_indicator(value: Any) -> tuple[str, str] | None:
    """(type, value) for a free value of unknown kind (an X-ARF source, an IODEF address)."""
    if not isinstance(value, str | int) or isinstance(value, bool):
        return None
    text = str(value).strip()
    if not text:
        return None
    candidates: tuple[str, ...]
    if "://" in text:
        candidates = ("url",)
    elif "@" in text:
        candidates = ("email",)
    elif "/" in text:
        candidates = ("prefix",)
    elif re.fullmatch(r"(?i)as\d+", text):
        candidates = ("asn",)
    else:
        candidates = ("ipv4", "ipv6", "domain")
    for kind in candidates:
        try:
            normalise(kind, text)
        except IndicatorError:
            continue
        return kind, text
    return None


def as_uuid(value: Any) -> str | None:
    try:
        return str(uuid.UUID(str(value)))
    except (ValueError, TypeError, AttributeError):
        return None


# -- names and text ------------------------------------------------------------------------

_UNSAFE = re.compile(r"[^\w.@+-]+")


def safe_name(name: str, default: str = "attachment") -> str:
    """A file name with no directory part, no control characters, no leading dots.

    Attachment names inside reports come from strangers ('../../etc/passwd', 'C:\\x', NUL):
    only the last path component survives, reduced to a small safe alphabet.
    """
    text = unicodedata.normalize("NFKC", str(name or ""))
    text = re.split(r"[\\/]", text)[-1]
    text = "".join(ch for ch in text if ch.isprintable())
    text = _UNSAFE.sub("_", text).strip("._ ")
    return text[:120] or default


def first_line(text: str, limit: int = 200) -> str:
    line = next((part.strip() for part in str(text or "").splitlines() if part.strip()), "")
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


# -- sniffing ------------------------------------------------------------------------------

def head_text(head: bytes) -> str:
    """The start of the input as text, BOM and leading white space removed."""
    return head[:65536].decode("utf-8", "replace").lstrip("\ufeff \t\r\n")


def json_has(head: bytes, *keys: str) -> bool:
    """True when the input starts like JSON and names every key (as "key":)."""
    text = head_text(head)
    if not text.startswith(("{", "[")):
        return False
    return all(re.search(rf'"{re.escape(key)}"\s*:', text) for key in keys)


def wrong_format(expected: str, head: bytes, name: str = "", why: str = "") -> FormatError:
    """The error for an input that is not `expected`, naming what it looks like instead."""
    from sentinelle.exchange import formats  # late: the registry imports the parsers

    looks_like = formats.detect(head, name)
    hint = f"; it looks like {looks_like}" if looks_like and looks_like != expected else ""
    because = f" ({why})" if why else ""
    return FormatError(f"this file is not {expected}{because}{hint}")


# -- JSON streaming ------------------------------------------------------------------------

def peek(stream: BinaryIO, size: int) -> bytes:
    """Up to `size` bytes from the current position, leaving the stream where it was: a
    seekable file is read and rewound; a BufferedReader (a pipe) is peeked at, which may give
    fewer bytes (its buffer), enough to tell a format."""
    if hasattr(stream, "seekable") and stream.seekable():
        position = stream.tell()
        head = stream.read(size)
        stream.seek(position)
        return head
    if hasattr(stream, "peek"):
        return stream.peek(size)[:size]
    raise FormatError("the input can be neither rewound nor peeked at")


def _first_byte(stream: BinaryIO) -> bytes:
    """The first significant byte, leaving the stream where it was."""
    text = peek(stream, 4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    return text[:1]


def _build(events: Iterator, event: str, value: Any) -> Any:
    builder = ijson.ObjectBuilder()
    builder.event(event, value)
    if event not in ("start_map", "start_array"):
        return builder.value
    depth = 1
    for _prefix, ev, val in events:
        builder.event(ev, val)
        if ev in ("start_map", "start_array"):
            depth += 1
        elif ev in ("end_map", "end_array"):
            depth -= 1
            if depth == 0:
                break
    return builder.value


def iter_json(stream: BinaryIO, split: tuple[str, ...] = ()) -> Iterator[tuple[str, Any]]:
    """Stream a JSON document as (path, value) pairs without holding it whole.

    A top-level array yields ("$[i]", item) for each item. A top-level object yields
    ("$.key", value) for each key, except keys named in `split` whose array value is yielded
    item by item as ("$.key[i]", item). Memory is bounded by the largest single item.
    Truncated or malformed JSON raises FormatError with the byte offset.
    """
    first = _first_byte(stream)
    if first not in (b"{", b"["):
        raise FormatError("not JSON (it does not start with { or [)")
    events = iter(ijson.parse(stream, use_float=True))
    try:
        _prefix, event, _value = next(events)
        if event == "start_array":
            for index, (_prefix, ev, val) in enumerate(events):
                if ev == "end_array":
                    return
                yield f"$[{index}]", _build(events, ev, val)
            return
        for _prefix, ev, key in events:
            if ev == "end_map":
                return
            _p, ev2, val2 = next(events)
            if key in split and ev2 == "start_array":
                for index, (_p3, ev3, val3) in enumerate(events):
                    if ev3 == "end_array":
                        break
                    yield f"$.{key}[{index}]", _build(events, ev3, val3)
            else:
                yield f"$.{key}", _build(events, ev2, val2)
    except ijson.common.IncompleteJSONError as exc:
        raise FormatError(f"the JSON is truncated or malformed ({str(exc).strip()[:120]})") \
            from None
    except ijson.JSONError as exc:
        raise FormatError(f"the JSON is malformed ({str(exc).strip()[:120]})") from None
    except StopIteration:
        raise FormatError("the JSON is truncated") from None
