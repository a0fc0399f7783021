"""Parse an OpenPGP public key (plain Python, no Django: fuzzable alone).

A CIRT's key is what a reporter encrypts to; a key that does not parse, is a private key or has
expired is refused with the reason, so the directory never lists an unusable key."""

from __future__ import annotations

import datetime as dt
import warnings
from dataclasses import dataclass

MAX_KEY_BYTES = 64 * 1024


class PgpKeyError(ValueError):
    """The key was refused; the message says why."""


@dataclass(frozen=True)
class KeyInfo:
    fingerprint: str
    created: dt.datetime
    expires: dt.datetime | None
    user_ids: tuple[str, ...]
    algorithm: str


def parse_public_key(armored: str) -> KeyInfo:
    if len(armored.encode("utf-8", "replace")) > MAX_KEY_BYTES:
        raise PgpKeyError(f"the key is larger than {MAX_KEY_BYTES // 1024} KiB")
    if "BEGIN PGP PRIVATE KEY BLOCK" in armored:
        raise PgpKeyError("this is a private key: publish only the public key")
    if "BEGIN PGP PUBLIC KEY BLOCK" not in armored:
        raise PgpKeyError("not an ASCII-armoured public key block "
                        "(-----BEGIN PGP PUBLIC KEY BLOCK-----)")
    with warnings.catch_warnings():
        # PGPy warns about deprecated cryptography APIs: noise, not a property of the key.
        warnings.simplefilter("ignore")
        import pgpy

        try:
            key, _others = pgpy.PGPKey.from_blob(armored.strip())
        except Exception as exc:  # PGPy raises many types for malformed input
            raise PgpKeyError(f"the key does not parse: {exc or type(exc).__name__}") from None
        if not key.is_public:
            raise PgpKeyError("this is a private key: publish only the public key")
        expires = key.expires_at
        if expires is not None and expires < dt.datetime.now(dt.UTC):
            raise PgpKeyError(f"the key expired on {expires:%Y-%m-%d}")
        return KeyInfo(fingerprint=str(key.fingerprint).replace(" ", ""),
                       created=key.created, expires=expires,
                       user_ids=tuple(str(u.userid) for u in key.userids if u.userid),
                       algorithm=getattr(key.key_algorithm, "name", str(key.key_algorithm)))


def format_fingerprint(fingerprint: str) -> str:
    """Groups of four, as gpg prints it, so people can compare it by eye."""
    return " ".join(fingerprint[i:i + 4] for i in range(0, len(fingerprint), 4))
