"""The checks behind /healthz: can this process use its database, and is the task queue moving?

Cheap by design, because monitors and load balancers call it every few seconds: one trivial
query, then one aggregate over the queue's ready rows (django-tasks-db keeps a partial index on
them), or, with the RQ backend, a few Redis reads (core/rq.py). The answer holds states and
counts only, never an error's text, which may name a host, a database user or a path, and
never what a task is or whose it is.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import connections
from django.db.models import Case, Count, F, Min, When
from django.http import HttpRequest, JsonResponse
from django.utils import timezone

log = logging.getLogger(__name__)

OK, DEGRADED, ERROR = "ok", "degraded", "error"
_DB_BACKEND = "django_tasks_db.DatabaseBackend"
_RQ_BACKEND = "django_tasks_rq.RQBackend"


@dataclass(frozen=True)
class QueueStats:
    """The tasks ready to run now, and how long the one waiting longest has waited."""

    ready: int
    oldest_ready_seconds: float | None


def check_database(using: str = "default") -> dict:
    try:
        with connections[using].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:
        # Logged for the operator; the answer says only that it failed.
        log.warning("health check: the database did not answer", exc_info=True)
        return {"status": ERROR}
    return {"status": OK}


def queue_backend(alias: str = "default") -> str:
    """The task backend's class path (as in settings.TASKS)."""
    return settings.TASKS.get(alias, {}).get("BACKEND", "")


def queue_stats(alias: str = "default", now: datetime | None = None) -> QueueStats | None:
    """Depth and oldest age of the task queue, in the database or in Redis; None for another
    backend (the immediate one has no queue).

    A task is ready from when it was enqueued, or, if it was deferred, from its run_after.
    django-tasks-db stores "not deferred" as run_after = 9999-01-01 (get_date_max)."""
    backend = queue_backend(alias)
    if backend == _RQ_BACKEND:
        from sentinelle.core import rq

        return rq.queue_stats(alias, now)
    if backend != _DB_BACKEND:
        return None
    from django_tasks_db.models import DBTaskResult, get_date_max

    now = now or timezone.now()
    date_max = get_date_max()
    row = DBTaskResult.objects.ready().filter(backend_name=alias).aggregate(
        ready=Count("pk"),
        oldest=Min(Case(When(run_after=date_max, then=F("enqueued_at")),
                        default=F("run_after"))))
    oldest = row["oldest"]
    age = max(0.0, (now - oldest).total_seconds()) if oldest is not None else None
    return QueueStats(ready=row["ready"], oldest_ready_seconds=age)


def check_tasks(alias: str = "default") -> dict:
    backend = queue_backend(alias)
    name = backend.rsplit(".", 1)[-1]
    if backend not in (_DB_BACKEND, _RQ_BACKEND):
        # The immediate backend has no queue (the demo, the tests); another backend's queue
        # is not read here.
        return {"status": OK, "backend": name, "checked": False}
    try:
        stats = queue_stats(alias)
        if stats is None:  # the backend changed between the two reads of the settings
            raise LookupError(backend)
    except Exception:
        # With RQ: Redis does not answer, or refuses the password. Logged, not shown.
        log.warning("health check: the task queue could not be read", exc_info=True)
        return {"status": ERROR, "backend": name, "checked": True}
    age = stats.oldest_ready_seconds
    late = age is not None and age > settings.HEALTH_MAX_TASK_AGE
    return {"status": DEGRADED if late else OK, "backend": name, "checked": True,
            "ready": stats.ready,
            "oldest_ready_seconds": round(age, 1) if age is not None else None,
            "max_age_seconds": settings.HEALTH_MAX_TASK_AGE}


def run_checks() -> tuple[str, dict]:
    """The overall status (the worst of the checks) and each check's answer.

    The database queue is not read when the database does not answer: it is in the database.
    A queue in Redis is read either way."""
    database = check_database()
    checks = {"database": database}
    if database["status"] == OK or queue_backend() == _RQ_BACKEND:
        checks["tasks"] = check_tasks()
    else:
        checks["tasks"] = {"status": ERROR, "checked": False}
    statuses = {check["status"] for check in checks.values()}
    overall = ERROR if ERROR in statuses else DEGRADED if DEGRADED in statuses else OK
    return overall, checks


def healthz(request: HttpRequest) -> JsonResponse:
    """200 with {"status": "ok"} when healthy; 503 when degraded or failing, with each check.

    Open to anyone, signed in or not (monitors have no account): it says only states, the
    queue's depth and age, and the API version."""
    status, checks = run_checks()
    response = JsonResponse(
        {"status": status, "checks": checks,
         "version": settings.SPECTACULAR_SETTINGS["VERSION"]},
        status=200 if status == OK else 503)
    response["Cache-Control"] = "no-store"
    return response
