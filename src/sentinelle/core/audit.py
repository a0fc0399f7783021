"""The audit trail: record every change with who, when, request id and before/after.

Entries are written by the service functions that make the change (not by model signals) because
only they know the "before" and the acting user. Actor and request id come from a context set by
the request middleware, the API authentication or the command being run.
"""

from __future__ import annotations

import contextvars
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone

from sentinelle.core.models.audit import GENESIS_HASH, AuditEntry

_actor: contextvars.ContextVar[Any] = contextvars.ContextVar("audit_actor", default=None)
_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("audit_request", default="")
_LOCK_KEY = 0x53454E54  # "SENT": one advisory lock serialises the chain on PostgreSQL


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
    """Append one entry to the chain, inside the caller's transaction."""
    actor = actor if actor is not None else _actor.get()
    if isinstance(actor, str):
        actor_obj, actor_name = None, actor
    elif actor is not None and getattr(actor, "is_authenticated", False):
        actor_obj, actor_name = actor, actor.get_username()
    else:
        actor_obj, actor_name = None, "anonymous"
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY])
        last = AuditEntry.objects.order_by("-seq").only("seq", "hash").first()
        entry = AuditEntry(
            seq=(last.seq + 1) if last else 1,
            at=timezone.now(),
            actor=actor_obj,
            actor_name=actor_name,
            request_id=_request_id.get(),
            action=action,
            object_type=object_type or obj._meta.label_lower,
            object_id=str(getattr(obj, "pk", obj)),
            before=_jsonable(before),
            after=_jsonable(after),
            prev_hash=last.hash if last else GENESIS_HASH,
        )
        entry.hash = entry.compute_hash()
        entry.save()
    return entry


@dataclass
class ChainProblem:
    seq: int
    reason: str


def verify_chain(progress: Any = None) -> ChainProblem | None:
    """Walk the chain in order; return the first entry that does not hold, or None."""
    expected_prev, expected_seq = GENESIS_HASH, 1
    for entry in AuditEntry.objects.order_by("seq").iterator(chunk_size=2000):
        if entry.seq != expected_seq:
            return ChainProblem(expected_seq, f"entry #{expected_seq} is missing")
        if entry.prev_hash != expected_prev:
            return ChainProblem(entry.seq, "its link to the previous entry does not match")
        if entry.compute_hash() != entry.hash:
            return ChainProblem(entry.seq, "its content does not match its hash")
        expected_prev, expected_seq = entry.hash, entry.seq + 1
        if progress is not None:
            progress()
    return None
