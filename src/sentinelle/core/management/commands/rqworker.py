"""`sentinelle rqworker`: django-rq's worker, which runs the tasks queued in Redis.

Offered whatever the task backend, so that starting it on an installation that does not use RQ
says which setting to change instead of "Unknown command". Listed before django-rq in
INSTALLED_APPS, this command is the one `sentinelle rqworker` runs.
"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_rq.management.commands.rqworker import Command as RQWorkerCommand


class Command(RQWorkerCommand):
    help = gettext_lazy("Run background jobs (imports, reports, bundles, federation) from the "
                        "Redis queue; needs SENTINELLE_TASK_BACKEND=rq.")

    def handle(self, *args, **options):
        if settings.TASK_BACKEND != "rq":
            raise CommandError(_(
                "SENTINELLE_TASK_BACKEND is %(backend)r: tasks are not queued in Redis. Run "
                "`sentinelle db_worker` for the database queue, or set "
                "SENTINELLE_TASK_BACKEND=rq and SENTINELLE_REDIS_URL.")
                % {"backend": settings.TASK_BACKEND})
        return super().handle(*args, **options)
