"""API load benchmark: incident submission and list under concurrency, next to /healthz.

One run creates a fresh PostgreSQL database, migrates and seeds it, starts gunicorn, loads it
with C concurrent keep-alive clients (threads + http.client), prints a table and optionally
writes JSON, then stops gunicorn and drops the database. See bench/README.md.

    .venv/bin/python bench/api_load/run.py --json /tmp/api_load.json
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from helper import report_body

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
DEFAULT_DB = "postgres://sentinelle:sentinelle@127.0.0.1:5432/sentinelle_bench"
FOCAL_POINT, ANALYST, PASSWORD = "bench-cu", "bench-analyst", "bench-only-password-7f3a"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(message: str) -> None:
    print(f"[api_load {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- set-up steps, each a subprocess in the venv --------------------------------------------

class Setup:
    def __init__(self, args, workdir: Path):
        self.args = args
        self.bin = Path(args.venv) / "bin"
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "sentinelle.settings",
            "DATABASE_URL": args.database_url,
            "SENTINELLE_REQUIRE_2FA": "false",
            "SENTINELLE_DATA_DIR": str(workdir),
            "SENTINELLE_EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
            "SENTINELLE_LOG_LEVEL": "WARNING",
            "SENTINELLE_NEW_PASSWORD": PASSWORD,
        }
        self.env.pop("SENTINELLE_DEBUG", None)

    def run(self, *cmd: str, timeout: float = 600) -> str:
        done = subprocess.run(cmd, env=self.env, cwd=REPO, capture_output=True, text=True,
                              timeout=timeout, check=False)
        if done.returncode != 0:
            raise SystemExit(f"failed ({done.returncode}): {' '.join(cmd[:3])} ...\n"
                             f"{done.stdout[-2000:]}{done.stderr[-4000:]}")
        return done.stdout.strip()

    def helper(self, *cmd: str, timeout: float = 600) -> dict:
        out = self.run(str(self.bin / "python"), str(HERE / "helper.py"), *cmd, timeout=timeout)
        return json.loads(out.splitlines()[-1])

    def lockwatch(self) -> subprocess.Popen:
        return subprocess.Popen([str(self.bin / "python"), str(HERE / "helper.py"), "lockwatch",
                                 self.args.database_url], env=self.env, cwd=REPO,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def lockwatch_result(self, proc: subprocess.Popen) -> dict:
        out, _err = proc.communicate(input="", timeout=30)
        return json.loads(out.splitlines()[-1])

    def manage(self, *cmd: str) -> str:
        return self.run(str(self.bin / "sentinelle"), *cmd)


# --- gunicorn ---------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(x) for x in text.split()]


def proc_status(pid: int, key: str) -> int:
    """A kB figure (VmRSS, VmHWM) from /proc/PID/status; 0 if the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    """utime + stime of one process."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = text[text.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def machine_busy() -> float:
    """CPU seconds all CPUs spent busy since boot (/proc/stat), to see what else ran."""
    values = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(values[:8]) - values[3] - values[4]) / CLK_TCK


def postgres_cpu() -> dict[int, float]:
    """CPU seconds of every PostgreSQL process (server, backends), by pid."""
    cpu = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip().startswith("postgres"):
                    cpu[int(entry.name)] = cpu_seconds(int(entry.name))
            except OSError:
                continue
    return cpu


class Gunicorn:
    def __init__(self, setup: Setup, workdir: Path, workers: int, threads: int):
        self.port = free_port()
        self.logfile = workdir / "gunicorn.log"
        cmd = [str(setup.bin / "gunicorn"), "sentinelle.wsgi", "-w", str(workers),
               "--threads", str(threads), "-b", f"127.0.0.1:{self.port}",
               "--error-logfile", str(self.logfile), "--timeout", "60",
               "--graceful-timeout", "10", "--worker-tmp-dir", "/dev/shm"]
        self.cmd = cmd
        self.proc = subprocess.Popen(cmd, env=setup.env, cwd=REPO, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self.rss_peak_total_kb = 0
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)

    @property
    def workers(self) -> list[int]:
        return children(self.proc.pid)

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        url = f"http://127.0.0.1:{self.port}/healthz"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"gunicorn exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        self._sampler.start()
                        return
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.2)
        raise SystemExit(f"gunicorn not ready after {timeout:.0f}s:\n{self.log_tail()}")

    def _sample(self) -> None:
        while not self._stop.wait(0.1):
            total = sum(proc_status(pid, "VmRSS") for pid in self.workers)
            self.rss_peak_total_kb = max(self.rss_peak_total_kb, total)

    def cpu(self) -> float:
        return sum(cpu_seconds(pid) for pid in [self.proc.pid, *self.workers])

    def memory(self) -> dict:
        workers = self.workers
        hwm = {pid: proc_status(pid, "VmHWM") for pid in workers}
        return {
            "workers": len(workers),
            "peak_rss_per_worker_mb": {str(pid): round(kb / 1024, 1) for pid, kb in hwm.items()},
            "peak_rss_max_worker_mb": round(max(hwm.values(), default=0) / 1024, 1),
            "peak_rss_workers_total_mb": round(self.rss_peak_total_kb / 1024, 1),
            "master_rss_mb": round(proc_status(self.proc.pid, "VmHWM") / 1024, 1),
        }

    def log_tail(self) -> str:
        try:
            return "\n".join(self.logfile.read_text(errors="replace").splitlines()[-30:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        self._stop.set()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)


# --- load -------------------------------------------------------------------------------------

@dataclass
class Phase:
    key: str
    label: str
    method: str
    path: str
    token: str | None
    expect: int
    body: bool = False
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    wall: float = 0.0


def _request(conn, phase: Phase, n: int) -> int:
    headers = {"Accept": "application/json"}
    if phase.token:
        headers["Authorization"] = f"Bearer {phase.token}"
    payload = None
    if phase.body:
        payload = json.dumps(report_body(n)).encode()
        headers["Content-Type"] = "application/json"
    conn.request(phase.method, phase.path, body=payload, headers=headers)
    response = conn.getresponse()
    response.read()
    if response.will_close:
        conn.close()
    return response.status


def run_phase(port: int, phase: Phase, clients: int, requests: int, max_seconds: float,
              warmup: int, first_n: int, measure=None) -> None:
    """`requests` requests from `clients` threads, or fewer if `max_seconds` runs out.

    `warmup` unrecorded requests per client come first; `measure()` is called after them and
    again at the end (CPU snapshots).
    """
    lock = threading.Lock()
    issued = 0
    deadline = 0.0
    results: list[tuple[float, int]] = []

    def take() -> int | None:
        nonlocal issued
        with lock:
            if issued >= requests or time.monotonic() > deadline:
                return None
            issued += 1
            return issued

    def client(count: int | None) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        done = 0
        try:
            while True:
                if count is not None:
                    if done >= count:
                        return
                    n = done
                else:
                    n = take()
                    if n is None:
                        return
                done += 1
                t0 = time.perf_counter()
                try:
                    status = _request(conn, phase, first_n + n)
                except (OSError, http.client.HTTPException):
                    conn.close()  # a stale keep-alive connection: retry once on a new one
                    try:
                        status = _request(conn, phase, first_n + n)
                    except (OSError, http.client.HTTPException):
                        conn.close()
                        status = 0
                if count is None:
                    results.append((time.perf_counter() - t0, status))
        finally:
            conn.close()

    if warmup:  # not recorded: lets every worker open its DB connection and fill its caches
        threads = [threading.Thread(target=client, args=(warmup,)) for _ in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    if measure:
        measure()
    deadline = time.monotonic() + max_seconds
    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(None,)) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    phase.wall = time.perf_counter() - started
    if measure:
        measure()
    for latency, status in results:
        phase.statuses[status] = phase.statuses.get(status, 0) + 1
        if status == phase.expect:
            phase.latencies.append(latency)


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)  # nearest-rank
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def summarise(phase: Phase, server_cpu: float, db_cpu: float, client_cpu: float) -> dict:
    ok = len(phase.latencies)
    ms = [x * 1000 for x in phase.latencies]
    total = sum(phase.statuses.values())

    def r(x):
        return None if x is None else round(x, 2)

    return {
        "label": phase.label, "method": phase.method, "path": phase.path,
        "requests": total, "ok": ok, "errors": total - ok,
        "statuses": {str(k): v for k, v in sorted(phase.statuses.items())},
        "wall_s": round(phase.wall, 3),
        "req_per_s": r(ok / phase.wall if phase.wall else None),
        "p50_ms": r(percentile(ms, 50)), "p95_ms": r(percentile(ms, 95)),
        "p99_ms": r(percentile(ms, 99)), "max_ms": r(max(ms) if ms else None),
        "mean_ms": r(statistics.fmean(ms) if ms else None),
        "server_cpu_ms_per_req": r(server_cpu * 1000 / total if total else None),
        "db_cpu_ms_per_req": r(db_cpu * 1000 / total if total else None),
        "client_cpu_s": r(client_cpu),
    }


def get_json(port: int, path: str, token: str) -> dict:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}",
                                     headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


# --- report -----------------------------------------------------------------------------------

def table(result: dict) -> str:
    ref = result["phases"]["healthz"]
    queries = result.get("queries_per_request", {})
    qkey = {"healthz": "healthz", "list_focal_point": "list_focal_point_limit50",
            "list_analyst": "list_analyst_limit50", "submit": "post"}
    head = (f"{'endpoint':<44}{'ok/n':>11}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
            f"{'p50 x ref':>10}{'req/s % ref':>12}{'srv CPU ms':>11}{'DB CPU ms':>10}{'SQL':>5}")
    lines = [head, "-" * len(head)]
    for key, p in result["phases"].items():
        def cell(v, fmt="{:.1f}"):
            return "-" if v is None else fmt.format(v)
        ratio = p["p50_ms"] / ref["p50_ms"] if p["p50_ms"] and ref["p50_ms"] else None
        share = 100 * p["req_per_s"] / ref["req_per_s"] if p["req_per_s"] and ref[
            "req_per_s"] else None
        sql = queries.get(qkey.get(key, ""), {}).get("queries")
        lines.append(
            f"{p['label']:<44}{p['ok']:>6}/{p['requests']:<4}{cell(p['req_per_s']):>9}"
            f"{cell(p['p50_ms']):>9}{cell(p['p95_ms']):>9}{cell(p['p99_ms']):>9}"
            f"{cell(ratio, '{:.1f}x'):>10}{cell(share, '{:.1f}%'):>12}"
            f"{cell(p['server_cpu_ms_per_req']):>11}{cell(p['db_cpu_ms_per_req']):>10}"
            f"{cell(sql, '{}'):>5}")
    mem = result["memory"]
    cfg = result["config"]
    lines += [
        "",
        f"clients {cfg['clients']}, gunicorn {cfg['workers']} workers x {cfg['threads']} threads,"
        f" {result['machine']['cpus']} CPUs; dataset {result['dataset']['reports']} reports"
        f" (focal point sees {result['dataset']['visible_focal_point']},"
        f" analyst {result['dataset']['visible_analyst']})",
        f"peak RSS: largest worker {mem['peak_rss_max_worker_mb']} MB, all workers together"
        f" {mem['peak_rss_workers_total_mb']} MB (master {mem['master_rss_mb']} MB)",
        "CPUs busy with other processes during the phases: " + ", ".join(
            f"{k} {p['other_processes_cores']}" for k, p in result["phases"].items()),
        "SQL = queries per request (limit=50 for lists), counted in-process by helper.py probe;"
        " CPU = per request, from /proc (DB = all postgres processes).",
    ]
    return "\n".join(lines)


# --- main -------------------------------------------------------------------------------------

def parse_args(argv):
    cpus = os.cpu_count() or 1
    parser = argparse.ArgumentParser(description="Sentinelle API load benchmark")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", DEFAULT_DB),
                        help="PostgreSQL URL; the database is dropped and re-created "
                             f"(default $DATABASE_URL or {DEFAULT_DB})")
    parser.add_argument("--venv", default=str(REPO / ".venv"))
    parser.add_argument("--reports", type=int, default=2000, help="reports seeded (2000)")
    parser.add_argument("--clients", "-c", type=int, default=16, help="concurrent clients (16)")
    parser.add_argument("--requests", "-n", type=int, default=1000,
                        help="requests measured per endpoint (1000)")
    parser.add_argument("--reference-requests", type=int, default=5000,
                        help="requests measured for /healthz, the fast reference (5000)")
    parser.add_argument("--max-seconds", type=float, default=40,
                        help="cap on each endpoint's measured phase, in seconds (40)")
    parser.add_argument("--warmup", type=int, default=5,
                        help="unrecorded requests per client before each phase (5)")
    parser.add_argument("--workers", type=int, default=2 * cpus + 1,
                        help=f"gunicorn workers (2 x CPUs + 1 = {2 * cpus + 1})")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker (4)")
    parser.add_argument("--json", help="write the results as JSON to this path")
    parser.add_argument("--keep-db", action="store_true", help="do not drop the database")
    args = parser.parse_args(argv)
    for name in ("reports", "clients", "requests", "reference_requests", "workers", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="sentinelle-bench-"))
    setup = Setup(args, workdir)
    server: Gunicorn | None = None
    db_created = False
    t_start = time.monotonic()
    try:
        log(f"creating database ({args.database_url.rsplit('/', 1)[-1]})")
        db_info = setup.helper("createdb", args.database_url, timeout=60)
        db_created = True
        log("migrating")
        setup.manage("migrate", "--noinput", "-v", "0")
        setup.manage("user", "create", FOCAL_POINT, "--role", "focal-point", "--state", "CU")
        setup.manage("user", "create", ANALYST, "--role", "analyst")
        fp_token = setup.manage("token", "create", "--user", FOCAL_POINT, "--name", "bench")
        an_token = setup.manage("token", "create", "--user", ANALYST, "--name", "bench",
                                "--read-only")
        log(f"seeding {args.reports} reports through the service layer")
        t0 = time.monotonic()
        seeded = setup.helper("seed", "--reports", str(args.reports), "--focal-point",
                              FOCAL_POINT, "--analyst", ANALYST, timeout=1800)
        log(f"seeded in {time.monotonic() - t0:.1f}s: {seeded}")
        queries = setup.helper("probe", "--focal-token", fp_token, "--analyst-token", an_token)

        server = Gunicorn(setup, workdir, args.workers, args.threads)
        log(f"starting gunicorn on 127.0.0.1:{server.port}")
        server.wait_ready()
        list_path = "/api/v1/incidents/?limit=50"
        visible_fp = get_json(server.port, list_path, fp_token)["count"]
        visible_an = get_json(server.port, list_path, an_token)["count"]
        phases = [
            Phase("healthz", "GET /healthz (reference)", "GET", "/healthz", None, 200),
            Phase("list_focal_point", "GET incidents?limit=50 (focal point)", "GET", list_path,
                  fp_token, 200),
            Phase("list_analyst", "GET incidents?limit=50 (analyst)", "GET", list_path,
                  an_token, 200),
            Phase("submit", "POST incidents (submit)", "POST", "/api/v1/incidents/", fp_token,
                  201, body=True),
        ]
        results = {}
        for i, phase in enumerate(phases):
            snaps = []

            watch: list = []

            def snapshot(snaps=snaps, watch=watch, phase=phase):
                snaps.append((machine_busy(), server.cpu(), postgres_cpu(), time.process_time()))
                if phase.key == "submit":   # who waits for the audit chain's lock
                    if not watch:
                        watch.append(setup.lockwatch())
                    else:
                        watch.append(setup.lockwatch_result(watch[0]))

            count = args.reference_requests if phase.key == "healthz" else args.requests
            log(f"measuring {phase.label}: {count} requests, {args.clients} clients")
            run_phase(server.port, phase, args.clients, count, args.max_seconds,
                      args.warmup, first_n=(i + 1) * 1_000_000, measure=snapshot)
            (busy0, srv0, pg0, cli0), (busy1, srv1, pg1, cli1) = snaps
            # Backends that ended during the phase are not counted; new ones count in full.
            pg = sum(cpu - pg0.get(pid, 0.0) for pid, cpu in pg1.items())
            results[phase.key] = summarise(phase, srv1 - srv0, pg, cli1 - cli0)
            other = (busy1 - busy0) - (srv1 - srv0) - pg - (cli1 - cli0)
            results[phase.key]["machine_busy_cores"] = round((busy1 - busy0) / phase.wall, 2)
            results[phase.key]["other_processes_cores"] = round(max(other, 0) / phase.wall, 2)
            if len(watch) == 2:
                lock = watch[1]
                total = sum(phase.statuses.values())
                lock["mean_wait_ms_per_request"] = round(
                    lock["mean_waiters"] * phase.wall * 1000 / total, 2) if total else None
                results[phase.key]["audit_lock"] = lock
                log(f"  audit chain lock: {lock}")
            p = results[phase.key]
            log(f"  {p['ok']}/{p['requests']} ok, {p['req_per_s']} req/s, p50 {p['p50_ms']} ms,"
                f" p95 {p['p95_ms']} ms; other processes used {p['other_processes_cores']} CPUs")
        memory = server.memory()
        result = {
            "benchmark": "bench/api_load",
            "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                        "python": platform.python_version(),
                        "postgresql": db_info["server_version"]},
            "config": {"clients": args.clients, "requests_per_phase": args.requests,
                       "reference_requests": args.reference_requests,
                       "max_seconds_per_phase": args.max_seconds, "warmup": args.warmup,
                       "workers": args.workers, "threads": args.threads,
                       "gunicorn": " ".join(server.cmd[1:])},
            "dataset": {**seeded, "visible_focal_point": visible_fp,
                        "visible_analyst": visible_an},
            "phases": results,
            "memory": memory,
            "queries_per_request": queries,
        }
        print(table(result), flush=True)
        if args.json:
            Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
            log(f"wrote {args.json}")
        failed = [k for k, p in results.items() if p["errors"]]
        if failed:
            log(f"unexpected responses in: {', '.join(failed)}\n{server.log_tail()}")
        log(f"done in {time.monotonic() - t_start:.0f}s")
        return 1 if failed else 0
    finally:
        if server is not None:
            server.stop()
        if db_created and not args.keep_db:
            try:
                setup.helper("dropdb", args.database_url, timeout=60)
            except SystemExit as exc:
                log(f"could not drop the database: {exc}")
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
