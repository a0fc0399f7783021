from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IncidentsConfig(AppConfig):
    name = "sentinelle.incidents"
    label = "incidents"
    verbose_name = _("Incidents")

    def ready(self) -> None:
        # The core imports no domain app: the incidents hand it what it needs about reports.
        from sentinelle.core import audit, metrics
        from sentinelle.incidents import visibility
        from sentinelle.incidents.metrics import report_metrics

        audit.register_content_check(visibility.audit_content_visible)
        metrics.register_collector(report_metrics)
