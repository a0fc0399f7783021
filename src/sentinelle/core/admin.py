import json

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.core.serializers.json import DjangoJSONEncoder
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_totp.models import TOTPDevice

from sentinelle.core import audit, notifications
from sentinelle.core.admin_audit import AuditedAdminMixin
from sentinelle.core.models import ApiToken, AuditEntry, MemberState, SharingGroup, User


@admin.register(MemberState)
class MemberStateAdmin(admin.ModelAdmin):
    list_display = ["alpha2", "alpha3", "name_en", "itu_d_region", "admin_region", "is_member"]
    list_filter = ["itu_d_region", "admin_region", "is_member"]
    list_editable = ["itu_d_region", "admin_region"]
    search_fields = ["alpha2", "alpha3", "name_en", "name_fr", "name_es"]


def warn_unheard(request, notices: list[dict]) -> dict:
    """Say on the admin page which States heard nothing of a change that concerns them, and
    give the audit entry what was sent (core/notifications.py)."""
    for state in dict.fromkeys(n["state"] for n in notices if not n["state_told"]):
        messages.warning(request, _(
            "No focal point of %(state)s was told of this change: besides any account changed "
            "here, the State has no active focal point with an e-mail address. Tell the State "
            "some other way.")
            % {"state": state})
    return {"notified": notices} if notices else {}


@admin.register(User)
class UserAdmin(AuditedAdminMixin, BaseUserAdmin):
    """Provisioning stays with the Secretariat, but never in silence: besides the audit entry
    every admin change gets, the people an account change concerns are told by e-mail
    (``notifications.account_changed`` decides who): a State's focal points when an account
    becomes or stops being one of them or has its password set here, a focal point's old and new
    addresses when its e-mail is changed. When a State has nobody left to tell, the page says so
    and the audit entry records it."""

    list_display = ["username", "email", "role", "state", "is_active"]
    list_filter = ["role", "is_active", "state"]
    fieldsets = [*BaseUserAdmin.fieldsets,
                 (_("Sentinelle"), {"fields": ["role", "state", "language"]})]

    def audit_notices(self, request, obj, before, after, message):
        changed = {name for part in message or [] if isinstance(part, dict)
                   for name in part.get("changed", {}).get("fields", [])}
        return warn_unheard(request, notifications.account_changed(
            before, after, request.user.get_username(), password_set="password" in changed))


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
        entry = super().get_object(request, object_id, from_field)
        if entry is not None:
            entry.content_hidden = not audit.content_visible(request.user, entry)
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
class SharingGroupAdmin(AuditedAdminMixin, admin.ModelAdmin):
    """A State added to a group reads the AMBER reports its members shared with it, so a change
    of members is told to every State concerned (``notifications.sharing_group_changed``)."""

    list_display = ["name", "created_at"]
    filter_horizontal = ["states"]

    def audit_notices(self, request, obj, before, after, message):
        if after is None:  # a group still holding reports cannot be deleted (PROTECT)
            return {}
        return warn_unheard(request, notifications.sharing_group_changed(
            obj, (before or {}).get("states", []), after.get("states", []),
            request.user.get_username()))


# A second factor's key shown or set in the admin would let the Secretariat sign in as anyone;
# devices are enrolled by their owner only (the second-factor page).
admin.site.unregister(TOTPDevice)
