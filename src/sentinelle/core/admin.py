import json

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.core.serializers.json import DjangoJSONEncoder
from django.utils.translation import gettext_lazy as _

from sentinelle.core.models import ApiToken, AuditEntry, MemberState, SharingGroup, User


@admin.register(MemberState)
class MemberStateAdmin(admin.ModelAdmin):
    list_display = ["alpha2", "alpha3", "name_en", "itu_d_region", "admin_region", "is_member"]
    list_filter = ["itu_d_region", "admin_region", "is_member"]
    list_editable = ["itu_d_region", "admin_region"]
    search_fields = ["alpha2", "alpha3", "name_en", "name_fr", "name_es"]


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ["username", "email", "role", "state", "is_active"]
    list_filter = ["role", "is_active", "state"]
    fieldsets = [*BaseUserAdmin.fieldsets,
                 (_("Sentinelle"), {"fields": ["role", "state", "language"]})]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["__str__", "user", "name", "read_only", "created_at", "expires_at",
                    "last_used_at", "revoked_at"]
    readonly_fields = ["prefix", "digest", "created_at", "last_used_at"]


class ReadOnlyAdmin(admin.ModelAdmin):
    """For records that change only through their audited services, never by hand."""

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False


class ReadOnlyInline(admin.TabularInline):
    """Rows shown beside their parent, never changed by hand."""

    extra = 0
    can_delete = False
    show_change_link = False

    def get_readonly_fields(self, request, obj=None):
        return self.fields or []

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    """Every entry is listed, so the chain can be followed; the before/after of an entry about a
    report, evidence, a message, an indicator or a bundle is shown only to those the visibility
    table lets see that object (incidents/visibility.py)."""

    list_display = ["seq", "at", "actor_name", "action", "object_type", "object_id"]
    list_filter = ["action", "object_type"]
    search_fields = ["actor_name", "object_id", "request_id"]
    fields = ["seq", "at", "actor_name", "request_id", "action", "object_type", "object_id",
              "before_shown", "after_shown", "prev_hash", "hash"]
    readonly_fields = fields

    def lookup_allowed(self, lookup, value, request=None):
        # Filtering by content through the URL would tell what a hidden entry holds.
        if lookup.split("__", 1)[0] in ("before", "after"):
            return False
        return super().lookup_allowed(lookup, value, request)

    def get_object(self, request, object_id, from_field=None):
        from sentinelle.incidents import visibility

        entry = super().get_object(request, object_id, from_field)
        if entry is not None:
            entry.content_hidden = not visibility.audit_content_visible(request.user, entry)
        return entry

    @staticmethod
    def _content(entry: AuditEntry, value) -> str:
        if getattr(entry, "content_hidden", True):  # not checked: not shown
            return _("Hidden: you may not see the object this entry is about.")
        if value is None:
            return "-"
        return json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False, indent=1)

    @admin.display(description=_("before"))
    def before_shown(self, entry: AuditEntry) -> str:
        return self._content(entry, entry.before)

    @admin.display(description=_("after"))
    def after_shown(self, entry: AuditEntry) -> str:
        return self._content(entry, entry.after)


@admin.register(SharingGroup)
class SharingGroupAdmin(admin.ModelAdmin):
    list_display = ["name", "created_at"]
    filter_horizontal = ["states"]
