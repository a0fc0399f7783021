"""Replay of recorded RIS-Live JSON (https://ris-live.ripe.net/manual/) as routing Elements.

Accepted layouts: one frame per line (what ``websocat``/``curl`` recordings give), a JSON array
of frames, a single frame, or several pretty-printed frames one after the other. A frame is
``{"type": "ris_message", "data": {...}}``; a bare ``data`` object (``"type": "UPDATE"``) is
accepted too, as is the ``{"meta": ..., "elems": [...]}`` shape some parsers (bgpkit) save.

* ``UPDATE``: one "A" element per announced prefix, one "W" element per withdrawn prefix;
* ``RIS_PEER_STATE``: not an element (contract); counted and kept in ``stats.peer_states``
  so a caller can treat "down" as the loss of that peer's routes;
* ``ris_error`` frames and other message types (OPEN, KEEPALIVE, NOTIFICATION) are counted
  and skipped;
* malformed frames are counted with their line number in ``stats.malformed`` (no exception).

RIS-Live AS paths show an AS_SET as a nested list (``[1, 2, [3, 4]]``); it becomes a
frozenset hop, as in MRT-derived elements. ``raw`` stays ``b""``: RIS-Live's hex ``raw`` is a
BGP message, not an MRT record.
"""

from __future__ import annotations

import bz2
import gzip
import io
import ipaddress
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from .bmp import router_name
from .elements import Element

MAX_FRAME_CHARS = 16 * 1024 * 1024  # a single RIS-Live line is at most a few hundred KiB
MAX_DOCUMENT_CHARS = 512 * 1024 * 1024
MAX_MALFORMED_KEPT = 1000


@dataclass
class RisLiveStats:
    frames: int = 0
    elements: int = 0
    updates: int = 0
    errors: int = 0  # ris_error frames
    skipped: int = 0  # other message types
    malformed_count: int = 0
    malformed: list[tuple[int, str]] = field(default_factory=list)  # (line, reason), capped
    peer_states: list[dict] = field(default_factory=list)  # {time, collector, peer_ip, ...}
    chars_read: int = 0
    lines: int = 0
    truncated: bool = False

    @property
    def records(self) -> int:
        return self.frames

    @property
    def skipped_records(self) -> int:
        return self.errors + self.skipped + self.malformed_count

    def bad(self, line: int, reason: str) -> None:
        self.malformed_count += 1
        if len(self.malformed) < MAX_MALFORMED_KEPT:
            # Reasons quote values (repr): a 16 MB string kept 1000 times would be 16 GB.
            self.malformed.append((line, reason if len(reason) <= 300 else reason[:299] + "…"))


class _Malformed(ValueError):
    pass


# A RIS-Live frame nests four levels; deeper input is hostile. Python's json recurses in C
# (RecursionError near 1000) and our error messages repr values, so the cap is explicit.
MAX_DEPTH = 32
READ_CHUNK = 1 << 20


def _too_deep(value: Any) -> bool:
    """Iterative: a recursive check would fail the way it is meant to prevent."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            return True
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values() if isinstance(v, dict | list))
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item if isinstance(v, dict | list))
    return False


def _loads(text: str) -> Any:
    """One frame: json.loads, with every way it can fail as _Malformed (a JSONDecodeError,
    RecursionError, a number over Python's 4300-digit limit) except JSONDecodeError itself,
    which the caller needs to tell JSON lines from a whole document."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        raise
    except RecursionError:
        raise _Malformed(f"JSON nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:
        raise _Malformed(f"invalid JSON: {str(exc)[:100]}") from None
    if _too_deep(value):
        raise _Malformed(f"JSON nested deeper than {MAX_DEPTH} levels")
    return value


def collector_name(host: object, default: str = "") -> str:
    """"rrc10.ripe.net" -> "rrc10". The name travels into every alert, mail and platform
    event, so whatever a (hostile) server sends is cut to printable text without "<" or ">"
    (bmp.router_name): the platform would refuse the whole alert otherwise."""
    if not isinstance(host, str) or not host:
        return default
    return router_name(host.split(".", 1)[0]) or default


def _asn(value: Any, what: str) -> int:
    if isinstance(value, bool):
        raise _Malformed(f"{what} is not an ASN")
    try:
        asn = int(value)
    except (TypeError, ValueError, OverflowError):   # OverflowError: 1e999 is infinity
        raise _Malformed(f"{what} is not an ASN: {value!r}") from None
    if not 0 <= asn <= 0xFFFFFFFF:
        raise _Malformed(f"{what} out of range: {value!r}")
    return asn


def _path(value: Any) -> tuple[int | frozenset[int], ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _Malformed("path is not a list")
    hops: list[int | frozenset[int]] = []
    for hop in value:
        if isinstance(hop, list):
            hops.append(frozenset(_asn(h, "AS_SET member") for h in hop))
        else:
            hops.append(_asn(hop, "path hop"))
    return tuple(hops)


def _prefix(value: Any) -> str:
    if not isinstance(value, str):
        raise _Malformed(f"prefix is not a string: {value!r}")
    try:
        return str(ipaddress.ip_network(value.strip(), strict=False))
    except ValueError:
        raise _Malformed(f"invalid prefix {value!r}") from None


def _communities(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    out = []
    for item in value:
        if isinstance(item, list):
            out.append(":".join(str(part) for part in item))
        elif isinstance(item, dict) and isinstance(item.get("Custom"), list):  # bgpkit shape
            out.append(":".join(str(part) for part in item["Custom"]))
    return tuple(out)


def _elements_from_data(data: dict, stats: RisLiveStats, source: str,
                        default_collector: str) -> list[Element]:
    kind = data.get("type")
    if kind == "RIS_PEER_STATE":
        try:
            when = int(float(data.get("timestamp") or 0))
        except (TypeError, ValueError, OverflowError):   # inf, nan, a list...
            raise _Malformed("RIS_PEER_STATE without a numeric timestamp") from None
        stats.peer_states.append({
            "time": when,
            "collector": collector_name(data.get("host"), default_collector),
            "peer_ip": str(data.get("peer", "")),
            "peer_asn": _asn(data.get("peer_asn"), "peer_asn"),
            "state": str(data.get("state", "")),
        })
        return []
    if kind != "UPDATE":
        stats.skipped += 1
        return []
    stats.updates += 1
    try:
        time = int(float(data["timestamp"]))
    except (KeyError, TypeError, ValueError, OverflowError):
        raise _Malformed("UPDATE without a numeric timestamp") from None
    peer_ip = data.get("peer")
    if not isinstance(peer_ip, str) or not peer_ip:
        raise _Malformed("UPDATE without a peer address")
    peer_asn = _asn(data.get("peer_asn"), "peer_asn")
    path = _path(data.get("path"))
    collector = collector_name(data.get("host"), default_collector)
    communities = _communities(data.get("community"))
    elements: list[Element] = []
    announcements = data.get("announcements") or []
    withdrawals = data.get("withdrawals") or []
    if not isinstance(announcements, list) or not isinstance(withdrawals, list):
        raise _Malformed("announcements/withdrawals are not lists")
    for announcement in announcements:
        if not isinstance(announcement, dict):
            raise _Malformed("announcement is not an object")
        next_hop = str(announcement.get("next_hop") or "")
        for prefix in announcement.get("prefixes") or []:
            elements.append(Element("A", time, peer_ip, peer_asn, _prefix(prefix), path,
                                    collector, b"", source, next_hop, communities))
    for prefix in withdrawals:
        elements.append(Element("W", time, peer_ip, peer_asn, _prefix(prefix), (), collector,
                                b"", source))
    return elements


def _elements_from_bgpkit(doc: dict, stats: RisLiveStats, source: str,
                          default_collector: str) -> list[Element]:
    meta = doc.get("meta") or {}
    elems = doc.get("elems") or []
    if not isinstance(meta, dict) or not isinstance(elems, list):
        raise _Malformed("meta is not an object or elems not a list")
    collector = collector_name(meta.get("host"), default_collector)
    elements = []
    stats.updates += 1
    for elem in elems:
        if not isinstance(elem, dict):
            raise _Malformed("elem is not an object")
        kind = {"ANNOUNCE": "A", "WITHDRAW": "W"}.get(str(elem.get("type")))
        if kind is None:
            raise _Malformed(f"unknown elem type {elem.get('type')!r}")
        try:
            time = int(float(elem.get("timestamp", meta.get("timestamp"))))
        except (TypeError, ValueError, OverflowError):
            raise _Malformed("elem without a numeric timestamp") from None
        elements.append(Element(
            kind, time, str(elem.get("peer_ip") or meta.get("peer") or ""),
            _asn(elem.get("peer_asn", meta.get("peerAsn")), "peer_asn"),
            _prefix(elem.get("prefix")),
            _path(elem.get("as_path")) if kind == "A" else (), collector, b"", source,
            str(elem.get("next_hop") or ""), _communities(elem.get("communities"))))
    return elements


def _frame_elements(frame: Any, stats: RisLiveStats, source: str,
                    default_collector: str) -> list[Element]:
    if not isinstance(frame, dict):
        raise _Malformed("frame is not a JSON object")
    stats.frames += 1
    frame_type = frame.get("type")
    if frame_type == "ris_error":
        stats.errors += 1
        return []
    if frame_type == "ris_message":
        data = frame.get("data")
        if not isinstance(data, dict):
            raise _Malformed("ris_message without a data object")
        return _elements_from_data(data, stats, source, default_collector)
    if frame_type in ("UPDATE", "RIS_PEER_STATE", "OPEN", "KEEPALIVE", "NOTIFICATION"):
        return _elements_from_data(frame, stats, source, default_collector)
    if "elems" in frame and "meta" in frame:
        return _elements_from_bgpkit(frame, stats, source, default_collector)
    if frame_type in ("pong", "ris_rrc_list", "ris_subscribe_ok"):
        stats.skipped += 1
        return []
    raise _Malformed(f"unknown frame type {frame_type!r}")


def _open_text(path_or_stream: str | Path | IO) -> tuple[IO[str], str, bool]:
    if isinstance(path_or_stream, str | Path):
        path = Path(path_or_stream)
        raw = path.open("rb")
        name = path.name
        close = True
    else:
        raw = path_or_stream
        name = Path(str(getattr(path_or_stream, "name", "<stream>"))).name
        close = False
        if isinstance(raw, io.TextIOBase):
            return raw, name, close
    magic = raw.peek(3)[:3] if hasattr(raw, "peek") else b""
    if magic[:2] == b"\x1f\x8b":
        raw = gzip.GzipFile(fileobj=raw)
    elif magic == b"BZh":
        raw = bz2.BZ2File(raw)
    return io.TextIOWrapper(raw, encoding="utf-8", errors="replace"), name, close


def _document_frames(text: str, stats: RisLiveStats,
                     offset: int = 0) -> Iterator[tuple[int, Any]]:
    """Frames from a whole document: an array, one object or concatenated objects."""
    decoder = json.JSONDecoder()
    pos = 0
    length = len(text)
    line, counted = 1 + offset, 0   # lines are counted incrementally: once per character
    while True:
        while pos < length and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= length:
            return
        line += text.count("\n", counted, pos)
        counted = pos
        try:
            value, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            stats.bad(exc.lineno + offset, f"invalid JSON: {exc.msg}")
            return  # cannot resynchronise reliably inside a pretty-printed document
        except RecursionError:
            stats.bad(line, f"JSON nested deeper than {MAX_DEPTH} levels")
            return
        except ValueError as exc:   # a number over Python's 4300-digit limit
            stats.bad(line, f"invalid JSON: {str(exc)[:100]}")
            return
        if _too_deep(value):
            stats.bad(line, f"JSON nested deeper than {MAX_DEPTH} levels")
            return
        if isinstance(value, list):
            for item in value:
                yield line, item
        else:
            yield line, value
        pos = end


def read_rislive(path_or_stream: str | Path | IO, stats: RisLiveStats | None = None, *,
                 collector: str = "") -> Iterator[Element]:
    """Yield Elements from a recorded RIS-Live file or stream (see the module docstring)."""
    stats = stats if stats is not None else RisLiveStats()
    stream, source, close = _open_text(path_or_stream)
    try:
        yield from _read(stream, stats, source, collector)
    except (EOFError, OSError, zlib.error) as exc:
        # a truncated or corrupt .gz/.bz2 recording: keep what was read, say where it stopped
        stats.truncated = True
        stats.bad(stats.lines, f"compressed data ends or is corrupt: {exc}")
    finally:
        if close:
            stream.close()
        elif isinstance(stream, io.TextIOWrapper) and stream is not path_or_stream:
            stream.detach()  # leave the caller's binary stream open


def _read(stream: IO[str], stats: RisLiveStats, source: str,
          collector: str) -> Iterator[Element]:
    def next_line() -> str:
        text = stream.readline(MAX_FRAME_CHARS + 1)
        if text:
            stats.lines += 1
            stats.chars_read += len(text)
        return text

    first = next_line()
    while first and not first.strip():
        first = next_line()
    if not first:
        return
    first_line = stats.lines
    first_value: Any = None
    line_mode = False
    first_problem = ""
    if first.lstrip().startswith("{"):
        try:
            first_value = _loads(first)
            line_mode = True
        except json.JSONDecodeError:
            line_mode = False
        except _Malformed as exc:
            first_problem, line_mode = str(exc), True
    if not line_mode:
        # In chunks: read(MAX_DOCUMENT_CHARS) reserves the whole size up front.
        parts, size = [], 0
        for part in iter(lambda: stream.read(READ_CHUNK), ""):
            parts.append(part)
            size += len(part)
            if size > MAX_DOCUMENT_CHARS:
                stats.chars_read += size
                stats.bad(first_line, "document too large")
                return
        rest = "".join(parts)
        stats.chars_read += len(rest)
        offset = first_line - 1  # blank lines before the document
        for number, frame in _document_frames(first + rest, stats, offset):
            yield from _safe(frame, number, stats, source, collector)
        return
    if first_problem:
        stats.bad(first_line, first_problem)
    else:
        yield from _safe(first_value, first_line, stats, source, collector)
    for text in iter(next_line, ""):
        number = stats.lines
        if not text.strip():
            continue
        if len(text) > MAX_FRAME_CHARS:
            stats.bad(number, "frame too long")
            while text and not text.endswith("\n"):  # skip the rest of the long line
                text = stream.readline(MAX_FRAME_CHARS + 1)
            continue
        try:
            frame = _loads(text)
        except json.JSONDecodeError as exc:
            stats.bad(number, f"invalid JSON: {exc.msg}")
            continue
        except _Malformed as exc:
            stats.bad(number, str(exc))
            continue
        yield from _safe(frame, number, stats, source, collector)


def _safe(frame: Any, line: int, stats: RisLiveStats, source: str,
          collector: str) -> Iterator[Element]:
    try:
        elements = _frame_elements(frame, stats, source, collector)
    except _Malformed as exc:
        stats.bad(line, str(exc))
        return
    stats.elements += len(elements)
    yield from elements
