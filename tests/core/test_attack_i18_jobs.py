"""Attacks on issue 18's jobs changes: the handlers renamed to tasks.py and the jobs API mounted
by core. A job queued before the rename (a Job row and a queued run_job, nothing naming the old
modules) must still run; every kind the old code registered must still have a handler; another
user's job, web and API, must give neither its output nor its private fields, and answer as a
job that does not exist where the page hides it."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile

from sentinelle.core import jobs
from sentinelle.core.models import Job
from tests.conftest import api_client
from tests.observatory_helpers import access_bundle

pytestmark = pytest.mark.django_db

# What 7054250 (before issue 18) registered: exchange/jobs.py, exchange/federation.py,
# reports/jobs.py and observatory/tasks.py.
KINDS_BEFORE_THE_RENAME = {"import", "federate", "council-report", "observatory-submit",
                           "observatory-corroborate"}


def test_every_kind_registered_before_the_rename_still_has_a_handler():
    assert set(jobs._HANDLERS) >= KINDS_BEFORE_THE_RENAME


def queued_as_before(alice, tmp_path) -> Job:
    """A bundle upload as the old web page queued it: the Job row holds its kind, parameters
    and input; the queued task is run_job with the row's id."""
    data = access_bundle(tmp_path / "upload.zip").read_bytes()
    job = Job.objects.create(kind="observatory-submit", owner=alice,
                             params={"expect": "probe", "language": "en"},
                             input_name="upload.zip", input_size=len(data))
    job.input.save("upload.zip", ContentFile(data))
    return job


def test_a_job_queued_before_the_rename_still_runs(alice, tmp_path):
    job = queued_as_before(alice, tmp_path)
    jobs.run_job.enqueue(job.pk)  # the tests' immediate backend runs it here
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, (job.failure, job.message)
    assert job.result["created"] is True
    from sentinelle.observatory.models import BundleSubmission

    made = BundleSubmission.objects.select_related("incident").get()
    assert (made.incident.state.alpha2, made.incident.reference) == ("CU", job.result["report"])


def test_another_users_job_gives_neither_output_nor_private_fields(alice, bob, charlie, client,
                                                                    tmp_path):
    job = queued_as_before(alice, tmp_path)
    jobs.run_job.enqueue(job.pk)
    job.refresh_from_db()
    job.output.save("out.csv", ContentFile(b"secret,row\n"))
    job.save()
    assert client.get(f"/jobs/{job.pk}/output/").status_code == 302  # anonymous: sign in
    for outsider in (bob, charlie):
        client.force_login(outsider)
        own_missing = client.get("/jobs/999999/output/").status_code
        assert client.get(f"/jobs/{job.pk}/output/").status_code == own_missing == 404
        api = api_client(outsider)
        missing = api.get("/api/v1/jobs/999999/")
        shown = api.get(f"/api/v1/jobs/{job.pk}/")
        assert missing.status_code == 404
        if shown.status_code == 200:
            body = shown.json()
            for field in ("message", "result", "output", "input_name", "failure"):
                assert body[field] is None, (outsider.username, field)
            assert job.result["report"] not in shown.content.decode()
        else:
            assert shown.status_code == 404
        listed = api.get("/api/v1/jobs/").content.decode()
        assert job.result["report"] not in listed and "out.csv" not in listed
    # The owner still gets both.
    client.force_login(alice)
    assert client.get(f"/jobs/{job.pk}/output/").status_code == 200
    assert api_client(alice).get(f"/api/v1/jobs/{job.pk}/").json()["result"] == job.result
