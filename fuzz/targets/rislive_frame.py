"""Live RIS Live websocket messages (observatory/routing/ris_live_client.py ``parse_frame``), as
``ris-live`` receives them: each input line is one message, fed as bytes (a binary frame) and
as text. Bad frames are counted and logged, never raised, so any exception is a failure."""

import logging

from fuzz.harness import Target
from sentinelle.observatory.routing.ris_live_client import LiveStats, parse_frame

CLIENT_LOG = logging.getLogger("sentinelle.observatory.routing.ris_live_client")


def run(data: bytes) -> None:
    # A malformed frame logs a warning; thousands of them would only slow the fuzzer down. The
    # level is put back: `make test` imports the targets into the process that tests the logs.
    level = CLIENT_LOG.level
    CLIENT_LOG.setLevel(logging.ERROR)
    try:
        stats = LiveStats()
        for number, line in enumerate(data.split(b"\n"), 1):
            parse_frame(line, stats, number)
            parse_frame(line.decode("utf-8", "replace"), stats, number)
    finally:
        CLIENT_LOG.setLevel(level)


TARGET = Target(
    name="rislive_frame",
    seeds=("tests/fixtures/bgp/rislive/*.json",),
    run=run,
    refusals=(),
    kind="json",
)
