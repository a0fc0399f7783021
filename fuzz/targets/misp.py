"""MISP events (exchange/formats/misp.py)."""

from fuzz.harness import Target
from fuzz.targets._exchange import REFUSALS, run_format


def run(data: bytes) -> None:
    run_format("misp", data, "upload.json")


TARGET = Target(
    name="misp",
    seeds=("tests/fixtures/misp/*.json",),
    run=run,
    refusals=REFUSALS,
    kind="json",
)
