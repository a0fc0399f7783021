"""RFC 5965 abuse reports, .eml (exchange/formats/arf.py), read as an upload with
``format=arf``; every indicator is then normalised as the importer does."""

from fuzz.harness import Target
from fuzz.targets._exchange import REFUSALS
from fuzz.targets._indicators import run_format_normalised


def run(data: bytes) -> None:
    run_format_normalised("arf", data, "report.eml")


TARGET = Target(
    name="arf",
    seeds=("tests/fixtures/arf/*.eml",),
    run=run,
    refusals=REFUSALS,
    kind="text",
)
