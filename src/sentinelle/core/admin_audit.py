"""Changes made by hand in the Django admin enter the audit chain, as every other change does.

The admin writes through its own views, not through the services that record audit entries, so
without this a Secretariat administrator could give an account a State's focal-point role, or
move an API token to another user, and leave no trace in the chain. Every registered admin gets
this mixin (``SentinelleAdminSite.register``), so no model is forgotten.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.http import HttpRequest

from sentinelle.core import audit

# Never copied into the chain: password hashes, token digests, second-factor keys.
SECRET_FIELDS = frozenset({"password", "digest", "key", "secret", "token"})


def snapshot(obj: models.Model) -> dict[str, Any]:
    """The object's fields as the audit entry keeps them (secrets left out, relations by id)."""
    values: dict[str, Any] = {}
    for field in obj._meta.concrete_fields:
        if field.name in SECRET_FIELDS:
            continue
        value = field.value_from_object(obj)
        values[field.name] = value if isinstance(value, int | float | bool | type(None)) \
            else str(value)
    if obj.pk is not None:
        for field in obj._meta.many_to_many:
            values[field.name] = sorted(related.pk for related in field.value_from_object(obj))
    return values


class AuditedAdminMixin:
    """Records additions, changes (password changes included) and deletions made in the admin."""

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None):
        obj = super().get_object(request, object_id, from_field)
        if obj is not None:
            # Kept for log_change, which Django calls once the change is saved.
            request._audit_before = (obj._meta.label_lower, obj.pk, snapshot(obj))
        return obj

    def _before(self, request: HttpRequest, obj: models.Model) -> dict[str, Any] | None:
        kept = getattr(request, "_audit_before", None)
        if kept and kept[0] == obj._meta.label_lower and kept[1] == obj.pk:
            return kept[2]
        return None

    def audit_notices(self, request: HttpRequest, obj: models.Model,
                      before: dict[str, Any] | None, after: dict[str, Any] | None,
                      message: Any) -> dict[str, Any]:
        """Called for each addition (``before`` None), change and deletion (``after`` None)
        before its audit entry is written: tells whoever the change concerns and returns keys
        to add to the entry's after, so who was told (or that nobody was) is in the chain."""
        return {}

    def log_addition(self, request: HttpRequest, obj: models.Model, message: Any):
        entry = super().log_addition(request, obj, message)
        after = snapshot(obj)
        extra = self.audit_notices(request, obj, None, after, message)
        audit.record("admin.add", obj, after={**after, **extra})
        return entry

    def log_change(self, request: HttpRequest, obj: models.Model, message: Any):
        entry = super().log_change(request, obj, message)
        before, after = self._before(request, obj), snapshot(obj)
        extra = self.audit_notices(request, obj, before, after, message)
        audit.record("admin.change", obj, before=before,
                     after={**after, "admin_change_message": message, **extra})
        return entry

    def log_deletions(self, request: HttpRequest, queryset: models.QuerySet):
        objects = [(obj, snapshot(obj)) for obj in queryset]
        result = super().log_deletions(request, queryset)
        for obj, before in objects:
            extra = self.audit_notices(request, obj, before, None, None)
            audit.record("admin.delete", obj, before=before, after=extra or None)
        return result
