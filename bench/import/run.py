"""Import benchmark: a generated STIX 2.1 bundle of N indicators into PostgreSQL through
`sentinelle import`, beside a PostgreSQL COPY of the same rows in the same run (the ceiling),
and the peak memory of reading a ~1 GB bundle. It also COPYs the same rows into the import's
own table and commits (foreign keys checked, WAL-logged): the server's share of any import.

    .venv/bin/python bench/import/run.py [--indicators 100000] [--gigabytes 1.0]
        [--database-url postgres://sentinelle:sentinelle@127.0.0.1:5432/sentinelle_import]
        [--json FILE]

It creates (and at the end drops) the database named in --database-url, migrates it, creates a
focal point, generates the bundles in a temporary directory and removes them.
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
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
from api_load.helper import _server_params, createdb, dropdb  # noqa: E402

# The checkout's venv, else the one running this script (a git worktree has no .venv of its own).
VENV_BIN = ROOT / ".venv" / "bin" if (ROOT / ".venv").is_dir() else Path(sys.executable).parent
SENTINELLE = VENV_BIN / "sentinelle"
PYTHON = VENV_BIN / "python"
BUNDLE_HEAD = '{{"type": "bundle", "id": "bundle--{}", "objects": [\n'
NAMESPACE = uuid.UUID("a3c1f2de-0b7e-4e8e-9d55-1f7f8e2a9c10")


def indicator(n: int) -> dict:
    ip = f"{10 + n // 16_777_216 % 200}.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"
    return {
        "type": "indicator", "spec_version": "2.1",
        "id": f"indicator--{uuid.uuid5(NAMESPACE, str(n))}",
        "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
        "name": f"Botnet C2 {n}", "pattern": f"[ipv4-addr:value = '{ip}']",
        "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z",
        "object_marking_refs": ["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"],
    }, ip


def write_bundle(path: Path, count: int) -> list[tuple]:
    """Stream the bundle to disk; return the rows the COPY ceiling loads."""
    rows: list[tuple] = []
    with open(path, "w", encoding="utf-8") as out:
        out.write(BUNDLE_HEAD.format(uuid.uuid4()))
        for n in range(count):
            obj, ip = indicator(n)
            out.write(("," if n else "") + json.dumps(obj) + "\n")
            rows.append((obj["id"], "ipv4", ip, obj["pattern"], obj["name"]))
        out.write("]}\n")
    return rows


def write_big_bundle(path: Path, target_bytes: int) -> int:
    count = 0
    with open(path, "w", encoding="utf-8") as out:
        out.write(BUNDLE_HEAD.format(uuid.uuid4()))
        while out.tell() < target_bytes:
            obj, _ip = indicator(count)
            out.write(("," if count else "") + json.dumps(obj) + "\n")
            count += 1
        out.write("]}\n")
    return count


def timed(cmd: list[str], env: dict) -> tuple[float, float, str]:
    """Run a command; return wall seconds, the child's peak RSS in MiB, and its output."""
    elapsed, peak, output, _cpu = timed_cpu(cmd, env)
    return elapsed, peak, output


def timed_cpu(cmd: list[str], env: dict) -> tuple[float, float, str, float]:
    """timed(), and the child's CPU seconds (user + system, from wait4)."""
    start = time.perf_counter()
    process = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    _pid, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    output = process.stdout.read().decode(errors="replace")
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{output[-3000:]}")
    return elapsed, usage.ru_maxrss / 1024, output, usage.ru_utime + usage.ru_stime


def copy_ceiling(url: str, rows: list[tuple]) -> float:
    import psycopg

    params, name = _server_params(url)
    params["dbname"] = name
    with psycopg.connect(**params) as conn:
        # Same columns, identity, defaults and indexes as the real table: a fair ceiling.
        conn.execute("CREATE TEMP TABLE ceiling (LIKE exchange_sharedindicator "
                     "INCLUDING ALL)")
        start = time.perf_counter()
        with conn.cursor().copy("COPY ceiling (stix_id, type, value, pattern, name, "
                                "description, labels, tlp, created, modified, added_at, "
                                "revoked, source) FROM STDIN") as copy:
            for stix_id, kind, value, pattern, label in rows:
                copy.write_row((stix_id, kind, value, pattern, label, "", "[]", "green",
                                "2026-01-01", "2026-01-01", "2026-01-01", False, "stix"))
        conn.commit()
        return time.perf_counter() - start


def copy_real_table(url: str, rows: list[tuple]) -> float:
    """The same rows COPYed into the import's own table and committed: the server's share of
    the import alone (its foreign keys are checked at COMMIT, it is WAL-logged, unlike the
    temporary table). Run after the import, on the table emptied again (TRUNCATE)."""
    import psycopg

    params, name = _server_params(url)
    params["dbname"] = name
    with psycopg.connect(**params) as conn:
        state_id, user_id = conn.execute(
            "SELECT state_id, id FROM core_user WHERE username = 'bench-cu'").fetchone()
        conn.execute("TRUNCATE exchange_sharedindicator")
        conn.commit()
        start = time.perf_counter()
        with conn.cursor().copy("COPY exchange_sharedindicator (stix_id, state_id, "
                                "created_by_id, type, value, pattern, name, description, "
                                "labels, tlp, created, modified, added_at, revoked, source) "
                                "FROM STDIN") as copy:
            for stix_id, kind, value, pattern, label in rows:
                copy.write_row((stix_id, state_id, user_id, kind, value, pattern, label, "",
                                "[]", "green", "2026-01-01", "2026-01-01", "2026-01-01", False,
                                "stix"))
        conn.commit()
        return time.perf_counter() - start


PARSE_ONLY = """
import resource, sys, time
from sentinelle.exchange.formats import stix
start = time.perf_counter()
count = 0
with open(sys.argv[1], "rb") as stream:
    for _record in stix.parse(stream, name="big.json"):
        count += 1
print(count, time.perf_counter() - start)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--indicators", type=int, default=100_000)
    parser.add_argument("--gigabytes", type=float, default=1.0,
                        help="size of the bundle whose reading memory is measured (0: skip)")
    parser.add_argument("--database-url", default=os.environ.get(
        "BENCH_DATABASE_URL",
        "postgres://sentinelle:sentinelle@127.0.0.1:5432/sentinelle_import"))
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()

    env = {**os.environ, "DATABASE_URL": args.database_url,
           "DJANGO_SETTINGS_MODULE": "sentinelle.settings", "SENTINELLE_LOG_LEVEL": "ERROR"}
    # The machine is shared: say how loaded it was (1-minute load average, start and end).
    figures: dict = {"indicators": args.indicators, "load_start": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        tmp_path = Path(tmp)
        env["SENTINELLE_DATA_DIR"] = tmp
        createdb(args.database_url)
        try:
            subprocess.run([SENTINELLE, "migrate", "-v", "0"], env=env, check=True)
            subprocess.run([SENTINELLE, "user", "create", "bench-cu", "--role", "focal-point",
                            "--state", "CU"], env=env, check=True, stdout=subprocess.DEVNULL)
            bundle = tmp_path / "bundle.json"
            rows = write_bundle(bundle, args.indicators)
            figures["bundle_mib"] = round(bundle.stat().st_size / 2**20, 1)
            # Process start and Django set-up: the same command on a bundle of one indicator,
            # dry run (written, then rolled back), best of three.
            tiny = tmp_path / "one.json"
            write_bundle(tiny, 1)
            start = min((timed_cpu([str(SENTINELLE), "import", str(tiny), "--format", "stix",
                                    "--user", "bench-cu", "--dry-run"], env)
                         for _ in range(3)), key=lambda run: run[0])
            figures.update(startup_seconds=round(start[0], 2),
                           startup_cpu_seconds=round(start[3], 2))
            seconds, peak, output, cpu = timed_cpu(
                [str(SENTINELLE), "import", str(bundle), "--format", "stix", "--user",
                 "bench-cu", "--tlp", "green"], env)
            own = max(seconds - start[0], 1e-3)
            figures.update(import_seconds=round(seconds, 2), import_peak_mib=round(peak, 1),
                           import_objects_per_s=round(args.indicators / seconds),
                           import_cpu_seconds=round(cpu, 2),
                           import_seconds_without_startup=round(own, 2),
                           import_objects_per_s_without_startup=round(args.indicators / own),
                           import_output=output.strip().splitlines()[-1:])
            copy_seconds = copy_ceiling(args.database_url, rows)
            figures.update(copy_seconds=round(copy_seconds, 2),
                           copy_rows_per_s=round(args.indicators / copy_seconds))
            real_seconds = copy_real_table(args.database_url, rows)
            figures.update(copy_real_table_seconds=round(real_seconds, 2),
                           copy_real_table_rows_per_s=round(args.indicators / real_seconds))
            del rows
            if args.gigabytes > 0:
                big = tmp_path / "big.json"
                count = write_big_bundle(big, int(args.gigabytes * 2**30))
                seconds, peak, output = timed([str(PYTHON), "-c", PARSE_ONLY, str(big)], env)
                figures.update(big_bundle_gib=round(big.stat().st_size / 2**30, 2),
                               big_objects=count, big_parse_seconds=round(seconds, 1),
                               big_parse_peak_mib=round(peak, 1))
                big.unlink()
        finally:
            dropdb(args.database_url)
    figures["load_end"] = os.getloadavg()[0]
    own_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    figures["bench_process_peak_mib"] = round(own_peak, 1)
    print(f"{'':34}{'Sentinelle import':>20}{'PostgreSQL COPY':>20}")
    print(f"{'objects/s (' + str(args.indicators) + ' indicators)':34}"
          f"{figures['import_objects_per_s']:>20,}{figures['copy_rows_per_s']:>20,}")
    print(f"{'seconds':34}{figures['import_seconds']:>20}{figures['copy_seconds']:>20}")
    print(f"{'import CPU s (start-up: s, CPU s)':34}{figures['import_cpu_seconds']:>20}"
          f"   ({figures['startup_seconds']}, {figures['startup_cpu_seconds']})")
    print(f"{'without start-up: s, objects/s':34}"
          f"{figures['import_seconds_without_startup']:>12}, "
          f"{figures['import_objects_per_s_without_startup']:>7,}")
    ratio = figures["import_objects_per_s"] / figures["copy_rows_per_s"]
    ratio_own = figures["import_objects_per_s_without_startup"] / figures["copy_rows_per_s"]
    figures.update(ratio_to_copy=round(ratio, 3), ratio_to_copy_without_startup=round(ratio_own, 3))
    print(f"{'x COPY (with / without start-up)':34}{ratio:>20.2f}{ratio_own:>20.2f}")
    print(f"{'COPY into the real table+commit':34}{'':>20}"
          f"{figures['copy_real_table_seconds']:>19} s")
    print(f"{'peak RSS of the import (MiB)':34}{figures['import_peak_mib']:>20}")
    if "big_parse_peak_mib" in figures:
        print(f"{'reading ' + str(figures['big_bundle_gib']) + ' GiB bundle':34}"
              f"{figures['big_parse_peak_mib']:>16} MiB peak, {figures['big_objects']:,} "
              f"objects in {figures['big_parse_seconds']} s")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
