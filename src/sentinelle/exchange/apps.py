from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ExchangeConfig(AppConfig):
    name = "sentinelle.exchange"
    label = "exchange"
    verbose_name = _("Exchange")

    def ready(self) -> None:
        # Importing registers the "import" and "federate" jobs.
        from sentinelle.exchange import federation, jobs  # noqa: F401
