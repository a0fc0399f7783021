from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ActionplanConfig(AppConfig):
    name = "sentinelle.actionplan"
    label = "actionplan"
    verbose_name = _("Action plan")
