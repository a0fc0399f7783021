"""Every app's task handlers live in its tasks.py and are registered when Django starts. A queued
job names its kind, not a module, so a job queued before a module was renamed still runs."""

from __future__ import annotations

from sentinelle.core import jobs


def test_every_kind_a_job_may_hold_is_registered_from_a_tasks_module():
    # Other tests register handlers of their own; the apps' are those under sentinelle.
    handlers = {kind: func for kind, func in jobs._HANDLERS.items()
                if func.__module__.startswith("sentinelle.")}
    assert {"import", "federate", "council-report"} <= set(handlers)
    for kind, func in handlers.items():
        assert func.__module__.endswith(".tasks"), (kind, func.__module__)


def test_the_queue_runs_every_job_through_core_run_job():
    # What a queued task stores (django-tasks' database backend, RQ): this path and the Job's
    # id. Moving run_job would strand jobs already queued; the apps' modules never appear.
    assert jobs.run_job.module_path == "sentinelle.core.jobs.run_job"
