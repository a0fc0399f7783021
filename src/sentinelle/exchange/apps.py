from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ExchangeConfig(AppConfig):
    name = "sentinelle.exchange"
    label = "exchange"
    verbose_name = _("Exchange")

    def ready(self) -> None:
        from sentinelle.exchange import jobs  # noqa: F401  (registers the "import" job)
