import json

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.core.serializers.json import DjangoJSONEncoder
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_totp.models import TOTPDevice

from sentinelle.core import notifications
from sentinelle.core.admin_audit import AuditedAdminMixin
from sentinelle.core.models import ApiToken, AuditEntry, MemberState, SharingGroup, User


@admin.register(MemberState)
class MemberStateAdmin(admin.ModelAdmin):
    list_display = ["alpha2", "alpha3", "name_en", "itu_d_region", "admin_region", "is_member"]
    list_filter = ["itu_d_region", "admin_region", "is_member"]
    list_editable = ["itu_d_region", "admin_region"]
    search_fields = ["alpha2", "alpha3", "name_en", "name_fr", "name_es"]


@admin.register(User)
class UserAdmin(AuditedAdminMixin, BaseUserAdmin):
    """Provisioning stays with the Secretariat, but never in silence: besides the audit entry
    every admin change gets, a State's focal points are told by e-mail when an account becomes a
    focal point of their State or has its password set here (core/notifications.py)."""

    list_display = ["username", "email", "role", "state", "is_active"]
    list_filter = ["role", "is_active", "state"]
    fieldsets = [*BaseUserAdmin.fieldsets,
                 (_("Sentinelle"), {"fields": ["role", "state", "language"]})]

    def log_addition(self, request, obj, message):
        entry = super().log_addition(request, obj, message)
        notifications.focal_point_account_changed(obj, request.user.get_username(), "added")
        return entry

    def log_change(self, request, obj, message):
        entry = super().log_change(request, obj, message)
        before = self._before(request, obj) or {}
        if (before.get("role"), before.get("state")) != (obj.role, obj.state_id):
            notifications.focal_point_account_changed(obj, request.user.get_username(), "added")
        changed = {name for part in message if isinstance(part, dict)
                   for name in part.get("changed", {}).get("fields", [])}
        if "password" in changed:
            notifications.focal_point_account_changed(obj, request.user.get_username(),
                                                      "password")
        return entry


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are issued by their owner (API tokens page, `sentinelle token create`), which is
    the only moment the secret is shown. Here they can only be looked at and revoked: a token
    handed to another user would carry its holder into that user's State."""

    list_display = ["__str__", "user", "name", "read_only", "created_at", "expires_at",
                    "last_used_at", "revoked_at"]
    readonly_fields = ["user", "name", "read_only", "prefix", "digest", "created_at",
                       "expires_at", "last_used_at"]

    def has_add_permission(self, request):
        return False


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


# A second factor's key shown or set in the admin would let the Secretariat sign in as anyone;
# devices are enrolled by their owner only (the second-factor page).
admin.site.unregister(TOTPDevice)
