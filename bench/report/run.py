"""Council report at scale: time and peak memory of the annual report for N generated incidents
on PostgreSQL, beside the bare SQL aggregation queries (the floor), in the same process.

    .venv/bin/python bench/report/run.py --sizes 10000,100000,1000000

Drops and re-creates the database of --database-url (default
postgres://sentinelle:sentinelle@127.0.0.1:5432/sentinelle_report_bench), migrates, then for each
size replaces the incidents with N generated rows (COPY, not the service layer: the report reads,
it does not care how rows were written), 80 % in the report year and the rest over the four years
before, with acknowledgement transitions for 60 % and evidence rows for 25 %. Measures, each
once warm: the floor (one GROUP BY per table of the report, the percentile of the time to
acknowledge, and the five trend totals, as raw SQL), the HTML report and the PDF report. Peak
memory is tracemalloc's peak of Python allocations during the step (a second, traced run, so
tracing does not distort the times). Prints a table and the growth from the second-largest to the
largest size.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import os
import random
import re
import sys
import time
import tracemalloc
import uuid

DEFAULT_URL = "postgres://sentinelle:sentinelle@127.0.0.1:5432/sentinelle_report_bench"
YEAR = 2026


def recreate(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    if not re.fullmatch(r"\w+", name):
        sys.exit(f"refusing database name {name!r}")
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')


def setup(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sentinelle.settings")
    os.environ.setdefault("SENTINELLE_DATA_DIR", "/tmp/sentinelle-report-bench")
    os.makedirs(os.environ["SENTINELLE_DATA_DIR"], exist_ok=True)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("seed_actionplan", "--year", str(YEAR), stdout=io.StringIO())


def populate(n: int, rng: random.Random) -> None:
    from django.db import connection

    from sentinelle.core.models import MemberState, Role, User
    from sentinelle.incidents.models import Category, RsitType

    states = list(MemberState.objects.order_by("pk")[:60])
    users = []
    for state in states:
        user, _ = User.objects.get_or_create(username=f"bench-{state.alpha2.lower()}",
                                             defaults={"role": Role.FOCAL_POINT, "state": state})
        users.append(user)
    categories = list(Category.objects.values_list("pk", flat=True))
    types = list(RsitType.objects.values_list("pk", flat=True))
    with connection.cursor() as cur:
        cur.execute("TRUNCATE incidents_evidence, incidents_transition, incidents_indicator, "
                    "incidents_incidentversion, incidents_incident_named_analysts, "
                    "incidents_message, incidents_incident RESTART IDENTITY CASCADE")
    cols = ["state_id", "reporter_id", "status", "version", "created_at", "updated_at",
            "submitted_at", "stix_id", "title", "category_id", "rsit_type_id", "tlp", "severity",
            "started_at", "ended_at", "affected_services", "users_affected", "duration_hours",
            "user_hours", "description", "narrative_language", "consent_to_name", "channel"]
    statuses = ["submitted", "acknowledged", "under-analysis", "closed"]
    tlps = ["clear", "green", "amber", "amber", "amber+strict", "red"]
    channels = ["web", "web", "api", "import", "federation"]
    raw = connection.connection  # psycopg 3
    acked = []
    with raw.cursor() as cur, cur.copy(
            f"COPY incidents_incident ({', '.join(cols)}) FROM STDIN") as copy:
        for i in range(n):
            year = YEAR if rng.random() < 0.8 else YEAR - rng.randint(1, 4)
            start = dt.datetime(year, 1, 1, tzinfo=dt.UTC) + dt.timedelta(
                minutes=rng.randrange(365 * 24 * 60))
            hours = rng.choice([0.5, 1, 2, 6, 24, 48])
            users_affected = rng.choice([200, 5000, 40000, 250000])
            k = rng.randrange(len(users))
            status = rng.choice(statuses)
            copy.write_row([users[k].state_id, users[k].pk, status, 1, start, start, start,
                            f"incident--{uuid.UUID(int=rng.getrandbits(128))}", f"bench {i}",
                            rng.choice(categories), rng.choice(types), rng.choice(tlps),
                            rng.choice(["low", "medium", "high", "critical"]), start,
                            start + dt.timedelta(hours=hours), "[]", users_affected, hours,
                            users_affected * hours, "generated", "en", rng.random() < 0.5,
                            rng.choice(channels)])
            if status != "submitted":
                acked.append((i + 1, start + dt.timedelta(hours=rng.uniform(1, 120))))
    actor = users[0].pk
    with raw.cursor() as cur, cur.copy(
            "COPY incidents_transition (incident_id, from_status, to_status, actor_id, at, note) "
            "FROM STDIN") as copy:
        for pk, at in acked:
            copy.write_row([pk, "submitted", "acknowledged", actor, at, ""])
    with raw.cursor() as cur, cur.copy(
            "COPY incidents_evidence (incident_id, uploaded_by_id, uploaded_at, file, filename, "
            "size, sha256, content_type, description, tlp) FROM STDIN") as copy:
        now = dt.datetime.now(dt.UTC)
        for pk in range(1, n + 1, 4):
            copy.write_row([pk, actor, now, "evidence/bench", "x.csv", 1, "0" * 64, "text/csv",
                            "", "amber"])
    raw.commit()
    with connection.cursor() as cur:
        cur.execute("ANALYZE")


FLOOR_SQL = [
    # One GROUP BY per table of the report, for the year, and the trend totals.
    """SELECT category_id, count(*), sum(user_hours) FROM incidents_incident
       WHERE status NOT IN ('draft','withdrawn','duplicate') AND started_at >= %(a)s
       AND started_at < %(b)s GROUP BY 1""",
    """SELECT t.rsit_class_id, count(*), sum(i.user_hours) FROM incidents_incident i
       JOIN incidents_rsittype t ON t.id = i.rsit_type_id
       WHERE status NOT IN ('draft','withdrawn','duplicate') AND started_at >= %(a)s
       AND started_at < %(b)s GROUP BY 1""",
    """SELECT rsit_type_id, count(*), sum(user_hours) FROM incidents_incident
       WHERE status NOT IN ('draft','withdrawn','duplicate') AND started_at >= %(a)s
       AND started_at < %(b)s GROUP BY 1""",
    """SELECT s.itu_d_region, s.admin_region, i.state_id, count(*), sum(i.user_hours),
       count(*) FILTER (WHERE consent_to_name) FROM incidents_incident i
       JOIN core_memberstate s ON s.id = i.state_id
       WHERE status NOT IN ('draft','withdrawn','duplicate') AND started_at >= %(a)s
       AND started_at < %(b)s GROUP BY 1, 2, 3""",
    """SELECT date_trunc('month', started_at), severity, status, count(*), sum(user_hours)
       FROM incidents_incident WHERE status NOT IN ('draft','withdrawn','duplicate')
       AND started_at >= %(a)s AND started_at < %(b)s GROUP BY 1, 2, 3""",
    """SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY t.at - i.submitted_at),
       percentile_cont(0.9) WITHIN GROUP (ORDER BY t.at - i.submitted_at)
       FROM incidents_incident i JOIN incidents_transition t ON t.incident_id = i.id
       AND t.to_status = 'acknowledged'
       WHERE i.status NOT IN ('draft','withdrawn','duplicate') AND i.started_at >= %(a)s
       AND i.started_at < %(b)s""",
    """SELECT count(*) FILTER (WHERE EXISTS (SELECT 1 FROM incidents_evidence e
       WHERE e.incident_id = i.id)) FROM incidents_incident i
       WHERE status NOT IN ('draft','withdrawn','duplicate') AND started_at >= %(a)s
       AND started_at < %(b)s""",
    """SELECT date_part('year', started_at), count(*), count(DISTINCT state_id),
       sum(user_hours) FROM incidents_incident
       WHERE status NOT IN ('draft','withdrawn','duplicate') AND started_at >= %(t)s
       AND started_at < %(b)s GROUP BY 1""",
]


def floor() -> None:
    from django.db import connection

    params = {"a": dt.datetime(YEAR, 1, 1, tzinfo=dt.UTC),
              "b": dt.datetime(YEAR + 1, 1, 1, tzinfo=dt.UTC),
              "t": dt.datetime(YEAR - 4, 1, 1, tzinfo=dt.UTC)}
    with connection.cursor() as cur:
        for sql in FLOOR_SQL:
            cur.execute(sql, params)
            cur.fetchall()


def forget() -> None:
    """Empty the store of closed years' statistics (absent before issue 17: nothing to do)."""
    try:
        from sentinelle.analysis.stats_store import forget as drop
    except ImportError:
        return
    drop()


def report(fmt: str, cold: bool = False, year: int = YEAR):
    def run():
        from sentinelle.reports.options import ReportOptions
        from sentinelle.reports.services import produce

        if cold:
            forget()
        produce(ReportOptions(year=year, lang="en", fmt=fmt, date=dt.date(2027, 3, 1)))
    return run


def profile(step, lines: int) -> None:
    """cProfile of one run of ``step``, its top lines by cumulative time."""
    import cProfile
    import pstats

    prof = cProfile.Profile()
    prof.runcall(step)
    pstats.Stats(prof).sort_stats("cumulative").print_stats(lines)


def loaded(n: int) -> bool:
    """True when the database already holds the N generated incidents (for --reuse)."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM incidents_incident WHERE title LIKE 'bench %%'")
        incidents = cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM incidents_evidence")  # the last table written
        return incidents == n and cur.fetchone()[0] == len(range(1, n + 1, 4))


def has_store() -> bool:
    try:
        import sentinelle.analysis.stats_store  # noqa: F401
    except ImportError:
        return False
    return True


NOT_RUN = (float("nan"), float("nan"), float("nan"), float("nan"))
_BACKEND: list[int] = []


def server_cpu() -> float:
    """CPU seconds (user + system) of this connection's PostgreSQL backend so far, read from
    /proc (PostgreSQL on this machine); NaN when it cannot be read. Parallel workers' CPU is not
    in it: --serial turns them off so that it is all of PostgreSQL's CPU for the step."""
    from django.db import connection

    if not _BACKEND:
        with connection.cursor() as cur:
            cur.execute("SELECT pg_backend_pid()")
            _BACKEND.append(cur.fetchone()[0])
    try:
        with open(f"/proc/{_BACKEND[0]}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(step, memory: bool = True) -> tuple[float, float, float, float]:
    """(wall seconds, peak MiB, this process's CPU, the PostgreSQL backend's CPU)."""
    started, cpu, srv = time.perf_counter(), time.process_time(), server_cpu()
    step()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    srv = server_cpu() - srv
    if not memory:
        return seconds, float("nan"), cpu, srv
    tracemalloc.start()
    step()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return seconds, peak / 2**20, cpu, srv


def cpu_ratio(step: tuple, floor_step: tuple) -> float:
    """A step's CPU (this process's and PostgreSQL's backend's) over the floor's: unlike the
    wall times, it hardly moves with the load of a shared machine."""
    return (step[2] + step[3]) / (floor_step[2] + floor_step[3])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL",
                                                                 DEFAULT_URL))
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--reuse", action="store_true",
                        help="keep the database if it exists and skip loading a size it already "
                             "holds (one size per database: load 1M once, measure many times)")
    parser.add_argument("--quick", action="store_true",
                        help="one untraced run of each step (no memory figure), no PDF, and no "
                             "warm run when the code has no store of closed years (before "
                             "issue 17 warm and cold are the same)")
    parser.add_argument("--serial", action="store_true",
                        help="no parallel query workers (max_parallel_workers_per_gather = 0), "
                             "so that the backend's CPU is all of PostgreSQL's CPU for a step")
    parser.add_argument("--profile", type=int, default=0, metavar="LINES",
                        help="also print cProfile's top LINES of a cold and a warm html report")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if not args.reuse:
        recreate(args.database_url)
    else:
        try:
            import psycopg

            psycopg.connect(args.database_url).close()
        except Exception:  # noqa: BLE001 - absent: create it
            recreate(args.database_url)
    setup(args.database_url)
    if args.serial:
        from django.db import connection

        with connection.cursor() as cur:
            cur.execute("SET max_parallel_workers_per_gather = 0")
    server_cpu()   # find the backend before the first measure
    # Warm: imports, fonts, templates (--quick: a year without data, the same code paths).
    report("html", year=YEAR + 4 if args.quick else YEAR)()
    results = {}
    # html cold: the store of closed years' statistics emptied first; warm: closed years kept.
    # "cpu" is this process's CPU (Django, psycopg, templates, charts), not PostgreSQL's.
    print(f"{'incidents':>10} {'load s':>8} {'floor s':>8} {'cold s':>8} {'cold cpu':>8} "
          f"{'warm s':>8} {'warm cpu':>8} {'html MiB':>9} {'pdf s':>8} {'pdf MiB':>8} "
          f"{'cold/fl':>7} {'warm/fl':>7} {'fl srv':>7} {'cold srv':>8} {'warm srv':>8} "
          f"{'cold/fl cpu':>11} {'warm/fl cpu':>11}", flush=True)
    for n in sizes:
        t0 = time.perf_counter()
        if not (args.reuse and loaded(n)):
            populate(n, random.Random(args.seed))
        load = time.perf_counter() - t0
        floor()  # warm PostgreSQL's cache the same way for every step
        if not args.quick:
            report("html")()
        memory = not args.quick
        row = [measure(floor, memory), measure(report("html", cold=True), memory),
               measure(report("html"), memory) if has_store() or not args.quick else NOT_RUN,
               NOT_RUN if args.quick else measure(report("pdf"))]
        results[n] = row
        print(f"{n:>10} {load:>8.1f} {row[0][0]:>8.2f} {row[1][0]:>8.2f} {row[1][2]:>8.2f} "
              f"{row[2][0]:>8.2f} {row[2][2]:>8.2f} {row[2][1]:>9.1f} {row[3][0]:>8.2f} "
              f"{row[3][1]:>8.1f} {row[1][0] / row[0][0]:>6.1f}× {row[2][0] / row[0][0]:>6.1f}× "
              f"{row[0][3]:>7.2f} {row[1][3]:>8.2f} {row[2][3]:>8.2f} "
              f"{cpu_ratio(row[1], row[0]):>10.1f}× {cpu_ratio(row[2], row[0]):>10.1f}×",
              flush=True)
        if args.profile:
            print(f"--- profile, html cold, {n:,} incidents", flush=True)
            profile(report("html", cold=True), args.profile)
            print(f"--- profile, html warm, {n:,} incidents", flush=True)
            profile(report("html"), args.profile)
    if len(sizes) >= 2:
        a, b = sizes[-2], sizes[-1]
        names = ["floor", "html report cold", "html report warm", "pdf report"]
        growth = ", ".join(f"{name} ×{results[b][i][0] / results[a][i][0]:.1f} time "
                           f"×{results[b][i][1] / max(results[a][i][1], 0.01):.1f} memory"
                           for i, name in enumerate(names))
        print(f"growth {a:,} → {b:,} incidents (×{b / a:g}): {growth}")


if __name__ == "__main__":
    main()
