from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
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


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ["seq", "at", "actor_name", "action", "object_type", "object_id"]
    list_filter = ["action", "object_type"]
    search_fields = ["actor_name", "object_id", "request_id"]


@admin.register(SharingGroup)
class SharingGroupAdmin(admin.ModelAdmin):
    list_display = ["name", "created_at"]
    filter_horizontal = ["states"]
