"""Writers beside a long import (issue 20, part 2): one slow import runs while 16 API clients
submit reports over HTTP; how many answered 201, and how long they waited.

An instance is a real deployment in subprocesses: its own database (a SQLite file, or a
PostgreSQL database made for the run), `sentinelle migrate`, a focal point and its token made
with the `sentinelle` commands, gunicorn on a loopback port. The import runs in a process of
its own (`python -m tests.exchange.import_stress import ...`): the real parser over a real-shaped
STIX 2.1 bundle, then the real `import_records`, with the records handed over one by one at a
pace that stretches the whole reading to the run's length, as a slow source or a very large file
does. Used by tests/exchange/test_import_concurrency.py (short) and bench/import_stress.py (60 s);
the driver needs the standard library only (psycopg for PostgreSQL).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
STATE = "CU"
USER = "stress-cu"
NAMESPACE = uuid.UUID("5d0c8f44-3f0b-4b8e-a1f6-6c1d2f6e7a01")
OONI_EXAMPLE = (ROOT / "tests" / "fixtures" / "probe" / "ooni-spec-examples"
               / "ts-017-web-connectivity.measurement.json")
STAMP = {"spec_version": "2.1", "created": "2026-01-01T00:00:00.000Z",
         "modified": "2026-01-01T00:00:00.000Z"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_bundle(path: Path, indicators: int, reports: int) -> None:
    """A feed as CIRTs exchange them: many indicators, a few incidents with a description."""
    objects = []
    for n in range(reports):
        objects.append({"type": "incident", **STAMP,
                        "id": f"incident--{uuid.uuid5(NAMESPACE, f'incident {n}')}",
                        "name": f"Botnet wave {n}", "description": "Scanning then DDoS."})
    for n in range(indicators):
        ip = f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"
        objects.append({"type": "indicator", **STAMP,
                        "id": f"indicator--{uuid.uuid5(NAMESPACE, str(n))}",
                        "name": f"Botnet C2 {n}", "pattern": f"[ipv4-addr:value = '{ip}']",
                        "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z"})
    path.write_text(json.dumps({"type": "bundle", "id": f"bundle--{uuid.uuid4()}",
                                "objects": objects}))


def write_ooni(path: Path, reports: int, per_report: int = 2) -> None:
    """OONI measurements (OONI's own example, ~30 kB each): each run of `per_report` lines on
    one URL is a report with its measurements as evidence files, written as they are read."""
    measurement = json.loads(OONI_EXAMPLE.read_text())
    with open(path, "w") as out:
        for n in range(reports):
            for _ in range(per_report):
                out.write(json.dumps({**measurement, "probe_cc": STATE,
                                      "input": f"https://site{n}.example/"}) + "\n")


class Instance:
    """A Sentinelle deployment in subprocesses, on `database_url` (made empty first)."""

    def __init__(self, root: Path, database_url: str = "", src: Path | None = None,
                 env: dict[str, str] | None = None):
        self.root = root
        self.src = src or ROOT / "src"
        if not database_url:
            database_url = f"sqlite:///{root / 'stress.sqlite3'}"
        self.database_url = database_url
        self.vendor = "sqlite" if database_url.startswith("sqlite") else "postgresql"
        self.env = {**os.environ, "DATABASE_URL": database_url,
                    "SENTINELLE_DATA_DIR": str(root), "SENTINELLE_SECRET_KEY": "stress-key",
                    "SENTINELLE_ALLOWED_HOSTS": "127.0.0.1,localhost",
                    "SENTINELLE_REQUIRE_2FA": "false", "DJANGO_SETTINGS_MODULE":
                    "sentinelle.settings",
                    "PYTHONPATH": os.pathsep.join([str(self.src), str(ROOT)]), **(env or {})}
        self.env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        self.token = ""

    def run(self, *args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "sentinelle.cli", *args], env=self.env,
                              capture_output=True, text=True, timeout=300, cwd=self.root)
        if done.returncode:
            raise RuntimeError(f"sentinelle {' '.join(args)}: {done.stderr[-2000:]}")
        return done.stdout

    def create(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if self.vendor == "postgresql":
            _postgres(self.database_url, "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                      "CREATE DATABASE \"{}\"")
        self.run("migrate", "--no-input")
        self.run("user", "create", USER, "--role", "focal-point", "--state", STATE)
        self.token = self.run("token", "create", "--user", USER).strip().splitlines()[-1]

    def drop(self) -> None:
        if self.vendor == "postgresql":
            _postgres(self.database_url, "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)")

    def count(self, table: str) -> int:
        sql = f"SELECT count(*) FROM {table}"  # noqa: S608 - the callers' own table names
        if self.vendor == "sqlite":
            path = self.database_url.removeprefix("sqlite:///")
            with contextlib.closing(sqlite3.connect(path)) as conn:
                return conn.execute(sql).fetchone()[0]
        import psycopg

        with psycopg.connect(self.database_url) as conn:
            return conn.execute(sql).fetchone()[0]

    @contextlib.contextmanager
    def serve(self, workers: int = 4) -> Iterator[int]:
        port = free_port()
        process = subprocess.Popen(
            [str(BIN / "gunicorn"), "sentinelle.wsgi", "-b", f"127.0.0.1:{port}",
             "-w", str(workers), "--timeout", "120"], env=self.env, cwd=self.root,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 60
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"gunicorn exited with {process.returncode}")
                with contextlib.suppress(OSError):
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                    conn.request("GET", "/healthz")
                    if conn.getresponse().status == 200:
                        break
                if time.monotonic() > deadline:
                    raise TimeoutError("gunicorn did not answer /healthz within 60 s")
                time.sleep(0.2)
            yield port
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


def _postgres(url: str, *statements: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = unquote(parts.path.lstrip("/"))
    if not name.replace("_", "").isalnum():
        raise ValueError(f"refusing database name {name!r}: letters, digits and _ only")
    with psycopg.connect(host=parts.hostname or "localhost", port=parts.port or 5432,
                         user=unquote(parts.username or ""),
                         password=unquote(parts.password or ""), dbname="postgres",
                         autocommit=True, connect_timeout=5) as conn:
        for statement in statements:
            conn.execute(statement.format(name))


@dataclass
class Result:
    seconds: float                      # the import's wall time
    import_output: dict
    latencies: list[float] = field(default_factory=list)   # of the 201s, seconds
    statuses: dict[str, int] = field(default_factory=dict)
    bodies: list[str] = field(default_factory=list)      # the first few that were not 201

    @property
    def errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status != "201")

    def percentile(self, q: float) -> float:
        """Nearest rank, over every answer (an error counts as its own wait)."""
        if not self.latencies:
            return float("inf")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]

    def line(self) -> str:
        return (f"import {self.seconds:.1f} s; {sum(self.statuses.values())} submissions, "
                f"{self.errors} errors {self.statuses}; p50 {self.percentile(50) * 1000:.0f} ms, "
                f"p99 {self.percentile(99) * 1000:.0f} ms, max "
                f"{max(self.latencies, default=0) * 1000:.0f} ms")


def payload(n: int) -> bytes:
    return json.dumps({
        "title": f"Submission {n} beside an import", "category": "trust-security",
        "rsit": "availability:ddos", "tlp": "amber", "started_at": "2026-03-01T08:00:00Z",
        "description": "Volumetric attack from a botnet.", "users_affected": 1500,
        "affected_services": ["fixed internet"],
        "indicators": [{"type": "ipv4", "value": f"203.0.113.{n % 250 + 1}"}],
        "submit": True}).encode()


def submit(port: int, token: str, n: int) -> tuple[str, float, str]:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    started = time.monotonic()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        conn.request("POST", "/api/v1/incidents/", body=payload(n), headers=headers)
        response = conn.getresponse()
        body = response.read()[:300].decode("utf-8", "replace")
        status = str(response.status)
        if status == "503":
            status += f" Retry-After={response.getheader('Retry-After')}"
        conn.close()
    except OSError as exc:
        status, body = type(exc).__name__, str(exc)
    return status, time.monotonic() - started, body


def run(instance: Instance, port: int, seconds: float, *, fmt: str = "stix",
        clients: int = 16, pause: float = 0.5, indicators: int = 3000,
        reports: int = 30) -> Result:
    """Warm every client up, start the import (`fmt`: a STIX bundle of `indicators` and
    `reports`, or OONI measurements making `reports` reports), have `clients` submit every
    `pause` s until it ends."""
    bundle = instance.root / f"feed.{fmt}"
    if fmt == "stix":
        write_bundle(bundle, indicators, reports)
    else:
        write_ooni(bundle, reports)
    for n in range(clients):   # each worker's first request loads the application
        submit(port, instance.token, n)
    importer = subprocess.Popen(
        [sys.executable, "-m", "tests.exchange.import_stress", "import", fmt, str(bundle), USER,
         str(seconds)], env=instance.env, cwd=ROOT, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    result = Result(0.0, {})
    lock = threading.Lock()
    started = time.monotonic()
    running = threading.Event()
    running.set()

    def client(index: int) -> None:
        n = index * 100_000
        while running.is_set():
            status, elapsed, body = submit(port, instance.token, n)
            with lock:
                result.statuses[status] = result.statuses.get(status, 0) + 1
                result.latencies.append(elapsed)
                if status != "201" and len(result.bodies) < 5:
                    result.bodies.append(f"{status}: {body}")
            n += 1
            time.sleep(pause)

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    time.sleep(0.3)   # the importer process is under way before the first submission
    for thread in threads:
        thread.start()
    try:
        out, err = importer.communicate(timeout=seconds * 4 + 120)
    finally:
        running.clear()
        for thread in threads:
            thread.join(timeout=150)
        if importer.poll() is None:
            importer.kill()
    result.seconds = time.monotonic() - started
    if importer.returncode:
        raise RuntimeError(f"the import failed: {err[-3000:]}")
    result.import_output = json.loads(out.strip().splitlines()[-1])
    return result


def _import(fmt: str, path: str, username: str, seconds: float) -> None:
    """The import itself, in its own process (the worker that runs an import job)."""
    import django

    django.setup()
    from sentinelle.core.models import User
    from sentinelle.exchange.importer import import_records
    from sentinelle.exchange.reading import open_records

    user = User.objects.get(username=username)
    with open(path, "rb") as stream:
        _fmt, records = open_records(stream, fmt, Path(path).name)
        items = list(records)   # parsed once here; handed over at the pace of a slow source
    pause = seconds / max(1, len(items))

    def slowly() -> Iterator:
        for item in items:
            time.sleep(pause)
            yield item

    started = time.monotonic()
    summary = import_records(slowly(), user=user, source_name=Path(path).name)
    print(json.dumps({**summary.as_dict(), "created_ids": len(summary.created_ids),
                      "seconds": round(time.monotonic() - started, 2)}))


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "import":
        _import(sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5]))
    else:
        raise SystemExit("usage: python -m tests.exchange.import_stress import stix|ooni FILE "
                         "USER SECONDS")
