from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReportsConfig(AppConfig):
    name = "sentinelle.reports"
    label = "reports"
    verbose_name = _("Council reports")

    def ready(self):
        from sentinelle.reports import tasks  # noqa: F401 - registers the job handler
