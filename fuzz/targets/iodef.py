"""IODEF v1 and v2 incident documents (exchange/formats/iodef.py), read as an upload with
``format=iodef``; every indicator is then normalised as the importer does."""

from fuzz.harness import Target
from fuzz.targets._exchange import REFUSALS
from fuzz.targets._indicators import run_format_normalised


def run(data: bytes) -> None:
    run_format_normalised("iodef", data, "incidents.xml")


TARGET = Target(
    name="iodef",
    seeds=("tests/fixtures/iodef/*.xml",),
    run=run,
    refusals=REFUSALS,
    kind="xml",
)
