"""An answer of OONI's measurement API (GET /api/v1/measurements), as `sentinelle observatory
corroborate` reads it: ``observatory.ooni_api.parse_page``. A parsed answer must give strings
and booleans only, and a next_url that is a string or None."""

from __future__ import annotations

import dataclasses
import json

from fuzz.harness import Target
from sentinelle.observatory.ooni_api import OoniResponseError, parse_page


def run(data: bytes) -> None:
    measurements, next_url = parse_page(data)
    if next_url is not None and not isinstance(next_url, str):
        raise AssertionError(next_url)
    for measurement in measurements:
        for name, value in dataclasses.asdict(measurement).items():
            if not isinstance(value, str | bool):
                raise AssertionError(f"{name}: {value!r}")
        json.dumps(dataclasses.asdict(measurement))


TARGET = Target(
    name="ooni_api",
    seeds=("tests/data/ooni_api/*.json",),
    run=run,
    refusals=(OoniResponseError,),
    kind="json",
)
