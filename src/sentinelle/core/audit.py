"""The audit trail: record every change with who, when, request id and before/after.

Entries are written by the service functions that make the change (not by model signals) because
only they know the "before" and the acting user. Actor and request id come from a context set by
the request middleware, the API authentication or the command being run.

Each entry is chained to the previous one by an HMAC-SHA-256 under the audit key, which is kept
outside the database (SENTINELLE_AUDIT_KEY, or a file generated in the data directory), so a
database writer cannot re-hash an edited suffix. A hash chain still cannot show that its tail was
cut; signed checkpoints of its head can, as Certificate Transparency's signed tree heads do: the
Secretariat keeps or publishes them, and ``verify_chain(checkpoints=...)`` checks that the chain
still holds each head with the same hash.
"""

from __future__ import annotations

import base64
import binascii
import contextvars
import functools
import json
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone

from sentinelle.core.instance_keys import load_or_create_secret
from sentinelle.core.models.audit import (
    GENESIS_HASH,
    KEYED_MARKER,
    SCHEME_HMAC,
    SCHEME_PLAIN,
    AuditEntry,
)
from sentinelle.evidence import keys

_actor: contextvars.ContextVar[Any] = contextvars.ContextVar("audit_actor", default=None)
_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("audit_request", default="")
# Entries recorded inside batch(), appended to the chain together when it ends.
_pending: contextvars.ContextVar[list[AuditEntry] | None] = contextvars.ContextVar(
    "audit_pending", default=None)
# How many savepoints were open when the current batch began (see record()); None outside
# a transaction.
_batch_savepoints: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "audit_batch_savepoints", default=None)
_LOCK_KEY = 0x53454E54  # "SENT": one advisory lock serialises the chain on PostgreSQL
AUDIT_KEY_FILE = "audit_key"          # in settings.DATA_DIR, when SENTINELLE_AUDIT_KEY is unset
INSTANCE_KEY_FILE = "instance_key"    # the same for SENTINELLE_INSTANCE_KEY
MIN_AUDIT_KEY_LENGTH = 32
CHECKPOINT_FORMAT = "sentinelle-audit-checkpoint/1"
MAX_CHECKPOINT_SIZE = 64 * 1024
_HEX64 = re.compile(r"[0-9a-f]{64}")


# Which entries' before/after a user may read is decided by the app that owns the objects
# (incidents/visibility.py, registered in IncidentsConfig.ready): the core knows no report.
_content_check: Callable[[Any, AuditEntry], bool] | None = None


def register_content_check(check: Callable[[Any, AuditEntry], bool]) -> None:
    global _content_check
    _content_check = check


def content_visible(user: Any, entry: AuditEntry) -> bool:
    """Whether ``user`` may read the before/after of ``entry``; with no check registered,
    nothing is shown (hiding is the safe failure)."""
    return _content_check is not None and _content_check(user, entry)


def audit_key() -> bytes:
    """The HMAC key of the chain: SENTINELLE_AUDIT_KEY(_FILE), else generated in the data dir."""
    return _audit_key(settings.AUDIT_KEY, Path(settings.DATA_DIR) / AUDIT_KEY_FILE)


@functools.lru_cache(maxsize=4)
def _audit_key(configured: str, path: Path) -> bytes:
    if configured:
        if len(configured) < MIN_AUDIT_KEY_LENGTH:
            raise ImproperlyConfigured(f"SENTINELLE_AUDIT_KEY must be at least "
                                       f"{MIN_AUDIT_KEY_LENGTH} characters long")
        return configured.encode()
    return load_or_create_secret(path, 32)


def instance_signing_key() -> Ed25519PrivateKey:
    """The instance's Ed25519 key: SENTINELLE_INSTANCE_KEY(_FILE) as PEM, else generated."""
    return _instance_key(settings.INSTANCE_KEY, Path(settings.DATA_DIR) / INSTANCE_KEY_FILE)


@functools.lru_cache(maxsize=4)
def _instance_key(configured: str, path: Path) -> Ed25519PrivateKey:
    if configured:
        try:
            return keys.private_from_pem(configured.encode(), origin="SENTINELLE_INSTANCE_KEY")
        except keys.KeyFileError as exc:
            raise ImproperlyConfigured(str(exc)) from None
    # An Ed25519 private key is 32 random bytes, so the generic secret file serves as it is.
    return Ed25519PrivateKey.from_private_bytes(load_or_create_secret(path, 32))


@contextmanager
def audit_context(actor: Any = None, request_id: str = "") -> Iterator[None]:
    tokens = (_actor.set(actor), _request_id.set(request_id))
    try:
        yield
    finally:
        _actor.reset(tokens[0])
        _request_id.reset(tokens[1])


def set_actor(actor: Any) -> None:
    """Name the acting user once authentication is known (API tokens authenticate late)."""
    _actor.set(actor)


def _jsonable(value: Any) -> Any:
    return None if value is None else json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def record(action: str, obj: Any, *, before: Any = None, after: Any = None,
           actor: Any = None, object_type: str | None = None) -> AuditEntry:
    """Append one entry to the chain, inside the caller's transaction (inside batch(), when
    the batch ends: the entry returned gets its place and hash then)."""
    actor = actor if actor is not None else _actor.get()
    if isinstance(actor, str):
        actor_obj, actor_name = None, actor
    elif actor is not None and getattr(actor, "is_authenticated", False):
        actor_obj, actor_name = actor, actor.get_username()
    else:
        actor_obj, actor_name = None, "anonymous"
    entry = AuditEntry(
        actor=actor_obj,
        actor_name=actor_name,
        request_id=_request_id.get(),
        action=action,
        object_type=object_type or obj._meta.label_lower,
        object_id=str(getattr(obj, "pk", obj)),
        before=_jsonable(before),
        after=_jsonable(after),
        scheme=SCHEME_HMAC,
    )
    pending = _pending.get()
    if pending is not None:
        start = _batch_savepoints.get()
        if connection.in_atomic_block and (start is None or _savepoints() > start):
            # Recorded inside a transaction or savepoint opened within the batch, which may
            # roll back: its entries must go with it, as they did one by one. Django discards
            # the on-commit callbacks of what rolls back; this one tells batch() it stood.
            entry._audit_live = live = _Live()
            transaction.on_commit(live)
        pending.append(entry)
    else:
        with transaction.atomic():
            _append([entry])
    return entry


@contextmanager
def batch() -> Iterator[None]:
    """Write the entries recorded inside the block to the chain together as it ends, in the
    order they were recorded: one lock, one read of the head and one insert for all of them,
    and the lock (held to the commit: it serialises every writer of the chain) taken only
    then, not at the first entry. Use it inside a transaction that the block's changes belong
    to; nothing is written if the block raises. A batch inside a batch joins the outer one.
    An entry recorded inside a savepoint that rolls back within the block is not written."""
    if _pending.get() is not None:
        yield
        return
    pending: list[AuditEntry] = []
    token = _pending.set(pending)
    # The savepoints open now, inside a transaction (None outside one: then every atomic
    # block of the block is followed).
    depth = _batch_savepoints.set(_savepoints() if connection.in_atomic_block else None)
    try:
        yield
    finally:
        _pending.reset(token)
        _batch_savepoints.reset(depth)
    if any(hasattr(entry, "_audit_live") for entry in pending):
        queued = {id(func) for _sids, func, _robust in connection.run_on_commit}
        pending = [entry for entry in pending if not hasattr(entry, "_audit_live")
                   or entry._audit_live.ran or id(entry._audit_live) in queued]
    if pending:
        # No savepoint of its own: if this fails, so does the caller's transaction.
        with transaction.atomic(savepoint=False):
            _append(pending)


class _Live:
    """An on-commit callback that Django keeps while its transaction or savepoint stands and
    discards if it rolls back; ``ran`` once committed."""

    __slots__ = ("ran",)

    def __init__(self) -> None:
        self.ran = False

    def __call__(self) -> None:
        self.ran = True


def _savepoints() -> int:
    """How many savepoints the connection's open atomic blocks hold."""
    return sum(1 for sid in connection.savepoint_ids if sid)


# The lock and the read of the head in one round trip (issue 17: every round trip under the
# lock is one more wait for all the writers queued behind it). Two statements of one simple
# query, with no parameters: PostgreSQL runs them in turn and, in READ COMMITTED, gives the
# second a snapshot of its own, taken once the first has the lock, so it sees the head that
# the previous holder committed. One statement could not: its snapshot would predate the wait.
# (Both values are the code's own constants: nothing from outside goes into the text.)
_LOCK_AND_HEAD = (f"SELECT pg_advisory_xact_lock({int(_LOCK_KEY)}); "  # noqa: S608
                  f"SELECT seq, hash FROM {AuditEntry._meta.db_table} ORDER BY seq DESC LIMIT 1")


def _locked_head() -> tuple[int, str]:
    """The chain's last sequence number and hash, under the chain's lock on PostgreSQL."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_LOCK_AND_HEAD)
            cursor.nextset()   # past the lock's (empty) result, to the head's
            row = cursor.fetchone()
        return (row[0], row[1]) if row else (0, GENESIS_HASH)
    # Other databases take no advisory lock (as before issue 17): the head by the ORM.
    last = AuditEntry.objects.order_by("-seq").only("seq", "hash").first()
    return (last.seq, last.hash) if last else (0, GENESIS_HASH)


def _append(entries: list[AuditEntry]) -> None:
    """Chain ``entries`` after the head; the caller is inside a transaction."""
    seq, prev = _locked_head()
    key = audit_key()
    for entry in entries:
        seq += 1
        # The time is taken under the lock, as the sequence is: they grow together.
        entry.seq, entry.at, entry.prev_hash = seq, timezone.now(), prev
        entry.hash = prev = entry.compute_hash(key)
    if len(entries) == 1:
        entries[0].save()
    else:
        AuditEntry.objects.bulk_create(entries)


@dataclass
class ChainProblem:
    seq: int
    reason: str


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement that entry #seq of the chain had this hash."""

    seq: int
    hash: str
    created_at: str
    key_fingerprint: str


class CheckpointError(ValueError):
    """A checkpoint file that cannot be used; the message names the file and why."""


def verify_chain(progress: Any = None, *, key: bytes | None = None,
                 checkpoints: Iterable[Checkpoint] = ()) -> ChainProblem | None:
    """Walk the chain in order; return the first entry that does not hold, or None.

    Plain SHA-256 entries (written before the chain was keyed) may only open the chain, and must
    be followed by the keyed marker entry: otherwise turning keyed entries back into plain ones,
    re-hashed without the key, would pass. Each checkpoint's entry must be there with its hash.
    """
    key = audit_key() if key is None else key
    pending = {checkpoint.seq: checkpoint for checkpoint in checkpoints}
    expected_prev, expected_seq, keyed = GENESIS_HASH, 1, False
    for entry in AuditEntry.objects.order_by("seq").iterator(chunk_size=2000):
        if entry.seq != expected_seq:
            return ChainProblem(expected_seq, f"entry #{expected_seq} is missing")
        if entry.prev_hash != expected_prev:
            return ChainProblem(entry.seq, "its link to the previous entry does not match")
        if entry.scheme == SCHEME_PLAIN and keyed:
            return ChainProblem(entry.seq, "it is not keyed but an earlier entry is")
        if entry.scheme == SCHEME_HMAC and not keyed and entry.seq > 1 \
                and entry.action != KEYED_MARKER:
            return ChainProblem(entry.seq, "the entries before it are not keyed and it is not "
                                           "the marker that must follow them")
        if entry.scheme not in (SCHEME_PLAIN, SCHEME_HMAC):
            return ChainProblem(entry.seq, f"unknown hash scheme {entry.scheme!r}")
        if entry.compute_hash(key) != entry.hash:
            hint = " (or the audit key is not the one it was written with)" \
                if entry.scheme == SCHEME_HMAC else ""
            return ChainProblem(entry.seq, f"its content does not match its hash{hint}")
        checkpoint = pending.pop(entry.seq, None)
        if checkpoint is not None and checkpoint.hash != entry.hash:
            return ChainProblem(entry.seq, f"its hash is not the one the checkpoint of "
                                           f"{checkpoint.created_at} recorded")
        keyed = keyed or entry.scheme == SCHEME_HMAC
        expected_prev, expected_seq = entry.hash, entry.seq + 1
        if progress is not None:
            progress()
    if expected_seq > 1 and not keyed:
        return ChainProblem(expected_seq, "no keyed entry follows the entries written before "
                                          "the chain was keyed")
    for seq, checkpoint in sorted(pending.items()):
        if seq == 0 and checkpoint.hash == GENESIS_HASH:
            continue   # a checkpoint of the empty chain, taken before the first entry
        return ChainProblem(seq, f"the chain ends at #{expected_seq - 1} but the checkpoint of "
                                 f"{checkpoint.created_at} names entry #{seq}: entries were "
                                 "removed")
    return None


def _canonical(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def make_checkpoint(signing_key: Ed25519PrivateKey | None = None) -> dict[str, Any]:
    """The head of the chain (sequence and hash), signed with the instance's key."""
    signing_key = signing_key or instance_signing_key()
    head = AuditEntry.objects.order_by("-seq").only("seq", "hash", "at").first()
    public = signing_key.public_key()
    body = {
        "format": CHECKPOINT_FORMAT,
        "site": settings.SITE_NAME,
        "seq": head.seq if head else 0,
        "hash": head.hash if head else GENESIS_HASH,
        "entry_at": head.at.isoformat() if head else None,
        "created_at": timezone.now().isoformat(timespec="seconds"),
        "public_key": base64.b64encode(keys.public_raw(public)).decode(),
        "key_fingerprint": keys.fingerprint(public),
    }
    return {**body, "signature": base64.b64encode(signing_key.sign(_canonical(body))).decode()}


def read_checkpoint(path: str | Path, public_key: Ed25519PublicKey | None = None) -> Checkpoint:
    """A checkpoint whose signature holds under ``public_key`` (default: this instance's key).

    The key inside the file only names the signer: trusting it would let whoever rewrote the
    chain sign a checkpoint of their own.
    """
    path = Path(path)
    try:
        if path.stat().st_size > MAX_CHECKPOINT_SIZE:
            raise CheckpointError(f"{path}: too large to be a checkpoint")
        document = json.loads(path.read_bytes())
    except OSError as exc:
        raise CheckpointError(f"{path}: {exc.strerror}") from None
    except ValueError as exc:
        raise CheckpointError(f"{path}: not JSON ({exc})") from None
    if not isinstance(document, dict) or document.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path}: not a {CHECKPOINT_FORMAT} file")
    body = {name: value for name, value in document.items() if name != "signature"}
    seq, digest = body.get("seq"), body.get("hash")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        raise CheckpointError(f"{path}: seq must be a whole number")
    if not isinstance(digest, str) or not _HEX64.fullmatch(digest):
        raise CheckpointError(f"{path}: hash must be 64 lower-case hex digits")
    try:
        signature = base64.b64decode(str(document.get("signature", "")), validate=True)
    except (binascii.Error, ValueError):
        raise CheckpointError(f"{path}: signature is not base64") from None
    key = public_key or instance_signing_key().public_key()
    try:
        key.verify(signature, _canonical(body))
    except InvalidSignature:
        named = str(body.get("key_fingerprint", "?"))
        mine = keys.fingerprint(key)
        detail = "" if named == mine else f" (the file names key {named}, not {mine})"
        raise CheckpointError(f"{path}: the signature does not hold under key {mine}"
                              f"{detail}") from None
    return Checkpoint(seq, digest, str(body.get("created_at", "")), keys.fingerprint(key))
