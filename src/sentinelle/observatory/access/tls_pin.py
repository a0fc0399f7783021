"""TLS for the control helper on the Internet: its server certificate, and the probe's pin of it.

The helper serves HTTPS itself (``probe helper --tls-cert CERT --tls-key KEY``, TLS 1.2 or
later). Its files are checked before it listens, so a bad deployment fails at start naming the
file — missing, unreadable, not PEM, an encrypted key, a key that is not the certificate's, a
certificate out of its validity dates — not at the first probe's handshake.

The probe pins the helper's **public key**: the SHA-256 of the certificate's
SubjectPublicKeyInfo, written as curl's ``--pinnedpubkey`` writes it, ``sha256//`` + base64
(HPKP's ``pin-sha256`` value). ``sha256:`` + base64 or + hex (colons allowed, as OpenSSL prints
fingerprints) is accepted too; several pins are separated by ``;`` (a backup key for rollover).
A key pin, not a certificate fingerprint: it survives a renewal that keeps the key (certbot
``--reuse-key``).

With a pin, the pin *is* the trust: the handshake succeeds only for whoever holds the private
key of the pinned public key (the server signs, or decrypts, with it), so the CA chain, the name
and the dates add nothing, and a self-signed certificate is as good as a CA-issued one. The pin
is checked on every connection after the handshake and before any byte of the request is sent.
Plain Python (ssl, cryptography), no Django.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import os
import ssl
import stat
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

__all__ = ["TLSFileError", "cert_pin", "client_context", "format_pin", "parse_pins",
           "peer_pin", "server_context", "spki_sha256"]

PIN_HELP = ("sha256//BASE64 (as curl --pinnedpubkey), sha256:BASE64 or sha256:HEX of the "
            "SHA-256 of the certificate's SubjectPublicKeyInfo")


class TLSFileError(ValueError):
    """The helper's certificate or key cannot be used; the message names the option and file."""


def spki_sha256(der_certificate: bytes) -> bytes:
    """SHA-256 of the SubjectPublicKeyInfo of a DER certificate (the peer's: outside input).
    ValueError for anything that is not a certificate with a key we can read."""
    try:
        return _spki_digest(x509.load_der_x509_certificate(der_certificate))
    except UnsupportedAlgorithm as exc:
        raise ValueError(f"certificate with an unsupported public key: {exc}") from None


def _spki_digest(certificate: x509.Certificate) -> bytes:
    spki = certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(spki).digest()


def format_pin(digest: bytes) -> str:
    return "sha256//" + base64.b64encode(digest).decode()


def parse_pins(text: str) -> list[bytes]:
    """The digests of ``sha256//B64[;sha256//B64…]`` (or ``sha256:`` + base64 or hex).
    Raises ValueError saying what is wrong and which forms are accepted."""
    digests = []
    for item in text.split(";"):
        item = item.strip()
        if item.startswith("sha256//"):
            value, forms = item[len("sha256//"):], ("base64",)
        elif item.lower().startswith("sha256:"):
            value, forms = item[len("sha256:"):], ("base64", "hex")
        else:
            raise ValueError(f"pin {item!r} must start with sha256// or sha256: ({PIN_HELP})")
        if not value:
            raise ValueError(f"pin {item!r} is empty ({PIN_HELP})")
        digest = _decode(value, forms)
        if digest is None:
            raise ValueError(f"pin {item!r} is neither base64 nor hex ({PIN_HELP})")
        if len(digest) != 32:
            raise ValueError(f"pin {item!r} is {len(digest)} bytes; a SHA-256 is 32 bytes")
        digests.append(digest)
    return digests


def _decode(value: str, forms: tuple[str, ...]) -> bytes | None:
    hex_text = value.replace(":", "")
    if "hex" in forms and len(hex_text) == 64:
        try:
            return bytes.fromhex(hex_text)
        except ValueError:
            return None
    try:
        # curl writes the padding; people copying a pin sometimes lose it
        return base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None


def client_context() -> ssl.SSLContext:
    """The probe's context toward a pinned helper: TLS 1.2+, trust by the pin only (see the
    module's docstring), so no CA, name or date check here."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["http/1.1"])
    return context


def peer_pin(ssl_object: ssl.SSLObject | ssl.SSLSocket | None) -> bytes | None:
    """The SPKI digest of the certificate the peer presented (None: no TLS or no certificate)."""
    if ssl_object is None:
        return None
    der = ssl_object.getpeercert(binary_form=True)
    return spki_sha256(der) if der else None


# ---- the helper's side -----------------------------------------------------------------------

MAX_PEM_BYTES = 1024 * 1024      # a key, or a certificate and its chain: a few KiB


def _read(option: str, path: Path) -> bytes:
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; a FIFO or a device (/dev/zero)
        # would block the start or fill the memory, so only a regular file is read.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as stream:
            if not stat.S_ISREG(os.fstat(stream.fileno()).st_mode):
                raise TLSFileError(f"{option} {path}: not a regular file")
            data = stream.read(MAX_PEM_BYTES + 1)
        if len(data) > MAX_PEM_BYTES:
            raise TLSFileError(f"{option} {path}: larger than {MAX_PEM_BYTES} bytes; not a "
                               "PEM certificate or key")
        return data
    except FileNotFoundError:
        raise TLSFileError(f"{option} {path}: no such file") from None
    except IsADirectoryError:
        raise TLSFileError(f"{option} {path}: is a directory, not a PEM file") from None
    except PermissionError:
        raise TLSFileError(f"{option} {path}: cannot read it (permission denied)") from None
    except OSError as exc:
        raise TLSFileError(f"{option} {path}: cannot read it ({exc.strerror or exc})") from None


def _private(key_file: Path) -> None:
    """Refuse a key that every local user may read or write (as ssh refuses an unprotected
    key): whoever reads it can pass for the pinned helper. Group access is left to the owner
    (ssl-cert groups); systemd's LoadCredential= copies are 0400."""
    if os.name != "posix":
        return
    try:
        mode = key_file.stat().st_mode          # the target's mode, through a symlink
    except OSError as exc:
        raise TLSFileError(f"--tls-key {key_file}: cannot read it "
                           f"({exc.strerror or exc})") from None
    if mode & (stat.S_IROTH | stat.S_IWOTH):
        raise TLSFileError(f"--tls-key {key_file}: readable or writable by every user (mode "
                           f"{stat.S_IMODE(mode):04o}); make it the helper's only: chmod 600, "
                           "or systemd LoadCredential=")


def _leaf(path: Path) -> x509.Certificate:
    data = _read("--tls-cert", path)
    try:
        # the first certificate is the server's; a chain file (fullchain.pem) follows with its CAs
        return x509.load_pem_x509_certificates(data)[0]
    except (ValueError, IndexError):
        raise TLSFileError(f"--tls-cert {path}: no PEM certificate in it") from None


def cert_pin(cert_path: str | Path) -> str:
    """The pin of the (first) certificate in a PEM file, for ``--print-pin``."""
    try:
        return format_pin(_spki_digest(_leaf(Path(cert_path))))
    except UnsupportedAlgorithm as exc:
        raise TLSFileError(f"--tls-cert {cert_path}: unsupported public key ({exc})") from None


def server_context(cert_path: str | Path | None, key_path: str | Path | None,
                   now: dt.datetime | None = None) -> ssl.SSLContext:
    """The helper's server context, after checking both files; TLSFileError names the problem."""
    if not cert_path or not key_path:
        missing = "--tls-key" if cert_path else "--tls-cert"
        raise TLSFileError(f"{missing} is required: HTTPS needs both --tls-cert and --tls-key")
    cert, key_file = Path(cert_path), Path(key_path)
    leaf = _leaf(cert)
    key_data = _read("--tls-key", key_file)
    try:
        key = serialization.load_pem_private_key(key_data, password=None)
    except TypeError:
        # A passphrase would be asked on a terminal the service does not have.
        raise TLSFileError(f"--tls-key {key_file}: the key is encrypted with a passphrase; give "
                           "it unencrypted, readable by the helper only (systemd: "
                           "LoadCredential=)") from None
    except (ValueError, UnsupportedAlgorithm):
        raise TLSFileError(f"--tls-key {key_file}: no PEM private key in it") from None
    own = key.public_key().public_bytes(serialization.Encoding.DER,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    try:
        certified = leaf.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    except UnsupportedAlgorithm as exc:
        raise TLSFileError(f"--tls-cert {cert}: unsupported public key ({exc})") from None
    if own != certified:
        raise TLSFileError(f"--tls-key {key_file}: does not match the certificate in --tls-cert "
                           f"{cert} (their public keys differ)")
    now = now or dt.datetime.now(dt.UTC)
    if leaf.not_valid_after_utc <= now:
        raise TLSFileError(f"--tls-cert {cert}: the certificate expired on "
                           f"{leaf.not_valid_after_utc:%Y-%m-%d %H:%M} UTC")
    if leaf.not_valid_before_utc > now:
        raise TLSFileError(f"--tls-cert {cert}: the certificate is not valid before "
                           f"{leaf.not_valid_before_utc:%Y-%m-%d %H:%M} UTC")
    _private(key_file)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["http/1.1"])
    try:
        context.load_cert_chain(cert, key_file, password=lambda: b"")
    except (ssl.SSLError, OSError) as exc:
        raise TLSFileError(f"--tls-cert {cert} / --tls-key {key_file}: OpenSSL refused them "
                           f"({getattr(exc, 'reason', None) or exc})") from None
    return context
