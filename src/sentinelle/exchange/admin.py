"""Federation remotes in the admin: which Member States each remote is trusted for (the other
way is ``sentinelle federate trust``). Changes enter the audit chain (core.admin_audit), and
each State a remote becomes or stops being trusted for is told (notifications)."""

from __future__ import annotations

from django.contrib import admin
from django.db import models

from sentinelle.core import notifications
from sentinelle.core.admin import warn_unheard
from sentinelle.core.admin_audit import AuditedAdminMixin
from sentinelle.exchange.models import FederationRemote


@admin.register(FederationRemote)
class FederationRemoteAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ["url", "note"]
    search_fields = ["url", "note"]
    filter_horizontal = ["trusted_states"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def audit_notices(self, request, obj, before, after, message):
        """Each State the remote becomes (or stops being) trusted for is told, and the audit
        entry (core.admin_audit) says who was."""
        return warn_unheard(request, notifications.remote_trust_changed(
            obj.url, (before or {}).get("trusted_states", []),
            (after or {}).get("trusted_states", []), request.user.get_username()))
