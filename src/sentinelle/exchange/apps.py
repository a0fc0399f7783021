from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ExchangeConfig(AppConfig):
    name = "sentinelle.exchange"
    label = "exchange"
    verbose_name = _("Exchange")

    def ready(self) -> None:
        from sentinelle.core.querystring import register_answer

        # Importing registers the "import" and "federate" task handlers.
        from sentinelle.exchange import tasks  # noqa: F401
        from sentinelle.exchange.taxii.views import refused_parameter

        # A NUL in a TAXII query answers TAXII's error message, in TAXII's media type.
        register_answer("/taxii2/", refused_parameter)
