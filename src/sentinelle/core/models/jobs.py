from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


def job_file_path(instance: Job, filename: str) -> str:
    # Never the user's name on disk: no traversal, no collisions.
    return f"jobs/{uuid.uuid4().hex}"


class JobQuerySet(models.QuerySet):
    def for_user(self, user) -> JobQuerySet:
        """A job, its files and its result are its owner's alone: an export's output holds
        what its owner may see, which may be more than anyone else may."""
        if user is None or not user.is_authenticated:
            return self.none()
        return self.filter(owner=user)

    def status_for_user(self, user) -> JobQuerySet:
        """Jobs whose status (kind, progress, times; no files, message or result) the user may
        follow: their own, and every job for the Secretariat administrator."""
        if user is None or not user.is_authenticated:
            return self.none()
        if user.role == "admin":
            return self
        return self.filter(owner=user)


class Job(models.Model):
    """Long work done off the request (imports, reports, federation), with a status users see."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    class Failure(models.TextChoices):
        """Why a failed job failed, for a program that must decide whether to try again (the
        probe campaign's outbox): the input was refused (it will be refused again), or the
        platform failed (an error, or the worker ended under it)."""
        REFUSED = "refused", _("Input refused")
        ERROR = "error", _("Unexpected error")
        INTERRUPTED = "interrupted", _("Interrupted")

    kind = models.CharField(_("kind"), max_length=40)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                              related_name="jobs", null=True, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices,
                              default=Status.QUEUED)
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    input = models.FileField(upload_to=job_file_path, max_length=200, blank=True)
    input_name = models.CharField(_("input file"), max_length=255, blank=True)
    # The input file is removed when the job ends (core/jobs.py); these stay for the record.
    input_size = models.PositiveBigIntegerField(_("input size"), null=True, blank=True)
    input_sha256 = models.CharField(_("input SHA-256"), max_length=64, blank=True)
    output = models.FileField(upload_to=job_file_path, max_length=200, blank=True)
    output_name = models.CharField(_("output file"), max_length=255, blank=True)
    progress_done = models.PositiveBigIntegerField(default=0)
    progress_total = models.PositiveBigIntegerField(null=True, blank=True)
    message = models.TextField(_("message"), blank=True)
    failure = models.CharField(_("failure"), max_length=12, choices=Failure.choices, blank=True)
    result = models.JSONField(_("result"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    objects = JobQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("job")
        verbose_name_plural = _("jobs")

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({self.status})"

    @property
    def percent(self) -> int | None:
        if not self.progress_total:
            return None
        return min(100, int(100 * self.progress_done / self.progress_total))

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.FAILED)
