"""Tasks on RQ (SENTINELLE_TASK_BACKEND=rq): the worker class `sentinelle rqworker` runs, and
the queue figures /healthz and /metrics read from Redis.

A job must never stay "running" after the process running it has gone. RQ forks a "work horse"
per job. When the horse dies (the kernel's out-of-memory killer, a kill -9), RQ marks its job
failed but, unlike every other failure, does not call the job's failure callback, so Django's
task_finished signal never comes and the Sentinelle Job would stay "running" for ever. Worker
calls it. When the whole worker dies with its horse, the job's heartbeat stops; once it expires
(about 90 seconds), the next maintenance of any worker moves the job to RQ's failed jobs and
calls the callback. Maintenance runs every minute here rather than RQ's ten, so that such a job
is seen failed within about two and a half minutes. Both paths end in
sentinelle.core.jobs.fail_abandoned, which ends the Job failed; nothing is retried, because a
half-run import or report is not known to be safe to run twice.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rq.callbacks import execute_failure_callback
from rq.worker import Worker as BaseWorker

from sentinelle.core.health import QueueStats

# RQ's default is ten minutes: a job whose worker died would look "running" that long.
MAINTENANCE_INTERVAL = 60


class WorkHorseKilled(Exception):
    """The process running the job ended before the job did."""


class Worker(BaseWorker):
    """RQ's forking worker, which also reports a killed work horse as a failed task."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("maintenance_interval", MAINTENANCE_INTERVAL)
        super().__init__(*args, **kwargs)

    def handle_work_horse_killed(self, job, retpid, ret_val, rusage) -> None:
        super().handle_work_horse_killed(job, retpid, ret_val, rusage)
        error = WorkHorseKilled(f"work horse {retpid} ended with status {ret_val}")
        try:
            execute_failure_callback(job, self.death_penalty_class, WorkHorseKilled, error, None)
        except Exception:
            # RQ still marks the job failed; the Job row is then ended by the next maintenance.
            self.log.exception("job %s: the failure callback failed", job.id)


def queue_stats(alias: str = "default", now: datetime | None = None) -> QueueStats:
    """Jobs waiting in the backend's RQ queues, and how long the one at the head has waited.

    Sentinelle enqueues every task at the back and defers none, so the head of a queue is the
    job that has waited longest."""
    from django_tasks import task_backends

    now = now or datetime.now(UTC)
    ready, oldest = 0, None
    for queue in task_backends[alias]._get_queues():
        ready += queue.count
        head = queue.get_job_ids(0, 1)
        job = queue.fetch_job(head[0]) if head else None
        enqueued = job.enqueued_at if job is not None else None
        if enqueued is not None:
            enqueued = enqueued if enqueued.tzinfo else enqueued.replace(tzinfo=UTC)
            oldest = enqueued if oldest is None else min(oldest, enqueued)
    age = max(0.0, (now - oldest).total_seconds()) if oldest is not None else None
    return QueueStats(ready=ready, oldest_ready_seconds=age)

