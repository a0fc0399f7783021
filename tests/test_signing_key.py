"""The private key that signs an evidence bundle is read one way (``evidence.keys.
load_signing_key``) by the probe, the routing scan and a campaign's configuration; a key that
cannot be used stops the tool before it measures or writes anything, with the option, the file
and the reason, each said once."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sentinelle.evidence import keys
from sentinelle.observatory.access import cli as probe_cli
from sentinelle.observatory.routing import cli as routing_cli


def _bad_keys(folder: Path) -> dict[str, tuple[Path, str]]:
    """file -> (path, what the message must say about it)"""
    private, public = keys.generate(folder / "good.key")
    not_pem = folder / "garbage.key"
    not_pem.write_text("not a key\n")
    p256 = folder / "p256.key"
    p256.write_bytes(ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    huge = folder / "huge.key"
    huge.write_bytes(b"x" * (keys.MAX_KEY_FILE + 1))
    return {"missing": (folder / "missing.key", "No such file or directory"),
            "folder": (folder, "Is a directory"),
            "not pem": (not_pem, "not an unencrypted PEM private key"),
            "public": (public, "not an unencrypted PEM private key"),
            "not ed25519": (p256, "not an Ed25519 key"),
            "too large": (huge, "too large to be a key file")}


def test_a_good_key_loads_and_no_path_means_unsigned(tmp_path):
    private, _public = keys.generate(tmp_path / "k.key")
    assert isinstance(keys.load_signing_key(private), Ed25519PrivateKey)
    assert keys.load_signing_key(None) is None and keys.load_signing_key("") is None


def test_each_unusable_key_names_the_option_the_file_and_the_reason_once(tmp_path):
    for path, reason in _bad_keys(tmp_path).values():
        with pytest.raises(keys.KeyFileError) as refused:
            keys.load_signing_key(path, "sign_key")
        message = str(refused.value)
        assert message.startswith(f"sign_key: {path}: ") and reason in message
        assert message.count(str(path)) == 1


# A missing file the probe's argument parser refuses itself ("no such file"), before this.
@pytest.mark.parametrize("case", ["not pem", "public", "not ed25519"])
def test_the_probe_and_the_routing_scan_refuse_it_alike(tmp_path, capsys, case):
    path, reason = _bad_keys(tmp_path)[case]
    listing = tmp_path / "list.csv"
    listing.write_text("url,category_code\nhttps://example.org/,NEWS\n")
    # Port 9 is never reached: the key is read before any measurement.
    assert probe_cli.main(["run", "--list", str(listing), "--control", "http://127.0.0.1:9",
                           "--control-token", "t" * 32, "--output", str(tmp_path / "o.jsonl"),
                           "--bundle", str(tmp_path / "run.zip"), "--sign-key", str(path),
                           "--no-progress"]) == 2
    probe_err = capsys.readouterr().err
    watch = tmp_path / "watch.yaml"
    watch.write_text("states:\n  CU:\n    asns: [27725]\n    prefixes: [152.206.0.0/16]\n")
    feed = tmp_path / "rrc10.jsonl"
    feed.write_text("")
    assert routing_cli.main(["scan", "--rislive", str(feed), "--watch", str(watch),
                             "--output", str(tmp_path / "alerts.jsonl"),
                             "--bundle", str(tmp_path / "scan.zip"), "--sign-key", str(path),
                             "-q"]) == 2
    routing_err = capsys.readouterr().err
    for err in (probe_err, routing_err):
        assert f"--sign-key: {path}: " in err and reason in err
        assert err.count(str(path)) == 1
    assert not (tmp_path / "o.jsonl").exists() and not (tmp_path / "alerts.jsonl").exists()
    assert not (tmp_path / "run.zip").exists() and not (tmp_path / "scan.zip").exists()


def test_the_routing_scan_names_a_missing_key_once(tmp_path, capsys):
    path, reason = _bad_keys(tmp_path)["missing"]
    watch = tmp_path / "watch.yaml"
    watch.write_text("states:\n  CU:\n    asns: [27725]\n    prefixes: [152.206.0.0/16]\n")
    feed = tmp_path / "rrc10.jsonl"
    feed.write_text("")
    assert routing_cli.main(["scan", "--rislive", str(feed), "--watch", str(watch),
                             "--output", str(tmp_path / "alerts.jsonl"),
                             "--bundle", str(tmp_path / "scan.zip"), "--sign-key", str(path),
                             "-q"]) == 2
    err = capsys.readouterr().err
    assert f"error: --sign-key: {path}: {reason}" in err and err.count(str(path)) == 1
