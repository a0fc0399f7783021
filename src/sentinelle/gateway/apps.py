from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GatewayConfig(AppConfig):
    name = "sentinelle.gateway"
    label = "gateway"
    verbose_name = _("Cybersecurity gateway")
