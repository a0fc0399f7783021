"""``sentinelle evidence keygen|verify``: runs without the platform or its database."""

from __future__ import annotations

import argparse
import json
import sys
from gettext import ngettext

from sentinelle.evidence import bundle, keys

EPILOG_KEYGEN = "example: sentinelle evidence keygen --out ~/.sentinelle/probe.key"
EPILOG_VERIFY = ("example: sentinelle evidence verify cu-2026-11.zip --key probe.key.pub\n"
                 "exit status 0 only if every file's SHA-256 and the signature hold.")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sentinelle evidence",
                                     description="Sign and verify evidence bundles.")
    sub = parser.add_subparsers(dest="command", required=True)
    keygen = sub.add_parser("keygen", help="make an Ed25519 key pair", epilog=EPILOG_KEYGEN,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    keygen.add_argument("--out", required=True, metavar="KEY",
                        help="private key file; the public key goes to KEY.pub")
    keygen.add_argument("--force", action="store_true", help="overwrite existing files")
    check = sub.add_parser("verify", help="check a bundle's hashes and signature",
                           epilog=EPILOG_VERIFY,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    check.add_argument("bundle", metavar="BUNDLE", help="the bundle (.zip) to check")
    check.add_argument("--key", metavar="PUB",
                       help="the signer's public key (default: the key in the manifest)")
    check.add_argument("--json", action="store_true", help="print the result as JSON")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "keygen":
        try:
            private, public = keys.generate(args.out, overwrite=args.force)
        except (keys.KeyFileError, OSError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(f"private key: {private} (keep it secret)")
        print(f"public key:  {public}")
        print(f"fingerprint: {keys.fingerprint(keys.load_public(public))}")
        return 0
    public_key = None
    if args.key:
        try:
            public_key = keys.load_public(args.key)
        except keys.KeyFileError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    result = bundle.verify(args.bundle, public_key)
    if args.json:
        print(json.dumps({"ok": result.ok, "problems": result.problems, "signer": result.signer,
                          "files": len((result.manifest or {}).get("files", []))}))
    elif result.ok:
        manifest = result.manifest or {}
        count = len(manifest.get("files", []))
        # stdlib gettext: this tool runs without Django (and so without its catalogues)
        print(ngettext("OK: %(count)d file and the signature hold",
                       "OK: %(count)d files and the signature hold", count) % {"count": count})
        tool = manifest.get("tool") or {}
        print(f"kind: {manifest.get('kind')}, created {manifest.get('created_at')}, "
              f"by {tool.get('name')} {tool.get('version')}")
        pinned = "" if args.key else " (key taken from the manifest: compare this fingerprint " \
                                     "with the one the signer published)"
        print(f"signer: {result.signer}{pinned}")
    else:
        print(f"FAILED: {args.bundle}", file=sys.stderr)
        for problem in result.problems:
            print(f"  - {problem}", file=sys.stderr)
    return 0 if result.ok else 1
