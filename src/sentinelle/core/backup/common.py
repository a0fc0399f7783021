"""What backup and restore share: the layout's names, errors, progress and private file writing."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

__all__ = ["BackupError", "CHUNK", "DATABASE_FILES", "FORMAT", "KEY_FILES", "MANIFEST",
           "OPTIONAL_APPS", "ProgressReporter", "Reporter", "RestoreResult"]

FORMAT = "sentinelle-backup/1"


MANIFEST = "manifest.json"


DATABASE_FILES = {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}


# The per-installation secrets core.instance_keys writes into the data directory, and the
# setting that replaces each file when it is configured.
KEY_FILES = {"secret_key": "SENTINELLE_SECRET_KEY", "audit_key": "SENTINELLE_AUDIT_KEY",
             "instance_key": "SENTINELLE_INSTANCE_KEY"}


CHUNK = 1024 * 1024


# Apps installed only under some settings (SENTINELLE_TASK_BACKEND=rq): a backup of an instance
# that had them restores into one that has not, and their tables wait unused.
OPTIONAL_APPS = frozenset({"django_rq", "django_tasks_rq"})


_HEX64 = re.compile(r"[0-9a-f]{64}")


class BackupError(Exception):
    """A backup cannot be made or restored; the message names the file or setting at fault."""


class Reporter(Protocol):
    """Progress of long work: `start` returns the function that advances the task by n."""

    def start(self, description: str, total: int | None) -> Callable[[int], None]: ...


class _Silent:
    def start(self, description: str, total: int | None) -> Callable[[int], None]:
        return lambda n: None


class ProgressReporter:
    """Reports to a rich Progress (the commands' bar): one task per step."""

    def __init__(self, progress: Any) -> None:
        self.progress = progress

    def start(self, description: str, total: int | None) -> Callable[[int], None]:
        task = self.progress.add_task(description, total=total)
        return lambda n: self.progress.advance(task, n)


@dataclass
class RestoreResult:
    manifest: dict[str, Any]
    # Apps whose migrations in the backup are older than this code's: run `sentinelle migrate`.
    behind: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    checked_files: int = 0
    audit_entries: int = 0
    checked: bool = False


def _walk(root: Path) -> Iterator[Path]:
    for directory, subdirectories, names in os.walk(root):
        subdirectories.sort()
        for name in sorted(names):
            path = Path(directory) / name
            # A symbolic link could point anywhere (another instance's files, /etc): not followed.
            if path.is_file() and not path.is_symlink():
                yield path


def _sha256(path: Path, advance: Callable[[int], None] | None = None) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as reader:
        while chunk := reader.read(CHUNK):
            digest.update(chunk)
            if advance:
                advance(len(chunk))
    return digest.hexdigest()


def _make_private_dirs(directory: Path) -> None:
    # mkdir(parents=True) gives the parents the umask's mode; each level is made 0700 here.
    missing = []
    while not directory.exists():
        missing.append(directory)
        directory = directory.parent
    for path in reversed(missing):
        path.mkdir(mode=0o700, exist_ok=True)


def _open_private(path: Path):
    # The backup holds the instance's secrets: nothing in it is readable by others.
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb")


def _write_private(path: Path, data: bytes) -> None:
    with _open_private(path) as writer:
        writer.write(data)
