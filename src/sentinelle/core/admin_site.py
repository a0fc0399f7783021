"""The Django admin site, admitting only complete sign-ins.

Its login page is not used: /admin/login/ is routed (sentinelle/urls.py) to
``core.views.admin_login``, which sends everyone to /account/login/, the one sign-in path with
the lock-out and the second factor.
"""

from __future__ import annotations

from django.contrib.admin import AdminSite
from django.contrib.admin.apps import AdminConfig
from django.http import HttpRequest


class SentinelleAdminSite(AdminSite):
    def register(self, model_or_iterable, admin_class=None, **options):
        from django.contrib.admin import ModelAdmin

        from sentinelle.core.admin_audit import AuditedAdminMixin
        from sentinelle.core.admin_redaction import RedactedDeletionMixin

        # Every admin, ours and the libraries', records its changes in the audit chain and
        # names no related row's content on its deletion pages.
        base = admin_class or ModelAdmin
        missing = tuple(mixin for mixin in (AuditedAdminMixin, RedactedDeletionMixin)
                        if not issubclass(base, mixin))
        if missing:
            base = type(base.__name__, (*missing, base), {"__module__": base.__module__})
        return super().register(model_or_iterable, base, **options)

    def has_permission(self, request: HttpRequest) -> bool:
        # Imported here: this module is loaded with INSTALLED_APPS, before any model can be.
        from sentinelle.core.middleware import second_factor_pending

        # The middleware already turns a password-only session away from /admin/; this keeps
        # the admin closed to one even if a view is reached some other way.
        return super().has_permission(request) and not second_factor_pending(request)


class SentinelleAdminConfig(AdminConfig):
    """Installed in place of ``django.contrib.admin``: the same app, with the site above."""

    default_site = "sentinelle.core.admin_site.SentinelleAdminSite"
