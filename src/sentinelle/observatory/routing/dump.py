"""`sentinelle routing dump FILE...`: MRT files as `bgpdump -m` lines on stdout.

Problems with the input (truncated downloads, damaged framing, records that cannot be decoded,
unknown MRT types) are reported on stderr, one summary per file plus its first warnings, each
naming the byte range it skipped (offsets in the decompressed stream); the lines themselves
are what bgpdump prints, plus the routes bgpdump does not decode (see `bgpdump_format`), and
only from records that decode whole: a record with a length field that disagrees with its
bytes gives no line at all (issue 20), where bgpdump may print routes misread from it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from gettext import ngettext
from typing import TextIO

from .bgpdump_format import write_bgpdump
from .mrt import ReadStats
from .parallel import ParallelDump, resolve_jobs


def _problems(stats: ReadStats) -> list[str]:
    out = []
    if stats.truncated:
        out.append("truncated")
    if stats.skipped_records or stats.skipped_bytes:
        # stdlib gettext: the routing tools run without Django (and so without its catalogues)
        out.append(ngettext("%(count)d damaged region skipped", "%(count)d damaged regions "
                            "skipped", stats.skipped_records) % {"count": stats.skipped_records}
                   + f" ({stats.skipped_bytes} bytes, {stats.resyncs} resyncs)")
    if stats.repaired_records:
        out.append(f"{stats.repaired_records} records whose declared length was wrong read "
                   "to the next valid header")
    if stats.malformed_records:
        out.append(f"{stats.malformed_records} records that do not decode whole skipped")
    if stats.unknown_types:
        kinds = ", ".join(f"type {t}: {n}" for t, n in sorted(stats.unknown_types.items()))
        out.append(f"unknown MRT types skipped ({kinds})")
    if stats.unsupported:
        kinds = ", ".join(f"{k}: {n}" for k, n in sorted(stats.unsupported.items()))
        out.append(f"records without routes decoded ({kinds})")
    return out


USAGE = """usage: sentinelle routing dump [--bgpdump-only] [--jobs N] FILE...

Print the routes of MRT files (gzip, bzip2 or plain; "-" for stdin) as `bgpdump -m` lines.
Damaged or truncated input is reported on stderr; the readable part is still printed.

  --bgpdump-only  print only what bgpdump 1.6 prints (leave out TABLE_DUMP_V2 multicast and
                  RIB_GENERIC entries, BGP4MP_ENTRY routes and the extra entries of early
                  batched TABLE_DUMP records)
  --jobs N        decode in N processes (default 1; 0: one per CPU). The main process reads
                  and frames the file, the others decode batches of records; the output
                  and the warnings are the same as with one process

example:
  sentinelle routing dump updates.20261128.1200.gz | head
"""


def dump_main(paths: list[str], out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Print every file's routes as bgpdump -m lines. Exit status 0, 1 if a file could not
    be opened (the other files are still printed), 2 for a usage error."""
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    extended = True
    jobs = 1
    files = []
    args = iter(paths)
    for arg in args:
        if arg in ("-h", "--help"):
            out.write(USAGE)
            return 0
        if arg == "--bgpdump-only":
            extended = False
        elif arg == "--jobs" or arg.startswith("--jobs="):
            value = arg[len("--jobs="):] if arg.startswith("--jobs=") else next(args, None)
            try:
                jobs = int(value)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                jobs = -1
            if jobs < 0:
                print(f"sentinelle routing dump: --jobs needs a number >= 0, not {value!r}\n"
                      f"{USAGE}", file=err)
                return 2
        elif arg.startswith("-") and arg != "-":
            print(f"sentinelle routing dump: unknown option {arg}\n{USAGE}", file=err)
            return 2
        else:
            files.append(arg)
    if not files:
        print(f"sentinelle routing dump: no MRT file given\n{USAGE}", file=err)
        return 2
    jobs = resolve_jobs(jobs)
    if jobs <= 1:
        return _dump_files(files, out, err, extended, write_bgpdump)
    with ParallelDump(jobs) as pool:
        return _dump_files(files, out, err, extended, pool.write)


def _dump_files(files: list[str], out: TextIO, err: TextIO, extended: bool,
                write: Callable[..., int]) -> int:
    status = 0
    for path in files:
        stats = ReadStats()
        try:
            stream = sys.stdin.buffer if path == "-" else open(path, "rb")  # noqa: SIM115
        except OSError as exc:
            print(f"sentinelle routing dump: cannot open {path}: {exc.strerror or exc}",
                  file=err)
            status = 1
            continue
        try:
            lines = write(stream, out, stats, extended=extended)
        except BrokenPipeError:
            return status  # the reader of stdout went away (e.g. `| head`)
        finally:
            if stream is not sys.stdin.buffer:
                stream.close()
        problems = _problems(stats)
        if problems:
            counts = (ngettext("%(count)d record", "%(count)d records", stats.records)
                      % {"count": stats.records} + ", "
                      + ngettext("%(count)d line", "%(count)d lines", lines) % {"count": lines})
            print(f"{path}: {counts}; " + "; ".join(problems), file=err)
            for warning in stats.warnings:
                print(f"  warning: {warning}", file=err)
            if stats.suppressed_warnings:
                print(f"  ({stats.suppressed_warnings} more warnings)", file=err)
    return status
