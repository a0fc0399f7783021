"""Running long work as a Job: enqueued through Django's Tasks API, status and progress kept on
the Job row so the UI, the API and the CLI can show it.

An app registers what a kind of job does with @handler("kind"); the function receives the Job
and a Progress, and returns a JSON-able result. A ValidationError becomes a failed job whose
message is shown to the user; any other error fails the job with a generic reason (and a log).

A job's input file is kept only while the job runs: uploads may hold what their State shared
under TLP:RED, and a failed import must not leave them in media/jobs/. What the audit needs —
the name, size and SHA-256 of what was submitted — stays on the Job row.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.dispatch import receiver
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django_tasks import task
from django_tasks.base import TaskResultStatus
from django_tasks.signals import task_finished

from sentinelle.core.audit import audit_context
from sentinelle.core.models import Job

log = logging.getLogger(__name__)
_HANDLERS: dict[str, Callable[[Job, Progress], Any]] = {}


def handler(kind: str):
    def register(func):
        _HANDLERS[kind] = func
        return func
    return register


class Progress:
    """Counts work done; writes it to the Job at most every half second."""

    def __init__(self, job: Job, interval: float = 0.5):
        self.job, self.interval, self._last = job, interval, 0.0

    def total(self, total: int | None) -> None:
        self.job.progress_total = total
        Job.objects.filter(pk=self.job.pk).update(progress_total=total)

    def advance(self, count: int = 1) -> None:
        self.job.progress_done += count
        now = time.monotonic()
        if now - self._last >= self.interval:
            self._last = now
            Job.objects.filter(pk=self.job.pk).update(progress_done=self.job.progress_done)


def start(kind: str, owner, params: dict | None = None, upload=None) -> Job:
    """Create the Job, keep its input file, and enqueue it."""
    if kind not in _HANDLERS:
        raise ValueError(f"unknown job kind {kind!r}")
    job = Job(kind=kind, owner=owner, params=params or {})
    if upload is not None:
        job.input_name = upload.name[:255]
        digest, size = hashlib.sha256(), 0
        for chunk in upload.chunks():
            digest.update(chunk)
            size += len(chunk)
        upload.seek(0)
        job.input_size, job.input_sha256 = size, digest.hexdigest()
        job.input.save(upload.name, upload, save=False)
    try:
        job.save()
    except Exception:
        # No row, no file: the input must not outlive a job that was never recorded.
        if job.input:
            job.input.delete(save=False)
        raise
    run_job.enqueue(job.pk)
    job.refresh_from_db()
    return job


@task()
def run_job(job_id: int) -> None:
    job = Job.objects.select_related("owner").get(pk=job_id)
    if job.status != Job.Status.QUEUED:
        return
    job.status, job.started_at = Job.Status.RUNNING, timezone.now()
    job.save(update_fields=["status", "started_at"])
    progress = Progress(job)
    # A worker has no request, hence no language: what the job writes for its owner (a refusal,
    # a count) is in the owner's language.
    language = job.params.get("language") or job.owner.language or settings.LANGUAGE_CODE
    try:
        with (audit_context(actor=job.owner, request_id=f"job-{job.pk}"),
              translation.override(language)):
            result = _HANDLERS[job.kind](job, progress)
    except ValidationError as exc:
        job.status, job.message = Job.Status.FAILED, " ".join(exc.messages)[:10_000]
        job.failure = Job.Failure.REFUSED
    except Exception:
        log.exception("job %s (%s) failed", job.pk, job.kind)
        job.status, job.failure = Job.Status.FAILED, Job.Failure.ERROR
        job.message = _("The job failed unexpectedly; the administrator can find the details "
                        "in the server log.")
    else:
        job.status, job.result = Job.Status.SUCCEEDED, result
    job.progress_done = progress.job.progress_done
    job.finished_at = timezone.now()
    _discard_input(job)
    job.save(update_fields=["status", "message", "failure", "result", "progress_done",
                            "finished_at", "output", "output_name", "progress_total", "input"])


@receiver(task_finished)
def fail_abandoned(sender, task_result, **kwargs) -> None:
    """End as failed a Job whose task failed outside run_job: its process was killed (RQ reports
    it through the task's failure callback, see core/rq.py). run_job itself ends every Job it
    runs, so a Job already ended is left alone."""
    if (task_result.status != TaskResultStatus.FAILED
            or task_result.task.module_path != run_job.module_path or not task_result.args):
        return
    job = Job.objects.filter(pk=task_result.args[0],
                             status__in=[Job.Status.QUEUED, Job.Status.RUNNING]).first()
    if job is None:
        return
    log.warning("job %s (%s): its worker ended before it did; marked failed", job.pk, job.kind)
    job.status, job.finished_at = Job.Status.FAILED, timezone.now()
    job.failure = Job.Failure.INTERRUPTED
    job.message = _("The job stopped before it finished: the process running it ended (it may "
                    "have been restarted or run out of memory). Start it again.")
    _discard_input(job)
    job.save(update_fields=["status", "message", "failure", "finished_at", "input"])


def _discard_input(job: Job) -> None:
    """Remove the input file once the job has ended, succeeded or failed; its name, size and
    SHA-256 stay on the row."""
    if not job.input:
        return
    try:
        job.input.delete(save=False)
    except OSError:
        # Leave the row pointing at the file so that it is still known and can be removed.
        log.exception("job %s: could not remove its input %s", job.pk, job.input.name)
