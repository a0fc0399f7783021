"""Task benchmark: the same import jobs run by the database backend's workers and by RQ workers
on Redis, one worker and two.

    .venv/bin/python bench/tasks/run.py [--jobs 40] [--indicators 200] [--json FILE]
        [--database-url postgres://sentinelle:sentinelle@127.0.0.1:5432/sentinelle_tasks]

For each of database×1, database×2, rq×1, rq×2 it uses one freshly migrated instance (SQLite in
a temporary data directory, copied for each; or the PostgreSQL database of --database-url,
dropped and re-created at the start and dropped at the end), enqueues --jobs import jobs (each
a STIX bundle of --indicators indicators of its own) with no worker running, then starts the
workers in burst mode (`sentinelle db_worker --batch`, `sentinelle rqworker --burst`: they exit
when the queue is empty) and reads each job's start and end from its Job row. Needs Debian's
redis-server (a private one is started on a loopback port). The database's own share of a job
is not separated from the worker's.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
from api_load.helper import createdb, dropdb  # noqa: E402

PYTHON = ROOT / ".venv" / "bin" / "python"
HELPER = Path(__file__).resolve().parent / "helper.py"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def base_env(data: Path, backend: str, redis_url: str, database_url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not (k.startswith("SENTINELLE_") or k in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE"))}
    env.update({"SENTINELLE_DATA_DIR": str(data), "SENTINELLE_TASK_BACKEND": backend,
                "SENTINELLE_REDIS_URL": redis_url, "SENTINELLE_LOG_LEVEL": "ERROR"})
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


def run(cmd: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=900)
    if done.returncode:
        sys.exit(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def one(template: Path, tmp: Path, backend: str, workers: int, args, redis_url: str,
        first: int) -> dict:
    tag = f"{backend}-{workers}"
    data = tmp / tag
    shutil.copytree(template, data)
    env = base_env(data, backend, redis_url, args.database_url)
    enqueue = [str(PYTHON), str(HELPER), "enqueue", str(args.jobs), str(args.indicators),
               str(first), tag]
    redis_bytes_per_job = None
    if backend == "rq":
        import redis

        with redis.Redis.from_url(redis_url) as client:
            client.flushall()
            run(enqueue, env)
            # What each waiting job holds in Redis: its hash (function, arguments, metadata).
            keys = list(client.scan_iter("rq:job:*"))
            redis_bytes_per_job = round(
                sum(client.memory_usage(key) or 0 for key in keys) / max(1, len(keys)))
    else:
        run(enqueue, env)
    command = (["-m", "sentinelle.cli", "rqworker", "--burst"] if backend == "rq" else
               ["-m", "sentinelle.cli", "db_worker", "--batch", "--no-startup-delay",
                "--no-reload"])
    started = time.time()
    procs = [subprocess.Popen([str(PYTHON), *command], env=env, cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for _ in range(workers)]
    for proc in procs:
        proc.wait(timeout=900)
    wall = time.time() - started
    jobs = json.loads(run([str(PYTHON), str(HELPER), "times", tag], env))
    ok = [job for job in jobs if job["status"] == "succeeded"
          and job["indicators_created"] == args.indicators]
    if len(ok) != len(jobs):
        print(f"{backend}×{workers}: not as expected: "
              f"{[j for j in jobs if j not in ok][:2]}", file=sys.stderr)
    first, last = min(j["started"] for j in ok), max(j["finished"] for j in ok)
    durations = [j["finished"] - j["started"] for j in ok]
    return {"backend": backend, "workers": workers, "jobs": len(jobs), "succeeded": len(ok),
            "wall_s": round(wall, 2), "startup_s": round(first - started, 2),
            "busy_s": round(last - first, 2),
            "jobs_per_min": round(len(ok) * 60 / (last - first), 1),
            "job_p50_s": round(statistics.median(durations), 3),
            "job_max_s": round(max(durations), 3),
            "redis_bytes_per_queued_job": redis_bytes_per_job}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=40)
    parser.add_argument("--indicators", type=int, default=200)
    parser.add_argument("--json")
    parser.add_argument("--database-url", help="PostgreSQL (dropped and re-created); default "
                        "SQLite in a temporary directory")
    args = parser.parse_args()
    binary = shutil.which("redis-server")
    if not binary:
        sys.exit("redis-server is not on PATH (Debian: redis-server)")
    with tempfile.TemporaryDirectory(prefix="sentinelle-tasks-") as tmp_name:
        tmp = Path(tmp_name)
        port = free_port()
        redis_url = f"redis://127.0.0.1:{port}/0"
        server = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1",
                                   "--dir", tmp_name, "--save", "", "--appendonly", "no"],
                                  stdout=subprocess.DEVNULL)
        try:
            template = tmp / "template"
            template.mkdir()
            if args.database_url:
                createdb(args.database_url)
            run([str(PYTHON), "-m", "sentinelle.cli", "migrate", "-v0"],
                base_env(template, "database", redis_url, args.database_url))
            configs = (("database", 1), ("database", 2), ("rq", 1), ("rq", 2))
            rows = [one(template, tmp, backend, workers, args, redis_url,
                        number * args.jobs * args.indicators)
                    for number, (backend, workers) in enumerate(configs)]
        finally:
            if args.database_url:
                dropdb(args.database_url)
            server.terminate()
            server.wait(timeout=10)
    database = "PostgreSQL" if args.database_url else "SQLite"
    print(f"{args.jobs} import jobs of {args.indicators} STIX indicators each, {database}, "
          f"{os.cpu_count()} CPUs")
    print("| backend | workers | ok/n | wall s | worker start s | busy s | jobs/min | job p50 s "
          "| job max s | Redis bytes per queued job |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['backend']} | {r['workers']} | {r['succeeded']}/{r['jobs']} | {r['wall_s']} "
              f"| {r['startup_s']} | {r['busy_s']} | {r['jobs_per_min']} | {r['job_p50_s']} "
              f"| {r['job_max_s']} | {r['redis_bytes_per_queued_job'] or '—'} |")
    if args.json:
        Path(args.json).write_text(json.dumps({"jobs": args.jobs, "indicators": args.indicators,
                                               "database": database, "cpus": os.cpu_count(),
                                               "rows": rows}, indent=2))
    if any(r["succeeded"] != r["jobs"] for r in rows):
        sys.exit(1)


if __name__ == "__main__":
    main()
