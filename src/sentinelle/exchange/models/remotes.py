from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class FederationCursor(models.Model):
    """Where the last pull from (or push to) a remote TAXII collection stopped: incremental
    federation resumes from here."""

    class Direction(models.TextChoices):
        PULL = "pull", _("pull")
        PUSH = "push", _("push")

    remote = models.URLField(_("remote server"), max_length=500)
    api_root = models.CharField(_("API root"), max_length=200)
    collection = models.CharField(_("collection"), max_length=200)
    direction = models.CharField(max_length=4, choices=Direction.choices)
    added_after = models.CharField(_("last added_after"), max_length=40, blank=True)
    last_run_at = models.DateTimeField(_("last run"), null=True, blank=True)
    last_result = models.JSONField(_("last result"), null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(
            fields=["remote", "api_root", "collection", "direction"],
            name="federation_cursor_unique")]
        verbose_name = _("federation cursor")
        verbose_name_plural = _("federation cursors")

    def __str__(self) -> str:
        return f"{self.direction} {self.remote} {self.api_root}/{self.collection}"


def normalise_remote(url: str) -> str:
    """One spelling per server: with or without the trailing slash is the same remote."""
    return url.strip().rstrip("/")


class FederationRemote(models.Model):
    """A TAXII server this instance pulls from, and the Member States it is trusted to speak
    for. A pulled record is filed under the State its producer identity stands for only when
    the remote is trusted for that State; the puller's own State is always trusted (that is
    what a pull did before trust could be declared)."""

    url = models.URLField(_("remote server"), max_length=500, unique=True)
    trusted_states = models.ManyToManyField(
        "core.MemberState", blank=True, related_name="+", verbose_name=_("trusted for"),
        help_text=_("Member States whose records this remote may deliver, besides the pulling "
                    "focal point's own State."))
    note = models.CharField(_("note"), max_length=300, blank=True)

    class Meta:
        ordering = ["url"]
        verbose_name = _("federation remote")
        verbose_name_plural = _("federation remotes")

    def __str__(self) -> str:
        return self.url

    def save(self, *args, **kwargs):
        self.url = normalise_remote(self.url)
        super().save(*args, **kwargs)
