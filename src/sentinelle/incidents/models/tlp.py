from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


# Its own module so that reports, evidence and messages can all carry a TLP without importing
# one another.
class TLP(models.TextChoices):
    CLEAR = "clear", _("TLP:CLEAR")
    GREEN = "green", _("TLP:GREEN")
    AMBER = "amber", _("TLP:AMBER")
    AMBER_STRICT = "amber+strict", _("TLP:AMBER+STRICT")
    RED = "red", _("TLP:RED")
