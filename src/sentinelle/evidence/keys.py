"""Ed25519 signing keys, stored as PEM (PKCS#8 private, SubjectPublicKeyInfo public)."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

MAX_KEY_FILE = 64 * 1024


class KeyFileError(ValueError):
    """A key file that cannot be used; the message names the file and why."""


def generate(path: str | Path, *, overwrite: bool = False) -> tuple[Path, Path]:
    """Write a new private key to ``path`` (mode 0600) and its public key to ``path.pub``."""
    private_path = Path(path)
    public_path = private_path.with_name(private_path.name + ".pub")
    for target in (private_path, public_path):
        if target.exists() and not overwrite:
            raise KeyFileError(f"{target} exists; refusing to overwrite a key")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    # Created 0600 from the start: the key never exists with wider permissions.
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    fd = os.open(private_path, flags, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    public_path.write_bytes(public_pem(key.public_key()))
    return private_path, public_path


def public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM,
                            serialization.PublicFormat.SubjectPublicKeyInfo)


def public_raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def fingerprint(key: Ed25519PublicKey) -> str:
    """SHA-256 of the raw public key, hex: short enough to read out over the telephone."""
    return hashlib.sha256(public_raw(key)).hexdigest()


def public_from_base64(text: str) -> Ed25519PublicKey:
    raw = base64.b64decode(text, validate=True)
    if len(raw) != 32:
        raise KeyFileError("an Ed25519 public key has 32 bytes")
    return Ed25519PublicKey.from_public_bytes(raw)


def _read(path: str | Path) -> bytes:
    path = Path(path)
    try:
        if path.stat().st_size > MAX_KEY_FILE:
            raise KeyFileError(f"{path}: too large to be a key file")
        return path.read_bytes()
    except OSError as exc:
        raise KeyFileError(f"{path}: {exc.strerror}") from None


def load_private(path: str | Path) -> Ed25519PrivateKey:
    return private_from_pem(_read(path), origin=str(path))


def load_signing_key(path: str | Path | None, option: str = "--sign-key") -> \
        Ed25519PrivateKey | None:
    """The key a tool signs its evidence bundle with, or None when ``path`` is not given.

    The one way the probe, the routing scan and a campaign's configuration read it; a
    KeyFileError names the option, the file and what is wrong with it (missing, unreadable,
    too large, not PEM, not Ed25519), once each."""
    if not path:
        return None
    try:
        return load_private(path)
    except KeyFileError as exc:
        raise KeyFileError(f"{option}: {exc}") from None


def private_from_pem(data: bytes, *, origin: str) -> Ed25519PrivateKey:
    """An unencrypted PEM Ed25519 private key; errors name ``origin`` (a file or variable)."""
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise KeyFileError(f"{origin}: not an unencrypted PEM private key ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{origin}: not an Ed25519 key")
    return key


def load_public(path: str | Path) -> Ed25519PublicKey:
    data = _read(path)
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm):
        try:   # The base64 of the raw key, as the manifest records it, is accepted too.
            return public_from_base64(data.decode("ascii").strip())
        except (ValueError, UnicodeDecodeError):
            raise KeyFileError(f"{path}: not a PEM or base64 Ed25519 public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise KeyFileError(f"{path}: not an Ed25519 key")
    return key
