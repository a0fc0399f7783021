"""Helpers shared by the format parsers: dates, indicator guessing, safe names, JSON streaming.

Plain Python (no Django) like the parsers themselves, so they run and fuzz alone.
"""

from __future__ import annotations

import codecs
import datetime as dt
import email.utils
import io
import json
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


# Real reports nest a dozen levels at most. Deeper input is refused before anything is built:
# deep nesting ran parsers out of recursion (repr, str) and, through ijson's per-event path
# strings, out of memory quadratically.
MAX_JSON_DEPTH = 64


class Utf8Checked(io.RawIOBase):
    """A binary stream that refuses bytes that are not UTF-8, naming the byte offset.

    Decoding is incremental (a character split across two reads is fine), so the check costs
    one pass in C and no copy of the input.
    """

    def __init__(self, raw: BinaryIO, what: str = "the file") -> None:
        self._raw, self._what = raw, what
        self._decoder = codecs.getincrementaldecoder("utf-8")("strict")
        self._offset = 0   # bytes handed to the decoder so far

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if size == 0:
            return b""
        data = self._raw.read(size)
        self._check(data or b"", final=not data)
        return data or b""

    def readinto(self, buffer) -> int:  # noqa: ANN001 - a writable buffer
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def _check(self, data: bytes, final: bool) -> None:
        pending = len(self._decoder.getstate()[0])
        try:
            self._decoder.decode(data, final)
        except UnicodeDecodeError as exc:
            offset = self._offset - pending + exc.start
            raise FormatError(f"{self._what} is not UTF-8: byte {offset} "
                              f"(0x{exc.object[exc.start]:02x}) is invalid here") from None
        self._offset += len(data)


def json_too_deep(where: str) -> FormatError:
    return FormatError(f"{where}: the JSON nests deeper than {MAX_JSON_DEPTH} levels")


def _build(events: Iterator, event: str, value: Any, where: str) -> Any:
    builder = ijson.ObjectBuilder()
    builder.event(event, value)
    if event not in ("start_map", "start_array"):
        return builder.value
    depth = 1
    for ev, val in events:
        builder.event(ev, val)
        if ev in ("start_map", "start_array"):
            depth += 1
            if depth > MAX_JSON_DEPTH:
                raise json_too_deep(where)
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
    Truncated or malformed JSON raises FormatError with the byte offset; so do bytes that are
    not UTF-8 and nesting deeper than MAX_JSON_DEPTH (naming the item).
    """
    first = _first_byte(stream)
    if first not in (b"{", b"["):
        raise FormatError("not JSON (it does not start with { or [)")
    # basic_parse, not parse: parse builds a path string per event, O(depth) each.
    events = iter(ijson.basic_parse(Utf8Checked(stream), use_float=True))
    where = "$"
    try:
        event, _value = next(events)
        if event == "start_array":
            for index, (ev, val) in enumerate(events):
                if ev == "end_array":
                    return
                where = f"$[{index}]"
                yield where, _build(events, ev, val, where)
            return
        for ev, key in events:
            if ev == "end_map":
                return
            where = f"$.{key}"
            ev2, val2 = next(events)
            if key in split and ev2 == "start_array":
                for index, (ev3, val3) in enumerate(events):
                    if ev3 == "end_array":
                        break
                    where = f"$.{key}[{index}]"
                    yield where, _build(events, ev3, val3, where)
            else:
                yield where, _build(events, ev2, val2, where)
    except ijson.common.IncompleteJSONError as exc:
        raise FormatError(f"the JSON is truncated or malformed ({str(exc).strip()[:120]})") \
            from None
    except ijson.JSONError as exc:
        raise FormatError(f"the JSON is malformed ({str(exc).strip()[:120]})") from None
    except UnicodeDecodeError:
        raise lone_surrogate(where) from None
    except StopIteration:
        raise FormatError("the JSON is truncated") from None


def lone_surrogate(where: str) -> FormatError:
    # The bytes were checked as UTF-8 already: what ijson cannot decode is an escape such as
    # \udc00, half of a UTF-16 pair, which is no character at all.
    return FormatError(f"{where}: a string holds an unpaired surrogate escape (like \\udc00), "
                       "which is not text")


def loads_limited(text: str | bytes, where: str) -> Any:
    """json.loads for one bounded piece (a JSON line), refusing deep nesting, lone surrogate
    escapes and over-long numbers with FormatError naming `where`.

    The standard parser recurses in C: it raises RecursionError near depth 1000, and anything
    shallower can still exhaust the recursion of later code, hence the explicit depth check.
    """
    try:
        value = json.loads(text)
    except RecursionError:
        raise json_too_deep(where) from None
    except UnicodeDecodeError as exc:
        raise FormatError(f"{where}: not UTF-8 (byte {exc.start} of the line)") from None
    except json.JSONDecodeError:
        raise
    except ValueError as exc:   # e.g. "Exceeds the limit (4300 digits)"
        raise FormatError(f"{where}: {str(exc)[:120]}") from None
    _check_depth(value, where)
    if _SURROGATE_ESCAPE.search(text if isinstance(text, str) else text.decode("utf-8",
                                                                              "replace")):
        _check_surrogates(value, where)
    return value


# json.loads turns "\ud800" into a lone surrogate, which no UTF-8 encoder (nor the database)
# accepts; only inputs with such an escape are walked.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def _check_surrogates(value: Any, where: str) -> None:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise lone_surrogate(where) from None


def _check_depth(value: Any, where: str) -> None:
    """Iterative (a recursive check would fail the way it is meant to prevent)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise json_too_deep(where)
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values() if isinstance(v, dict | list))
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item if isinstance(v, dict | list))
