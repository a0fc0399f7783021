"""Block-page fingerprints as data: which answer is a CDN's geoblock, a server's denial, a
national censorship block page or a bot challenge.

The knowledge lives in YAML files (``data/fingerprints.yaml`` ships with Sentinelle; users add
their own with ``sentinelle probe run --fingerprints FILE``). Each entry::

    - id: cloudflare-1009              # [a-z0-9._-], unique across all loaded files
      provider: Cloudflare             # who answers (plain text)
      kind: geoblock                   # geoblock | server-denial | censorship-blockpage
                                       # | challenge
      location: body                   # status | header:<name> | body | title
      pattern_type: regex              # exact | contains | regex
      pattern: "banned the country"    # text (an integer is accepted for status)
      case_insensitive: true           # optional, default true
      all_of:                          # optional: more conditions that must ALL hold too
        - {location: status, pattern_type: exact, pattern: 403}
        - {location: "header:server", pattern_type: contains, pattern: cloudflare}
      source: https://...              # where the knowledge comes from (URL or document)
      description: ...                 # optional, plain text

An entry matches when its own condition (if it has one) and every ``all_of`` condition hold.
A header condition holds if any header of that name matches. ``exact`` compares the whole
(stripped) value; ``contains`` looks for a substring; ``regex`` searches.

Files are untrusted input: size, entry count and pattern length are capped, YAML aliases are
refused (no "billion laughs"), unknown keys and HTML in text fields are errors naming the file,
the entry and the field. Regexes are compiled once and run with RE2 (google-re2), whose search
time is linear in the text: at most about ``MATCH_CHARS * program size`` steps, and the program
sizes are capped (REGEX_PROGRAM_BUDGET, one pattern; TOTAL_PROGRAM_BUDGET, all loaded). What RE2
cannot express (backreferences, look-ahead and look-behind, possessive or atomic groups) is
refused when the file is loaded, naming the fingerprint and the field. RE2 differs from Python's
re in that ``\\d``, ``\\w``, ``\\s`` and ``\\b`` are ASCII-only.

Only if the google-re2 wheel is missing (a platform without one) do regexes fall back to
Python's backtracking engine, which cannot be interrupted, behind a structural check that makes
them cheap by construction: no unbounded repeats (write ``{0,200}``, not ``*``), no nested
repeats, no repeated alternations, no backreferences, and repeat maxima whose product stays
within REPEAT_BUDGET (see ``unsafe_regex``); a search then costs at most about
``MATCH_CHARS * REPEAT_BUDGET`` steps. ``engine()`` says which engine runs.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

try:  # linear-time matching; google-re2 ships manylinux/macOS/Windows wheels
    import re2
except ImportError:  # pragma: no cover - only where no wheel exists: see the module docstring
    re2 = None

try:  # Python >= 3.11 keeps the regex parser private; it is the only way to inspect a pattern.
    from re import _constants as _sre_c
    from re import _parser as _sre_parse
except ImportError:  # pragma: no cover - Python 3.10 and older
    import sre_constants as _sre_c  # type: ignore[no-redef]
    import sre_parse as _sre_parse  # type: ignore[no-redef]

BUILTIN = Path(__file__).resolve().parent / "data" / "fingerprints.yaml"
MAX_FILE_BYTES = 1024 * 1024          # a fingerprint file is text written by people
MAX_ENTRIES = 2000
MAX_PATTERN = 1000
MAX_CONDITIONS = 8
MATCH_CHARS = 64 * 1024               # block pages are small; regex cost scales with it
MAX_TITLE = 2000

KINDS = {  # file value -> Match.kind (contracts.md names censorship pages just "censorship")
    "geoblock": "geoblock",
    "server-denial": "server-denial",
    "censorship-blockpage": "censorship",
    "censorship": "censorship",
    # A bot check (CAPTCHA, JavaScript or proof-of-work interstitial) that a person with a
    # browser passes: not a denial (verdict "challenged").
    "challenge": "challenge",
}
PATTERN_TYPES = ("exact", "contains", "regex")
ENTRY_KEYS = {"id", "provider", "kind", "location", "pattern_type", "pattern",
              "case_insensitive", "all_of", "source", "description"}
CONDITION_KEYS = {"location", "pattern_type", "pattern", "case_insensitive"}
TEXT_LIMITS = {"provider": 100, "source": 500, "description": 500}
_ID = re.compile(r"[a-z0-9][a-z0-9._-]{0,79}")
_HEADER_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}")   # RFC 9110 token
_TITLE = re.compile(rf"<title\b[^>]{{0,200}}>([^<]{{0,{MAX_TITLE}}})", re.IGNORECASE)
_SPACE = re.compile(r"\s+")


class FingerprintError(ValueError):
    """A fingerprint file is unusable; the message names the file, the entry and the field."""


@dataclass(frozen=True, slots=True)
class Match:
    id: str
    provider: str
    kind: str            # "geoblock" | "server-denial" | "censorship" | "challenge"
    source: str
    description: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"id": self.id, "provider": self.provider, "kind": self.kind,
                "source": self.source}


@dataclass(frozen=True, slots=True)
class Condition:
    location: str                 # "status" | "header" | "body" | "title"
    header: str | None            # lower-case header name when location is "header"
    pattern_type: str
    pattern: str
    case_insensitive: bool
    regex: Any = None             # a compiled re2 (or, without the wheel, re) pattern
    cost: int = 0                 # RE2 program size (re fallback: paths, see unsafe_regex)

    def holds(self, page: _Page) -> bool:
        if self.location == "header":
            return any(self._test(v, v.casefold())
                       for v in page.headers.get(self.header or "", ()))
        text = {"status": page.status, "body": page.body, "title": page.title}[self.location]
        if text is None:
            return False
        return self._test(text, page.folded(self.location, text) if self.case_insensitive
                          else text)

    def _test(self, text: str, folded: str) -> bool:
        if self.regex is not None:
            return self.regex.search(text) is not None
        if self.case_insensitive:
            text, pattern = folded, self.pattern.casefold()
        else:
            pattern = self.pattern
        if self.pattern_type == "exact":
            return text.strip() == pattern.strip()
        return pattern in text


@dataclass(frozen=True, slots=True)
class Fingerprint:
    id: str
    provider: str
    kind: str
    source: str
    conditions: tuple[Condition, ...]
    description: str = ""
    origin: str = ""              # file it came from, for error messages and reports

    def matches(self, page: _Page) -> bool:
        return all(c.holds(page) for c in self.conditions)

    def to_match(self) -> Match:
        return Match(self.id, self.provider, self.kind, self.source, self.description)


@dataclass(slots=True)
class _Page:
    """One answer, normalised once for all fingerprints."""
    status: str | None
    headers: dict[str, list[str]]
    body: str
    title: str | None
    _folded: dict[str, str] = field(default_factory=dict)

    def folded(self, location: str, text: str) -> str:
        """``text`` case-folded, once per page and location (bodies are the big ones)."""
        if location not in self._folded:
            self._folded[location] = text.casefold()
        return self._folded[location]


@dataclass
class FingerprintSet:
    fingerprints: list[Fingerprint] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.fingerprints)

    def __iter__(self) -> Iterator[Fingerprint]:
        return iter(self.fingerprints)

    @property
    def ids(self) -> list[str]:
        return [f.id for f in self.fingerprints]

    def match(self, status: int | str | None, headers_list: Iterable[Sequence[Any]] | None,
              body_text: str | bytes | None) -> list[Match]:
        """Every fingerprint the answer matches, in file order."""
        page = make_page(status, headers_list, body_text)
        return [f.to_match() for f in self.fingerprints if f.matches(page)]


def make_page(status: int | str | None, headers_list: Iterable[Sequence[Any]] | None,
              body_text: str | bytes | None) -> _Page:
    headers: dict[str, list[str]] = {}
    room = MATCH_CHARS      # for all values together, as for the body: a control's answer
    for item in headers_list or ():         # (helper JSON) is not bounded by MAX_HEAD
        if room <= 0:
            break
        if isinstance(item, Sequence) and not isinstance(item, str) and len(item) == 2:
            value = str(item[1])[:room]
            room -= len(value) + 1
            headers.setdefault(str(item[0]).strip().lower()[:200], []).append(value)
    if isinstance(body_text, bytes | bytearray):
        # Bytes that are not UTF-8 (block pages in windows-1256, koi8-r...) still match on
        # their ASCII parts; a replacement character never matches a pattern by accident.
        body = bytes(body_text[:MATCH_CHARS * 4]).decode("utf-8", errors="replace")
    else:
        body = body_text or ""
    body = body[:MATCH_CHARS]
    return _Page(status=None if status is None else str(status).strip(), headers=headers,
                 body=body, title=page_title(body))


def page_title(body: str) -> str | None:
    """The <title> text, unescaped and with whitespace collapsed, or None."""
    found = _TITLE.search(body[:MATCH_CHARS])
    if not found:
        return None
    return _SPACE.sub(" ", html.unescape(found.group(1))).strip()


# ---------------------------------------------------------------------------------- loading

def load(paths: Iterable[str | Path] | None = None, *, builtin: bool = True) -> FingerprintSet:
    """The built-in fingerprints (unless ``builtin=False``) followed by those of ``paths``."""
    files = ([BUILTIN] if builtin else []) + [Path(p) for p in (paths or ())]
    result: list[Fingerprint] = []
    seen: dict[str, str] = {}
    total = 0
    for path in files:
        loaded = load_file(path)
        # Each regex is cheap alone; 2000 of them are not (each searches every body).
        total += sum(c.cost for f in loaded for c in f.conditions)
        budget = TOTAL_PROGRAM_BUDGET if re2 is not None else TOTAL_BUDGET
        if total > budget:
            raise FingerprintError(
                f"{path}: the regular expressions of the loaded fingerprints are together too "
                f"large ({total} > {budget}); use fewer or smaller repeats, or contains/exact "
                "patterns")
        for fingerprint in loaded:
            if fingerprint.id in seen:
                raise FingerprintError(
                    f"{path}: fingerprint {fingerprint.id!r}: field id: already defined in "
                    f"{seen[fingerprint.id]}")
            seen[fingerprint.id] = str(path)
            result.append(fingerprint)
    return FingerprintSet(result)


def load_file(path: str | Path) -> list[Fingerprint]:
    path = Path(path)
    try:
        with path.open("rb") as stream:
            data = stream.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise FingerprintError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_FILE_BYTES:
        raise FingerprintError(f"{path}: larger than {MAX_FILE_BYTES} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FingerprintError(f"{path}: not UTF-8 (byte {exc.start})") from None
    return parse(text, str(path))


def parse(text: str, origin: str = "<fingerprints>") -> list[Fingerprint]:
    try:
        _prescan(text, origin)
        document = yaml.load(text, Loader=_LOADER)  # noqa: S506 - a SafeLoader
    except FingerprintError:
        raise
    except RecursionError:
        raise FingerprintError(f"{origin}: YAML nested too deeply") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise FingerprintError(f"{origin}:{where} not valid YAML: {problem}") from None
    if document is None:
        return []
    if not isinstance(document, list):
        raise FingerprintError(f"{origin}: the file must be a YAML list of fingerprints")
    if len(document) > MAX_ENTRIES:
        raise FingerprintError(f"{origin}: more than {MAX_ENTRIES} fingerprints")
    return [_entry(item, index, origin) for index, item in enumerate(document)]


# libyaml (C) when PyYAML was built with it: the pure-Python parser needed minutes for 1 MB of
# hostile YAML (deep flow nesting).
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# An entry nests four levels (list > entry > all_of > condition); deeper is hostile.
MAX_DEPTH = 16
# A plain scalar of digits is constructed as an int: past 4300 digits Python refuses to
# convert it (ValueError); nothing in a fingerprint file is a number that long.
MAX_NUMBER_CHARS = 1000
# An entry with every key and MAX_CONDITIONS conditions holds about 100 keys and values.
MAX_ENTRY_VALUES = 400
_NUMBERISH = re.compile(r"[-+]?[0-9][0-9a-fA-FxXoObB_:.]*")


def _prescan(text: str, origin: str) -> None:
    """Walk the event stream (nothing is built): refuse aliases ("billion laughs"), nesting
    deeper than MAX_DEPTH, too many entries or values in one entry, and over-long numbers,
    with the line, before the document is constructed."""
    depth = entries = values = 0
    for event in yaml.parse(text, Loader=_LOADER):
        line = event.start_mark.line + 1 if event.start_mark else 0
        if isinstance(event, yaml.AliasEvent):
            raise FingerprintError(f"{origin}: line {line}: YAML aliases are not allowed")
        # Counted here, before anything is built: composing 1 MB of tiny values took ~200 MiB.
        if depth == 1 and isinstance(event, yaml.NodeEvent):
            entries, values = entries + 1, 0
            if entries > MAX_ENTRIES:
                raise FingerprintError(f"{origin}: more than {MAX_ENTRIES} fingerprints")
        elif depth >= 2 and isinstance(event, yaml.NodeEvent):
            values += 1
            if values > MAX_ENTRY_VALUES:
                raise FingerprintError(f"{origin}: line {line}: entry {entries - 1} has more "
                                       f"than {MAX_ENTRY_VALUES} keys and values")
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise FingerprintError(f"{origin}: line {line}: nested deeper than "
                                       f"{MAX_DEPTH} levels")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
        elif (isinstance(event, yaml.ScalarEvent) and event.implicit[0]
              and len(event.value) > MAX_NUMBER_CHARS and _NUMBERISH.fullmatch(event.value)):
            raise FingerprintError(f"{origin}: line {line}: a number longer than "
                                   f"{MAX_NUMBER_CHARS} characters")


def _entry(item: Any, index: int, origin: str) -> Fingerprint:
    label = f"entry {index}"
    if isinstance(item, dict) and isinstance(item.get("id"), str):
        label = f"entry {index} ({item['id'][:80]!r})"

    def fail(name: str, problem: str) -> FingerprintError:
        return FingerprintError(f"{origin}: {label}: field {name}: {problem}")

    if not isinstance(item, dict):
        raise fail("-", "a fingerprint must be a mapping")
    unknown = sorted(str(k) for k in item if k not in ENTRY_KEYS)
    if unknown:
        raise fail(unknown[0], f"unknown key (allowed: {', '.join(sorted(ENTRY_KEYS))})")
    for name in ("id", "provider", "kind", "source"):
        if item.get(name) in (None, ""):
            raise fail(name, "missing")
    ident = item["id"]
    if not isinstance(ident, str) or not _ID.fullmatch(ident):
        raise fail("id", "must be 1-80 characters a-z 0-9 . _ - starting with a letter or digit")
    texts = {name: _text(item.get(name, ""), name, fail) for name in TEXT_LIMITS}
    kind = item["kind"]
    if not isinstance(kind, str) or kind not in KINDS:   # a list is unhashable
        raise fail("kind", f"{kind!r} is not one of geoblock, server-denial, "
                           "censorship-blockpage, challenge")
    case_insensitive = item.get("case_insensitive", True)
    if not isinstance(case_insensitive, bool):
        raise fail("case_insensitive", "must be true or false")
    conditions: list[Condition] = []
    own = {k: item[k] for k in ("location", "pattern_type", "pattern") if k in item}
    if own:
        conditions.append(_condition({**own, "case_insensitive": case_insensitive}, fail, ""))
    all_of = item.get("all_of", [])
    if not isinstance(all_of, list):
        raise fail("all_of", "must be a list of conditions")
    if len(all_of) > MAX_CONDITIONS:
        raise fail("all_of", f"more than {MAX_CONDITIONS} conditions")
    for position, condition in enumerate(all_of):
        if not isinstance(condition, dict):
            raise fail(f"all_of[{position}]", "a condition must be a mapping")
        extra = sorted(str(k) for k in condition if k not in CONDITION_KEYS)
        if extra:
            raise fail(f"all_of[{position}].{extra[0]}", "unknown key (allowed: "
                       f"{', '.join(sorted(CONDITION_KEYS))})")
        conditions.append(_condition({"case_insensitive": case_insensitive, **condition}, fail,
                                     f"all_of[{position}]."))
    if not conditions:
        raise fail("pattern", "missing (give location, pattern_type and pattern, or all_of)")
    return Fingerprint(id=ident, provider=texts["provider"], kind=KINDS[kind],
                       source=texts["source"], conditions=tuple(conditions),
                       description=texts["description"], origin=origin)


def _text(value: Any, name: str, fail) -> str:  # type: ignore[no-untyped-def]
    if not isinstance(value, str):
        raise fail(name, "must be text")
    value = value.strip()
    if len(value) > TEXT_LIMITS[name]:
        raise fail(name, f"longer than {TEXT_LIMITS[name]} characters")
    # These fields end up in reports and web pages: plain text only.
    if "<" in value or ">" in value:
        raise fail(name, "must be plain text (no < or >)")
    if any(ord(c) < 32 for c in value):
        raise fail(name, "contains control characters")
    return value


def _condition(spec: dict[str, Any], fail, prefix: str) -> Condition:  # type: ignore[no-untyped-def]
    for name in ("location", "pattern_type", "pattern"):
        if name not in spec or spec[name] in (None, ""):
            raise fail(prefix + name, "missing")
    location = spec["location"]
    header = None
    if not isinstance(location, str):
        raise fail(prefix + "location", "must be text")
    if location.lower().startswith("header:"):
        header = location.split(":", 1)[1].strip()
        if not _HEADER_NAME.fullmatch(header):
            raise fail(prefix + "location", f"{location!r} is not header:<name>")
        header, location = header.lower(), "header"
    elif location not in ("status", "body", "title"):
        raise fail(prefix + "location", f"{location!r} is not status, header:<name>, body "
                                        "or title")
    pattern_type = spec["pattern_type"]
    if pattern_type not in PATTERN_TYPES:
        raise fail(prefix + "pattern_type", f"{pattern_type!r} is not exact, contains or regex")
    pattern = spec["pattern"]
    if isinstance(pattern, bool) or not isinstance(pattern, str | int):
        raise fail(prefix + "pattern", "must be text")
    pattern = str(pattern)
    if len(pattern) > MAX_PATTERN:
        raise fail(prefix + "pattern", f"longer than {MAX_PATTERN} characters")
    case_insensitive = spec.get("case_insensitive", True)
    if not isinstance(case_insensitive, bool):
        raise fail(prefix + "case_insensitive", "must be true or false")
    regex, cost = None, 0
    if pattern_type == "regex":
        try:
            regex, cost = compile_regex(pattern, case_insensitive)
        except ValueError as exc:
            raise fail(prefix + "pattern", str(exc)) from None
    return Condition(location=location, header=header, pattern_type=pattern_type,
                     pattern=pattern, case_insensitive=case_insensitive, regex=regex, cost=cost)


# RE2's search is linear in the text, times the program size when its DFA cache overflows and
# it falls back to the NFA: a program of 7,000 instructions took 0.4 s on a hostile 64 KiB
# body, so the total bounds one body to about 2 s. `[^z]{0,1000}z` is 10,005 (a negated class
# spans the UTF-8 ranges); the built-in fingerprints together are under 1,000.
REGEX_PROGRAM_BUDGET = 12_000
TOTAL_PROGRAM_BUDGET = 40_000


def engine() -> str:
    """"re2", or "re" where the google-re2 wheel is missing (see the module docstring)."""
    return "re" if re2 is None else "re2"


def _python_syntax(pattern: str) -> Any:
    """Python's parse tree of `pattern`. Raises ValueError when Python's re refuses it: RE2
    reads some of those as literals (``a{0,99999999999999999999}`` matches that very text),
    which is not what the fingerprint's author meant."""
    try:
        return _sre_parse.parse(pattern)
    except re.error as exc:
        raise ValueError(f"bad regular expression: {exc}") from None
    except OverflowError:   # a{0,99999999999999999999}
        raise ValueError("bad regular expression: a repeat count is too large") from None
    except RecursionError:
        raise ValueError("regular expression nested too deeply") from None


def _missing_construct(tree: Any) -> str | None:
    """The first construct of a parse tree that Python's re has and RE2 has not, in words."""
    names = {_sre_c.GROUPREF: "backreferences", _sre_c.GROUPREF_EXISTS: "backreferences",
             _sre_c.ASSERT: "look-ahead and look-behind assertions",
             _sre_c.ASSERT_NOT: "look-ahead and look-behind assertions"}
    for name in ("ATOMIC_GROUP", "POSSESSIVE_REPEAT"):
        if hasattr(_sre_c, name):
            names[getattr(_sre_c, name)] = "atomic groups and possessive repeats"
    stack = [tree]
    while stack:
        for op, av in stack.pop():
            if op in names:
                return names[op]
            stack.extend(_children(av))
    return None


def compile_regex(pattern: str, case_insensitive: bool) -> tuple[Any, int]:
    """The compiled pattern and its cost (see Condition.cost). Raises ValueError saying why a
    pattern is refused: bad syntax, a construct RE2 cannot run, or too large a program."""
    if re2 is None:
        problem = unsafe_regex(pattern)
        if problem:
            raise ValueError(problem)
        try:
            return (re.compile(pattern, re.IGNORECASE if case_insensitive else 0),
                    _regex_cost(pattern))
        except re.error as exc:
            raise ValueError(f"bad regular expression: {exc}") from None
    tree = _python_syntax(pattern)
    options = re2.Options()
    options.log_errors = False          # the error is raised to the caller, not printed
    options.case_sensitive = not case_insensitive
    try:
        regex = re2.compile(pattern, options)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else str(exc)
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        missing = _missing_construct(tree)
        if missing is not None:
            raise ValueError(f"{missing} are not supported: regular expressions run with RE2, "
                             f"whose time is linear in the page ({reason})") from None
        raise ValueError(f"bad regular expression: {reason}") from None
    if regex.programsize > REGEX_PROGRAM_BUDGET:
        raise ValueError(f"too large for RE2 once compiled ({regex.programsize} > "
                         f"{REGEX_PROGRAM_BUDGET}); use smaller repeat counts")
    return regex, regex.programsize


_REPEATS = {_sre_c.MAX_REPEAT, _sre_c.MIN_REPEAT}
_REPEATS |= {getattr(_sre_c, "POSSESSIVE_REPEAT", _sre_c.MAX_REPEAT)}
_BACKREFS = {_sre_c.GROUPREF, _sre_c.GROUPREF_EXISTS}
REPEAT_BUDGET = 1024     # product of (maximum + 1) over the repeats of one pattern
# Sum of the costs of every regex loaded (built-in ones: about 700). A case-insensitive search
# costs about 7 ns per character and path: at most about 2 s for one 64 KiB body (measured:
# 15 regexes of cost 1002 took 6.9 s a body, for every URL, twice).
TOTAL_BUDGET = 4 * REPEAT_BUDGET


def unsafe_regex(pattern: str) -> str | None:
    """Why the pattern could make Python's backtracking engine slow (None if it cannot, as far
    as a structural check tells).

    Refused: unbounded repeats (``*``, ``+``, ``{n,}``: write ``{0,200}``), nested repeats like
    ``(a{0,9}){0,9}``, repeated alternations like ``(a|ab){0,9}``, backreferences, and repeats
    whose maxima multiply beyond REPEAT_BUDGET. With these rules a search costs at most about
    ``len(text) * REPEAT_BUDGET`` steps, and the text is capped at MATCH_CHARS.
    """
    try:
        tree = _python_syntax(pattern)
    except ValueError as exc:
        return str(exc)
    try:
        cost = _cost(tree, inside_repeat=False)
    except _Unsafe as exc:
        return str(exc)
    if cost > REPEAT_BUDGET:
        return (f"its repeats allow too many combinations ({cost} > {REPEAT_BUDGET}); "
                "use smaller maxima")
    return None


def _regex_cost(pattern: str) -> int:
    """The cost ``unsafe_regex`` computed for a pattern it accepted."""
    return _cost(_sre_parse.parse(pattern), inside_repeat=False)


class _Unsafe(Exception):
    pass


def _cost(node: Any, inside_repeat: bool) -> int:
    """Backtracking combinations of a sequence: the product of its repeats' (maximum + 1);
    an alternation costs the sum of its branches."""
    cost = 1
    for op, av in node:
        if op in _BACKREFS:
            raise _Unsafe("backreferences are not allowed")
        if op in _REPEATS:
            _low, high, sub = av
            if high >= _sre_c.MAXREPEAT:
                raise _Unsafe("unbounded repeats (*, +, {n,}) are not allowed: give a maximum, "
                              "e.g. {0,200}")
            repeats = high > 1
            if repeats and inside_repeat:
                raise _Unsafe("nested quantifiers (such as (a+)+) are not allowed")
            inner = _cost(sub, inside_repeat or repeats)
            # Each of the ``high`` passes picks among the body's ``inner`` paths: (a?){20}
            # has 2**20 of them, not 21 * 2 (an exponential ReDoS that passed as cost 882).
            paths = inner ** min(high, 64) if repeats and inner > 1 else inner
            cost *= (high + 1) * min(paths, REPEAT_BUDGET * 1024)
        elif op is _sre_c.BRANCH:
            if inside_repeat:
                raise _Unsafe("a repeated alternation (such as (a|ab)*) is not allowed")
            cost *= sum(_cost(branch, inside_repeat) for branch in av[1])
        else:
            for child in _children(av):
                cost *= _cost(child, inside_repeat)
        cost = min(cost, REPEAT_BUDGET * 1024)      # the verdict is known; stop the growth
    return cost


def _children(av: Any) -> Iterator[Any]:
    if isinstance(av, _sre_parse.SubPattern):
        yield av
    elif isinstance(av, tuple | list):
        for item in av:
            yield from _children(item)
