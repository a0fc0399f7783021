from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils.translation import gettext_lazy as _

GENESIS_HASH = "0" * 64
# Entries written before the chain was keyed hold a plain SHA-256; every later one an HMAC-SHA-256
# under a key kept outside the database, so whoever can only write the database cannot re-hash an
# edited suffix. A keyed marker entry (KEYED_MARKER) follows the plain prefix, so turning keyed
# entries back into plain ones shows as well (see sentinelle.core.audit.verify_chain).
SCHEME_PLAIN = "sha256"
SCHEME_HMAC = "hmac-sha256"
KEYED_MARKER = "audit.keyed"


def chain_hash(payload: dict[str, Any], scheme: str, key: bytes | None) -> str:
    """The hash of an entry's canonical content under its scheme (also used by migrations)."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"),
                           cls=DjangoJSONEncoder, ensure_ascii=False).encode()
    if scheme == SCHEME_PLAIN:
        return hashlib.sha256(canonical).hexdigest()
    if scheme == SCHEME_HMAC:
        if not key:
            raise ValueError("an HMAC audit entry needs the audit key")
        return hmac.new(key, canonical, hashlib.sha256).hexdigest()
    raise ValueError(f"unknown audit hash scheme {scheme!r}")


def entry_payload(entry: Any) -> dict[str, Any]:
    """What an entry's hash covers (the scheme itself is fixed by which function is used)."""
    return {
        "seq": entry.seq,
        "at": entry.at.isoformat(),
        "actor": entry.actor_name,
        "request_id": entry.request_id,
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "before": entry.before,
        "after": entry.after,
        "prev": entry.prev_hash,
    }


class AuditEntry(models.Model):
    """One change, chained to the previous entry by hash so edits and removals show.

    `seq` is assigned under a lock as previous + 1, so a removed row leaves a gap even where the
    database's own id sequence has gaps from rolled-back transactions.
    """

    seq = models.PositiveBigIntegerField(unique=True)
    at = models.DateTimeField(_("time"))
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True,
                              blank=True, related_name="+")
    actor_name = models.CharField(_("actor"), max_length=150)
    request_id = models.CharField(_("request id"), max_length=64, blank=True)
    action = models.CharField(_("action"), max_length=60)
    object_type = models.CharField(_("object type"), max_length=60)
    object_id = models.CharField(_("object id"), max_length=64)
    before = models.JSONField(_("before"), null=True, blank=True, encoder=DjangoJSONEncoder)
    after = models.JSONField(_("after"), null=True, blank=True, encoder=DjangoJSONEncoder)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)
    # No default: record() names the scheme, and the migration marks older rows SCHEME_PLAIN.
    scheme = models.CharField(max_length=16, editable=False)

    class Meta:
        ordering = ["seq"]
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.object_type}:{self.object_id}"

    def compute_hash(self, key: bytes | None = None) -> str:
        """This entry's hash under its scheme, with ``key`` or else this instance's audit key."""
        if key is None and self.scheme == SCHEME_HMAC:
            from sentinelle.core.audit import audit_key

            key = audit_key()
        return chain_hash(entry_payload(self), self.scheme, key)
