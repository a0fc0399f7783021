"""Mutation fuzzing of the parsers a user can reach: a Target, a mutator and a runner.

Plain Python, no Django, like the parsers. Each target (fuzz/targets/<name>.py) defines
``TARGET = Target(...)``: its seed corpus (the repo's own test fixtures and
``fuzz/corpus/<name>/``), a ``run(data: bytes)`` that feeds one input to the parser and consumes
everything it yields, and the exception types that are the project's own refusal
(``FormatError``, ``WatchListError``, ...). Anything else is a failure:

- *unexpected*: any other exception (``UnicodeDecodeError``, ``RecursionError``, ``TypeError``);
- *hang*: one input takes longer than the per-input timeout;
- *out-of-memory*: ``MemoryError`` under the RLIMIT_AS cap, or a peak RSS above the cap;
- *crash*: the child process dies (a signal, a C stack overflow).

Inputs run in a child process (one per batch, not per input, for throughput) that the parent
feeds one input at a time over a pipe, so a hang is pinned on the exact input and the child is
killed and replaced. Every failing input is re-run alone in a fresh child to classify it, then
saved to ``fuzz/corpus/<name>/crashes/`` (with a ``.why`` note) so it becomes a regression seed.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import multiprocessing
import random
import re
import resource
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fuzz" / "corpus"
MiB = 1024 * 1024

# Defaults for a campaign; run.py and tests/fuzz/test_fuzz.py may pass others.
MAX_INPUT = 1 * MiB           # the mutator never produces more than this
MEMORY_CAP = 256 * MiB        # over the child's baseline: the bound for a 1 MB input
TIMEOUT = 10.0                # seconds per input: beyond this it is a hang


@dataclass(frozen=True)
class Target:
    """One parser under test.

    ``kind`` guides the structure-aware mutations: "json", "xml", "yaml", "text" or "binary".
    ``seeds`` are glob patterns relative to the repository root; ``fuzz/corpus/<name>/**`` is
    always added (saved crashes included). ``generated`` makes more seeds in code: inputs too
    big to keep as files (a 200k-character STIX pattern of each hostile shape). ``setup`` runs
    in each child before its first input and baseline memory (a database to post into: never
    at import, which the parent does too); it answers what ``Result.setups`` keeps. ``teardown``
    runs when the child stops (not when killed after a hang: ``setup`` cleans those).
    """

    name: str
    seeds: tuple[str, ...]
    run: Callable[[bytes], object]
    refusals: tuple[type[BaseException], ...]
    kind: str = "json"
    max_input: int = MAX_INPUT
    generated: Callable[[], list[bytes]] | None = None
    setup: Callable[[], object] | None = None
    teardown: Callable[[], object] | None = None

    def corpus_dir(self) -> Path:
        return CORPUS / self.name

    def seed_files(self) -> list[Path]:
        found: set[Path] = set()
        for pattern in self.seeds:
            found.update(Path(p) for p in glob.glob(str(ROOT / pattern), recursive=True))
        found.update(self.corpus_dir().glob("**/*"))
        return sorted(p for p in found if p.is_file() and p.suffix not in (".why", ".md"))

    def seed_inputs(self) -> list[bytes]:
        made = self.generated() if self.generated is not None else []
        return [p.read_bytes()[: self.max_input] for p in self.seed_files()] + [
            data[: self.max_input] for data in made]


# ----------------------------------------------------------------------------- mutator

# Replacement tokens: the kinds of value that broke parsers before (issue 11, finding 14).
_HUGE_NUMBER = b"9" * 5000
_TOKENS: tuple[bytes, ...] = (
    _HUGE_NUMBER, b"-" + _HUGE_NUMBER, b"1e99999", b"-0", b"NaN", b"Infinity", b"0x41",
    b'"\\ud800"', b'"\\udfff x"', b"\\ud800", b'"\\u0000"', b"\xed\xa0\x80", b"\xff\xfe",
    b"\xc3\x28", b"\x80", b"\xf4\x90\x80\x80", b"\x00",
    b"UF-8", b"utf-7", b"x-unknown-charset", b"latin-1", b"utf-16",
    b'"=cmd|\' /C calc\'!A0"', b"=HYPERLINK(\"http://x\")", b"+1+1", b"@SUM(1)",
    b'"<script>alert(1)</script>"', b"<img src=x onerror=alert(1)>", b"&lt;&#0;&#xD800;",
    b"null", b"true", b"false", b"{}", b"[]", b'{"a":{}}', b'[{"x":1}]', b'""', b"0", b"-1",
    b'"../../etc/passwd"', b'"[::1]"', b'"http://[::1"', b'"http://[1.2.3.4]/"',
    b'"999.1.1.1/99"', b'"AS99999999999"', b'"1970-01-01T00:00:00Z"', b'"9999-99-99"',
    b'"' + b"A" * 70000 + b'"', b"\r\n", b"\t", b"'", b'"', b"\\",
)


def _token_spans(data: bytes, kind: str) -> list[tuple[int, int]]:
    """Where a value sits: JSON strings/numbers, XML attribute values and text, YAML scalars."""
    if kind == "json":
        pattern = rb'"(?:[^"\\]|\\.){0,200}"|-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|true|false|null'
    elif kind == "xml":
        pattern = rb'"[^"<]{0,200}"|>[^<]{1,200}<'
    elif kind == "yaml":
        pattern = rb"(?m)(?<=: )[^\n]{1,200}$|(?<=- )[^\n]{1,200}$"
    else:
        pattern = rb"[^\s,;:]{1,200}"
    spans = [m.span() for m in re.finditer(pattern, data[:200_000])]
    return spans[:5000]


class Mutator:
    """Deterministic (seeded) mutations of seed inputs, never larger than ``max_input``."""

    def __init__(self, seeds: list[bytes], kind: str, max_input: int = MAX_INPUT,
                 rng: random.Random | None = None) -> None:
        self.seeds = [s for s in seeds if s] or [b"{}"]
        self.kind = kind
        self.max_input = max_input
        self.rng = rng or random.Random(0)
        self._spans: dict[int, list[tuple[int, int]]] = {}
        self.operators: list[Callable[[bytes], bytes]] = [
            self.flip, self.insert, self.delete, self.truncate, self.splice, self.repeat,
            self.replace_token, self.replace_token, self.replace_token, self.nest,
            self.swap_type, self.duplicate_key, self.grow_digits,
        ]

    def __iter__(self) -> Iterator[bytes]:
        while True:
            yield self.next()

    def next(self) -> bytes:
        rng = self.rng
        data = rng.choice(self.seeds)
        for _ in range(rng.choice((1, 1, 1, 2, 2, 3, 4))):
            data = rng.choice(self.operators)(data)
        return data[: self.max_input]

    # -- byte level
    def flip(self, data: bytes) -> bytes:
        if not data:
            return data
        buf = bytearray(data)
        for _ in range(self.rng.randint(1, 8)):
            i = self.rng.randrange(len(buf))
            buf[i] = self.rng.choice((buf[i] ^ (1 << self.rng.randrange(8)),
                                      self.rng.randrange(256), 0x80, 0xff, 0x00))
        return bytes(buf)

    def insert(self, data: bytes) -> bytes:
        i = self.rng.randint(0, len(data))
        chunk = self.rng.choice((bytes(self.rng.randrange(256) for _ in range(
            self.rng.randint(1, 16))), self.rng.choice(_TOKENS)))
        return data[:i] + chunk + data[i:]

    def delete(self, data: bytes) -> bytes:
        if len(data) < 2:
            return data
        i = self.rng.randrange(len(data))
        j = min(len(data), i + self.rng.choice((1, 2, 8, 64, 512)))
        return data[:i] + data[j:]

    def truncate(self, data: bytes) -> bytes:
        return data[: self.rng.randint(0, len(data))]

    def splice(self, data: bytes) -> bytes:
        other = self.rng.choice(self.seeds)
        return data[: self.rng.randint(0, len(data))] + other[self.rng.randint(0, len(other)):]

    def repeat(self, data: bytes) -> bytes:
        """Repeat a chunk many times: many small objects, long lines, big counts."""
        if not data:
            return data
        i = self.rng.randrange(len(data))
        chunk = data[i: i + self.rng.choice((1, 4, 32, 256, 2048))]
        times = self.rng.choice((2, 16, 256, 4096, 65536))
        times = max(1, min(times, (self.max_input - len(data)) // max(1, len(chunk))))
        return data[:i] + chunk * times + data[i:]

    # -- structure aware
    def _pick_span(self, data: bytes) -> tuple[int, int] | None:
        key = hash(data)
        spans = self._spans.get(key)
        if spans is None:
            if len(self._spans) > 64:
                self._spans.clear()
            spans = self._spans[key] = _token_spans(data, self.kind)
        return self.rng.choice(spans) if spans else None

    def replace_token(self, data: bytes) -> bytes:
        span = self._pick_span(data)
        if span is None:
            return self.insert(data)
        token = self.rng.choice(_TOKENS)
        start, end = span
        if self.kind == "xml" and data[start:start + 1] == b">":
            start, end = start + 1, end - 1
            token = token.strip(b'"')
        return data[:start] + token + data[end:]

    def swap_type(self, data: bytes) -> bytes:
        """A value of another type where the parser expects one: dict for a string, etc."""
        span = self._pick_span(data)
        if span is None:
            return data
        new = self.rng.choice((b"{}", b"[]", b'{"a": "b"}', b'[["x"]]', b"null", b"1", b"1.5",
                               b"true", b'"x"', b'{"": {"": []}}', b"[{}]"))
        return data[:span[0]] + new + data[span[1]:]

    def duplicate_key(self, data: bytes) -> bytes:
        span = self._pick_span(data)
        if span is None:
            return data
        piece = data[span[0]:span[1]]
        return data[:span[1]] + b", " + piece + b": " + piece + data[span[1]:]

    def grow_digits(self, data: bytes) -> bytes:
        """A run of digits anywhere, inside strings too (an ASN in a STIX pattern, a year in a
        date), made huge, negative or zero."""
        runs = [m.span() for m in re.finditer(rb"\d+", data[:200_000])][:5000]
        if not runs:
            return data
        start, end = self.rng.choice(runs)
        new = self.rng.choice((_HUGE_NUMBER, b"99999999999999999999", b"0", b"-1", b"00"))
        return data[:start] + new + data[end:]

    def nest(self, data: bytes) -> bytes:
        """Deep nesting at a value: the shape that ran parsers out of recursion and memory."""
        depth = self.rng.choice((100, 1000, 5000, 20000, 100000))
        if self.kind == "json":
            opener, closer = self.rng.choice(((b"[", b"]"), (b'{"a":', b"}")))
        elif self.kind == "xml":
            opener, closer = b"<a>", b"</a>"
        elif self.kind == "yaml":
            opener, closer = self.rng.choice(((b"[", b"]"), (b"{a: ", b"}")))
        else:
            opener, closer = b"(", b")"
        depth = max(1, min(depth, (self.max_input - len(data)) // (len(opener) + len(closer))))
        span = self._pick_span(data)
        start, end = span if span else (len(data) // 2, len(data) // 2)
        inner = data[start:end] if self.rng.random() < 0.5 else b""
        closing = closer * depth if self.rng.random() < 0.8 else b""   # sometimes unclosed
        return data[:start] + opener * depth + inner + closing + data[end:]


_VALUE = {
    "json": re.compile(rb':\s*("(?:[^"\\]|\\.){0,200}"|-?\d+|true|false|null)'),
    "xml": re.compile(rb">([^<>]{1,200})<"),
    "yaml": re.compile(rb"(?m):[ \t]+([^\n#]{1,200})$"),
}


def _shapes(kind: str, size: int) -> dict[str, bytes]:
    """Values of about `size` bytes, one per hostile shape."""
    if kind == "json":
        small = b'{"type":"x","id":"1"},'
        return {
            "deep": b"[" * (size // 2) + b"]" * (size // 2),
            "deep-objects": b'{"a":' * (size // 6) + b"1" + b"}" * (size // 6),
            "many-objects": b"[" + small * (size // len(small)) + b"{}]",
            "huge-string": b'"' + b"x" * size + b'"',
            "many-keys": b"{" + b",".join(b'"k%d":%d' % (i, i) for i in range(size // 16))
                         + b"}",
        }
    if kind == "xml":
        return {
            "deep": b"<a>" * (size // 7) + b"</a>" * (size // 7),
            "many-objects": b"<a x='1'/>" * (size // 10),
            "huge-string": b"x" * size,
        }
    if kind == "yaml":
        return {
            "deep": b"[" * (size // 2) + b"]" * (size // 2),
            "many-objects": b"[" + b"{a: 1}, " * (size // 8) + b"{}]",
            "huge-string": b"x" * size,
        }
    return {
        "many-lines": b"a,b,c\n" * (size // 6),
        "huge-line": b"x" * size,
        "binary": random.Random(1).randbytes(size),
    }


def hostile_inputs(kind: str, size: int = MAX_INPUT, seed: bytes | None = None
                   ) -> dict[str, bytes]:
    """Inputs of about `size` bytes of each hostile shape, for the memory bound: deep nesting,
    many small objects, one huge string (and, for text, many lines).

    With a `seed` (a real input), each shape also replaces a value in the middle of it, so
    that the input still looks like its format and reaches the parser, not only the sniffer.
    """
    standalone = {
        "json": {"deep": b"[" * (size // 2) + b"]" * (size // 2),
                 "many-objects": _shapes("json", size - 2)["many-objects"]},
        "xml": {"deep": b"<?xml version='1.0'?>" + _shapes("xml", size - 32)["deep"],
                "many-objects": b"<r>" + _shapes("xml", size - 8)["many-objects"] + b"</r>"},
        "yaml": {"deep": b"a: " + _shapes("yaml", size - 8)["deep"] + b"\n",
                 "many-objects": b"- {a: 1}\n" * (size // 9)},
    }.get(kind, {})
    result = dict(standalone)
    pattern = _VALUE.get(kind)
    if seed and pattern is not None:
        found = list(pattern.finditer(seed[:200_000]))
        if found:
            start, end = found[len(found) // 2].span(1)
            room = max(1024, size - len(seed))
            for shape, value in _shapes(kind, room).items():
                result[f"seed-{shape}"] = seed[:start] + value + seed[end:]
    elif seed:
        for shape, value in _shapes(kind, max(1024, size - len(seed))).items():
            result[f"seed-{shape}"] = seed + b"\n" + value
    if not seed or pattern is None:
        result.update((f"bare-{shape}", value) for shape, value in _shapes(kind, size - 8).items())
    return result


# ------------------------------------------------------------------------------ runner

@dataclass
class Failure:
    kind: str                 # unexpected | hang | out-of-memory | crash
    detail: str               # exception type and message, or what happened
    data: bytes
    trace: str = ""
    saved: Path | None = None


@dataclass
class Result:
    target: str
    inputs: int = 0
    refused: int = 0
    peak: int = 0             # bytes over the child's baseline RSS
    seconds: float = 0.0
    failures: list[Failure] = field(default_factory=list)
    setups: list = field(default_factory=list)   # what each child's Target.setup returned

    def count(self, kind: str) -> int:
        return sum(1 for f in self.failures if f.kind == kind)

    def summary(self) -> str:
        extra = "".join(f", {self.count(k)} {k}" for k in ("out-of-memory", "crash")
                        if self.count(k))
        return (f"{self.target}: {self.inputs:,} inputs, {self.count('unexpected')} unexpected,"
                f" {self.count('hang')} hangs{extra}, peak +{self.peak // MiB} MiB"
                f" ({self.refused:,} refused, {self.seconds:.0f} s)")


def _status_kb(field_name: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    return 0


def _reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0), so each input's peak is its own."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def _child(target_module: str, conn, memory_cap: int) -> None:  # noqa: ANN001 - a Connection
    """Child loop: import the target, cap memory, then run inputs until told to stop."""
    import importlib
    import sys
    import warnings

    sys.path.insert(0, str(ROOT))
    # re's "possible set difference" on a fuzzed pattern, thousands of times: noise.
    warnings.filterwarnings("ignore", category=FutureWarning)
    target: Target = importlib.import_module(target_module).TARGET
    info = target.setup() if target.setup is not None else None
    try:
        _serve(target, conn, memory_cap, info)
    finally:
        if target.teardown is not None:
            target.teardown()


def _serve(target: Target, conn, memory_cap: int, info: object) -> None:  # noqa: ANN001
    baseline_vm = _status_kb("VmSize") * 1024
    resource.setrlimit(resource.RLIMIT_AS, (baseline_vm + memory_cap + 64 * MiB,
                                            resource.RLIM_INFINITY))
    can_reset = _reset_peak()
    baseline = _status_kb("VmRSS") * 1024
    conn.send(("ready", baseline, info))
    while True:
        data = conn.recv_bytes()      # EOFError when the parent is gone: teardown still runs
        if data == b"\x00stop":
            return
        if can_reset:
            _reset_peak()
        outcome: tuple
        try:
            target.run(data)
            outcome = ("ok", "", "")
        except target.refusals as exc:
            outcome = ("refused", f"{type(exc).__name__}: {str(exc)[:300]}", "")
        except BaseException as exc:  # noqa: BLE001 - the fuzzer's whole point
            kind = "out-of-memory" if isinstance(exc, MemoryError) else "unexpected"
            try:
                trace = "".join(traceback.format_exception(exc, limit=-8))[-4000:]
            except BaseException:  # noqa: BLE001 - e.g. a RecursionError while formatting
                trace = ""
            outcome = (kind, f"{type(exc).__name__}: {str(exc)[:300]}", trace)
        peak = _status_kb("VmHWM") * 1024 - baseline
        conn.send((*outcome, peak))


class Worker:
    """One child process, fed one input at a time; ``info`` is what its setup returned."""

    def __init__(self, target_module: str, memory_cap: int) -> None:
        methods = multiprocessing.get_all_start_methods()
        ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        self.conn, child_conn = ctx.Pipe()
        self.process = ctx.Process(target=_child, args=(target_module, child_conn, memory_cap),
                                   daemon=True)
        self.process.start()
        child_conn.close()
        try:
            if not self.conn.poll(120):
                raise EOFError
            _ready, self.baseline, self.info = self.conn.recv()
        except (EOFError, OSError):
            self.close()
            raise RuntimeError(f"the fuzz child for {target_module} did not start (an import "
                               "error in the target? its traceback is above)") from None

    def run(self, data: bytes, timeout: float) -> tuple[str, str, str, int]:
        try:
            self.conn.send_bytes(data)
            if not self.conn.poll(timeout):
                self.close(grace=0)
                return ("hang", f"no answer within {timeout:g} s", "", 0)
            return self.conn.recv()
        except (EOFError, OSError, BrokenPipeError):
            self.process.join(1)
            code = self.process.exitcode
            self.close()
            return ("crash", f"the child process died (exit code {code})", "", 0)

    def close(self, grace: float = 10) -> None:
        """Stop the child, ``grace`` seconds to tear down; a hung one (0) is killed at once."""
        if self.process.is_alive():
            if grace:
                with contextlib.suppress(OSError):
                    self.conn.send_bytes(b"\x00stop")
            self.process.join(grace)
            if self.process.is_alive():
                self.process.kill()
                self.process.join(5)
        self.conn.close()

    @property
    def alive(self) -> bool:
        return self.process.is_alive()


def _innermost(trace: str) -> str:
    frames = re.findall(r'File "([^"]+)", line (\d+)', trace)
    return ":".join(frames[-1]) if frames else ""


def _save(target: Target, failure: Failure) -> Path:
    crashes = target.corpus_dir() / "crashes"
    crashes.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(failure.data).hexdigest()[:16]
    path = crashes / f"{failure.kind}-{digest}.bin"
    path.write_bytes(failure.data)
    path.with_suffix(".why").write_text(f"{failure.kind}: {failure.detail}\n\n{failure.trace}")
    return path


def _module_of(target: Target) -> str:
    """The module that defines TARGET: the child process imports it again by name."""
    import sys

    for name, module in list(sys.modules.items()):
        if getattr(module, "TARGET", None) is target:
            return name
    raise ValueError(f"target {target.name!r} is not the TARGET of an imported module")


def load_target(name: str) -> Target:
    import importlib
    import sys

    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return importlib.import_module(f"fuzz.targets.{name}").TARGET


def target_names() -> list[str]:
    return sorted(p.stem for p in (ROOT / "fuzz" / "targets").glob("*.py")
                  if not p.stem.startswith("_"))


def run_inputs(target: Target, inputs: Iterable[bytes], *, seconds: float | None = None,
               limit: int | None = None, timeout: float = TIMEOUT,
               memory_cap: int = MEMORY_CAP, save: bool = True,
               result: Result | None = None) -> Result:
    """Run inputs through the target in a child process until they run out, ``limit`` inputs
    or ``seconds`` have passed. A failing input is re-run alone in a fresh child to classify
    it (a flaky failure that does not reproduce is not counted) and saved when ``save``."""
    module = _module_of(target)
    result = result or Result(target.name)
    started = time.monotonic()
    worker: Worker | None = None
    seen_failures: set[bytes] = set()
    signatures: dict[tuple[str, str, str], int] = {}
    try:
        for data in inputs:
            if limit is not None and result.inputs >= limit:
                break
            if seconds is not None and time.monotonic() - started >= seconds:
                break
            if worker is None or not worker.alive:
                worker = Worker(module, memory_cap)
                result.setups.append(worker.info)
            status, detail, trace, peak = worker.run(data, timeout)
            result.inputs += 1
            if status in ("hang", "crash") and not worker.alive:
                worker = None
            if status in ("ok", "refused"):
                result.refused += status == "refused"
                if peak <= memory_cap:
                    result.peak = max(result.peak, peak)
                    continue
            # Re-run alone, in a fresh child: the failure must belong to this input.
            alone = Worker(module, memory_cap)
            try:
                status2, detail2, trace2, peak2 = alone.run(data, timeout)
            finally:
                alone.close()
            if status2 in ("ok", "refused") and peak2 <= memory_cap:
                continue
            if status2 in ("ok", "refused"):
                status2, detail2 = "out-of-memory", f"peak RSS +{peak2 // MiB} MiB"
            key = hashlib.sha256(data).digest()
            if key in seen_failures:
                continue
            seen_failures.add(key)
            failure = Failure(status2, detail2, data, trace2 or trace)
            # Two saved inputs per root cause (same kind, exception and innermost line) are
            # enough as regression seeds; the others are counted, not kept.
            signature = (status2, detail2.split(":", 1)[0], _innermost(failure.trace))
            signatures[signature] = signatures.get(signature, 0) + 1
            if save and signatures[signature] <= 2:
                failure.saved = _save(target, failure)
            result.failures.append(failure)
            if status2 == "out-of-memory" or status2 == "hang":
                if worker is not None:
                    worker.close()
                worker = None
    finally:
        if worker is not None:
            worker.close()
        result.seconds += time.monotonic() - started
    return result


def campaign(target: Target, *, seconds: float = 60, limit: int | None = None,
             seed: int = 0, timeout: float = TIMEOUT, memory_cap: int = MEMORY_CAP,
             save: bool = True, hostile: bool = True) -> Result:
    """Replay the seed corpus (and the 1 MB hostile shapes), then mutate until time is up."""
    seeds = target.seed_inputs()
    result = Result(target.name)
    first = list(seeds)
    if hostile:
        first += list(hostile_inputs(target.kind, target.max_input,
                                     seeds[0] if seeds else None).values())
    run_inputs(target, first, timeout=timeout, memory_cap=memory_cap, save=save,
               result=result)
    remaining = max(0.0, seconds - result.seconds)
    if (limit is None or result.inputs < limit) and remaining > 0:
        mutator = Mutator(seeds, target.kind, target.max_input, random.Random(seed))
        # `limit` counts the replayed inputs too: run_inputs compares it with result.inputs.
        run_inputs(target, mutator, seconds=remaining, limit=limit, timeout=timeout,
                   memory_cap=memory_cap, save=save, result=result)
    return result


def describe(failure: Failure) -> str:
    where = f" -> {failure.saved.relative_to(ROOT)}" if failure.saved else ""
    return f"  {failure.kind}: {failure.detail} ({len(failure.data):,} bytes){where}"


__all__ = ["Target", "Mutator", "Result", "Failure", "campaign", "run_inputs", "load_target",
           "target_names", "hostile_inputs", "describe", "MiB"]
