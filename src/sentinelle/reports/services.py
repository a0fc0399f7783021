"""Producing a Council report file and its annex CSV, all or nothing.

For ``--output NAME.EXT`` the annex is written beside it as ``NAME-annex.csv``. Each file is
written to a temporary file in the same folder and renamed into place only when complete, the
document last; on any failure the temporary files are removed and nothing is left behind.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sentinelle.analysis import stats_store
from sentinelle.reports import content, render
from sentinelle.reports.content.common import TREND_YEARS
from sentinelle.reports.options import ReportOptions


@dataclass
class Produced:
    document: bytes
    annex: bytes
    headings: list[str]


def produce(options: ReportOptions) -> Produced:
    # The report reads the statistics of its year and the trend's earlier years: the closed
    # ones' fingerprints are taken together, one pass over each table (stats_store).
    with stats_store.prefetched(range(options.year - TREND_YEARS + 1, options.year + 1)):
        doc = content.build(options)
    return Produced(document=render.RENDERERS[options.fmt](doc), annex=render.csv_bytes(doc),
                    headings=doc.headings())


def annex_path(output: Path) -> Path:
    return output.with_name(f"{output.stem}-annex.csv")


def _write_atomically(path: Path, data: bytes) -> Path:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        # mkstemp makes the file private; a report gets the usual permissions (umask).
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def write(options: ReportOptions, output: Path) -> tuple[Path, Path]:
    """Build the report and write it to ``output`` and its annex beside it."""
    output = Path(output)
    if not output.parent.is_dir():
        raise FileNotFoundError(f"no such folder: {output.parent}")
    produced = produce(options)
    annex = annex_path(output)
    temps: list[Path] = []
    try:
        temps.append(_write_atomically(annex, produced.annex))
        temps.append(_write_atomically(output, produced.document))
        os.replace(temps[0], annex)
        os.replace(temps[1], output)
    finally:
        for tmp in temps:
            tmp.unlink(missing_ok=True)
    return output, annex
