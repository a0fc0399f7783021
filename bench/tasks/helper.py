"""The Django side of bench/tasks/run.py, run with the venv's Python and the run's environment.

    helper.py enqueue JOBS INDICATORS FIRST TAG   start JOBS import jobs, each a STIX bundle of
                                                  its own, from indicator number FIRST
    helper.py times TAG                           those jobs' status and times, as JSON
"""

from __future__ import annotations

import json
import os
import sys
import uuid

NAMESPACE = uuid.UUID("5d0c7a1e-2f43-4c59-9b1a-7e0f4b8d2c11")


def bundle(first: int, count: int) -> bytes:
    objects = []
    for n in range(first, first + count):
        ip = f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"
        objects.append({
            "type": "indicator", "spec_version": "2.1",
            "id": f"indicator--{uuid.uuid5(NAMESPACE, str(n))}",
            "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
            "name": f"Botnet C2 {n}", "pattern": f"[ipv4-addr:value = '{ip}']",
            "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z",
            "object_marking_refs": ["marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"]})
    return json.dumps({"type": "bundle", "id": f"bundle--{uuid.uuid4()}",
                       "objects": objects}).encode()


def enqueue(jobs_count: int, indicators: int, first: int, tag: str) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from sentinelle.core import jobs
    from sentinelle.core.models import MemberState, Role, User

    user = User.objects.filter(username="bench-cu").first()
    if user is None:
        user = User(username="bench-cu", role=Role.FOCAL_POINT, email="bench-cu@example.org",
                    state=MemberState.objects.get(alpha2="CU"))
        user.set_unusable_password()
        user.save()
    for number in range(jobs_count):
        data = bundle(first + number * indicators, indicators)
        jobs.start("import", user, {"format": "stix", "bench": tag},
                   upload=SimpleUploadedFile(f"feed-{number}.json", data))


def times(tag: str) -> list[dict]:
    from sentinelle.core.models import Job

    return [{"status": job.status, "created": job.created_at.timestamp(),
             "started": job.started_at.timestamp() if job.started_at else None,
             "finished": job.finished_at.timestamp() if job.finished_at else None,
             "indicators_created": (job.result or {}).get("indicators_created"),
             "message": job.message[:200]}
            for job in Job.objects.filter(params__bench=tag).order_by("pk")]


def main(argv: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sentinelle.settings")
    import django

    django.setup()
    if argv[0] == "enqueue":
        enqueue(int(argv[1]), int(argv[2]), int(argv[3]), argv[4])
    elif argv[0] == "times":
        print(json.dumps(times(argv[1])))
    else:
        sys.exit(f"unknown command {argv[0]!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
