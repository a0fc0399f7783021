"""Evidence bundle verification cost on hostile zips (issue 11, finding 11).

    .venv/bin/python bench/evidence/run.py [--members 40000] [--bomb-mib 1024] [--keep DIR]

Builds, in a temporary folder, and times ``bundle.verify`` on each (one run, wall clock):

1. ``members``: an unsigned zip of N empty members, all listed in its manifest (the case that
   took ~30 s when duplicate names were counted with ``list.count``);
2. ``bomb``: an unsigned zip whose one member inflates to --bomb-mib MiB of zeros (about 1 MiB on
   disk), listed in its manifest with its true SHA-256 and size;
3. ``bomb-pinned``: the same bomb signed by an attacker's key, verified against the real
   signer's key (``--key``), as the platform and a careful third party do;
4. ``bomb-signed``: the same bomb signed by the key inside its manifest (no ``--key``): a bundle
   that is what it claims to be, so it is read, within the size caps.

Prints seconds per case and whether the bundle was refused, with its first problem.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.append(str(ROOT / "src"))   # after PYTHONPATH, so another tree can be measured

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from sentinelle.evidence import bundle, keys  # noqa: E402

MIB = 1024 * 1024


def manifest_bytes(files: list[dict], signer: Ed25519PrivateKey | None) -> bytes:
    manifest: dict = {"format": bundle.FORMAT, "kind": "access-probe", "files": files}
    if signer is not None:
        manifest["public_key"] = base64.b64encode(keys.public_raw(signer.public_key())).decode()
    return json.dumps(manifest, sort_keys=True).encode()


def many_members(path: Path, count: int) -> None:
    empty = hashlib.sha256(b"").hexdigest()
    files = [{"name": f"m/{i:06d}", "sha256": empty, "size": 0} for i in range(count)]
    with zipfile.ZipFile(path, "w") as out:
        for entry in files:
            out.writestr(entry["name"], b"")
        out.writestr(bundle.MANIFEST, manifest_bytes(files, None))


def bomb(path: Path, mib: int, signer: Ed25519PrivateKey | None) -> None:
    digest, zeros = hashlib.sha256(), bytes(MIB)
    for _ in range(mib):
        digest.update(zeros)
    files = [{"name": "zeros.bin", "sha256": digest.hexdigest(), "size": mib * MIB}]
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as out:
        with out.open("zeros.bin", "w", force_zip64=True) as member:
            for _ in range(mib):
                member.write(zeros)
        body = manifest_bytes(files, signer)
        out.writestr(bundle.MANIFEST, body)
        if signer is not None:
            out.writestr(bundle.SIGNATURE, base64.b64encode(signer.sign(body)))


def timed(label: str, path: Path, key=None) -> dict:
    started = time.perf_counter()
    result = bundle.verify(path, key)
    seconds = time.perf_counter() - started
    first = result.problems[0] if result.problems else ""
    print(f"{label:<12} {path.stat().st_size / MIB:8.1f} MiB on disk  {seconds:8.2f} s  "
          f"{'OK' if result.ok else 'refused'}  {first[:90]}", flush=True)
    return {"case": label, "seconds": round(seconds, 3), "ok": result.ok, "problem": first}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=40_000)
    parser.add_argument("--bomb-mib", type=int, default=1024)
    parser.add_argument("--keep", metavar="DIR", help="build the zips here and keep them")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-evidence-") as scratch:
        folder = Path(args.keep or scratch)
        folder.mkdir(parents=True, exist_ok=True)
        signer, attacker = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
        many_members(folder / "members.zip", args.members)
        bomb(folder / "bomb.zip", args.bomb_mib, None)
        bomb(folder / "bomb-attacker.zip", args.bomb_mib, attacker)
        results = [
            timed("members", folder / "members.zip"),
            timed("bomb", folder / "bomb.zip"),
            timed("bomb-pinned", folder / "bomb-attacker.zip", signer.public_key()),
            timed("bomb-signed", folder / "bomb-attacker.zip"),
        ]
        print(json.dumps(results))


if __name__ == "__main__":
    main()
