from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ObservatoryConfig(AppConfig):
    name = "sentinelle.observatory"
    label = "observatory"
    verbose_name = _("Observatory")

    def ready(self):
        from sentinelle.observatory import tasks  # noqa: F401 - registers the job handler
