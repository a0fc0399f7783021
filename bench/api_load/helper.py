"""Django-side steps of the API load benchmark, run by run.py with the venv's Python.

    helper.py createdb URL       drop (if present) and create the database named in URL
    helper.py dropdb URL         drop it
    helper.py seed --reports N --focal-point NAME --analyst NAME
    helper.py probe --focal-token T --analyst-token T
    helper.py lockwatch URL      sample waiters for the audit chain's lock until stdin closes

seed and probe need DJANGO_SETTINGS_MODULE and DATABASE_URL in the environment. Each step prints
one JSON object on its last line of stdout.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import statistics
import sys
import time
from urllib.parse import unquote, urlsplit

# Other States whose focal points file part of the seeded reports (the list's scoping differs
# between a focal point, who sees its State's reports plus CLEAR/GREEN ones, and the analyst).
OTHER_STATES = ("CH", "FR", "BR", "KE", "JP")
TLP_MIX = (("clear", 20), ("green", 30), ("amber", 35), ("amber+strict", 10), ("red", 5))


def _server_params(url: str) -> tuple[dict, str]:
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql", "pgsql"):
        raise SystemExit(f"not a PostgreSQL URL: {url}")
    params = {"host": parts.hostname or "localhost", "port": parts.port or 5432,
              "user": unquote(parts.username or ""), "password": unquote(parts.password or ""),
              "dbname": "postgres", "autocommit": True, "connect_timeout": 5}
    name = unquote(parts.path.lstrip("/"))
    if not name or not name.replace("_", "").isalnum():
        raise SystemExit(f"refusing database name {name!r}: use letters, digits and _")
    return params, name


def createdb(url: str) -> dict:
    import psycopg

    params, name = _server_params(url)
    with psycopg.connect(**params) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
        version = conn.execute("SHOW server_version").fetchone()[0]
    return {"created": name, "server_version": version}


def dropdb(url: str) -> dict:
    import psycopg

    params, name = _server_params(url)
    with psycopg.connect(**params) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return {"dropped": name}


def lockwatch(url: str, interval: float = 0.02) -> dict:
    """Until stdin closes, every `interval` s: how many sessions of the database wait for an
    advisory lock (the audit chain's, core/audit.py; nothing else takes one), and whether one
    holds it. By Little's law the mean number waiting, times the phase's wall time, over its
    requests, is the mean wait for the lock per request; the share of samples in which it is
    held is the lock's utilisation (near 1: the lock caps the throughput, it is the bottleneck)."""
    import select

    import psycopg

    params, name = _server_params(url)
    samples = waiting = busy = held = 0
    with psycopg.connect(**{**params, "dbname": name}) as conn:
        while True:
            count, holders = conn.execute(
                "SELECT count(*) FILTER (WHERE NOT granted), count(*) FILTER (WHERE granted)"
                " FROM pg_locks WHERE locktype = 'advisory'"
                " AND database = (SELECT oid FROM pg_database"
                " WHERE datname = current_database())").fetchone()
            samples, waiting, busy = samples + 1, waiting + count, busy + (count > 0)
            held += holders > 0
            if select.select([sys.stdin], [], [], interval)[0]:
                break   # stdin readable: closed by run.py at the end of the phase
    return {"samples": samples, "mean_waiters": round(waiting / samples, 3),
            "share_of_samples_with_waiters": round(busy / samples, 3),
            "share_of_samples_held": round(held / samples, 3)}


def _django():
    import django

    django.setup()


def _weighted(rng: random.Random, items):
    return rng.choices([v for v, _w in items], weights=[w for _v, w in items])[0]


def seed(reports: int, focal_point: str, analyst: str, rng_seed: int = 42) -> dict:
    """N reports through the service layer (validated, versioned and audited as the API does)."""
    _django()
    from django.db import connection

    from sentinelle.core import audit
    from sentinelle.core.models import MemberState, Role, User
    from sentinelle.incidents import services
    from sentinelle.incidents.models import Category, Incident, RsitType

    rng = random.Random(rng_seed)
    main = User.objects.get(username=focal_point)
    named = User.objects.get(username=analyst)
    reporters = [main]
    for alpha2 in OTHER_STATES:
        user, _created = User.objects.get_or_create(
            username=f"bench-{alpha2.lower()}",
            defaults={"role": Role.FOCAL_POINT, "state": MemberState.objects.get(alpha2=alpha2)})
        reporters.append(user)
    categories = list(Category.objects.filter(active=True))
    rsit_types = list(RsitType.objects.select_related("rsit_class"))
    now = dt.datetime.now(dt.UTC)
    amended = drafts = 0
    with audit.audit_context(actor="command:bench"):
        for n in range(reports):
            # About a third from the benchmark's focal point, the rest from other States.
            user = main if rng.random() < 0.34 else rng.choice(reporters[1:])
            tlp = _weighted(rng, TLP_MIX)
            start = now - dt.timedelta(days=rng.uniform(1, 700))
            indicators = [("ipv4", f"198.51.{n % 250}.{k + 1}") for k in range(rng.randint(0, 3))]
            if rng.random() < 0.5:
                indicators.append(("domain", f"c2-{n}.example.net"))
            cleaned = {
                "title": f"Bench incident {n}: {rng.choice(['DDoS', 'phishing', 'defacement'])}",
                "category": rng.choice(categories),
                "rsit_type": rng.choice(rsit_types),
                "tlp": tlp,
                "severity": rng.choice(["low", "medium", "high", "critical"]),
                "started_at": start,
                "ended_at": start + dt.timedelta(hours=rng.uniform(0.5, 72)),
                "detected_at": None,
                "affected_services": rng.sample(
                    ["fixed internet", "mobile internet", "DNS", "e-government", "banking"], 2),
                "users_affected": rng.randint(10, 2_000_000),
                "alleged_origin_state": None,
                "description": "Seeded by bench/api_load. " * rng.randint(5, 60),
                "narrative_language": "en",
                "consent_to_name": rng.random() < 0.3,
                "indicators": indicators,
                "named_analysts": [named] if tlp in ("amber+strict", "red") else [],
            }
            submit = rng.random() >= 0.05
            drafts += not submit
            incident = services.create_report(user, cleaned, submit=submit)
            if rng.random() < 0.15:  # some reports carry a second version
                services.amend_report(incident, user, {
                    "severity": "critical" if cleaned["severity"] != "critical" else "high",
                    "indicators": [*indicators, ("ipv4", f"203.0.113.{n % 250}")]},
                    note="bench amendment")
                amended += 1
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {"reports": Incident.objects.count(), "drafts": drafts, "amended": amended,
            "reporting_states": 1 + len(OTHER_STATES)}


def probe(focal_token: str, analyst_token: str) -> dict:
    """SQL queries per request, counted in-process with Django's test client (same code path)."""
    _django()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST="127.0.0.1")
    out: dict[str, dict] = {}

    def count(label: str, method: str, path: str, token: str | None, body=None, repeat=1):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        cpu, wall = [], []
        for _ in range(repeat):
            t_cpu, t_wall = time.process_time(), time.perf_counter()
            with CaptureQueriesContext(connection) as ctx:
                if method == "GET":
                    response = client.get(path, headers=headers)
                else:
                    response = client.post(path, data=json.dumps(body),
                                           content_type="application/json", headers=headers)
            cpu.append(time.process_time() - t_cpu)
            wall.append(time.perf_counter() - t_wall)
        out[label] = {"status": response.status_code, "queries": len(ctx.captured_queries),
                      "bytes": len(response.content),
                      "cpu_ms": round(statistics.median(cpu) * 1000, 2),
                      "wall_ms": round(statistics.median(wall) * 1000, 2)}

    # The first round warms per-process caches; the second is kept. Timings are single-client,
    # in-process (Python CPU of Django + psycopg, not of PostgreSQL), median of `repeat`.
    for final in (False, True):
        repeat = 15 if final else 1
        count("healthz", "GET", "/healthz", None, repeat=repeat)
        for who, token in (("focal_point", focal_token), ("analyst", analyst_token)):
            for limit in (1, 10, 50):
                count(f"list_{who}_limit{limit}", "GET", f"/api/v1/incidents/?limit={limit}",
                      token, repeat=repeat)
        count("post", "POST", "/api/v1/incidents/", focal_token, body=report_body(int(final)))
    return out


def report_body(n: int) -> dict:
    """The JSON a focal point's tool submits (shaped like tests/conftest.py report_payload())."""
    start = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=2, minutes=n % 997)
    return {
        "title": f"Load-test DDoS #{n} against the national portal",
        "category": "trust-security",
        "rsit": "availability:ddos",
        "tlp": "amber",
        "started_at": start.isoformat().replace("+00:00", "Z"),
        "ended_at": (start + dt.timedelta(hours=4)).isoformat().replace("+00:00", "Z"),
        "description": "Volumetric attack from a botnet.",
        "affected_services": ["fixed internet", "mobile internet"],
        "users_affected": 15000,
        "indicators": [{"type": "ipv4", "value": f"203.0.113.{n % 250 + 1}"},
                       {"type": "domain", "value": f"Botnet{n}.Example"}],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="step", required=True)
    for name in ("createdb", "dropdb", "lockwatch"):
        sub.add_parser(name).add_argument("url")
    p_seed = sub.add_parser("seed")
    p_seed.add_argument("--reports", type=int, required=True)
    p_seed.add_argument("--focal-point", required=True)
    p_seed.add_argument("--analyst", required=True)
    p_probe = sub.add_parser("probe")
    p_probe.add_argument("--focal-token", required=True)
    p_probe.add_argument("--analyst-token", required=True)
    args = parser.parse_args(argv)
    if args.step == "createdb":
        result = createdb(args.url)
    elif args.step == "dropdb":
        result = dropdb(args.url)
    elif args.step == "lockwatch":
        result = lockwatch(args.url)
    elif args.step == "seed":
        result = seed(args.reports, args.focal_point, args.analyst)
    else:
        result = probe(args.focal_token, args.analyst_token)
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
