"""Reading the list of URLs to test.

Two layouts are accepted, with or without a header line:

- ours: ``url,category_code,notes``
- Citizen Lab's test lists: ``url,category_code,category_description,date_added,source,notes``

A bad line never stops the run: it is reported by line number in ``TargetList.problems`` and
skipped. Only a file that cannot be read at all (missing, too large, not text) raises
``TargetListError``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

MAX_FILE_BYTES = 32 * 1024 * 1024   # Citizen Lab's global list is ~200 KB; this is far beyond
MAX_URLS = 100_000                  # one run holds a task per URL; bound the memory
MAX_URL_LENGTH = 2048               # what browsers and CDNs reliably accept
CITIZENLAB_COLUMNS = ["url", "category_code", "category_description", "date_added", "source",
                      "notes"]


class TargetListError(ValueError):
    """The list as a whole cannot be read."""


@dataclass(slots=True)
class Target:
    url: str
    category_code: str
    notes: str
    line: int


@dataclass(slots=True)
class Problem:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass
class TargetList:
    name: str
    targets: list[Target] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def check_url(url: str) -> str | None:
    """Why ``url`` cannot be measured, or None if it can."""
    if not url:
        return "empty URL"
    if len(url) > MAX_URL_LENGTH:
        return f"URL longer than {MAX_URL_LENGTH} characters"
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        return f"URL contains white space or control characters: {url[:80]!r}"
    if "://" not in url:
        return f"no scheme in {url[:80]!r} (write http:// or https://)"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"not a valid URL ({exc}): {url[:80]!r}"
    if parts.scheme.lower() not in ("http", "https"):
        return f"scheme {parts.scheme!r} is not http or https"
    if not parts.hostname:
        return f"no host name in {url[:80]!r}"
    if port == 0:
        return "port 0"
    return None


def read_list(path: str | Path, *, max_bytes: int = MAX_FILE_BYTES,
              max_urls: int = MAX_URLS) -> TargetList:
    """Read a URL list; raises TargetListError only if the file as a whole is unusable."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise TargetListError(f"{path}: {size} bytes, more than the {max_bytes} accepted")
        data = path.read_bytes()
    except OSError as exc:
        raise TargetListError(f"cannot read {path}: {exc.strerror or exc}") from None
    if b"\x00" in data[:4096]:
        raise TargetListError(f"{path}: binary file, expected CSV text")
    return parse_lines(data.splitlines(), name=path.name, max_urls=max_urls)


def parse_lines(lines: list[bytes], *, name: str = "", max_urls: int = MAX_URLS) -> TargetList:
    result = TargetList(name=name)
    columns: list[str] | None = None
    seen: set[str] = set()
    for number, raw in enumerate(lines, start=1):
        try:
            text = raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as exc:
            result.problems.append(Problem(number, f"not UTF-8 ({exc.reason})"))
            continue
        if not text.strip() or text.lstrip().startswith("#"):
            continue
        # Each physical line is its own CSV record: a URL list has no multi-line fields, and this
        # keeps one broken quote from swallowing the rest of the file.
        try:
            rows = list(csv.reader([text], strict=True))
        except csv.Error as exc:
            result.problems.append(Problem(number, f"bad CSV ({exc})"))
            continue
        if len(rows) != 1:
            result.problems.append(Problem(number, "bad CSV (more than one record)"))
            continue
        row = [cell.strip() for cell in rows[0]]
        if columns is None and row and row[0].lower() == "url":
            columns = [c.lower() for c in row]
            if "url" not in columns:
                result.problems.append(Problem(number, "header has no url column"))
            continue
        target = _target(row, columns, number)
        if isinstance(target, Problem):
            result.problems.append(target)
            continue
        if target.url in seen:
            result.problems.append(Problem(number, f"duplicate of an earlier line: {target.url}"))
            continue
        if len(result.targets) >= max_urls:
            result.problems.append(Problem(number, f"more than {max_urls} URLs; the rest of the "
                                                   "list is ignored"))
            break
        seen.add(target.url)
        result.targets.append(target)
    return result


def _target(row: list[str], columns: list[str] | None, number: int) -> Target | Problem:
    if columns:
        values = dict(zip(columns, row, strict=False))
        url = values.get("url", "")
        category = values.get("category_code", "")
        notes = values.get("notes", "")
    else:
        # No header: ours (url, category, notes) or Citizen Lab's six columns without theirs.
        url = row[0] if row else ""
        category = row[1] if len(row) > 1 else ""
        notes = row[5] if len(row) >= 6 else (row[2] if len(row) > 2 else "")
    problem = check_url(url)
    if problem:
        return Problem(number, problem)
    if len(category) > 32 or (category and not category.replace("_", "").isalnum()):
        return Problem(number, f"category code {category[:40]!r} is not a code like NEWS")
    return Target(url=url, category_code=category.upper(), notes=notes[:500], line=number)
