from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ExchangeConfig(AppConfig):
    name = "sentinelle.exchange"
    label = "exchange"
    verbose_name = _("Exchange")

    def ready(self) -> None:
        # Importing registers the "import" and "federate" task handlers.
        from sentinelle.exchange import tasks  # noqa: F401
