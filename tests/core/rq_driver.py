"""The other side of tests/core/test_tasks_rq.py: run as `python -m tests.core.rq_driver COMMAND` in
a process of its own, configured by the environment like any `sentinelle` command, against the
test's own data directory, database and redis-server.

  enqueue   create the users and start import, Council report and bundle jobs (ids on stdout)
  block     start one job that blocks until killed (the kill test)
  status    print every job's state as JSON
  health    print what /healthz and /metrics would say of the task queue
  worker    run `sentinelle rqworker` with the blocking job kind registered
  maintain  run RQ's registry maintenance as a later worker would, N seconds from now
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from tests.paths import FIXTURES_DIR

FIXTURES = FIXTURES_DIR
BLOCK = "test-rq-block"


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sentinelle.settings")
    import django

    django.setup()
    from sentinelle.core import jobs

    @jobs.handler(BLOCK)
    def _block(job, progress):
        Path(job.params["started"]).write_text(str(os.getpid()))
        time.sleep(600)
        return {"blocked": False}


def _users():
    from sentinelle.core.models import MemberState, Role, User

    def user(name, role, state=None):
        found = User.objects.filter(username=name).first()
        if found:
            return found
        made = User(username=name, role=role, email=f"{name}@example.org",
                    state=MemberState.objects.get(alpha2=state) if state else None)
        made.set_unusable_password()
        made.save()
        return made

    return user("alice", Role.FOCAL_POINT, "CU"), user("charlie", Role.ANALYST)


def enqueue(bundle_dir: str) -> list[int]:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from sentinelle.core import jobs
    from tests.observatory_helpers import access_bundle

    alice, charlie = _users()
    started = []
    for fmt, path in (("iodef", FIXTURES / "iodef" / "incidents.xml"),
                      ("veris", FIXTURES / "veris" / "incidents.json"),
                      ("misp", FIXTURES / "misp" / "misp_event.json")):
        upload = SimpleUploadedFile(path.name, path.read_bytes())
        started.append(jobs.start("import", alice, {"format": fmt, "tlp": "GREEN"},
                                  upload=upload))
    for fmt in ("html", "pdf"):
        started.append(jobs.start("council-report", charlie,
                                  {"year": 2026, "lang": "en", "fmt": fmt}))
    for number in range(2):
        bundle = access_bundle(Path(bundle_dir) / f"run-{number}.zip")
        upload = SimpleUploadedFile(bundle.name, bundle.read_bytes())
        started.append(jobs.start("observatory-submit", alice,
                                  {"expect": "probe", "language": "en"}, upload=upload))
    return [job.pk for job in started]


def block(marker: str) -> int:
    from sentinelle.core import jobs

    alice, _charlie = _users()
    return jobs.start(BLOCK, alice, {"started": marker}).pk


def status() -> dict:
    from sentinelle.core.models import Job

    return {str(job.pk): {"kind": job.kind, "status": job.status, "message": job.message,
                          "result": job.result, "output_name": job.output_name,
                          "output": job.output.name or "", "input": job.input.name or ""}
            for job in Job.objects.order_by("pk")}


def health() -> dict:
    from prometheus_client import generate_latest

    from sentinelle.core import health, metrics

    status, checks = health.run_checks()
    return {"status": status, "checks": checks,
            "metrics": generate_latest(metrics._Scrape()).decode()}


def maintain(later: float) -> None:
    """What a worker's maintenance does (rq.worker.Worker.clean_registries), with the clock
    `later` seconds ahead: the test does not wait for a dead worker's heartbeat to expire."""
    from django_tasks import task_backends
    from rq.registry import StartedJobRegistry

    for queue in task_backends["default"]._get_queues():
        registry = StartedJobRegistry(queue=queue, job_class=queue.job_class)
        registry.cleanup(timestamp=time.time() + later)


def main(argv: list[str]) -> None:
    _setup()
    command, args = argv[0], argv[1:]
    if command == "worker":
        from sentinelle.cli import main as sentinelle

        sentinelle(["sentinelle", "rqworker", *args])
    elif command == "enqueue":
        print(json.dumps(enqueue(args[0])))
    elif command == "block":
        print(json.dumps(block(args[0])))
    elif command == "status":
        print(json.dumps(status()))
    elif command == "health":
        print(json.dumps(health()))
    elif command == "maintain":
        maintain(float(args[0]))
    else:
        sys.exit(f"unknown command {command!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
