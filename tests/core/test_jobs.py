"""Jobs: status, progress and failure reasons users see; the database worker runs them."""

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from sentinelle.core import jobs
from sentinelle.core.models import Job


@jobs.handler("test-count")
def _count(job, progress):
    data = job.input.read().decode()
    progress.total(len(data.splitlines()))
    for _line in data.splitlines():
        progress.advance()
    return {"lines": len(data.splitlines())}


@jobs.handler("test-refuse")
def _refuse(job, progress):
    raise ValidationError("Line 3: unknown category “x”.")


@jobs.handler("test-crash")
def _crash(job, progress):
    raise RuntimeError("secret internal detail")


def test_a_job_runs_and_reports_its_result(alice, client):
    job = jobs.start("test-count", alice, upload=SimpleUploadedFile("a.csv", b"1\n2\n3\n"))
    job.refresh_from_db()
    assert (job.status, job.result, job.progress_done, job.progress_total) == (
        "succeeded", {"lines": 3}, 3, 3)
    client.force_login(alice)
    page = client.get(f"/jobs/{job.pk}/").content.decode()
    assert "Succeeded" in page and "a.csv" in page


def test_a_refused_job_shows_the_reason_and_a_crash_hides_internals(alice):
    refused = jobs.start("test-refuse", alice)
    refused.refresh_from_db()
    assert refused.status == "failed" and "Line 3" in refused.message
    crashed = jobs.start("test-crash", alice)
    crashed.refresh_from_db()
    assert crashed.status == "failed" and "secret" not in crashed.message


def test_a_failed_job_says_whose_fault_it_was_to_its_owner_only(alice, bob):
    """A program (the probe campaign's outbox) must know whether to send the input again
    without reading the message, which is in the owner's language."""
    from tests.conftest import api_client

    refused, crashed = jobs.start("test-refuse", alice), jobs.start("test-crash", alice)
    owner = api_client(alice)
    assert owner.get(f"/api/v1/jobs/{refused.pk}/").json()["failure"] == "refused"
    assert owner.get(f"/api/v1/jobs/{crashed.pk}/").json()["failure"] == "error"
    done = jobs.start("test-count", alice, upload=SimpleUploadedFile("a.csv", b"1\n"))
    assert owner.get(f"/api/v1/jobs/{done.pk}/").json()["failure"] == ""
    other = api_client(bob).get(f"/api/v1/jobs/{refused.pk}/")
    assert other.status_code == 404 or other.json()["failure"] is None


def test_jobs_are_their_owners_only(alice, bob, client):
    job = jobs.start("test-count", alice, upload=SimpleUploadedFile("a.csv", b"1\n"))
    client.force_login(bob)
    assert client.get(f"/jobs/{job.pk}/").status_code == 404
    assert client.get(f"/jobs/{job.pk}/output/").status_code == 404
    client.logout()
    assert client.get(f"/jobs/{job.pk}/").status_code == 302


# The worker manages its own connections, as the separate process it normally is: the test
# needs real commits, and restores the reference data the flush removes.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_database_worker_runs_queued_jobs(alice, settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    job = jobs.start("test-count", alice, upload=SimpleUploadedFile("a.csv", b"x\ny\n"))
    assert Job.objects.get(pk=job.pk).status == "queued"
    call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", verbosity=0)
    job.refresh_from_db()
    assert (job.status, job.result) == ("succeeded", {"lines": 2})
