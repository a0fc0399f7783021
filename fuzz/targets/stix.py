"""STIX 2.1 bundles, as uploaded for import (exchange/formats/stix.py)."""

from fuzz.harness import Target
from fuzz.targets._exchange import REFUSALS, run_format


def run(data: bytes) -> None:
    run_format("stix", data, "upload.json")


TARGET = Target(
    name="stix",
    seeds=("tests/fixtures/stix21/**/*.json",),
    run=run,
    refusals=REFUSALS,
    kind="json",
)
