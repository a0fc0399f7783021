"""Statistics of closed years, computed once and kept (``analysis/stats_store.py``)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class KeptStatistics(models.Model):
    """The Council/Secretariat statistics of one closed year (every TLP, no viewer's scope),
    in one language, with the fingerprint of the data they were computed from. Never a view
    scoped to a reader: that form is recomputed each time."""

    year = models.PositiveIntegerField(_("year"))
    # Labels in the rows are translated, so each language keeps its own copy.
    language = models.CharField(_("language"), max_length=16)
    fingerprint = models.CharField(_("fingerprint"), max_length=128)
    # JSON text, not a JSONField: PostgreSQL's jsonb would not give back 12.0 as a float.
    payload = models.TextField(_("figures"))
    computed_at = models.DateTimeField(_("computed"), auto_now=True)

    class Meta:
        ordering = ["year", "language"]
        verbose_name = _("kept statistics")
        verbose_name_plural = _("kept statistics")
        constraints = [models.UniqueConstraint(fields=["year", "language"],
                                               name="analysis_kept_statistics_year_language")]

    def __str__(self) -> str:
        return f"{self.year} ({self.language})"
