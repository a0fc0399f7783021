"""The live monitor's outbox file (observatory/routing/live/outbox.py), which survives restarts
and may be damaged on disk: the input is written as ``outbox.sqlite3`` and opened with
`Outbox`, then its snapshot, counts and due rows are read, as the monitor does at start. A file
that is not an outbox, or a damaged one, is refused with `OutboxError` naming it; a row that
does not decode is rejected in the file, never raised. The same bytes are then checked as an
``X-Sentinelle-Signature`` header by `verify_signature`, which a webhook receiver runs on what
the network gives it: it answers True or False, never raises.

Seeds in ``fuzz/corpus/outbox/``: an outbox with three pending events, a muted one and a
snapshot (written by Outbox), and two copies with a damaged row each, the shapes the first
fuzzing found: invalid UTF-8 in a text column, wrong types (a list for a time, text for the
retry time and the attempts)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from fuzz.harness import Target
from sentinelle.observatory.routing.live.destinations.webhook import verify_signature
from sentinelle.observatory.routing.live.outbox import Outbox, OutboxError

_DIR = Path(tempfile.mkdtemp(prefix="fuzz-outbox-"))
DESTINATION = "webhook:http://127.0.0.1:9/hook"


def run(data: bytes) -> None:
    for name in ("outbox.sqlite3", "outbox.sqlite3-wal", "outbox.sqlite3-shm"):
        (_DIR / name).unlink(missing_ok=True)
    path = _DIR / "outbox.sqlite3"
    path.write_bytes(data)
    try:
        outbox = Outbox(path, [DESTINATION])
    except OutboxError:
        pass
    else:
        try:
            outbox.load_snapshot()
            outbox.counts()
            for _row, event in outbox.due(DESTINATION, 2_000_000_000.0):
                event.to_dict()
        finally:
            outbox.close()
    header = data[:4096].decode("latin-1")
    assert verify_signature("secret", header, data, now=1_700_000_000) in (True, False)


TARGET = Target(
    name="outbox",
    seeds=(),
    run=run,
    refusals=(OutboxError,),
    kind="binary",
)
