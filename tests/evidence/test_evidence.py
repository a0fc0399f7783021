"""Evidence bundles: what a third party relies on when it checks a State's evidence."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from sentinelle.evidence import bundle, keys

FILES = {
    "measurements.jsonl": b'{"input": "https://example.org/", "verdict": "geoblocked"}\n' * 20,
    "transcripts/0001.json": json.dumps({"response": "HTTP/1.1 403 Forbidden"}).encode() * 10,
    "records/E0-190.6.64.0.mrt": bytes(range(256)) * 8,
}


@pytest.fixture
def key_pair(tmp_path):
    private, public = keys.generate(tmp_path / "probe.key")
    return keys.load_private(private), public


def make_bundle(path: Path, private_key=None, files=FILES) -> Path:
    with bundle.BundleWriter(path, kind="access-probe", signing_key=private_key,
                             command_line=["sentinelle", "probe", "run"]) as writer:
        for name, data in files.items():
            writer.add_bytes(name, data)
        writer.set("vantage", {"self_reported": {"cc": "CU", "asn": 27725}})
        writer.set("summary", {"count": 20})
    return path


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sentinelle.cli", "evidence", *args],
                          capture_output=True, text=True, timeout=60)


def test_a_signed_bundle_verifies_and_lists_every_file(tmp_path, key_pair):
    private, public = key_pair
    path = make_bundle(tmp_path / "b.zip", private)
    result = bundle.verify(path, keys.load_public(public))
    assert result.ok, result.problems
    manifest = result.manifest
    assert {f["name"] for f in manifest["files"]} == set(FILES)
    assert manifest["kind"] == "access-probe"
    assert manifest["command_line"] == ["sentinelle", "probe", "run"]
    assert manifest["tool"]["name"] == "sentinelle"
    assert manifest["vantage"]["self_reported"]["cc"] == "CU"
    assert result.signer == keys.fingerprint(keys.load_public(public))


def test_keygen_writes_a_private_key_only_its_owner_reads(tmp_path):
    completed = run_cli("keygen", "--out", str(tmp_path / "k"))
    assert completed.returncode == 0, completed.stderr
    assert (tmp_path / "k").stat().st_mode & 0o077 == 0
    assert b"PUBLIC KEY" in (tmp_path / "k.pub").read_bytes()
    again = run_cli("keygen", "--out", str(tmp_path / "k"))
    assert again.returncode == 2 and "refusing to overwrite" in again.stderr


def _members(path: Path) -> list[zipfile.ZipInfo]:
    with zipfile.ZipFile(path) as archive:
        return archive.infolist()


def _data_offset(path: Path, info: zipfile.ZipInfo) -> int:
    with open(path, "rb") as handle:
        handle.seek(info.header_offset + 26)
        name_length = int.from_bytes(handle.read(2), "little")
        extra_length = int.from_bytes(handle.read(2), "little")
    return info.header_offset + 30 + name_length + extra_length


@pytest.mark.parametrize("member", [*FILES, bundle.MANIFEST, bundle.SIGNATURE])
def test_flipping_one_byte_of_any_file_fails_verification_naming_it(tmp_path, key_pair, member):
    private, public = key_pair
    pristine = make_bundle(tmp_path / "b.zip", private).read_bytes()
    info = next(i for i in _members(tmp_path / "b.zip") if i.filename == member)
    start = _data_offset(tmp_path / "b.zip", info)
    # First, middle and last byte of the member's stored data.
    for position in {start, start + info.compress_size // 2, start + info.compress_size - 1}:
        damaged = bytearray(pristine)
        damaged[position] ^= 0x01
        target = tmp_path / f"flip-{position}.zip"
        target.write_bytes(damaged)
        result = bundle.verify(target, keys.load_public(public))
        assert not result.ok
        assert any(member in problem for problem in result.problems), result.problems
        completed = run_cli("verify", str(target), "--key", str(public))
        assert completed.returncode == 1
        assert "FAILED" in completed.stderr


def test_changed_content_with_a_valid_zip_fails_on_the_hash(tmp_path, key_pair):
    private, public = key_pair
    original = make_bundle(tmp_path / "b.zip", private)
    rewritten = tmp_path / "rewritten.zip"
    with zipfile.ZipFile(original) as source, zipfile.ZipFile(rewritten, "w") as out:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "measurements.jsonl":
                data = data.replace(b"geoblocked", b"accessible")
            out.writestr(info.filename, data)
    result = bundle.verify(rewritten, keys.load_public(public))
    assert not result.ok
    assert result.problems == [result.problems[0]]
    assert result.problems[0].startswith("measurements.jsonl: SHA-256")


def test_added_and_removed_files_are_named(tmp_path, key_pair):
    private, public = key_pair
    original = make_bundle(tmp_path / "b.zip", private)
    changed = tmp_path / "changed.zip"
    with zipfile.ZipFile(original) as source, zipfile.ZipFile(changed, "w") as out:
        for info in source.infolist():
            if info.filename != "transcripts/0001.json":
                out.writestr(info.filename, source.read(info))
        out.writestr("extra.txt", b"slipped in")
    problems = bundle.verify(changed, keys.load_public(public)).problems
    assert "transcripts/0001.json is listed in the manifest but missing" in problems
    assert "extra.txt is in the zip but not in the manifest" in problems


def test_another_key_or_no_signature_fails(tmp_path, key_pair):
    private, _public = key_pair
    signed = make_bundle(tmp_path / "b.zip", private)
    _other_private, other_public = keys.generate(tmp_path / "other.key")
    result = bundle.verify(signed, keys.load_public(other_public))
    assert not result.ok and "not the given key" in result.problems[0]
    unsigned = make_bundle(tmp_path / "unsigned.zip", None)
    result = bundle.verify(unsigned)
    assert not result.ok and "not signed" in result.problems[0]


def test_a_resigned_manifest_with_a_swapped_key_fails_against_the_pinned_key(tmp_path, key_pair):
    """An attacker who edits a file and re-signs with their own key is caught by --key."""
    private, public = key_pair
    make_bundle(tmp_path / "b.zip", private)
    attacker = keys.load_private(keys.generate(tmp_path / "attacker.key")[0])
    forged = make_bundle(tmp_path / "forged.zip", attacker,
                         files={**FILES, "measurements.jsonl": b"{}\n"})
    assert bundle.verify(forged).ok          # consistent in itself...
    assert not bundle.verify(forged, keys.load_public(public)).ok   # ...but not the signer's


@pytest.mark.parametrize("name", ["../evil", "/etc/passwd", "a/../../b", "c:\\x", "manifest.json",
                                  "a\\b", "", "./x"])
def test_unsafe_names_are_refused_when_writing(tmp_path, name):
    with pytest.raises(bundle.BundleError), \
            bundle.BundleWriter(tmp_path / "b.zip", kind="routing-scan") as writer:
        writer.add_bytes(name, b"x")
    assert not (tmp_path / "b.zip").exists()
    assert not list(tmp_path.glob("*.partial"))


def test_hostile_zips_are_refused_with_a_reason(tmp_path, key_pair, monkeypatch):
    private, public = key_pair
    # A member whose name escapes the folder, listed in a (forged) manifest.
    hostile = tmp_path / "traversal.zip"
    manifest = {"format": bundle.FORMAT, "files": [{"name": "../x", "sha256": "0", "size": 1}]}
    with zipfile.ZipFile(hostile, "w") as out:
        out.writestr("../x", b"x")
        out.writestr(bundle.MANIFEST, json.dumps(manifest))
    problems = bundle.verify(hostile, keys.load_public(public)).problems
    assert any("unsafe" in p for p in problems)
    # Not a zip, truncated, empty.
    (tmp_path / "garbage.zip").write_bytes(b"<html>not a zip</html>")
    assert "not a readable zip" in bundle.verify(tmp_path / "garbage.zip").problems[0]
    good = make_bundle(tmp_path / "b.zip", private).read_bytes()
    (tmp_path / "cut.zip").write_bytes(good[: len(good) // 2])
    assert not bundle.verify(tmp_path / "cut.zip").ok
    # A compression bomb: a member that inflates past the cap is refused, not hashed forever.
    monkeypatch.setattr(bundle, "MAX_MEMBER_SIZE", 1024 * 1024)
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as out:
        out.writestr("zeros.bin", bytes(8 * 1024**2))
        out.writestr(bundle.MANIFEST, json.dumps(
            {"format": bundle.FORMAT, "files": [{"name": "zeros.bin", "sha256": "0", "size": 1}]}))
    assert bomb.stat().st_size < 100_000
    problems = bundle.verify(bomb).problems
    assert any("zeros.bin" in p and "larger than" in p for p in problems)


def test_a_failed_write_leaves_no_bundle(tmp_path):
    with pytest.raises(RuntimeError), \
            bundle.BundleWriter(tmp_path / "b.zip", kind="access-probe") as writer:
        writer.add_bytes("a.txt", b"a")
        raise RuntimeError("the probe was interrupted")
    assert list(tmp_path.iterdir()) == []


def test_bad_key_files_are_refused_naming_the_file(tmp_path):
    (tmp_path / "bad.pub").write_text("-----BEGIN PUBLIC KEY-----\nnope\n")
    with pytest.raises(keys.KeyFileError, match="bad.pub"):
        keys.load_public(tmp_path / "bad.pub")
    completed = run_cli("verify", str(tmp_path / "missing.zip"), "--key", str(tmp_path / "bad.pub"))
    assert completed.returncode == 2 and "bad.pub" in completed.stderr
    completed = run_cli("verify", str(tmp_path / "missing.zip"))
    assert completed.returncode == 1 and "no such file" in completed.stderr
