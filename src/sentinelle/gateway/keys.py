"""Generate an OpenPGP key pair for demo data and tests (Ed25519: fast, and what gpg makes by
default). Never used for real CIRTs, which bring their own public key."""

from __future__ import annotations

import warnings


def generate_public_key(name: str, email: str) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgpy
        from pgpy.constants import EllipticCurveOID, HashAlgorithm, KeyFlags, PubKeyAlgorithm

        key = pgpy.PGPKey.new(PubKeyAlgorithm.EdDSA, EllipticCurveOID.Ed25519)
        key.add_uid(pgpy.PGPUID.new(name, email=email),
                    usage={KeyFlags.Sign, KeyFlags.Certify}, hashes=[HashAlgorithm.SHA256])
        return str(key.pubkey)
