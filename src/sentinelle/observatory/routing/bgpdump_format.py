"""Render decoded MRT rows as `bgpdump -m` lines (bgpdump 1.6 one-line format).

    BGP4MP|1279829701|A|193.203.0.97|286|62.140.65.0/24|286 6453|IGP|193.203.0.97|0|0|286:80|NAG||
    BGP4MP|1027377522|W|193.203.0.81|20751|200.31.199.0/24
    BGP4MP|1027377515|STATE|193.203.0.69|15737|3|2
    TABLE_DUMP2|1537344000|B|193.0.0.56|3333|2001:579:1040::/46|3333 2914 22773|IGP|...

Fields of A/B lines: type|time|A|peer|peer AS|prefix|[path id|]AS path|origin|next hop|
local pref|MED|communities|AG or NAG|aggregator AS and address|. BGP4MP_ET times carry
microseconds ("1445565678.509481"). Large communities are not printed (bgpdump needs -l).

`extended=False` prints exactly what bgpdump prints; the default also prints the routes
bgpdump does not decode (TABLE_DUMP_V2 multicast and RIB_GENERIC entries, the extra entries
of early batched TABLE_DUMP records), in the same layout.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from . import mrt_accel
from .mrt import ReadStats, Row, iter_rows
from .mrt_framing import decompressed, iter_records, open_input
from .mrt_records import Context, decode


def format_row(r: Row) -> str | None:
    """One bgpdump -m line for a row, None for a RIB entry whose peer is unknown."""
    if r[0] == "STATE":
        return f"{r[1]}|{r[3]}|STATE|{r[4]}|{r[5]}|{r[6]}|{r[7]}"
    head = r[14]
    if head is None:
        return None
    if r[0] == "W":
        return head + r[6] if r[7] is None else f"{head}{r[6]}|{r[7]}"
    tail = r[8].tail(r[9], r[10])
    return f"{head}{r[6]}|{tail}" if r[7] is None else f"{head}{r[6]}|{r[7]}|{tail}"


def bgpdump_lines(path_or_stream: str | Path | IO[bytes], stats: ReadStats | None = None,
                  *, extended: bool = True) -> Iterator[str]:
    """The bgpdump -m lines of an MRT file, without newlines."""
    for _raw, rows in iter_rows(path_or_stream, stats):
        for r in rows:
            if not extended and r[0] != "STATE" and not r[13]:
                continue
            line = format_row(r)
            if line is not None:
                yield line


def render_rows(rows: list[Row], append: Callable[[str], None], extended: bool = True) -> None:
    """Append the bgpdump -m lines (without newlines) of one record's rows. `write_bgpdump`
    and the `--jobs` workers (`parallel`) both render through here, so their output is the
    same byte for byte."""
    fmt = format_row
    for r in rows:
        # the common route lines inline, the rest through format_row
        if r[0] != "STATE" and r[7] is None and r[14] is not None:
            a = r[8]
            if a is None:
                append(r[14] + r[6])
            elif extended or r[13]:
                tails = a._tails
                tail = tails.get(r[9]) if tails is not None and r[10] == 0 else None
                if tail is None:
                    tail = a.tail(r[9], r[10])
                append(f"{r[14]}{r[6]}|{tail}")
            continue
        if not extended and r[0] != "STATE" and not r[13]:
            continue
        line = fmt(r)
        if line is not None:
            append(line)


FLUSH_LINES = 2048  # lines gathered before one write
FLUSH_BYTES = 1 << 18  # text gathered by the compiled path before one write


def write_bgpdump(path_or_stream: str | Path | IO[bytes], out: IO[str],
                  stats: ReadStats | None = None, *, extended: bool = True) -> int:
    """Write the bgpdump -m lines of a file to `out`; returns the number of lines.

    Through the compiled fast path (`mrt_accel`) when it is there, else `write_bgpdump_py`;
    both write the same bytes and leave the same `stats`."""
    if not mrt_accel.enabled():
        return write_bgpdump_py(path_or_stream, out, stats, extended=extended)
    stats = stats if stats is not None else ReadStats()
    fp, name, close = open_input(path_or_stream)
    try:
        ctx = Context(stats, name)
        return _write_fast(mrt_accel.renderer(ctx), ctx, fp, out, extended)
    finally:
        if close:
            fp.close()


def _write_fast(fast: object, ctx: Context, fp: IO[bytes], out: IO[str],
                extended: bool) -> int:
    """The loop of write_bgpdump_py with the compiled renderer tried first on each record;
    what it declines (-1, nothing done) is decoded and rendered by the Python code into the
    same buffer, so the lines stay in file order."""
    stats, name = ctx.stats, ctx.name
    record = fast.record  # type: ignore[attr-defined]
    add_lines = fast.text  # type: ignore[attr-defined]
    write = out.write
    n = 0
    lines: list[str] = []
    for raw, ts, typ, sub in iter_records(decompressed(fp, stats, name), stats, name):
        k = record(raw, ts, typ, sub)
        if k < 0:
            rows = decode(raw, ts, typ, sub, ctx)
            if not rows:
                continue
            render_rows(rows, lines.append, extended)
            if not lines:
                continue
            k = len(lines)
            add_lines(lines)
            lines.clear()
        n += k
        if fast.size >= FLUSH_BYTES:  # type: ignore[attr-defined]
            write(fast.take())  # type: ignore[attr-defined]
    if fast.size:  # type: ignore[attr-defined]
        write(fast.take())  # type: ignore[attr-defined]
    return n


def write_bgpdump_py(path_or_stream: str | Path | IO[bytes], out: IO[str],
                     stats: ReadStats | None = None, *, extended: bool = True) -> int:
    """write_bgpdump on the pure-Python reader alone (the definition of the output)."""
    n = 0
    write = out.write
    render = render_rows
    lines: list[str] = []
    append = lines.append
    for _raw, rows in iter_rows(path_or_stream, stats):
        if rows:
            render(rows, append, extended)
            if len(lines) >= FLUSH_LINES:
                n += len(lines)
                lines.append("")
                write("\n".join(lines))
                lines.clear()
    if lines:
        n += len(lines)
        lines.append("")
        write("\n".join(lines))
    return n
