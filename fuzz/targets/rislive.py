"""Recorded RIS-Live streams (observatory/routing/rislive.py), as ``routing scan --rislive``
reads them. The reader never refuses a file: bad frames are counted in its stats, so any
exception at all is a failure."""

import io

from fuzz.harness import Target
from sentinelle.observatory.routing.rislive import RisLiveStats, read_rislive


def run(data: bytes) -> None:
    stats = RisLiveStats()
    for _element in read_rislive(io.BufferedReader(io.BytesIO(data)), stats):
        pass


TARGET = Target(
    name="rislive",
    seeds=("tests/fixtures/bgp/rislive/*.json",),
    run=run,
    refusals=(),
    kind="json",
)
