from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "sentinelle.core"
    label = "core"
    verbose_name = _("Core")

    def ready(self) -> None:
        from sentinelle.core.api import schema  # noqa: F401  (registers OpenAPI extensions)
