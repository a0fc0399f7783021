"""The MISP feed at scale: manifest, events and hashes.csv of N reports, served through the WSGI
app in-process, and the bytes a first pull and a second pull (nothing new) transfer.

    .venv/bin/python bench/misp_feed.py --reports 100000 --json /tmp/misp_feed.json

Creates a fresh SQLite database in a temporary directory (or, with --database-url, re-creates
that PostgreSQL database), migrates it, bulk-creates --reports submitted reports (bulk_create,
not the service layer: the feed reads rows, it does not care how they were written) with one
version and two indicators each, GREEN/CLEAR/AMBER/RED mixed, half from Cuba, and
--indicators standalone shared indicators over 100 days. Then, as a focal point of another State
(who sees CLEAR and GREEN only) and with the Django test client (every middleware, no socket):

1. GET manifest.json, cold then warm: seconds, bytes, peak Python memory (tracemalloc);
2. GET hashes.csv: seconds, bytes;
3. GET --events event files picked at random from the manifest: events/s, mean bytes;
4. the second pull as MISP makes it: manifest.json with If-None-Match (304); and the same
   --events event files with If-None-Match, which MISP does not even ask for (it compares the
   manifest's timestamps) but a mirror with wget/curl would;
5. change one report (its title and updated_at, as an amendment does), pull again: only the
   manifest and that one event move.

Bytes of a first full pull are the manifest plus every event: the mean event size measured in
step 3 times the number of events (fetching all 100,000 in-process would take minutes and tell
nothing more).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import re
import sys
import tempfile
import time
import tracemalloc
import uuid


def setup(database_url: str | None, data_dir: str) -> None:
    os.environ["SENTINELLE_DATA_DIR"] = data_dir
    os.environ["SENTINELLE_REQUIRE_2FA"] = "false"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sentinelle.settings")
    if database_url:
        import psycopg

        name = database_url.rsplit("/", 1)[1]
        if not re.fullmatch(r"\w+", name):
            sys.exit(f"refusing database name {name!r}")
        with psycopg.connect(database_url.rsplit("/", 1)[0] + "/postgres",
                             autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        os.environ["DATABASE_URL"] = database_url
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def populate(n: int, n_indicators: int, rng: random.Random) -> tuple:
    from django.db import transaction
    from django.db.models import F

    from sentinelle.core.models import ApiToken, MemberState, Role, User
    from sentinelle.exchange.models import SharedIndicator
    from sentinelle.incidents.models import (
        Category,
        Incident,
        IncidentVersion,
        Indicator,
        RsitType,
    )

    cuba = MemberState.objects.get(alpha2="CU")
    swiss = MemberState.objects.get(alpha2="CH")
    alice = User.objects.create(username="bench-cu", role=Role.FOCAL_POINT, state=cuba)
    bob = User.objects.create(username="bench-ch", role=Role.FOCAL_POINT, state=swiss)
    others = list(MemberState.objects.exclude(pk__in=[cuba.pk, swiss.pk]).order_by("pk")[:20])
    reporters = [alice] + [User.objects.create(username=f"bench-{s.alpha2.lower()}",
                                               role=Role.FOCAL_POINT, state=s) for s in others]
    categories = list(Category.objects.all())
    types = list(RsitType.objects.all())
    tlps = ["clear", "green", "green", "amber", "amber", "red"]
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    batch = 5000
    with transaction.atomic():
        for first in range(0, n, batch):
            incidents = []
            for i in range(first, min(n, first + batch)):
                reporter = alice if rng.random() < 0.5 else rng.choice(reporters)
                began = start + dt.timedelta(minutes=rng.randrange(300 * 24 * 60))
                incidents.append(Incident(
                    state_id=reporter.state_id, reporter=reporter, status="submitted",
                    version=1, submitted_at=began,
                    stix_id=f"incident--{uuid.UUID(int=rng.getrandbits(128), version=4)}",
                    title=f"bench report {i}", category=rng.choice(categories),
                    rsit_type=rng.choice(types), tlp=rng.choice(tlps),
                    severity=rng.choice(["low", "medium", "high", "critical"]),
                    started_at=began, ended_at=began + dt.timedelta(hours=2),
                    affected_services=["fixed internet"], users_affected=5000,
                    description="Generated for the MISP feed bench. " * 4,
                    narrative_language="en"))
            Incident.objects.bulk_create(incidents)
            versions = IncidentVersion.objects.bulk_create([
                IncidentVersion(incident=i, number=1, author=i.reporter, content={})
                for i in incidents])
            Indicator.objects.bulk_create([
                Indicator(version=v, incident=v.incident, type=kind, value=value)
                for v in versions
                for kind, value in (("ipv4", f"198.51.{rng.randrange(256)}.{rng.randrange(256)}"),
                                    ("domain", f"bad{rng.randrange(10**6)}.example"))])
        shared = []
        for j in range(n_indicators):
            when = start + dt.timedelta(minutes=rng.randrange(100 * 24 * 60))
            shared.append(SharedIndicator(state=rng.choice([cuba, swiss]), type="domain",
                                          value=f"shared{j}.example",
                                          tlp=rng.choice(["green", "amber"]),
                                          created=when, modified=when))
        SharedIndicator.objects.bulk_create(shared, batch_size=batch)
        # added_at is auto_now_add: spread it over the 100 days as a feed would have it.
        for item in shared:
            item.added_at = item.created
        SharedIndicator.objects.bulk_update(shared, ["added_at"], batch_size=batch)
        # auto_now stamped them all "now"; a real year has them spread (update() skips auto_now).
        Incident.objects.update(updated_at=F("submitted_at"))
    return ApiToken.issue(bob, read_only=True)[1]


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def timed(fn):
    began = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reports", type=int, default=100_000, help="reports to create")
    parser.add_argument("--indicators", type=int, default=10_000,
                        help="standalone shared indicators to create")
    parser.add_argument("--events", type=int, default=2000,
                        help="event files to GET (sampled from the manifest)")
    parser.add_argument("--database-url", default=None,
                        help="a PostgreSQL database to re-create and use (default: SQLite in a "
                             "temporary directory)")
    parser.add_argument("--json", default=None, help="also write the figures here")
    parser.add_argument("--seed", type=int, default=16, help="random seed")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="misp-feed-bench-") as data_dir:
        setup(args.database_url, data_dir)
        secret, seconds = timed(lambda: populate(args.reports, args.indicators, rng))
        print(f"created {args.reports} reports and {args.indicators} shared indicators "
              f"in {seconds:.1f} s")
        figures = run(args, rng, secret)
        figures["populate_s"] = round(seconds, 1)
    print(json.dumps(figures, indent=2))
    if args.json:
        with open(args.json, "w") as out:
            json.dump(figures, out, indent=2)


def run(args, rng: random.Random, secret: str) -> dict:
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from sentinelle.incidents.models import Incident

    client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {secret}")
    base = "/feeds/misp/all"
    figures: dict = {"reports": args.reports, "shared_indicators": args.indicators}

    response, cold = timed(lambda: client.get(f"{base}/manifest.json"))
    assert response.status_code == 200, response.status_code
    manifest_bytes = body(response)
    manifest = json.loads(manifest_bytes)
    etag = response["ETag"]
    queries = []   # counted with a wrapper: request_started resets connection.queries

    def count(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        _response, warm = timed(lambda: client.get(f"{base}/manifest.json"))
    tracemalloc.start()
    body(client.get(f"{base}/manifest.json"))
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    figures["manifest"] = {"events": len(manifest), "bytes": len(manifest_bytes),
                           "cold_s": round(cold, 3), "warm_s": round(warm, 3),
                           "sql_queries": len(queries), "peak_python_mb": round(peak / 2**20, 1)}

    response, seconds = timed(lambda: body(client.get(f"{base}/hashes.csv")))
    figures["hashes_csv"] = {"lines": response.count(b"\n"), "bytes": len(response),
                             "s": round(seconds, 3)}

    sample = rng.sample(sorted(manifest), min(args.events, len(manifest)))
    sizes, etags = [], {}
    began = time.perf_counter()
    for event_uuid in sample:
        response = client.get(f"{base}/{event_uuid}.json")
        assert response.status_code == 200, (event_uuid, response.status_code)
        sizes.append(len(response.content))
        etags[event_uuid] = response["ETag"]
    elapsed = time.perf_counter() - began
    mean = sum(sizes) / len(sizes)
    figures["events"] = {"fetched": len(sample), "events_per_s": round(len(sample) / elapsed),
                         "mean_bytes": round(mean)}
    figures["first_pull_bytes"] = len(manifest_bytes) + round(mean * len(manifest))

    response, seconds = timed(lambda: client.get(f"{base}/manifest.json",
                                                 HTTP_IF_NONE_MATCH=etag))
    assert response.status_code == 304
    began = time.perf_counter()
    not_modified = sum(client.get(f"{base}/{u}.json", HTTP_IF_NONE_MATCH=e).status_code == 304
                       for u, e in etags.items())
    elapsed = time.perf_counter() - began
    assert not_modified == len(etags)
    figures["second_pull"] = {"manifest_304_s": round(seconds, 3), "body_bytes": 0,
                              "events_304_per_s": round(len(etags) / elapsed),
                              "events_fetched_by_misp": 0}

    # What an amendment changes for the feed: the row's content and updated_at (the service
    # layer's amend_report also adds a version; the feed reads only the row and its indicators).
    target = Incident.objects.filter(stix_id=f"incident--{sample[0]}").get()
    Incident.objects.filter(pk=target.pk).update(title="bench report, amended",
                                                 updated_at=timezone.now())
    response = client.get(f"{base}/manifest.json", HTTP_IF_NONE_MATCH=etag)
    after = json.loads(body(response))
    newer = [u for u, entry in after.items()
             if entry["timestamp"] > manifest.get(u, {}).get("timestamp", 0)]
    event = client.get(f"{base}/{newer[0]}.json") if newer else None
    figures["after_one_amendment"] = {
        "manifest_status": response.status_code, "events_newer_in_manifest": len(newer),
        "bytes": int(response["Content-Length"]) + (len(event.content) if event else 0)}
    return figures


if __name__ == "__main__":
    main()
