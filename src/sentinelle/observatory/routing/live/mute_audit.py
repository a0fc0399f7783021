"""The mutes' hash-chained audit log (``audit.jsonl``), for mutes.py: hashing, checking the
chain, and replaying it to know which mutes it backs.

Each line is the canonical JSON (sorted keys, no spaces) of an entry with ``prev`` (the
previous line's ``hash``; 64 zeros for the first) and ``hash`` = sha256 of the line without
``hash``. A line that is not JSON at all is chained by the sha256 of its raw bytes, so one
damaged line does not hide later ones. A hash chain shows edited, removed or reordered lines;
lines cut off the end leave a valid chain, which is why mutes.json also records the last hash
(``audit_head``, see mutes.py).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

GENESIS = "0" * 64


def canonical(entry: dict[str, Any]) -> str:
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_hash(entry: dict[str, Any]) -> str:
    # surrogatepass: a hand-made line may hold a lone surrogate; it must hash, not crash
    return hashlib.sha256(canonical({k: v for k, v in entry.items() if k != "hash"})
                          .encode("utf-8", "surrogatepass")).hexdigest()


def chain_hash(raw: bytes) -> str:
    """The hash a following line's ``prev`` must hold: the line's own ``hash`` when it has
    one, else the sha256 of its raw bytes (a damaged line still anchors the chain)."""
    try:
        entry = json.loads(raw)
    except (ValueError, RecursionError):
        entry = None
    if isinstance(entry, dict) and isinstance(entry.get("hash"), str):
        return entry["hash"]
    return hashlib.sha256(raw).hexdigest()


def lines_of(data: bytes) -> list[bytes]:
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return lines


def verify_chain(path: Path, data: bytes) -> list[str]:
    """Problems in the chain, one message per bad line (empty list: intact)."""
    problems: list[str] = []
    expected = GENESIS
    for number, raw in enumerate(lines_of(data), 1):
        where = f"{path}: line {number}"
        try:
            entry = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            problems.append(f"{where}: not valid JSON ({str(exc)[:80]})")
            expected = chain_hash(raw)
            continue
        if not isinstance(entry, dict) or not isinstance(entry.get("hash"), str):
            problems.append(f"{where}: not an audit entry (no hash)")
            expected = chain_hash(raw)
            continue
        if entry.get("prev") != expected:
            problems.append(f"{where}: prev does not match the hash of the line before "
                            "(a line was removed, inserted or reordered)")
        if entry_hash(entry) != entry["hash"]:
            problems.append(f"{where}: hash does not match the line's content "
                            "(the line was edited)")
        expected = entry["hash"]
    return problems


def replay(data: bytes) -> tuple[dict[str, dict[str, Any]], str, list[str]]:
    """(the mutes the log backs: id -> the mute as its last "add" entry wrote it, unless a
    later "remove"/"expire" ended it; the last line's chain hash, GENESIS when empty; every
    line's chain hash, in order). Only lines whose own hash holds and which link to the line
    before count: an edited or inserted "add" backs nothing."""
    backed: dict[str, dict[str, Any]] = {}
    heads: list[str] = []
    expected = GENESIS
    for raw in lines_of(data):
        try:
            entry = json.loads(raw)
        except (ValueError, RecursionError):
            entry = None
        if isinstance(entry, dict) and isinstance(entry.get("hash"), str) and \
                entry.get("prev") == expected and entry_hash(entry) == entry["hash"]:
            mute, action = entry.get("mute"), entry.get("action")
            mute_id = mute.get("id") if isinstance(mute, dict) else None
            if isinstance(mute_id, str):
                if action == "add":
                    backed[mute_id] = mute
                elif action in ("remove", "expire"):
                    backed.pop(mute_id, None)
        expected = chain_hash(raw)
        heads.append(expected)
    return backed, expected, heads
