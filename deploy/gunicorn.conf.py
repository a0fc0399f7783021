"""gunicorn configuration for Sentinelle (docs/deploy.md).

    gunicorn -c /etc/sentinelle/gunicorn.conf.py

Every setting can be overridden on the command line (e.g. `--bind 127.0.0.1:8001` for a second
instance on the same machine). The processes keep nothing between requests: sessions, sign-in
lock-out counters and second-factor state live in the database, so any instance may answer
any request.
"""

from __future__ import annotations

import os

wsgi_app = "sentinelle.wsgi:application"

# Loopback only: nginx terminates TLS in front and is the only client.
bind = os.environ.get("SENTINELLE_BIND", "127.0.0.1:8000")
# Requests are database-bound and short; long work (imports, reports) runs in the task worker.
workers = int(os.environ.get("SENTINELLE_WEB_WORKERS", str(2 * (os.cpu_count() or 1) + 1)))
# One thread per worker: a submission holds the audit chain's lock from its head read to its
# commit, and with several threads a worker's holder waits for the GIL in between, so
# submissions queue on the lock (bench/README.md, api_load round 3). Add workers, not threads.
threads = 1
# Above nginx's proxy_read_timeout of 120 s would let nginx give up first; an upload of the
# largest allowed import over a slow link still fits.
timeout = 120
graceful_timeout = 30
keepalive = 5
# A worker is replaced after this many requests (with jitter so they do not all restart at
# once), which bounds any slow growth of a process's memory.
max_requests = 2000
max_requests_jitter = 200
# Headers and the request line are read by nginx first; these match its defaults.
limit_request_line = 8190
limit_request_fields = 100

# Logs go to stdout/stderr: systemd's journal keeps them (journalctl -u sentinelle-web).
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("SENTINELLE_GUNICORN_LOG_LEVEL", "info")
# The client is nginx: log the address it forwarded, and the request's duration in microseconds.
access_log_format = '%({x-real-ip}i)s "%(r)s" %(s)s %(B)s %(D)sus "%(a)s"'
# gunicorn itself trusts X-Forwarded-* only from nginx on loopback.
forwarded_allow_ips = "127.0.0.1,::1"
proxy_allow_ips = "127.0.0.1,::1"


def on_starting(server) -> None:
    """Empty PROMETHEUS_MULTIPROC_DIR before the workers start: samples left by an earlier run
    would be added to this one's (systemd's RuntimeDirectory= empties it too)."""
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not path:
        return
    os.makedirs(path, exist_ok=True)
    for entry in os.scandir(path):
        if entry.is_file() and entry.name.endswith(".db"):
            os.unlink(entry.path)


def child_exit(server, worker) -> None:
    """Tell prometheus_client that a worker is gone, so its live gauges stop counting."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
