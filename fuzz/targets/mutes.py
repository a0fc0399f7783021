"""The live monitor's mute files (observatory/routing/live/mutes.py), which operators may edit
by hand: the input is written as ``mutes.json`` and read by `MuteStore` (refusal: `MuteError`
naming the file and line), then as ``audit.jsonl`` of an otherwise empty state directory,
whose hash chain is verified and whose entries are polled into events (a bad audit line is
reported or skipped, never raised).

Seeds in ``fuzz/corpus/mutes/``: a mutes.json with two mutes and an audit log with add,
remove and expire entries (both written by MuteStore)."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from fuzz.harness import Target
from sentinelle.observatory.routing.live.mutes import MuteError, MuteStore

_DIR = Path(tempfile.mkdtemp(prefix="fuzz-mutes-"))
MUTES_LOG = logging.getLogger("sentinelle.observatory.routing.live.mutes")


def run(data: bytes) -> None:
    # Bad audit lines are logged; thousands of inputs need no log. The level is put back:
    # `make test` imports the targets into the process whose tests read that log.
    level = MUTES_LOG.level
    MUTES_LOG.setLevel(logging.CRITICAL)
    try:
        _run(data)
    finally:
        MUTES_LOG.setLevel(level)


def _run(data: bytes) -> None:
    mutes_dir, audit_dir = _DIR / "mutes", _DIR / "audit"
    mutes_dir.mkdir(exist_ok=True)
    audit_dir.mkdir(exist_ok=True)
    (audit_dir / "mutes.json").unlink(missing_ok=True)
    (audit_dir / "audit.jsonl").write_bytes(data)
    store = MuteStore(audit_dir)
    store.verify_audit()
    for event in store.poll(1_800_000_000.0):
        event.to_dict()
    (mutes_dir / "mutes.json").write_bytes(data)
    store = MuteStore(mutes_dir)  # MuteError on anything but a valid file
    for mute in store.list():
        store.matching("S|0", "190.6.64.0/24", 1_800_000_000.0)
        mute.to_dict()


TARGET = Target(
    name="mutes",
    seeds=(),
    run=run,
    refusals=(MuteError,),
    kind="json",
)
