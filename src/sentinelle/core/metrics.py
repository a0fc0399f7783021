"""Prometheus metrics for the operator: request latency, the task queue, jobs, daily volumes.

Metrics are for whoever runs the instance, not for the States: they hold counts and durations
only. No label names a State, a user, a TLP level or anything a report says; the database
figures are totals over every report and job, whoever may see them.

Request latency is observed in this process by RequestMetricsMiddleware. Under gunicorn each
worker is a process of its own: with PROMETHEUS_MULTIPROC_DIR set (an empty directory, wiped at
each start), prometheus_client keeps every worker's samples in files there and /metrics adds
them up (its "multiprocess mode"); without it a scrape sees only the worker that answered it.
The database figures are read at scrape time, with a few cheap aggregate queries.

/metrics answers clients on the loopback interface that come through no proxy, and any client
presenting SENTINELLE_METRICS_TOKEN as a bearer token; everyone else gets 404, as for a page
that does not exist.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import time
from collections.abc import Callable, Iterator
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

from sentinelle.core import health

log = logging.getLogger(__name__)


def _ensure_multiprocess_dir() -> None:
    """Create PROMETHEUS_MULTIPROC_DIR if it is set and missing: prometheus_client writes each
    sample to a file there, and without the directory every request would fail to record."""
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not path:
        return
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as exc:
        raise ImproperlyConfigured(
            f"PROMETHEUS_MULTIPROC_DIR={path!r} cannot be created: {exc.strerror}") from None


_ensure_multiprocess_dir()
# This process's own samples; under multiprocess mode they also go to PROMETHEUS_MULTIPROC_DIR.
_REGISTRY = CollectorRegistry(auto_describe=True)
REQUEST_LATENCY = Histogram(
    "sentinelle_http_request_duration_seconds",
    "Time from the request reaching Django to its response, by view, method and status class.",
    ["view", "method", "status"], registry=_REGISTRY,
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0))

# Anything else a client may send as a method would make a label value of its choosing.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# A proxy on this machine relays outside clients from a loopback address; these headers say so.
_PROXY_HEADERS = ("X-Forwarded-For", "X-Real-IP", "Forwarded")


class RequestMetricsMiddleware:
    """Time every request, labelled by the URL pattern's name (never the path, whose ids and
    free text would make a series per report)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        observe(request, response.status_code, time.perf_counter() - started)
        return response


def observe(request: HttpRequest, status_code: int, seconds: float) -> None:
    match = getattr(request, "resolver_match", None)
    # Static files (WhiteNoise) and unknown paths are answered before any URL matches.
    view = match.view_name if match is not None else "unmatched"
    method = request.method if request.method in _METHODS else "other"
    REQUEST_LATENCY.labels(view, method, f"{status_code // 100}xx").observe(seconds)


def multiprocess_dir() -> str | None:
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    return path if path and os.path.isdir(path) else None


class _Scrape:
    """What one scrape collects: the request histogram (this process's, or every worker's in
    multiprocess mode) and the figures read from the database now."""

    def collect(self) -> Iterator[Metric]:
        if multiprocess_dir():
            yield from MultiProcessCollector(None).collect()
        else:
            yield from _REGISTRY.collect()
        yield from collect_database()


# The figures a domain app adds about its own data (incidents registers its reports in its
# AppConfig.ready): the core reads no domain model itself.
_app_collectors: list[Callable[[], Iterator[Metric]]] = []


def register_collector(collect: Callable[[], Iterator[Metric]]) -> None:
    """Add a domain app's figures to every scrape; they are read from the database, so they
    are left out, like the job figures, when it does not answer."""
    if collect not in _app_collectors:
        _app_collectors.append(collect)


def collect_database() -> Iterator[Metric]:
    database_up = health.check_database()["status"] == health.OK
    up = GaugeMetricFamily("sentinelle_database_up",
                           "1 if the database answered a trivial query at scrape time.")
    up.add_metric([], 1 if database_up else 0)
    yield up
    collectors = (_queue_metrics, _job_metrics, *_app_collectors)
    if not database_up:
        if health.queue_backend() != "django_tasks_rq.RQBackend":
            return
        collectors = (_queue_metrics,)  # a queue in Redis can still be read
    for collect in collectors:
        try:
            yield from collect()
        except Exception:
            # A figure that cannot be read is missing from this scrape, not a failed scrape.
            log.warning("metrics: %s failed", collect.__name__, exc_info=True)


def _queue_metrics() -> Iterator[Metric]:
    stats = health.queue_stats()
    if stats is None:  # the immediate backend: no queue
        return
    depth = GaugeMetricFamily("sentinelle_task_queue_ready",
                              "Tasks in the queue (database or Redis) ready to run now.")
    depth.add_metric([], stats.ready)
    age = GaugeMetricFamily("sentinelle_task_queue_oldest_ready_seconds",
                            "How long the oldest ready task has waited (0 when none waits).")
    age.add_metric([], stats.oldest_ready_seconds or 0.0)
    yield depth
    yield age


def _job_metrics() -> Iterator[Metric]:
    from sentinelle.core.models import Job

    failed = CounterMetricFamily("sentinelle_jobs_failed",
                                 "Jobs that ended failed since the instance began, by kind.",
                                 labels=["kind"])
    for row in (Job.objects.filter(status=Job.Status.FAILED).order_by()
                .values("kind").annotate(n=Count("pk"))):
        failed.add_metric([row["kind"]], row["n"])
    yield failed
    recent = GaugeMetricFamily(
        "sentinelle_jobs_last_24h",
        "Jobs created in the past 24 hours by kind and current status: kind=\"import\" are "
        "imports (web page and API), kind=\"council-report\" Council reports.",
        labels=["kind", "status"])
    since = timezone.now() - timedelta(hours=24)
    for row in (Job.objects.filter(created_at__gte=since).order_by()
                .values("kind", "status").annotate(n=Count("pk"))):
        recent.add_metric([row["kind"], row["status"]], row["n"])
    yield recent


def scrape_allowed(request: HttpRequest) -> bool:
    """A right bearer token from anywhere, or no Authorization header from loopback.

    A wrong token is refused even from loopback: a scraper sending a stale token should fail
    loudly rather than depend on where it runs."""
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, supplied = header.partition(" ")
        token = settings.METRICS_TOKEN
        return bool(token) and scheme.lower() == "bearer" and hmac.compare_digest(
            supplied.strip().encode(), token.encode())
    return from_loopback(request)


def from_loopback(request: HttpRequest) -> bool:
    if any(name in request.headers for name in _PROXY_HEADERS):
        return False
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:  # e.g. empty behind a Unix socket: a proxy, not a local client
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback


def metrics(request: HttpRequest) -> HttpResponse:
    if not scrape_allowed(request):
        raise Http404
    response = HttpResponse(generate_latest(_Scrape()), content_type=CONTENT_TYPE_LATEST)
    response["Cache-Control"] = "no-store"
    return response
