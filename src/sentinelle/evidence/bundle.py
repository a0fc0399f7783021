"""The evidence bundle: one zip with the raw files, ``manifest.json`` and ``manifest.sig``.

The manifest lists every file with its SHA-256 and size, the tool and version, the command line,
times, the vantage and control identity and a kind-specific summary; ``manifest.sig`` is the
Ed25519 signature of the manifest's exact bytes. So one signature covers every byte of every
file, and a verifier needs only this module and the signer's public key.

Verification reads members with a size cap and refuses names that could escape a folder when
unpacked, symbolic links, members the manifest does not list and listed files that are missing: a
bundle that verifies holds exactly what was signed, nothing more. Everything that costs no more
than the zip's directory and the manifest (counts, names, declared sizes, the signature) is
checked first, and a single problem there refuses the bundle before any member is read, so a
hostile zip costs about what its directory costs, not what its members inflate to.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import posixpath
import shutil
import stat
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from sentinelle import __version__
from sentinelle.evidence import keys

FORMAT = "sentinelle-evidence/1"
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
# The bundle kinds, written once: the probe and the routing scan write them, the platform's
# BundleSubmission.Kind stores them and observatory/bundles reads each.
ACCESS_PROBE = "access-probe"
ROUTING_SCAN = "routing-scan"
KINDS = (ACCESS_PROBE, ROUTING_SCAN)
# A probe run may measure 100,000 URLs (observatory.access.targets.MAX_URLS), one transcript each,
# plus the measurements, the manifest and the signature.
MAX_MEMBERS = 100_100
MAX_MEMBER_SIZE = 4 * 1024**3     # per file, uncompressed
MAX_TOTAL_SIZE = 8 * 1024**3      # all files together, uncompressed
MAX_MANIFEST_SIZE = 64 * 1024**2
CHUNK = 1024 * 1024


class BundleError(ValueError):
    """A bundle that cannot be read or written; the message says which file and why."""


@dataclass
class VerifyResult:
    ok: bool
    problems: list[str] = field(default_factory=list)
    manifest: dict | None = None
    signer: str | None = None      # fingerprint of the key the signature was checked with


def check_name(name: str) -> str:
    """A member name that stays inside the bundle when unpacked anywhere."""
    if (not name or len(name) > 255 or "\\" in name or "\x00" in name or name.startswith("/")
            or posixpath.normpath(name) != name or name.split("/")[0] in ("..", ".")
            or ":" in name.split("/")[0] or name in (MANIFEST, SIGNATURE)):
        raise BundleError(f"unsafe or reserved file name in bundle: {name!r}")
    return name


class BundleWriter:
    """Write a bundle; files are hashed as they are copied, so nothing is held in memory."""

    def __init__(self, path: str | Path, *, kind: str,
                 signing_key: Ed25519PrivateKey | None = None,
                 command_line: list[str] | None = None) -> None:
        if kind not in KINDS:
            raise BundleError(f"unknown bundle kind {kind!r}; expected one of {', '.join(KINDS)}")
        self.path = Path(path)
        self.signing_key = signing_key
        self.files: list[dict[str, Any]] = []
        self.fields: dict[str, Any] = {}
        self.kind = kind
        self.command_line = list(command_line or [])
        self._partial = self.path.with_name(self.path.name + ".partial")
        # Stored, not deflated: every byte of a file's data is then the file itself, so any
        # change to it changes its hash (a flipped padding bit in a deflate stream would not).
        self._zip = zipfile.ZipFile(self._partial, "w", compression=zipfile.ZIP_STORED,
                                    allowZip64=True)

    def __enter__(self) -> BundleWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:   # Nothing half-written is left behind under the final name.
            self._zip.close()
            self._partial.unlink(missing_ok=True)

    def add_bytes(self, name: str, data: bytes) -> None:
        self.add_stream(name, io.BytesIO(data))

    def add_file(self, name: str, source: str | Path) -> None:
        with open(source, "rb") as handle:
            self.add_stream(name, handle)

    def add_stream(self, name: str, stream: BinaryIO) -> None:
        check_name(name)
        if any(entry["name"] == name for entry in self.files):
            raise BundleError(f"{name} is already in the bundle")
        digest, size = hashlib.sha256(), 0
        with self._zip.open(name, "w", force_zip64=True) as out:
            while chunk := stream.read(CHUNK):
                digest.update(chunk)
                size += len(chunk)
                out.write(chunk)
        self.files.append({"name": name, "sha256": digest.hexdigest(), "size": size})

    def set(self, key: str, value: Any) -> None:
        if key in ("format", "files", "kind", "tool", "created_at", "public_key",
                   "key_fingerprint", "command_line"):
            raise BundleError(f"{key} is written by the bundle itself")
        self.fields[key] = value

    def manifest(self) -> dict[str, Any]:
        manifest: dict[str, Any] = {
            "format": FORMAT,
            "kind": self.kind,
            "tool": {"name": "sentinelle", "version": __version__},
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "command_line": self.command_line,
            **self.fields,
            "files": self.files,
        }
        if self.signing_key is not None:
            public = self.signing_key.public_key()
            manifest["public_key"] = base64.b64encode(keys.public_raw(public)).decode()
            manifest["key_fingerprint"] = keys.fingerprint(public)
        return manifest

    def close(self) -> dict[str, Any]:
        manifest = self.manifest()
        body = json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True).encode()
        self._zip.writestr(MANIFEST, body)
        if self.signing_key is not None:
            self._zip.writestr(SIGNATURE, base64.b64encode(self.signing_key.sign(body)) + b"\n")
        self._zip.close()
        self._partial.replace(self.path)
        return manifest


def _open(path: str | Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except FileNotFoundError:
        raise BundleError(f"{path}: no such file") from None
    # zipfile raises NotImplementedError for zip versions and methods it does not know.
    except (zipfile.BadZipFile, OSError, NotImplementedError) as exc:
        raise BundleError(f"{path}: not a readable zip file ({exc})") from None


def _read_capped(archive: zipfile.ZipFile, name: str, cap: int) -> bytes:
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise BundleError(f"{name} is missing from the bundle") from None
    if info.file_size > cap:
        raise BundleError(f"{name} is larger than {cap} bytes")
    try:
        with archive.open(info) as handle:
            data = handle.read(cap + 1)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
        raise BundleError(f"{name} is damaged ({exc})") from None
    if len(data) > cap:   # The header may lie about the size; the stream does not.
        raise BundleError(f"{name} is larger than {cap} bytes")
    return data


def _manifest_bytes(archive: zipfile.ZipFile) -> tuple[bytes, dict]:
    body = _read_capped(archive, MANIFEST, MAX_MANIFEST_SIZE)
    try:
        manifest = json.loads(body)
    except ValueError as exc:
        raise BundleError(f"{MANIFEST} is not JSON ({exc})") from None
    except RecursionError:   # the C parser recurses: a deeply nested manifest is no manifest
        raise BundleError(f"{MANIFEST} is nested too deeply") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BundleError(f"{MANIFEST} is not a {FORMAT} manifest")
    if not isinstance(manifest.get("files"), list):
        raise BundleError(f"{MANIFEST} has no list of files")
    return body, manifest


def read_manifest(path: str | Path) -> dict:
    """The manifest, unverified (use ``verify`` before trusting it)."""
    with _open(path) as archive:
        return _manifest_bytes(archive)[1]


def read_member(path: str | Path, name: str, *, cap: int = 256 * 1024**2) -> bytes:
    check_name(name)
    with _open(path) as archive:
        return _read_capped(archive, name, cap)


def iter_member(path: str | Path, name: str) -> Iterator[bytes]:
    """A member's bytes in chunks, for files too large to read at once."""
    check_name(name)
    with _open(path) as archive, archive.open(name) as handle:
        yield from iter(lambda: handle.read(CHUNK), b"")


def _hash_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, cap: int) -> tuple[str, int]:
    """SHA-256 and size of a member, reading at most ``cap`` + 1 bytes whatever the header says."""
    digest, size = hashlib.sha256(), 0
    with archive.open(info) as handle:
        while chunk := handle.read(min(CHUNK, cap + 1 - size)):
            size += len(chunk)
            if size > cap:
                raise BundleError(f"{info.filename} is larger than {cap} bytes")
            digest.update(chunk)
    return digest.hexdigest(), size


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    """A member the zip marks as a symbolic link (Unix mode in the high 16 bits)."""
    return stat.S_ISLNK(info.external_attr >> 16)


def _signature_problem(archive: zipfile.ZipFile, body: bytes, manifest: dict,
                       public_key: Ed25519PublicKey | None) -> tuple[str | None, str | None]:
    """(problem, signer fingerprint) of the signature."""
    if SIGNATURE not in archive.namelist():
        return "the bundle is not signed (no manifest.sig)", None
    try:
        signature = base64.b64decode(_read_capped(archive, SIGNATURE, 1024).strip(),
                                     validate=True)
    except (ValueError, BundleError) as exc:
        return f"{SIGNATURE} is not a base64 signature ({exc})", None
    embedded = None
    if manifest.get("public_key"):
        try:
            embedded = keys.public_from_base64(str(manifest["public_key"]))
        except ValueError:
            return "the public key in manifest.json is not an Ed25519 key", None
    key = public_key or embedded
    if key is None:
        return "no public key: the manifest carries none and none was given (--key)", None
    if public_key is not None and embedded is not None \
            and keys.public_raw(public_key) != keys.public_raw(embedded):
        return ("the bundle was signed with key " + keys.fingerprint(embedded)
                + ", not the given key " + keys.fingerprint(public_key)), None
    try:
        key.verify(signature, body)
    except InvalidSignature:
        return f"{SIGNATURE}: the signature does not match manifest.json", keys.fingerprint(key)
    return None, keys.fingerprint(key)


def _listed_files(manifest: dict, problems: list[str]) -> dict[str, dict]:
    listed: dict[str, dict] = {}
    for position, entry in enumerate(manifest["files"]):
        try:
            name = check_name(str(entry["name"]))
            size = int(entry["size"])
            if size < 0:
                raise ValueError("negative size")
            if name in listed:
                raise ValueError(f"{name} is listed more than once")
            listed[name] = {"sha256": str(entry["sha256"]), "size": size}
        # OverflowError: int() of a float size such as 1e999 (infinity).
        except (KeyError, TypeError, ValueError, OverflowError, BundleError) as exc:
            problems.append(f"manifest.json files[{position}] is not valid ({exc})")
    return listed


def verify(path: str | Path, public_key: Ed25519PublicKey | None = None, *,
           max_members: int | None = None, max_total_size: int | None = None) -> VerifyResult:
    """Check every file's hash and size, that nothing was added or removed, and the signature.

    Without ``public_key`` the key in the manifest is used: that proves integrity since signing,
    and the caller should compare ``signer`` with the fingerprint the signer published.
    Members are hashed only once the signature, the member list and the declared sizes hold.
    """
    max_members = MAX_MEMBERS if max_members is None else max_members
    max_total_size = MAX_TOTAL_SIZE if max_total_size is None else max_total_size
    problems: list[str] = []
    try:
        archive = _open(path)
    except BundleError as exc:
        return VerifyResult(False, [str(exc)])
    with archive:
        infos = archive.infolist()
        if len(infos) > max_members:
            return VerifyResult(False, [f"more than {max_members} files in the bundle"])
        counts = Counter(info.filename for info in infos)
        problems += [f"{name} appears more than once in the zip"
                     for name, count in counts.items() if count > 1]
        problems += [f"{info.filename} is a symbolic link" for info in infos if _is_symlink(info)]
        try:
            body, manifest = _manifest_bytes(archive)
        except BundleError as exc:
            return VerifyResult(False, [*problems, str(exc)])
        problem, signer = _signature_problem(archive, body, manifest, public_key)
        if problem:
            problems.append(problem)
        listed = _listed_files(manifest, problems)
        by_name = {info.filename: info for info in infos}
        total = 0
        for name, expected in listed.items():
            info = by_name.get(name)
            if info is None:
                problems.append(f"{name} is listed in the manifest but missing")
            elif max(info.file_size, expected["size"]) > MAX_MEMBER_SIZE:
                problems.append(f"{name} is larger than {MAX_MEMBER_SIZE} bytes")
            elif info.file_size != expected["size"]:
                problems.append(f"{name}: the zip says {info.file_size} bytes, the manifest "
                                f"{expected['size']} bytes")
            total += expected["size"]
        if total > max_total_size:
            problems.append(f"the files add up to {total} bytes, more than {max_total_size}")
        problems += [f"{name} is in the zip but not in the manifest" for name in counts
                     if name not in listed and name not in (MANIFEST, SIGNATURE)]
        if problems:    # Refused on the directory and the manifest alone: nothing was inflated.
            return VerifyResult(False, problems, manifest, signer)
        for name, expected in listed.items():
            try:   # The header's size was checked; the stream is read no further than it.
                digest, size = _hash_member(archive, by_name[name], expected["size"])
            except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError,
                    BundleError) as exc:
                problems.append(f"{name} is damaged ({exc})")
                continue
            if digest != expected["sha256"] or size != expected["size"]:
                problems.append(f"{name}: SHA-256 {digest} ({size} bytes) does not match the "
                                f"manifest's {expected['sha256']} ({expected['size']} bytes)")
    return VerifyResult(not problems, problems, manifest, signer)


def extract(path: str | Path, name: str, destination: str | Path) -> Path:
    """Copy one member out of the bundle (names were checked, so it stays in ``destination``)."""
    check_name(name)
    target = Path(destination) / name
    target.parent.mkdir(parents=True, exist_ok=True)
    with _open(path) as archive, archive.open(name) as source, open(target, "wb") as out:
        shutil.copyfileobj(source, out, CHUNK)
    return target
