"""Evidence bundles (evidence/bundle.py), as ``sentinelle evidence verify`` and a bundle
submission read them: ``verify`` (hashes, member list, signature) and ``read_manifest``.
``verify`` answers problems in its result; ``BundleError`` is the refusal of the readers.

One input is a zip (``PK``) read as it is, or a manifest (``{``): a bundle is then built
around it (the seed's files, the manifest's exact bytes, a signature by a fixed test key), so
that mutations of the manifest reach the checks behind the zip's CRC and the signature.
"""

from __future__ import annotations

import base64
import os
import tempfile
import zipfile

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fuzz.harness import Target
from sentinelle.evidence import bundle

# A fixed test key (never a real one): the seed bundle in fuzz/corpus/bundle/ is signed with it.
KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
FILES = {"measurements.jsonl": b'{"input": "https://example.org/", "verdict": "accessible"}\n',
         "transcripts/0001.txt": b"GET / HTTP/1.1\r\nHost: example.org\r\n\r\n"}


def _signed_zip(path: str, manifest: bytes) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in FILES.items():
            archive.writestr(name, content)
        archive.writestr(bundle.MANIFEST, manifest)
        archive.writestr(bundle.SIGNATURE, base64.b64encode(KEY.sign(manifest)) + b"\n")


def run(data: bytes) -> None:
    handle, path = tempfile.mkstemp(suffix=".zip", prefix="fuzz-bundle-")
    try:
        if data.lstrip()[:1] == b"{":
            os.close(handle)
            _signed_zip(path, data)
        else:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
        bundle.verify(path)
        bundle.verify(path, KEY.public_key())
        bundle.read_manifest(path)
    finally:
        os.unlink(path)


TARGET = Target(
    name="bundle",
    seeds=(),
    run=run,
    refusals=(bundle.BundleError,),
    kind="json",
)


def write_seeds(directory: str) -> None:
    """Write the seed corpus: a bundle signed with KEY and its manifest alone."""
    path = os.path.join(directory, "probe.zip")
    with bundle.BundleWriter(path, kind="access-probe", signing_key=KEY,
                             command_line=["sentinelle", "probe", "run"]) as writer:
        for name, content in FILES.items():
            writer.add_bytes(name, content)
        writer.set("summary", {"urls": 1, "accessible": 1})
    with zipfile.ZipFile(path) as archive, \
            open(os.path.join(directory, "manifest.json"), "wb") as out:
        out.write(archive.read(bundle.MANIFEST))
