"""Issue 11, finding 11: a hostile bundle is refused for about what its zip directory costs.

The signature, the member list and the declared sizes are checked before any member is inflated;
names are counted in linear time; members, total size and symbolic links are refused.
"""

from __future__ import annotations

import base64
import hashlib
import json
import stat
import time
import zipfile
from pathlib import Path

import pytest

from sentinelle.evidence import bundle, keys

FILES = {"measurements.jsonl": b'{"verdict": "geoblocked"}\n' * 10,
         "transcripts/0001.json": b'{"response": "HTTP/1.1 403"}'}


@pytest.fixture
def signer(tmp_path):
    private, public = keys.generate(tmp_path / "signer.key")
    return keys.load_private(private), keys.load_public(public)


@pytest.fixture
def hashed(monkeypatch):
    """The members verify inflated and hashed, by name."""
    seen: list[str] = []
    original = bundle._hash_member

    def counting(archive, info, *args, **kwargs):
        seen.append(info.filename)
        return original(archive, info, *args, **kwargs)

    monkeypatch.setattr(bundle, "_hash_member", counting)
    return seen


def handmade(path: Path, members: list[tuple[zipfile.ZipInfo | str, bytes]], *,
             key=None, listed: list[dict] | None = None,
             compression: int = zipfile.ZIP_STORED) -> Path:
    """A zip written member by member, with a manifest listing ``listed`` (default: members)."""
    if listed is None:
        listed = []
        for info, data in members:
            name = info.filename if isinstance(info, zipfile.ZipInfo) else info
            listed.append({"name": name, "sha256": hashlib.sha256(data).hexdigest(),
                           "size": len(data)})
    manifest: dict = {"format": bundle.FORMAT, "kind": "access-probe", "files": listed}
    if key is not None:
        manifest["public_key"] = base64.b64encode(keys.public_raw(key.public_key())).decode()
    body = json.dumps(manifest, sort_keys=True).encode()
    with zipfile.ZipFile(path, "w", compression=compression) as out:
        for info, data in members:
            out.writestr(info, data)
        out.writestr(bundle.MANIFEST, body)
        if key is not None:
            out.writestr(bundle.SIGNATURE, base64.b64encode(key.sign(body)))
    return path


@pytest.mark.filterwarnings("ignore:Duplicate name")
def test_forty_thousand_empty_members_are_refused_in_seconds_not_minutes(tmp_path, hashed):
    members = [(f"m/{i:05d}", b"") for i in range(40_000)]
    path = handmade(tmp_path / "many.zip", [*members, ("m/00007", b"")])
    started = time.perf_counter()
    result = bundle.verify(path)
    elapsed = time.perf_counter() - started
    assert not result.ok
    assert "m/00007 appears more than once in the zip" in result.problems
    assert any("not signed" in problem for problem in result.problems)
    assert hashed == []
    # Counting names with list.count took ~19 s here; a linear count takes well under one.
    assert elapsed < 6, f"{elapsed:.1f} s"


def test_an_unsigned_deflate_bomb_is_refused_before_it_is_inflated(tmp_path, hashed):
    path = handmade(tmp_path / "bomb.zip", [("zeros.bin", bytes(16 * 1024**2))],
                    compression=zipfile.ZIP_DEFLATED)
    assert path.stat().st_size < 100_000
    result = bundle.verify(path)
    assert not result.ok and any("not signed" in p for p in result.problems)
    assert hashed == []


def test_a_bundle_signed_by_another_key_is_refused_before_any_file_is_read(tmp_path, signer,
                                                                           hashed):
    _private, public = signer
    attacker = keys.load_private(keys.generate(tmp_path / "attacker.key")[0])
    path = handmade(tmp_path / "forged.zip", list(FILES.items()), key=attacker)
    result = bundle.verify(path, public)
    assert not result.ok and "not the given key" in result.problems[0]
    assert hashed == []


def test_a_member_list_that_differs_from_the_manifest_is_refused_before_hashing(tmp_path, signer,
                                                                                 hashed):
    private, public = signer
    listed = [{"name": name, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
              for name, data in FILES.items()]
    path = handmade(tmp_path / "extra.zip", [*FILES.items(), ("extra.bin", bytes(1024))],
                    key=private, listed=listed)
    result = bundle.verify(path, public)
    assert result.problems == ["extra.bin is in the zip but not in the manifest"]
    assert hashed == []


def test_declared_sizes_are_checked_before_reading(tmp_path, signer, hashed, monkeypatch):
    private, public = signer
    # A signed bomb: the manifest honestly lists 16 MiB, over the cap on the whole bundle.
    zeros = bytes(16 * 1024**2)
    path = handmade(tmp_path / "bomb.zip", [("zeros.bin", zeros)], key=private,
                    compression=zipfile.ZIP_DEFLATED)
    result = bundle.verify(path, public, max_total_size=1024**2)
    assert not result.ok
    assert any("more than 1048576" in p for p in result.problems), result.problems
    monkeypatch.setattr(bundle, "MAX_MEMBER_SIZE", 1024**2)
    result = bundle.verify(path, public)
    assert any(p.startswith("zeros.bin is larger than 1048576") for p in result.problems)
    # The manifest says 10 bytes; the zip's directory says 16 MiB: refused, not inflated.
    listed = [{"name": "zeros.bin", "sha256": hashlib.sha256(b"").hexdigest(), "size": 10}]
    liar = handmade(tmp_path / "liar.zip", [("zeros.bin", zeros)], key=private, listed=listed,
                    compression=zipfile.ZIP_DEFLATED)
    monkeypatch.undo()
    assert bundle.verify(liar, public).problems == [
        f"zeros.bin: the zip says {len(zeros)} bytes, the manifest 10 bytes"]
    assert hashed == []


def test_too_many_members_are_refused(tmp_path, signer):
    private, public = signer
    path = handmade(tmp_path / "b.zip", list(FILES.items()), key=private)
    assert bundle.verify(path, public).ok
    result = bundle.verify(path, public, max_members=3)
    assert result.problems == ["more than 3 files in the bundle"]


def test_a_symlink_member_is_refused_even_when_signed(tmp_path, signer):
    private, public = signer
    link = zipfile.ZipInfo("transcripts/0002.json")
    link.create_system = 3     # Unix: the mode is in the high 16 bits of external_attr
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    path = handmade(tmp_path / "link.zip", [*FILES.items(), (link, b"/etc/shadow")], key=private)
    result = bundle.verify(path, public)
    assert not result.ok
    assert "transcripts/0002.json is a symbolic link" in result.problems


def test_a_name_listed_twice_in_the_manifest_is_refused(tmp_path, signer):
    private, public = signer
    data = FILES["measurements.jsonl"]
    entry = {"name": "measurements.jsonl", "sha256": hashlib.sha256(data).hexdigest(),
             "size": len(data)}
    path = handmade(tmp_path / "twice.zip", [("measurements.jsonl", data)], key=private,
                    listed=[entry, {**entry, "sha256": "0" * 64}])
    result = bundle.verify(path, public)
    assert not result.ok
    assert any("listed more than once" in p for p in result.problems), result.problems


def test_an_honest_signed_bundle_still_verifies_and_every_file_is_hashed(tmp_path, signer,
                                                                          hashed):
    private, public = signer
    path = handmade(tmp_path / "b.zip", list(FILES.items()), key=private)
    result = bundle.verify(path, public)
    assert result.ok, result.problems
    assert sorted(hashed) == sorted(FILES)


def test_the_platform_refuses_an_honestly_signed_bomb_before_hashing(alice, tmp_path, signer,
                                                                       hashed, settings):
    """A bundle signed with the key in its own manifest passes the signature check, so the
    platform holds what it unpacks to to the upload limit: our bundles store files uncompressed,
    a 16 MiB member squeezed into a few kB is refused unread."""
    from sentinelle.observatory import services

    settings.EVIDENCE_MAX_BYTES = 1024 * 1024
    private, _public = signer
    path = handmade(tmp_path / "bomb.zip", [("measurements.jsonl", bytes(16 * 1024**2))],
                    key=private, compression=zipfile.ZIP_DEFLATED)
    assert path.stat().st_size < 100_000
    with pytest.raises(services.BundleRefused) as refused:
        services.submit(alice, path)
    assert "fails verification" in " ".join(refused.value.messages)
    assert hashed == []


@pytest.mark.parametrize("manifest_body, expected", [
    (b'{"a":' * 100_000 + b"1" + b"}" * 100_000, "nested too deeply"),
    (json.dumps({"format": bundle.FORMAT, "kind": "access-probe",
                 "files": [{"name": "a.txt", "sha256": "0" * 64}]}).encode()
     .replace(b'"sha256"', b'"size": 1e999, "sha256"'), "files[0] is not valid"),
])
def test_a_hostile_manifest_is_refused_with_the_bundles_own_words(tmp_path, manifest_body,
                                                                  expected):
    """Found by the bundle fuzz target: a RecursionError and an OverflowError escaped verify."""
    path = tmp_path / "hostile.zip"
    with zipfile.ZipFile(path, "w") as out:
        out.writestr("a.txt", b"x")
        out.writestr(bundle.MANIFEST, manifest_body)
    result = bundle.verify(path)
    assert not result.ok
    assert any(expected in problem for problem in result.problems), result.problems


def test_an_unsupported_compression_method_is_refused_not_raised(tmp_path):
    path = handmade(tmp_path / "odd.zip", list(FILES.items()))
    data = bytearray(path.read_bytes())
    # Set the compression method of every header (local and central) to 99 (AE-x encryption).
    for signature, offset in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):
        start = 0
        while (found := data.find(signature, start)) != -1:
            data[found + offset:found + offset + 2] = (99).to_bytes(2, "little")
            start = found + 4
    path.write_bytes(bytes(data))
    result = bundle.verify(path)
    assert not result.ok
    assert any("not a readable zip" in p or "damaged" in p for p in result.problems), \
        result.problems
