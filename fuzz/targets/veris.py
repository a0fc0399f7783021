"""VERIS incidents (exchange/formats/veris.py)."""

from fuzz.harness import Target
from fuzz.targets._exchange import REFUSALS, run_format


def run(data: bytes) -> None:
    run_format("veris", data, "upload.json")


TARGET = Target(
    name="veris",
    seeds=("tests/fixtures/veris/*.json",),
    run=run,
    refusals=REFUSALS,
    kind="json",
)
