"""GET /api/v1/jobs/ and /jobs/{id}/ answer what /api/schema/ says: the Secretariat
administrator follows everyone's jobs but reads another's files, message and result as null,
which the schema said were strings (Schemathesis with the admin's token, issue 19)."""

from __future__ import annotations

from sentinelle.core.models import Job, Role
from tests.conftest import api_client, make_user
from tests.openapi_helpers import assert_matches_schema, schema_document


def test_another_users_job_matches_the_schema(alice, db):
    document = schema_document()
    job = Job.objects.create(kind="import", owner=alice, input_name="cases.json",
                             input_size=10, input_sha256="0" * 64, message="done",
                             failure=Job.Failure.values[0], result={"created": 1})
    admin = api_client(make_user("ada", Role.ADMIN))
    listed = admin.get("/api/v1/jobs/")
    assert listed.status_code == 200
    assert_matches_schema(document, "/api/v1/jobs/", listed)
    one = admin.get(f"/api/v1/jobs/{job.pk}/")
    assert one.status_code == 200
    assert_matches_schema(document, "/api/v1/jobs/{id}/", one)
    assert one.json()["input_name"] is None and one.json()["message"] is None
    # The owner reads them, and that answer fits the schema too.
    own = api_client(alice).get(f"/api/v1/jobs/{job.pk}/")
    assert_matches_schema(document, "/api/v1/jobs/{id}/", own)
    assert own.json()["input_name"] == "cases.json"
