"""Issue 13, point 4: files on S3-compatible storage. Evidence, staged uploads and downloads go
through Django's storage API; with SENTINELLE_STORAGE=s3 they live in a bucket, here moto's S3
server on loopback (in a child process, so that this process's memory is the platform's alone).

The filesystem default is what every other test module uses, unchanged."""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
import time
import tracemalloc
import uuid
from pathlib import Path

import pytest
from django.core.files import File
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import Client

from sentinelle.core import audit, jobs, storage
from sentinelle.core.instance_keys import load_or_create_secret
from sentinelle.env import SettingError
from sentinelle.incidents import receipts, services
from sentinelle.incidents.models import Evidence, Incident, StagedEvidence, Status
from tests.browser import browser_fixtures
from tests.conftest import api_client, file_report
from tests.incidents.test_focal_form import capture, form_data

ACCESS_KEY, SECRET_KEY = "sentinelle-test", "sentinelle-test-secret"
# The backup test is transactional; the migrations' reference data is put back after the module.
_reference_data_stays = browser_fixtures._reference_data_stays


def _missing(reason: str) -> None:
    # `make test` installs the test extra (moto, django-storages, boto3): in CI a skip would
    # hide S3 storage that was never tried.
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def moto_endpoint():
    """moto's S3 server on 127.0.0.1, on a free port, for this module's tests."""
    for module in ("moto", "boto3", "storages"):
        try:
            __import__(module)
        except ImportError:
            _missing(f"{module} is not installed (pip install -e '.[test]')")
    port = _free_port()
    server = subprocess.Popen(  # noqa: S603 - our own interpreter, fixed arguments
        [sys.executable, "-c", "from moto.server import main; main()",
         "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"moto's S3 server did not start on port {port}")
                time.sleep(0.1)
        yield endpoint
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def bucket(moto_endpoint, settings):
    """A fresh bucket, configured as the platform's storage the way an operator would."""
    import boto3

    name = f"sentinelle-{uuid.uuid4().hex[:12]}"
    resource = boto3.resource("s3", endpoint_url=moto_endpoint, region_name="us-east-1",
                              aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY)
    resource.create_bucket(Bucket=name)
    settings.STORAGES = storage.storages_from_env({
        "SENTINELLE_STORAGE": "s3", "SENTINELLE_S3_BUCKET": name,
        "SENTINELLE_S3_ENDPOINT_URL": moto_endpoint, "SENTINELLE_S3_REGION": "us-east-1",
        "SENTINELLE_S3_ACCESS_KEY_ID": ACCESS_KEY,
        "SENTINELLE_S3_SECRET_ACCESS_KEY": SECRET_KEY})
    assert not storage.is_local(default_storage)
    return resource.Bucket(name)


def objects(bucket) -> dict[str, bytes]:
    return {o.key: o.get()["Body"].read() for o in bucket.objects.all()}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def incident(alice):
    return file_report(alice)   # TLP:AMBER: Cuba's and the Secretariat's, never Switzerland's


# --- settings ----------------------------------------------------------------------------------

def test_the_default_is_the_local_disk():
    # Django's own backend, with files that follow the transaction (core/files/transactional).
    assert storage.storages_from_env({})["default"]["BACKEND"] == (
        "sentinelle.core.files.transactional.TransactionalFileSystemStorage")
    assert storage.storages_from_env({"SENTINELLE_STORAGE": "filesystem"}) == (
        storage.storages_from_env({}))


def test_s3_settings_come_from_the_environment(tmp_path):
    secret = tmp_path / "s3-secret"
    secret.write_text("from-a-file\n")
    options = storage.storages_from_env({
        "SENTINELLE_STORAGE": "S3", "SENTINELLE_S3_BUCKET": "evidence",
        "SENTINELLE_S3_ENDPOINT_URL": "https://s3.example.org", "SENTINELLE_S3_REGION": "eu-1",
        "SENTINELLE_S3_ACCESS_KEY_ID": "AKID", "SENTINELLE_S3_SECRET_ACCESS_KEY_FILE": str(secret),
        "SENTINELLE_S3_ADDRESSING_STYLE": "path", "SENTINELLE_S3_PREFIX": "/sentinelle/",
    })["default"]
    assert options["BACKEND"] == "sentinelle.core.files.transactional.TransactionalS3Storage"
    o = options["OPTIONS"]
    assert (o["bucket_name"], o["endpoint_url"], o["region_name"]) == (
        "evidence", "https://s3.example.org", "eu-1")
    assert (o["access_key"], o["secret_key"]) == ("AKID", "from-a-file")
    assert (o["addressing_style"], o["location"]) == ("path", "sentinelle")
    # Never overwrite a stored file; never keep a whole object in memory while reading it.
    assert o["file_overwrite"] is False
    assert 0 < o["max_memory_size"] <= 8 * 1024 * 1024


@pytest.mark.parametrize(("environ", "named"), [
    ({"SENTINELLE_STORAGE": "ftp"}, "SENTINELLE_STORAGE='ftp'"),
    ({"SENTINELLE_STORAGE": "s3"}, "SENTINELLE_S3_BUCKET"),
    ({"SENTINELLE_STORAGE": "s3", "SENTINELLE_S3_BUCKET": "b",
      "SENTINELLE_S3_ACCESS_KEY_ID": "AKID"}, "SENTINELLE_S3_SECRET_ACCESS_KEY"),
    ({"SENTINELLE_STORAGE": "s3", "SENTINELLE_S3_BUCKET": "b",
      "SENTINELLE_S3_ADDRESSING_STYLE": "sideways"}, "SENTINELLE_S3_ADDRESSING_STYLE"),
    ({"SENTINELLE_STORAGE": "s3", "SENTINELLE_S3_BUCKET": "b",
      "SENTINELLE_S3_SECRET_ACCESS_KEY_FILE": "/nonexistent/secret"},
     "SENTINELLE_S3_SECRET_ACCESS_KEY_FILE"),
])
def test_a_bad_storage_setting_is_refused_naming_it(environ, named):
    with pytest.raises(SettingError, match=named.replace("(", r"\(")):
        storage.storages_from_env(environ)


# --- uploads land in the bucket, downloads stream from it ------------------------------------

def test_evidence_uploaded_through_the_api_is_in_the_bucket_with_its_sha256(
        alice, bob, charlie, incident, bucket, tmp_path, settings,
        django_capture_on_commit_callbacks):
    content = b"firewall log excerpt\n" * 5000
    # Committed (as the request's transaction would be): the object is under its name.
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client(alice).post(
            f"/api/v1/incidents/{incident.pk}/evidence/",
            {"file": SimpleUploadedFile("fw.log", content)}, format="multipart")
    assert response.status_code == 201, response.content
    item = Evidence.objects.get(pk=response.json()["id"])
    stored = objects(bucket)
    assert list(stored) == [item.file.name]
    assert sha256(stored[item.file.name]) == item.sha256 == sha256(content)
    # Nothing was written under MEDIA_ROOT: the bucket is the only copy.
    assert not any(p.is_file() for p in Path(settings.MEDIA_ROOT).rglob("*"))

    for user in (alice, charlie):
        web = Client()
        web.force_login(user)
        for answer in (api_client(user).get(f"/api/v1/evidence/{item.pk}/download/"),
                       web.get(f"/evidence/{item.pk}/download/")):
            assert answer.status_code == 200
            assert answer.streaming
            assert answer["Content-Length"] == str(len(content))
            assert answer["X-Evidence-SHA256"] == sha256(content)
            assert "attachment" in answer["Content-Disposition"]
            assert b"".join(answer.streaming_content) == content

    # Switzerland's focal point: 404 on every door, as on disk; the object stays.
    outsider = Client()
    outsider.force_login(bob)
    assert outsider.get(f"/evidence/{item.pk}/download/").status_code == 404
    assert api_client(bob).get(f"/api/v1/evidence/{item.pk}/download/").status_code == 404
    assert api_client(bob).get(f"/api/v1/incidents/{incident.pk}/evidence/").status_code == 404
    assert list(objects(bucket)) == [item.file.name]


def test_a_50_mb_download_streams_in_chunks_with_bounded_memory(
        alice, incident, bucket, tmp_path, settings, django_capture_on_commit_callbacks):
    settings.EVIDENCE_MAX_BYTES = 60 * 1024 * 1024
    size = 50 * 1024 * 1024
    source = tmp_path / "capture.pcap"
    digest = hashlib.sha256()
    with source.open("wb") as out:
        block = os.urandom(1024 * 1024)
        for i in range(50):
            chunk = block[i:] + block[:i]
            digest.update(chunk)
            out.write(chunk)
    with source.open("rb") as handle, django_capture_on_commit_callbacks(execute=True):
        item = services.attach_evidence(incident, alice, File(handle, name="capture.pcap"))
    assert item.size == size and item.sha256 == digest.hexdigest()
    assert bucket.Object(item.file.name).content_length == size

    client = Client()
    client.force_login(alice)
    # One small download first, so that what is measured is the 50 MB, not the first request's
    # imports and caches.
    small = services.attach_evidence(incident, alice, SimpleUploadedFile("note.txt", b"note"))
    assert b"".join(client.get(f"/evidence/{small.pk}/download/").streaming_content) == b"note"
    tracemalloc.start()
    try:
        response = client.get(f"/evidence/{item.pk}/download/")
        assert response.status_code == 200 and response.streaming
        received, chunks, largest = hashlib.sha256(), 0, 0
        for chunk in response.streaming_content:
            received.update(chunk)
            chunks += 1
            largest = max(largest, len(chunk))
        response.close()
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert received.hexdigest() == item.sha256
    assert chunks >= size // storage.DOWNLOAD_CHUNK
    assert largest <= storage.DOWNLOAD_CHUNK
    # Measured: a 0.3 MB peak. Served through django-storages' own open() with its default
    # settings (what a FileResponse over FieldFile.open() did), the peak was 59.7 MB: the whole
    # object was copied into memory before the first byte went out.
    assert peak < 8 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB while streaming 50 MB"


def test_a_form_upload_is_staged_in_the_bucket_then_moved_to_the_report(
        client, alice, bucket, django_capture_on_commit_callbacks):
    client.force_login(alice)
    draft = str(uuid.uuid4())
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/incidents/new/", {**form_data(), "draft": draft, "preview": "",
                                                   "attachments": [capture()]})
    assert response.status_code == 200
    staged = StagedEvidence.objects.get()
    assert list(objects(bucket)) == [staged.file.name]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/incidents/new/", {**form_data(), "draft": draft, "save": ""})
    assert response.status_code == 302
    evidence = Evidence.objects.get(incident=Incident.objects.get())
    stored = objects(bucket)
    # The kept copy is gone once the report is saved; the evidence is the one object left.
    assert list(stored) == [evidence.file.name]
    assert sha256(stored[evidence.file.name]) == evidence.sha256 == sha256(capture().read())


# --- nothing left behind ------------------------------------------------------------------------

@pytest.mark.parametrize("failing", ["_stamp_era", "audit_record"])
def test_evidence_that_cannot_be_recorded_leaves_no_object(
        alice, incident, bucket, monkeypatch, failing):
    def fail(*args, **kwargs):
        raise RuntimeError("database went away")

    if failing == "audit_record":
        monkeypatch.setattr(services.audit, "record", fail)
    else:
        monkeypatch.setattr(services, failing, fail)
    with pytest.raises(RuntimeError):
        services.attach_evidence(incident, alice, SimpleUploadedFile("a.txt", b"evidence"))
    assert not Evidence.objects.exists()
    assert objects(bucket) == {}


def test_a_removed_or_stale_kept_file_is_deleted_from_the_bucket(
        client, alice, bucket, django_capture_on_commit_callbacks):
    from sentinelle.incidents import staging

    client.force_login(alice)
    draft = str(uuid.uuid4())
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/incidents/new/", {**form_data(), "draft": draft, "preview": "",
                                        "attachments": [capture("a.pdf"),
                                                        capture("b.pdf", b"%PDF-1.4\nother")]})
    first, second = StagedEvidence.objects.order_by("pk")
    assert sorted(objects(bucket)) == sorted([first.file.name, second.file.name])
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/incidents/new/", {**form_data(), "draft": draft,
                                        "unstage": str(first.pk)})
    assert list(objects(bucket)) == [second.file.name]
    StagedEvidence.objects.update(uploaded_at=second.uploaded_at - staging.KEEP_FOR * 2)
    with django_capture_on_commit_callbacks(execute=True):
        assert staging.purge_stale() == 1
    assert objects(bucket) == {}


# --- the hash checks read the bucket; backups say what they leave out -------------------------

def test_receipts_and_the_restore_check_recompute_hashes_from_the_bucket(
        alice, bucket, settings, django_capture_on_commit_callbacks):
    from sentinelle.core.backup import RestoreResult, check_instance

    incident = file_report(alice, submit=False)
    with django_capture_on_commit_callbacks(execute=True):
        item = services.attach_evidence(incident, alice,
                                        SimpleUploadedFile("trace.pcap", b"x" * 999))
    services.change_status(incident, alice, Status.SUBMITTED)
    receipt = incident.receipts.get()
    assert receipts.verify(receipt) == []
    assert check_instance(RestoreResult({})).problems == []

    bucket.put_object(Key=item.file.name, Body=b"y" * 999)   # rewritten behind our back
    assert [(m.what, m.found) for m in receipts.verify(receipt)] == [
        ("trace.pcap", sha256(b"y" * 999))]
    assert any("SHA-256 differs" in p for p in check_instance(RestoreResult({})).problems)

    bucket.Object(item.file.name).delete()
    assert [m.found for m in receipts.verify(receipt)] == ["missing"]
    assert any("missing" in p for p in check_instance(RestoreResult({})).problems)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_backup_says_the_files_in_the_bucket_are_not_in_it(
        alice, incident, bucket, settings, tmp_path, capsys):
    settings.DATA_DIR = tmp_path / "data"
    settings.AUDIT_KEY = ""
    settings.INSTANCE_KEY = ""
    settings.DATA_DIR.mkdir()
    load_or_create_secret(settings.DATA_DIR / "secret_key", 48)
    audit.instance_signing_key()
    services.attach_evidence(incident, alice, SimpleUploadedFile("a.txt", b"evidence"))
    target = tmp_path / "backup"
    try:
        call_command("backup", "--output", str(target))
    except CommandError as exc:   # pragma: no cover - the message is the failure
        pytest.fail(str(exc))
    said = capsys.readouterr().out
    assert ("not in the backup: the stored files, kept by "
            "sentinelle.core.files.transactional.TransactionalS3Storage") in said
    assert not (target / "media").exists()


# --- job files ------------------------------------------------------------------------------------

@jobs.handler("test-s3-upper")
def _upper(job, progress):
    """Reads its input from the storage and leaves an output there, as imports and reports do."""
    from django.core.files.base import ContentFile

    data = job.input.read()
    job.output_name = "upper.txt"
    job.output.save("upper.txt", ContentFile(data.upper()), save=False)
    return {"bytes": len(data)}


def test_a_jobs_input_and_output_live_in_the_bucket_and_only_its_owner_downloads(
        alice, bob, bucket, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        job = jobs.start("test-s3-upper", alice,
                         upload=SimpleUploadedFile("in.txt", b"abc\n" * 99))
    job.refresh_from_db()
    assert (job.status, job.result) == ("succeeded", {"bytes": 396})
    # The input is removed when the job ends; the output is the one object left.
    assert objects(bucket) == {job.output.name: b"ABC\n" * 99}
    owner = Client()
    owner.force_login(alice)
    response = owner.get(f"/jobs/{job.pk}/output/")
    assert response.status_code == 200 and response.streaming
    assert b"".join(response.streaming_content) == b"ABC\n" * 99
    outsider = Client()
    outsider.force_login(bob)
    assert outsider.get(f"/jobs/{job.pk}/output/").status_code == 404
