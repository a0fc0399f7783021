"""How soon the Secretariat means to handle a submitted report, per category: data the
Secretariat sets (``/analysis/handling-times/``), never constants in code."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

# One year: a longer expectation is no expectation at all.
MAX_HOURS = 8760


class HandlingExpectation(models.Model):
    """Hours from submission by which a report of a category should be acknowledged (the
    Secretariat's first status change) and analysed (closed). The clock runs from submission,
    including time spent waiting for the State's answer to a request for information."""

    category = models.OneToOneField(
        "incidents.Category", on_delete=models.CASCADE, related_name="handling_expectation",
        verbose_name=_("category"))
    acknowledge_hours = models.PositiveIntegerField(
        _("acknowledge within (hours)"),
        validators=[MinValueValidator(1), MaxValueValidator(MAX_HOURS)])
    analyse_hours = models.PositiveIntegerField(
        _("analyse within (hours)"),
        validators=[MinValueValidator(1), MaxValueValidator(MAX_HOURS)],
        help_text=_("Hours from submission to the report's closure."))
    updated_at = models.DateTimeField(_("changed"), auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
        related_name="+", verbose_name=_("changed by"))

    class Meta:
        ordering = ["category__position", "category__code"]
        verbose_name = _("expected handling time")
        verbose_name_plural = _("expected handling times")
        constraints = [models.CheckConstraint(
            condition=models.Q(analyse_hours__gte=models.F("acknowledge_hours")),
            name="handling_analyse_not_before_acknowledge")]

    def __str__(self) -> str:
        return f"{self.category}: {self.acknowledge_hours} h / {self.analyse_hours} h"

    @property
    def acknowledge_within(self) -> dt.timedelta:
        return dt.timedelta(hours=self.acknowledge_hours)

    @property
    def analyse_within(self) -> dt.timedelta:
        return dt.timedelta(hours=self.analyse_hours)
