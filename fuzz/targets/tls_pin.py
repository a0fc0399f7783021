"""The probe's pin check (observatory/access/tls_pin.py): the certificate a control helper — or
whoever answers in its place — presents is outside input, parsed to hash its public key
(`spki_sha256`, refusal: ValueError); the same bytes are read as a `--control-pin` value
(`parse_pins`, refusal: ValueError naming the accepted forms).

Seeds in ``fuzz/corpus/tls_pin/``: two DER leaf certificates (ECDSA and RSA, made by trustme)
and a pin list in the accepted forms."""

from __future__ import annotations

import warnings

from cryptography.utils import CryptographyDeprecationWarning

from fuzz.harness import Target
from sentinelle.observatory.access.tls_pin import parse_pins, spki_sha256

# Mutated certificates break RFC 5280 in ways cryptography still reads but warns about.
warnings.filterwarnings("ignore", category=CryptographyDeprecationWarning)


def run(data: bytes) -> None:
    try:
        assert len(spki_sha256(data)) == 32
    finally:
        parse_pins(data.decode("latin-1"))


TARGET = Target(
    name="tls_pin",
    seeds=(),
    run=run,
    refusals=(ValueError,),
    kind="binary",
)
