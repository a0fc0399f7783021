"""OONI measurements, JSON lines (exchange/formats/ooni.py)."""

from fuzz.harness import Target
from fuzz.targets._exchange import REFUSALS, run_format


def run(data: bytes) -> None:
    run_format("ooni", data, "upload.jsonl")


TARGET = Target(
    name="ooni",
    seeds=("tests/fixtures/probe/ooni-spec-examples/*.json",),
    run=run,
    refusals=REFUSALS,
    kind="json",
)
