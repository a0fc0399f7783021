"""X-ARF v4 and v3 abuse reports, JSON or JSON lines (exchange/formats/xarf.py), read as an
upload with ``format=xarf``; every indicator is then normalised as the importer does."""

from fuzz.harness import Target
from fuzz.targets._exchange import REFUSALS
from fuzz.targets._indicators import run_format_normalised


def run(data: bytes) -> None:
    run_format_normalised("xarf", data, "report.json")


TARGET = Target(
    name="xarf",
    seeds=("tests/fixtures/xarf/*.json",),
    run=run,
    refusals=REFUSALS,
    kind="json",
)
