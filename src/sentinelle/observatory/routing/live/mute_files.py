"""Reading the mute files safely: no symlink followed, no FIFO or device read, nothing read past
a limit; and the bits of text walking that place an error or a chain position."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from .mute_audit import GENESIS, chain_hash
from .mute_model import MuteError

__all__ = ["head_at", "object_lines", "open_nofollow", "read_file"]


def open_nofollow(path: Path, flags: int, mode: int = 0o666) -> int:
    """os.open that refuses a symlink (anyone who can write the state directory could plant
    one pointing at a file of the monitor's user, or at /dev/zero) with a MuteError."""
    try:
        return os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    except OSError as exc:
        if path.is_symlink():
            raise MuteError(f"{path}: a symbolic link: refused") from None
        if isinstance(exc, FileNotFoundError):
            raise
        raise MuteError(f"{path}: cannot open: {exc.strerror or exc}") from None


def read_file(path: Path, limit: int) -> bytes:
    """A regular file's bytes, at most ``limit`` (MuteError beyond, or for a symlink, a FIFO,
    a device); FileNotFoundError when it does not exist."""
    fd = open_nofollow(path, os.O_RDONLY | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as stream:
        info = os.fstat(stream.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise MuteError(f"{path}: not a regular file: refused")
        if info.st_size > limit:
            raise MuteError(f"{path}: file too large ({info.st_size} bytes, at most {limit})")
        data = stream.read(limit + 1)
    if len(data) > limit:
        raise MuteError(f"{path}: file too large (more than {limit} bytes)")
    return data


def head_at(data: bytes, offset: int) -> str | None:
    """The chain hash of the line ending at ``offset`` (GENESIS at 0; None when no line ends
    there)."""
    if offset == 0:
        return GENESIS
    if offset > len(data) or data[offset - 1:offset] != b"\n":
        return None
    return chain_hash(data[:offset - 1].rsplit(b"\n", 1)[-1])


def object_lines(text: str) -> list[int]:
    """1-based line of each object opening at depth 3 ({"mutes": [ {...} ]}); only called to
    place an error, so a plain character walk is fine."""
    lines: list[int] = []
    depth, line, in_string, escaped = 0, 1, False, False
    for char in text:
        if char == "\n":
            line += 1
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth == 3 and char == "{":
                lines.append(line)
        elif char in "]}":
            depth -= 1
    return lines
