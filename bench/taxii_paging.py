"""TAXII paging benchmark (issue 16): a collection of N shared indicators, paged through to the
end with ``limit``, in the same process as the view (Django's test client, no network): time
per page at the start, middle and end, and the pager's memory (resident size after each page,
and its peak), which must not grow with the depth or with N.

    python bench/taxii_paging.py [--objects 1000000] [--limit 1000]
        [--database-url postgres://sentinelle:sentinelle@127.0.0.1:5432/sentinelle_taxii_bench]
        [--src DIR] [--json FILE] [--keep-db]

Without --database-url it uses a SQLite file in a temporary directory. A PostgreSQL database
named in --database-url is dropped and re-created, and dropped at the end (--keep-db keeps it).
--src is the ``src`` directory of the code to measure (default this checkout's): pointing it at
an older checkout gives the "before" figures. Three processes: this one (no Django), a seeder
(migrate, one focal point, N indicators by bulk_create, 10,000 a batch) and a pager, so that the
pager's peak memory is its own.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BATCH = 10_000
STATE = "CU"


def _rss_mib() -> float:
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _django() -> None:
    import django

    django.setup()


def stix_id(n: int) -> str:
    # Numbered so that the pager can check it got each one once, in order, without a set.
    return f"indicator--00000000-0000-4000-8000-{n:012d}"


def seed(objects: int) -> dict:
    _django()
    from django.core.management import call_command
    from django.utils import timezone

    from sentinelle.core.models import ApiToken, MemberState, Role, User
    from sentinelle.exchange.models import SharedIndicator

    started = time.monotonic()
    call_command("migrate", verbosity=0, interactive=False)
    migrated = time.monotonic() - started
    state = MemberState.objects.get(alpha2=STATE)
    user = User.objects.create(username="bench-cu", role=Role.FOCAL_POINT, state=state)
    _token, secret = ApiToken.issue(user, read_only=True)
    started = time.monotonic()
    for first in range(0, objects, BATCH):
        now = timezone.now()
        SharedIndicator.objects.bulk_create([SharedIndicator(
            stix_id=stix_id(n), state=state, created_by=user, source="bench", type="ipv4",
            value=f"{10 + n // 16_777_216 % 200}.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}",
            tlp="green", created=now, modified=now)
            for n in range(first, min(first + BATCH, objects))], batch_size=BATCH)
    return {"token": secret, "migrate_s": round(migrated, 1),
            "insert_s": round(time.monotonic() - started, 1)}


def page_through(token: str, limit: int) -> dict:
    _django()
    from django.test import Client

    from sentinelle.exchange.taxii.collections import collection_id

    client = Client()
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}",
               "HTTP_ACCEPT": "application/taxii+json;version=2.1"}
    path = f"/taxii2/sentinelle/collections/{collection_id('sentinelle', 'all')}/objects/"
    pages: list[dict] = []
    expected, others, key = 0, 0, None
    baseline = _rss_mib()
    started = time.monotonic()
    while True:
        params = {"limit": limit, **({"next": key} if key else {})}
        begin = time.monotonic()
        response = client.get(path, params, **headers)
        if response.status_code != 200:
            raise SystemExit(f"page {len(pages) + 1}: HTTP {response.status_code} "
                             f"{response.content[:300]!r}")
        body = json.loads(response.content)
        for obj in body.get("objects", []):
            if obj["type"] != "indicator":
                others += 1      # the TLP marking and the State's identity
                continue
            if obj["id"] != stix_id(expected):
                raise SystemExit(f"page {len(pages) + 1}: {obj['id']} where "
                                 f"{stix_id(expected)} was due")
            expected += 1
        pages.append({"ms": round((time.monotonic() - begin) * 1000, 1),
                      "rss_mib": round(_rss_mib(), 1), "objects": len(body.get("objects", []))})
        if len(pages) == 1 or len(pages) % 100 == 0:
            print(f"  page {len(pages)}: {pages[-1]['ms']:.0f} ms, RSS {pages[-1]['rss_mib']} "
                  "MiB", file=sys.stderr, flush=True)
        if not body["more"]:
            break
        key = body["next"]
    total = time.monotonic() - started
    middle = len(pages) // 2
    return {"pages": len(pages), "indicators": expected, "other_objects": others,
            "total_s": round(total, 1), "baseline_rss_mib": round(baseline, 1),
            "first_pages_ms": [p["ms"] for p in pages[:3]],
            "middle_pages_ms": [p["ms"] for p in pages[max(middle - 1, 0):middle + 2]],
            "last_pages_ms": [p["ms"] for p in pages[-3:]],
            "mean_page_ms": round(sum(p["ms"] for p in pages) / len(pages), 1),
            "rss_after_first_mib": pages[0]["rss_mib"],
            "rss_after_middle_mib": pages[middle]["rss_mib"],
            "rss_after_last_mib": pages[-1]["rss_mib"],
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def _child(args: list[str], env: dict) -> dict:
    done = subprocess.run([sys.executable, __file__, *args], env=env, stdout=subprocess.PIPE,
                          text=True, check=False)
    if done.returncode:
        raise SystemExit(f"{args[0]} failed with status {done.returncode}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--objects", type=int, default=1_000_000,
                        help="shared indicators in the collection (default 1,000,000)")
    parser.add_argument("--limit", type=int, default=1000, help="objects per page (1000)")
    parser.add_argument("--database-url", help="a PostgreSQL URL (dropped and re-created); "
                                               "default: SQLite in a temporary directory")
    parser.add_argument("--src", type=Path, default=ROOT / "src",
                        help="the src directory of the code to measure (default this one's)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--keep-db", action="store_true", help="keep the PostgreSQL database")
    # The children: not for people.
    parser.add_argument("--child", choices=["seed", "page"], help=argparse.SUPPRESS)
    parser.add_argument("--token", help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.child == "seed":
        print(json.dumps(seed(options.objects)))
        return 0
    if options.child == "page":
        print(json.dumps(page_through(options.token, options.limit)))
        return 0
    if options.objects < 1 or not 1 <= options.limit <= 1000:
        parser.error("--objects must be positive and --limit between 1 and 1000")
    with tempfile.TemporaryDirectory(prefix="taxii-bench-") as tmp:
        url = options.database_url or f"sqlite:///{tmp}/bench.sqlite3"
        if options.database_url:
            sys.path.insert(0, str(ROOT / "bench"))
            from api_load.helper import createdb

            createdb(url)
        env = {**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(options.src),
               "DJANGO_SETTINGS_MODULE": "sentinelle.settings", "SENTINELLE_DATA_DIR": tmp,
               "SENTINELLE_SECRET_KEY": "taxii-bench", "SENTINELLE_DEBUG": "false",
               "SENTINELLE_ALLOWED_HOSTS": "testserver"}
        try:
            print(f"seeding {options.objects:,} indicators ({url.split('@')[-1]})",
                  file=sys.stderr, flush=True)
            seeded = _child(["--child", "seed", "--objects", str(options.objects)], env)
            print(f"  inserted in {seeded['insert_s']} s; paging with limit={options.limit}",
                  file=sys.stderr, flush=True)
            paged = _child(["--child", "page", "--token", seeded["token"],
                            "--limit", str(options.limit)], env)
        finally:
            if options.database_url and not options.keep_db:
                from api_load.helper import dropdb

                dropdb(url)
    if paged["indicators"] != options.objects:
        print(f"FAILED: {paged['indicators']:,} indicators paged, {options.objects:,} held",
              file=sys.stderr)
        return 1
    figures = {"objects": options.objects, "limit": options.limit,
               "database": "postgresql" if options.database_url else "sqlite",
               "src": str(options.src), "insert_s": seeded["insert_s"], **paged}
    for name, value in figures.items():
        print(f"{name:>22}: {value}")
    if options.json:
        options.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
