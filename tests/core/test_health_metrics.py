"""/healthz and /metrics (issue 13, point 5): what a monitor and Prometheus rely on.

/healthz: 200 when the database answers and the task queue moves, 503 otherwise, saying no more
than states and counts. /metrics: for loopback clients and bearers of the metrics token only
(404 for everyone else), with request latency, queue, jobs and daily volumes as counts that
never say which State or TLP they come from.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
from unittest import mock

import pytest
from django.db import OperationalError, connection
from django.test import Client
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from sentinelle.core.models import Job
from tests.conftest import file_report

DB_QUEUE = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
TOKEN = "metrics-token-0123456789abcdef"
OUTSIDE = "203.0.113.9"


def _enqueue(age_seconds: float, **fields) -> DBTaskResult:
    """A ready task row as django-tasks-db writes it, enqueued age_seconds ago."""
    task = DBTaskResult.objects.create(
        args_kwargs={"args": [1], "kwargs": {}}, task_path="sentinelle.core.jobs.run_job",
        backend_name="default", run_after=dt.datetime(9999, 1, 1, tzinfo=dt.UTC), **fields)
    DBTaskResult.objects.filter(pk=task.pk).update(
        enqueued_at=timezone.now() - dt.timedelta(seconds=age_seconds))
    return task


# --- /healthz ----------------------------------------------------------------------------------

@pytest.mark.django_db
def test_healthz_is_200_and_ok_when_the_database_and_queue_are_fine(client, settings):
    settings.TASKS = DB_QUEUE
    _enqueue(5)
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"] == {"status": "ok"}
    tasks = body["checks"]["tasks"]
    assert tasks["status"] == "ok" and tasks["ready"] == 1
    assert 4 <= tasks["oldest_ready_seconds"] < 60
    assert response["Cache-Control"] == "no-store"


@pytest.mark.django_db
def test_healthz_is_degraded_503_when_the_oldest_ready_task_waits_too_long(client, settings):
    settings.TASKS = DB_QUEUE
    settings.HEALTH_MAX_TASK_AGE = 300
    _enqueue(10)
    _enqueue(301)
    # Neither a task not yet due nor a finished one is waiting.
    later = _enqueue(3600)
    DBTaskResult.objects.filter(pk=later.pk).update(
        run_after=timezone.now() + dt.timedelta(hours=1))
    _enqueue(7200, status="SUCCESSFUL")
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["tasks"]["status"] == "degraded"
    assert body["checks"]["tasks"]["ready"] == 2
    assert 300 < body["checks"]["tasks"]["oldest_ready_seconds"] < 400


@pytest.mark.django_db
def test_a_deferred_task_waits_from_its_run_after_not_from_when_it_was_enqueued(client,
                                                                                settings):
    settings.TASKS = DB_QUEUE
    deferred = _enqueue(3600)
    DBTaskResult.objects.filter(pk=deferred.pk).update(
        run_after=timezone.now() - dt.timedelta(seconds=20))
    body = client.get("/healthz").json()
    assert body["status"] == "ok"
    assert 19 <= body["checks"]["tasks"]["oldest_ready_seconds"] < 120


@pytest.mark.django_db
def test_healthz_is_503_when_the_database_fails_and_says_nothing_of_the_error(client):
    failure = OperationalError('could not connect to server at "db.internal" as user "svc"')
    with mock.patch.object(connection, "cursor", side_effect=failure):
        response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error"
    assert body["checks"]["database"] == {"status": "error"}
    assert "db.internal" not in response.content.decode()
    assert "svc" not in response.content.decode()


@pytest.mark.django_db
def test_healthz_needs_no_sign_in_nor_second_factor(settings, alice):
    settings.REQUIRE_2FA = True
    client = Client()
    client.force_login(alice)  # a password-only session: every other page sends to 2FA
    assert client.get("/").status_code == 302
    assert client.get("/healthz").status_code == 200
    assert Client().get("/healthz").status_code == 200


# --- /metrics: who may read it -----------------------------------------------------------------

@pytest.mark.django_db
def test_metrics_from_loopback_lists_the_metric_names(client, settings):
    settings.TASKS = DB_QUEUE
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    for name in ("sentinelle_http_request_duration_seconds", "sentinelle_database_up",
                 "sentinelle_task_queue_ready", "sentinelle_task_queue_oldest_ready_seconds",
                 "sentinelle_jobs_failed_total", "sentinelle_jobs_last_24h",
                 "sentinelle_incident_reports_submitted_last_24h"):
        assert f"# TYPE {name.removesuffix('_total')}" in text, name
    assert Client().get("/metrics", REMOTE_ADDR="::1").status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("headers", [
    {},
    {"HTTP_AUTHORIZATION": "Bearer wrong-token-0123456789abcdef"},
    {"HTTP_AUTHORIZATION": f"Basic {TOKEN}"},
    {"HTTP_AUTHORIZATION": "Bearer "},
])
def test_metrics_from_outside_without_the_right_token_is_404(client, settings, headers):
    settings.METRICS_TOKEN = TOKEN
    response = client.get("/metrics", REMOTE_ADDR=OUTSIDE, **headers)
    assert response.status_code == 404
    assert b"sentinelle_" not in response.content


@pytest.mark.django_db
def test_metrics_from_outside_with_the_right_token_is_200(client, settings):
    settings.METRICS_TOKEN = TOKEN
    response = client.get("/metrics", REMOTE_ADDR=OUTSIDE,
                          HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert b"sentinelle_database_up 1.0" in response.content


@pytest.mark.django_db
def test_no_token_configured_means_no_token_opens_it(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", REMOTE_ADDR=OUTSIDE,
                      HTTP_AUTHORIZATION="Bearer ").status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize("header", ["HTTP_X_FORWARDED_FOR", "HTTP_X_REAL_IP", "HTTP_FORWARDED"])
def test_a_client_relayed_by_a_local_proxy_is_not_a_loopback_client(client, header):
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1", **{header: OUTSIDE})
    assert response.status_code == 404


@pytest.mark.django_db
def test_a_wrong_token_is_refused_even_from_loopback(client, settings):
    settings.METRICS_TOKEN = TOKEN
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1",
                          HTTP_AUTHORIZATION="Bearer stale-token-0123456789abcdef")
    assert response.status_code == 404


@pytest.mark.django_db
def test_metrics_is_404_for_a_signed_in_user_from_outside(settings, charlie):
    settings.REQUIRE_2FA = True
    client = Client()
    client.force_login(charlie)  # password only: not sent to the second factor either
    assert client.get("/metrics", REMOTE_ADDR=OUTSIDE).status_code == 404


# --- /metrics: what it says --------------------------------------------------------------------

def _sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample in the exposition text, or None if absent."""
    wanted = ",".join(f'{key}="{value}"' for key, value in labels.items())
    prefix = f"{name}{{{wanted}}} " if labels else f"{name} "
    for line in text.splitlines():
        if line.startswith(prefix):
            return float(line[len(prefix):])
        if labels and line.startswith(f"{name}{{"):
            # label order in the exposition follows the metric's declaration
            parts = line[len(name) + 1:line.index("}")].split(",")
            if sorted(parts) == sorted(wanted.split(",")):
                return float(line.rsplit(" ", 1)[1])
    return None


def _scrape() -> str:
    response = Client().get("/metrics", REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.django_db
def test_the_latency_histogram_counts_a_request_by_view_method_and_status(client):
    labels = {"view": "healthz", "method": "GET", "status": "2xx"}
    before = _sample(_scrape(), "sentinelle_http_request_duration_seconds_count", **labels) or 0
    client.get("/healthz")
    client.get("/healthz")
    text = _scrape()
    assert _sample(text, "sentinelle_http_request_duration_seconds_count", **labels) == before + 2
    # An unknown path is one series, whatever the path: no label carries the URL itself.
    # (Letters, not digits: a sample's float value may contain any run of digits.)
    client.get("/no/such/page/zqxv-unknown")
    text = _scrape()
    assert "zqxv" not in text
    assert _sample(text, "sentinelle_http_request_duration_seconds_count",
                   view="unmatched", method="GET", status="4xx") is not None


@pytest.mark.django_db
def test_an_invented_method_is_not_a_label_of_the_clients_choosing(client):
    client.generic("BREW", "/healthz")
    text = _scrape()
    assert "BREW" not in text
    assert _sample(text, "sentinelle_http_request_duration_seconds_count",
                   view="healthz", method="other", status="2xx") is not None


@pytest.mark.django_db
def test_queue_depth_and_oldest_age_are_read_at_scrape_time(settings):
    settings.TASKS = DB_QUEUE
    _enqueue(30)
    _enqueue(90)
    text = _scrape()
    assert _sample(text, "sentinelle_task_queue_ready") == 2
    assert 89 <= _sample(text, "sentinelle_task_queue_oldest_ready_seconds") < 200


@pytest.mark.django_db
def test_failed_jobs_by_kind_and_the_days_imports(alice):
    now = timezone.now()
    for kind, status in [("import", "failed"), ("import", "failed"), ("import", "succeeded"),
                         ("council-report", "failed"), ("council-report", "succeeded")]:
        Job.objects.create(kind=kind, owner=alice, status=status)
    old = Job.objects.create(kind="import", owner=alice, status="succeeded")
    Job.objects.filter(pk=old.pk).update(created_at=now - dt.timedelta(days=2))
    text = _scrape()
    assert _sample(text, "sentinelle_jobs_failed_total", kind="import") == 2
    assert _sample(text, "sentinelle_jobs_failed_total", kind="council-report") == 1
    assert _sample(text, "sentinelle_jobs_last_24h", kind="import", status="succeeded") == 1
    assert _sample(text, "sentinelle_jobs_last_24h", kind="import", status="failed") == 2


@pytest.mark.django_db
def test_report_counts_are_totals_that_say_nothing_of_a_red_report(alice, bob, charlie):
    file_report(alice, title="Ransomware at the Cuban ministry", tlp="red")
    file_report(bob, title="Swiss green report", tlp="green")
    file_report(bob, title="A draft", submit=False)
    text = _scrape()
    assert _sample(text, "sentinelle_incident_reports_submitted_last_24h") == 2
    samples = [line for line in text.splitlines() if not line.startswith("#")]
    for secret in ("ransomware", "cuba", "cu", "ch", "tlp", "red", "alice", "bob"):
        assert not any(secret in re.split(r"[^a-z0-9]+", line.lower()) for line in samples), \
            secret
    # The only labels are the request's view, method and status class, and a job's kind and
    # status: none names a State, a person or a TLP.
    label_names = {name for line in samples if "{" in line
                   for name in re.findall(r'([a-z_]+)="', line[line.index("{"):])}
    assert label_names <= {"view", "method", "status", "kind", "le"}, label_names


def test_multiprocess_mode_adds_up_the_workers(tmp_path):
    """With PROMETHEUS_MULTIPROC_DIR, samples recorded by one process are in another's scrape
    (as gunicorn workers are). Plain processes, without Django's database."""
    code = (
        "import sys\n"
        "from django.test import RequestFactory\n"
        "import django; django.setup()\n"
        "from sentinelle.core import metrics\n"
        "request = RequestFactory().get('/healthz')\n"
        "for _ in range(int(sys.argv[1])):\n"
        "    metrics.observe(request, 200, 0.02)\n"
        "from prometheus_client import generate_latest\n"
        "from prometheus_client.multiprocess import MultiProcessCollector\n"
        "class Only:\n"
        "    def collect(self):\n"
        "        return MultiProcessCollector(None).collect()\n"
        "sys.stdout.write(generate_latest(Only()).decode())\n"
    )
    # Not created beforehand: sentinelle.core.metrics creates it.
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus"),
           "DJANGO_SETTINGS_MODULE": "sentinelle.settings",
           "SENTINELLE_DATA_DIR": str(tmp_path / "data")}
    (tmp_path / "data").mkdir()
    for count in ("2", "3"):
        run = subprocess.run([sys.executable, "-c", code, count], env=env, capture_output=True,
                             text=True, timeout=120, check=False)
        assert run.returncode == 0, run.stderr
    labels = {"view": "unmatched", "method": "GET", "status": "2xx"}
    assert _sample(run.stdout, "sentinelle_http_request_duration_seconds_count", **labels) == 5


def test_the_settings_read_the_token_file_and_the_queue_age_and_refuse_a_short_token(
        monkeypatch, tmp_path):
    import importlib

    import sentinelle.settings as settings_module
    from sentinelle.env import SettingError

    secret = tmp_path / "metrics_token"
    secret.write_text(TOKEN + "\n", encoding="utf-8")
    monkeypatch.setenv("SENTINELLE_METRICS_TOKEN_FILE", str(secret))
    monkeypatch.setenv("SENTINELLE_HEALTH_MAX_TASK_AGE", "900")
    try:
        reloaded = importlib.reload(settings_module)
        assert reloaded.METRICS_TOKEN == TOKEN
        assert reloaded.HEALTH_MAX_TASK_AGE == 900
        monkeypatch.delenv("SENTINELLE_METRICS_TOKEN_FILE")
        monkeypatch.setenv("SENTINELLE_METRICS_TOKEN", "short")
        with pytest.raises(SettingError, match="SENTINELLE_METRICS_TOKEN is shorter"):
            importlib.reload(settings_module)
    finally:
        monkeypatch.undo()
        importlib.reload(settings_module)


@pytest.mark.django_db
def test_health_and_metrics_answer_plain_http_when_https_redirect_is_on(settings):
    """A monitor or a Prometheus on the same machine asks gunicorn directly, over HTTP."""
    settings.SECURE_SSL_REDIRECT = True
    client = Client()
    assert client.get("/").status_code == 301
    assert client.get("/healthz").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200


@pytest.mark.django_db
def test_healthz_is_503_when_the_queue_table_cannot_be_read(client, settings):
    settings.TASKS = DB_QUEUE
    failure = OperationalError('relation "django_tasks_database_dbtaskresult" does not exist')
    with mock.patch.object(DBTaskResult.objects, "ready", side_effect=failure):
        response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error"
    assert body["checks"]["database"] == {"status": "ok"}
    assert body["checks"]["tasks"]["status"] == "error"
    assert "relation" not in response.content.decode()
