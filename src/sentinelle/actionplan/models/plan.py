"""The action plan Res. 130 asks the Secretary-General to evaluate: actions tied to resolution
clauses, indicators with a baseline and a target, and dated progress updates."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

CODE = RegexValidator(r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
                      _("Use letters, digits, dots, hyphens and underscores."))


class Responsible(models.TextChoices):
    GS = "GS", _("General Secretariat")
    BR = "BR", _("Radiocommunication Bureau (BR)")
    TSB = "TSB", _("Telecommunication Standardization Bureau (TSB)")
    BDT = "BDT", _("Telecommunication Development Bureau (BDT)")


class Action(models.Model):
    code = models.SlugField(_("code"), max_length=20, unique=True,
                            help_text=_("Short reference, e.g. A1."))
    clause = models.CharField(_("resolution clause"), max_length=200,
                              help_text=_("e.g. Res. 130 (Rev. Busan, 2014), instructs the "
                                          "Secretary-General 2"))
    title = models.CharField(_("title"), max_length=300)
    description = models.TextField(_("description"), blank=True)
    responsible = models.CharField(_("responsible"), max_length=4, choices=Responsible.choices)
    start_date = models.DateField(_("start"))
    end_date = models.DateField(_("end"))
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        ordering = ["position", "code"]
        verbose_name = _("action")
        verbose_name_plural = _("actions")

    def __str__(self) -> str:
        return f"{self.code} {self.title}"

    def get_absolute_url(self) -> str:
        return reverse("actionplan-action", args=[self.code])

    def clean(self):
        if self.start_date and self.end_date and self.end_date < self.start_date:
            raise ValidationError({"end_date": _("The end comes before the start.")})


class Metric(models.TextChoices):
    """Outcome indicators computed from the incident data by the statistics service."""

    STATES_REPORTING = "states-reporting", _("Member States reporting in the year")
    MEDIAN_ACK_HOURS = "median-ack-hours", _("Median time to acknowledge (hours)")
    EVIDENCE_SHARE = "evidence-share", _("Share of reports with evidence (%)")
    INCIDENTS_IN_CATEGORY = "incidents-in-category", _("Incidents reported in a category")


class Indicator(models.Model):
    class Direction(models.TextChoices):
        UP = "up", _("higher is better")
        DOWN = "down", _("lower is better")

    class Kind(models.TextChoices):
        MANUAL = "manual", _("manual (progress updates)")
        COMPUTED = "computed", _("computed from incident data")

    action = models.ForeignKey(Action, on_delete=models.CASCADE, related_name="indicators",
                               verbose_name=_("action"))
    code = models.CharField(_("code"), max_length=20, unique=True, validators=[CODE],
                            help_text=_("Short reference, e.g. A1.2."))
    name = models.CharField(_("name"), max_length=300)
    unit = models.CharField(_("unit"), max_length=40)
    baseline = models.FloatField(_("baseline"))
    baseline_date = models.DateField(_("baseline date"),
                                     help_text=_("Where the trajectory starts."))
    target = models.FloatField(_("target"))
    deadline = models.DateField(_("deadline"))
    direction = models.CharField(_("direction"), max_length=4, choices=Direction.choices,
                                 default=Direction.UP)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.MANUAL)
    metric = models.CharField(_("metric"), max_length=30, choices=Metric.choices, blank=True,
                              help_text=_("For computed indicators."))
    category = models.ForeignKey("incidents.Category", on_delete=models.PROTECT, null=True,
                                 blank=True, related_name="+", verbose_name=_("category"),
                                 help_text=_("For “incidents reported in a category”."))
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        ordering = ["action__position", "position", "code"]
        verbose_name = _("indicator")
        verbose_name_plural = _("indicators")

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    def clean(self):
        errors = {}
        if self.deadline and self.baseline_date and self.deadline <= self.baseline_date:
            errors["deadline"] = _("The deadline must come after the baseline date.")
        if self.kind == self.Kind.COMPUTED and not self.metric:
            errors["metric"] = _("A computed indicator needs a metric.")
        if self.kind == self.Kind.MANUAL and self.metric:
            errors["metric"] = _("A manual indicator has no metric.")
        if self.metric == Metric.INCIDENTS_IN_CATEGORY and self.category_id is None:
            errors["category"] = _("Choose the category to count.")
        if self.target is not None and self.baseline is not None:
            if self.direction == self.Direction.UP and self.target < self.baseline:
                errors["target"] = _("With “higher is better” the target must not be below "
                                     "the baseline.")
            if self.direction == self.Direction.DOWN and self.target > self.baseline:
                errors["target"] = _("With “lower is better” the target must not be above "
                                     "the baseline.")
        if errors:
            raise ValidationError(errors)


def progress_evidence_path(instance: ProgressUpdate, filename: str) -> str:
    # The stored name never comes from the user.
    return f"actionplan/{uuid.uuid4().hex}"


class ProgressUpdate(models.Model):
    indicator = models.ForeignKey(Indicator, on_delete=models.CASCADE, related_name="updates",
                                  verbose_name=_("indicator"))
    date = models.DateField(_("date"))
    value = models.FloatField(_("value"))
    note = models.TextField(_("note"), blank=True)
    evidence_file = models.FileField(_("evidence file"), upload_to=progress_evidence_path,
                                     max_length=200, blank=True)
    evidence_name = models.CharField(_("evidence file name"), max_length=255, blank=True)
    evidence_link = models.URLField(_("evidence link"), blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                    null=True, blank=True, related_name="+",
                                    verbose_name=_("recorded by"))
    recorded_at = models.DateTimeField(_("recorded"), auto_now_add=True)

    class Meta:
        ordering = ["indicator", "date", "id"]
        verbose_name = _("progress update")
        verbose_name_plural = _("progress updates")

    def __str__(self) -> str:
        return f"{self.indicator.code} {self.date}: {self.value}"
