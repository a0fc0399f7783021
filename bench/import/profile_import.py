"""cProfile of `sentinelle import bundle.json --format stix` run in-process, on the bundle the
import bench writes (bench/import/run.py), against a fresh PostgreSQL database.

    PYTHONPATH=src .venv/bin/python bench/import/profile_import.py [--indicators 100000] \
        [--database-url postgres://sentinelle:sentinelle@127.0.0.1:5432/sentinelle_import_prof] \
        [--top 30] [--sort tottime] [--out F.pstats]

Prints the top lines of the profile and the import's CPU time (process_time) without process
start and Django set-up. The database is dropped and re-created, migrated, and dropped at the end.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
from api_load.helper import createdb, dropdb  # noqa: E402
from run import write_bundle  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--indicators", type=int, default=100_000)
    parser.add_argument("--database-url", default=os.environ.get(
        "BENCH_DATABASE_URL",
        "postgres://sentinelle:sentinelle@127.0.0.1:5432/sentinelle_import_prof"))
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--sort", default="tottime")
    parser.add_argument("--out", help="also save the raw profile here (pstats)")
    parser.add_argument("--no-profile", action="store_true",
                        help="time only (process CPU), without cProfile's overhead")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-import-prof-") as tmp:
        os.environ.update(DATABASE_URL=args.database_url, SENTINELLE_DATA_DIR=tmp,
                          DJANGO_SETTINGS_MODULE="sentinelle.settings",
                          SENTINELLE_LOG_LEVEL="ERROR")
        createdb(args.database_url)
        try:
            import django
            from django.core.management import call_command

            django.setup()
            call_command("migrate", verbosity=0)
            call_command("user", "create", "bench-cu", "--role", "focal-point", "--state",
                         "CU", stdout=io.StringIO())
            bundle = Path(tmp) / "bundle.json"
            write_bundle(bundle, args.indicators)
            out = io.StringIO()
            profile = None if args.no_profile else cProfile.Profile()
            cpu, wall = time.process_time(), time.perf_counter()
            if profile is not None:
                profile.enable()
            call_command("import", str(bundle), "--format", "stix", "--user", "bench-cu",
                         "--tlp", "green", stdout=out)
            if profile is not None:
                profile.disable()
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            print(out.getvalue().strip())
            print(f"import in-process: {cpu:.2f} s CPU, {wall:.2f} s wall, "
                  f"{args.indicators / cpu:,.0f} objects per CPU second"
                  + (" (under cProfile)" if profile is not None else ""))
            if profile is not None:
                if args.out:
                    profile.dump_stats(args.out)
                stats = pstats.Stats(profile, stream=sys.stdout)
                stats.sort_stats(args.sort).print_stats(args.top)
        finally:
            from django.db import connections

            connections.close_all()
            dropdb(args.database_url)


if __name__ == "__main__":
    main()
