"""Federation remotes in the admin: which Member States each remote is trusted for (the other
way is ``sentinelle federate trust``). Changes enter the audit chain (core.admin_audit)."""

from __future__ import annotations

from django.contrib import admin
from django.db import models

from sentinelle.exchange.models import FederationRemote


@admin.register(FederationRemote)
class FederationRemoteAdmin(admin.ModelAdmin):
    list_display = ["url", "note"]
    search_fields = ["url", "note"]
    filter_horizontal = ["trusted_states"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
