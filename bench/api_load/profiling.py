"""cProfile of the incident API in-process (Django test client, as helper.py probe counts queries).

Needs a database seeded by run.py (``run.py --keep-db`` keeps it); the profile's requests add
reports to it, so point it at a copy. Issues its own tokens for the seeded users:

    DJANGO_SETTINGS_MODULE=sentinelle.settings SENTINELLE_REQUIRE_2FA=false \\
    SENTINELLE_DATA_DIR=$(mktemp -d) DATABASE_URL=postgres://.../sentinelle_bench_copy \\
    .venv/bin/python bench/api_load/profiling.py --requests 200 --top 25

Prints, for the list as the focal point, the list as the analyst and a submission, the CPU per
request (time.process_time, median), the queries per request and the profile's top lines by
internal time and by cumulative time. ``--out DIR`` also writes each .pstats file.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import statistics
import sys
import time
from pathlib import Path

from helper import report_body


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--limit", type=int, default=50, help="page size of the lists (50)")
    parser.add_argument("--focal-point", default="bench-cu")
    parser.add_argument("--analyst", default="bench-analyst")
    parser.add_argument("--only", choices=["list_focal_point", "list_analyst", "post"])
    parser.add_argument("--out", help="directory for the .pstats files")
    args = parser.parse_args(argv)

    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from sentinelle.core.models import ApiToken, User

    tokens = {who: ApiToken.issue(User.objects.get(username=name), name="profile")[1]
              for who, name in (("focal_point", args.focal_point), ("analyst", args.analyst))}
    client = Client(HTTP_HOST="127.0.0.1")
    serial = iter(range(10_000, 10**9))

    def request(what: str):
        if what == "post":
            return client.post("/api/v1/incidents/", data=json.dumps(report_body(next(serial))),
                               content_type="application/json",
                               headers={"Authorization": f"Bearer {tokens['focal_point']}"})
        who = what.removeprefix("list_")
        return client.get(f"/api/v1/incidents/?limit={args.limit}",
                          headers={"Authorization": f"Bearer {tokens[who]}"})

    expected = {"list_focal_point": 200, "list_analyst": 200, "post": 201}
    for what in [args.only] if args.only else list(expected):
        for _ in range(5):   # warm per-process caches (translations, URL resolver, ...)
            assert request(what).status_code == expected[what]
        with CaptureQueriesContext(connection) as ctx:
            request(what)
        queries = len(ctx.captured_queries)   # now: the next request clears the log
        cpu = []
        for _ in range(args.requests):   # unprofiled: the profiler's own cost is not ours
            start = time.process_time()
            response = request(what)
            cpu.append(time.process_time() - start)
            assert response.status_code == expected[what], response.content[:500]
        profiler = cProfile.Profile(time.process_time)   # CPU, not wall: the machine is shared
        for _ in range(args.requests):
            profiler.enable()
            response = request(what)
            profiler.disable()
        # The minimum and the lowest decile too: on a shared machine other processes only
        # ever add to a request's CPU time (cache, SMT siblings), so they move least.
        tenth = sorted(cpu)[len(cpu) // 10]
        print(f"== {what}: CPU per request median {statistics.median(cpu) * 1000:.2f} ms, "
              f"mean {statistics.fmean(cpu) * 1000:.2f} ms, p10 {tenth * 1000:.2f} ms, "
              f"min {min(cpu) * 1000:.2f} ms over {args.requests} unprofiled "
              f"requests; {queries} queries; profile of {args.requests} more")
        for order in ("tottime", "cumulative"):
            out = io.StringIO()
            stats = pstats.Stats(profiler, stream=out)
            stats.sort_stats(order).print_stats(args.top)
            text = out.getvalue()
            print(text[text.index("   ncalls"):] if "   ncalls" in text else text)
        if args.out:
            Path(args.out).mkdir(parents=True, exist_ok=True)
            profiler.dump_stats(str(Path(args.out) / f"{what}.pstats"))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
