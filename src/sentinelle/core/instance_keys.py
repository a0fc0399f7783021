"""Per-installation secrets kept in the data directory (no Django import: settings.py uses it).

A key that ships with the code is the same in every installation, so anyone who reads the code
can forge sessions or tokens. When no key is configured, one is generated on first use, written
with mode 0600 beside the database, and read back on every later start.
"""

from __future__ import annotations

import os
import secrets
import stat
import time
from pathlib import Path

__all__ = ["InstanceKeyError", "load_or_create_secret"]

# A process that loses the creation race reads the winner's file; the winner publishes it only
# once it is complete (see below), so this wait is only for slow or remote file systems.
_READ_RETRIES = 50
_READ_DELAY = 0.02


class InstanceKeyError(RuntimeError):
    """A key file exists but cannot be trusted or read (it names the file and the reason)."""


def load_or_create_secret(path: Path, nbytes: int) -> bytes:
    """The `nbytes` random bytes stored at `path`, creating the file (mode 0600) if absent.

    Safe when several processes start at once: the key is written to a private temporary file
    that is then hard-linked to `path`, which fails if `path` already exists, so exactly one
    key wins, every process reads that one, and nobody ever reads a half-written file. A file
    that is readable or writable by the group or others, or that does not hold exactly `nbytes`
    bytes, is refused rather than used or replaced.
    """
    if nbytes < 16:
        raise ValueError("nbytes must be at least 16")
    path = Path(path)
    if not path.exists():
        _create(path, nbytes)
    return _read(path, nbytes)


def _create(path: Path, nbytes: int) -> None:
    directory = path.parent
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise InstanceKeyError(f"{directory}: cannot create the directory for {path.name}: "
                               f"{exc.strerror}") from None
    temporary = directory / f".{path.name}.{os.getpid()}.{secrets.token_hex(8)}.tmp"
    try:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise InstanceKeyError(f"{path}: cannot create the key file: {exc.strerror}") from None
    try:
        try:
            os.fchmod(descriptor, 0o600)
            data = secrets.token_bytes(nbytes)
            written = 0
            while written < nbytes:
                written += os.write(descriptor, data[written:])
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass  # another process won the race: its key is the key
        except OSError:
            # No hard links on this file system: fall back to exclusive creation in place.
            _create_in_place(path, temporary.read_bytes())
    finally:
        temporary.unlink(missing_ok=True)


def _create_in_place(path: Path, data: bytes) -> None:
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    try:
        os.write(descriptor, data)
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _read(path: Path, nbytes: int) -> bytes:
    for attempt in range(_READ_RETRIES):
        try:
            status = path.stat()
        except OSError as exc:
            raise InstanceKeyError(f"{path}: cannot read the key file: {exc.strerror}") from None
        if not stat.S_ISREG(status.st_mode):
            raise InstanceKeyError(f"{path}: the key file is not a regular file")
        if status.st_mode & 0o077:
            raise InstanceKeyError(
                f"{path}: the key file is accessible to the group or others (mode "
                f"{stat.S_IMODE(status.st_mode):04o}); run chmod 600 on it, or delete it to "
                "generate a new key")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InstanceKeyError(f"{path}: cannot read the key file: {exc.strerror}") from None
        if len(data) == nbytes:
            return data
        if len(data) < nbytes and attempt + 1 < _READ_RETRIES:
            time.sleep(_READ_DELAY)  # only the in-place fallback can show a short file
            continue
        raise InstanceKeyError(f"{path}: the key file holds {len(data)} bytes, expected "
                               f"{nbytes}; delete it to generate a new key")
    raise AssertionError("unreachable")
