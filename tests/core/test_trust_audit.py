"""Issue 11, finding 10: the audit chain is keyed outside the database and anchored by checkpoints.

The attacker here can write the database but holds neither the audit key nor the instance key.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import stat

import pytest
from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import CommandError

from sentinelle.core import audit
from sentinelle.core.models import AuditEntry
from sentinelle.evidence import keys
from tests.conftest import file_report


@pytest.fixture(autouse=True)
def _keys_in_tmp(settings, tmp_path):
    """Each test generates its own audit and instance keys in its own data directory."""
    settings.DATA_DIR = tmp_path / "data"
    settings.AUDIT_KEY = ""
    settings.INSTANCE_KEY = ""


@pytest.fixture
def chain(alice):
    for number in range(4):
        file_report(alice, title=f"report {number}")
    assert AuditEntry.objects.count() >= 8
    return list(AuditEntry.objects.order_by("seq"))


def plain_sha256(entry: AuditEntry) -> str:
    """What an attacker without the key computes: the canonical content's plain SHA-256."""
    from django.core.serializers.json import DjangoJSONEncoder

    payload = {"seq": entry.seq, "at": entry.at.isoformat(), "actor": entry.actor_name,
               "request_id": entry.request_id, "action": entry.action,
               "object_type": entry.object_type, "object_id": entry.object_id,
               "before": entry.before, "after": entry.after, "prev": entry.prev_hash}
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"),
                           cls=DjangoJSONEncoder, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def rewrite_from(entries: list[AuditEntry], index: int, rehash, **fields) -> None:
    """Edit entries[index] and recompute its hash and every later link and hash, in the DB."""
    prev = entries[index - 1].hash if index else "0" * 64
    for position, entry in enumerate(entries[index:]):
        for name, value in (fields.items() if position == 0 else ()):
            setattr(entry, name, value)
        entry.prev_hash = prev
        entry.hash = rehash(entry)
        AuditEntry.objects.filter(pk=entry.pk).update(
            prev_hash=entry.prev_hash, hash=entry.hash,
            **{name: getattr(entry, name) for name in fields})
        prev = entry.hash


def checkpoint(path) -> str:
    call_command("audit", "checkpoint", "--output", str(path))
    return str(path)


def test_an_intact_chain_verifies_against_its_checkpoint(chain, alice, tmp_path, capsys):
    path = checkpoint(tmp_path / "head.json")
    document = json.loads((tmp_path / "head.json").read_text())
    assert (document["seq"], document["hash"]) == (chain[-1].seq, chain[-1].hash)
    file_report(alice, title="after the checkpoint")   # the chain may grow past it
    call_command("audit", "verify", "--checkpoint", path)
    out = capsys.readouterr().out
    assert "audit chain intact" in out
    assert f"entry #{chain[-1].seq} has hash {chain[-1].hash}" in out


def test_cutting_the_last_five_entries_fails_against_a_checkpoint(chain, tmp_path):
    path = checkpoint(tmp_path / "head.json")
    AuditEntry.objects.filter(seq__gt=chain[-1].seq - 5).delete()
    call_command("audit", "verify")   # a cut tail is a shorter chain that holds in itself...
    with pytest.raises(CommandError, match=f"#{chain[-1].seq}.*entries were removed"):
        call_command("audit", "verify", "--checkpoint", path)   # ...but not its published head


def test_an_edit_rehashed_without_the_key_fails(chain):
    rewrite_from(chain, 2, plain_sha256, actor_name="mallory")
    problem = audit.verify_chain()
    assert problem is not None and problem.seq == chain[2].seq
    with pytest.raises(CommandError, match=f"#{chain[2].seq}"):
        call_command("audit", "verify")


def test_downgrading_the_whole_chain_to_plain_hashes_fails(chain):
    """Marking every entry as written before the key, and re-hashing them plainly."""
    AuditEntry.objects.update(scheme="sha256")
    for entry in chain:
        entry.scheme = "sha256"
    rewrite_from(chain, 0, plain_sha256)
    rewrite_from(chain, 2, plain_sha256, actor_name="mallory")
    problem = audit.verify_chain()
    assert problem is not None and "no keyed entry follows" in problem.reason
    # The same for the suffix only: a plain entry after a keyed one.
    AuditEntry.objects.filter(seq__lte=2).update(scheme="hmac-sha256")
    assert audit.verify_chain() is not None


def test_a_prefix_rewritten_with_the_key_fails_against_a_checkpoint(chain, tmp_path):
    """Even someone holding the audit key cannot rewrite what a checkpoint has anchored."""
    path = checkpoint(tmp_path / "head.json")
    rewrite_from(chain, 1, lambda entry: entry.compute_hash(audit.audit_key()),
                 actor_name="mallory")
    call_command("audit", "verify")
    with pytest.raises(CommandError, match="not the one the checkpoint"):
        call_command("audit", "verify", "--checkpoint", path)


def test_a_checkpoint_with_a_wrong_signature_fails(chain, tmp_path):
    path = tmp_path / "head.json"
    checkpoint(path)
    document = json.loads(path.read_text())
    document["seq"] -= 1   # pointing at another entry, without the key to sign it
    document["hash"] = chain[-2].hash
    path.write_text(json.dumps(document))
    with pytest.raises(CommandError, match="--checkpoint: .*signature does not hold"):
        call_command("audit", "verify", "--checkpoint", str(path))


def test_a_checkpoint_is_checked_against_the_given_public_key(chain, tmp_path):
    path = checkpoint(tmp_path / "head.json")
    call_command("audit", "public-key", "--output", str(tmp_path / "instance.pub"))
    call_command("audit", "verify", "--checkpoint", path, "--key", str(tmp_path / "instance.pub"))
    _private, other = keys.generate(tmp_path / "other.key")
    with pytest.raises(CommandError, match="signature does not hold"):
        call_command("audit", "verify", "--checkpoint", path, "--key", str(other))
    # A checkpoint signed by someone else's key, naming it inside: not trusted by default.
    forged = audit.make_checkpoint(keys.load_private(tmp_path / "other.key"))
    (tmp_path / "forged.json").write_text(json.dumps(forged))
    with pytest.raises(CommandError, match="signature does not hold"):
        call_command("audit", "verify", "--checkpoint", str(tmp_path / "forged.json"))


def test_bad_checkpoint_files_are_refused_naming_the_file(chain, tmp_path):
    (tmp_path / "junk.json").write_text("{not json")
    with pytest.raises(CommandError, match="junk.json: not JSON"):
        call_command("audit", "verify", "--checkpoint", str(tmp_path / "junk.json"))
    with pytest.raises(CommandError, match="missing.json"):
        call_command("audit", "verify", "--checkpoint", str(tmp_path / "missing.json"))
    with pytest.raises(CommandError, match="--output: .*nowhere"):
        call_command("audit", "checkpoint", "--output", str(tmp_path / "nowhere" / "head.json"))


def test_verify_says_when_the_audit_key_may_be_the_wrong_one(chain, settings):
    settings.AUDIT_KEY = "another key, of another installation"
    problem = audit.verify_chain()
    assert problem is not None and problem.seq == 1 and "audit key" in problem.reason


def test_keys_are_generated_once_in_the_data_dir_with_mode_0600(chain, settings):
    checkpoint(settings.DATA_DIR / "head.json")
    for name in (audit.AUDIT_KEY_FILE, audit.INSTANCE_KEY_FILE):
        path = settings.DATA_DIR / name
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    before = audit.audit_key()
    assert audit.audit_key() == before
    # Another installation (another data directory) has another key.
    settings.DATA_DIR = settings.DATA_DIR.parent / "elsewhere"
    assert audit.audit_key() != before


def test_configured_keys_are_used_and_a_short_audit_key_is_refused(alice, settings, tmp_path):
    private, _public = keys.generate(tmp_path / "instance.key")
    settings.INSTANCE_KEY = (tmp_path / "instance.key").read_text()
    settings.AUDIT_KEY = "k" * 40
    file_report(alice)
    assert audit.verify_chain(key=b"k" * 40) is None
    document = audit.make_checkpoint()
    assert document["key_fingerprint"] == keys.fingerprint(keys.load_private(private)
                                                           .public_key())
    settings.AUDIT_KEY = "short"
    with pytest.raises(ImproperlyConfigured, match="SENTINELLE_AUDIT_KEY"):
        audit.audit_key()


def test_entries_written_before_the_key_verify_after_the_migration_marks_them(chain, alice):
    """An existing installation: its plain SHA-256 chain is closed by a keyed marker entry."""
    prev = "0" * 64
    for entry in chain:   # the chain as the code before the key wrote it
        entry.scheme, entry.prev_hash = "sha256", prev
        entry.hash = plain_sha256(entry)
        AuditEntry.objects.filter(pk=entry.pk).update(scheme="sha256", prev_hash=prev,
                                                      hash=entry.hash)
        prev = entry.hash
    assert audit.verify_chain() is not None   # plain entries with nothing keyed after them
    migration = importlib.import_module("sentinelle.core.migrations.0005_audit_hmac_scheme")
    migration.add_marker(apps, None)
    assert audit.verify_chain() is None
    file_report(alice, title="after the upgrade")
    assert audit.verify_chain() is None
    marker = AuditEntry.objects.get(action="audit.keyed")
    assert marker.after == {"plain_entries": chain[-1].seq, "plain_head": chain[-1].hash}
