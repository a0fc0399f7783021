"""Evidence files: hashed on upload, typed by content, stored under a safe name, served only as
a download, refused above the size limit without leaving anything behind."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from sentinelle.core.models import AuditEntry
from sentinelle.incidents.models import Evidence
from sentinelle.incidents.services import safe_filename
from tests.conftest import api_client, file_report

# A minimal valid PNG: signature, IHDR, IDAT and IEND chunks of a 1x1 image.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")
HTML = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"


def upload(user, incident, name: str, content: bytes, content_type: str = "", **extra):
    file = SimpleUploadedFile(name, content, content_type=content_type or
                              "application/octet-stream")
    return api_client(user).post(f"/api/v1/incidents/{incident.pk}/evidence/",
                                 {"file": file, **extra}, format="multipart")


def files_under(root: Path) -> list[Path]:
    return [p for p in Path(root).rglob("*") if p.is_file()] if Path(root).exists() else []


def download(user, evidence_id: int, web: bool = False):
    if web:
        client = Client()
        client.force_login(user)
        response = client.get(f"/evidence/{evidence_id}/download/")
    else:
        response = api_client(user).get(f"/api/v1/evidence/{evidence_id}/download/")
    content = b"".join(response.streaming_content) if response.status_code == 200 else b""
    return response, content


@pytest.fixture
def incident(alice):
    return file_report(alice)


def test_upload_returns_the_sha256_of_the_bytes(alice, incident, settings):
    content = b"pcap or log excerpt\n" * 100
    response = upload(alice, incident, "capture.log", content, description="firewall log")
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["sha256"] == hashlib.sha256(content).hexdigest()
    assert data["size"] == len(content)
    assert data["filename"] == "capture.log"
    assert data["description"] == "firewall log"
    assert data["uploaded_by"] == "alice"
    assert data["download"].endswith(f"/api/v1/evidence/{data['id']}/download/")
    item = Evidence.objects.get(pk=data["id"])
    assert hashlib.sha256(Path(item.file.path).read_bytes()).hexdigest() == data["sha256"]
    assert AuditEntry.objects.filter(action="evidence.add", object_id=str(item.pk)).exists()
    # Listed on the report.
    listing = api_client(alice).get(f"/api/v1/incidents/{incident.pk}/evidence/").json()
    assert [(e["id"], e["sha256"]) for e in listing] == [(item.pk, data["sha256"])]


def test_download_returns_the_same_bytes_and_hash_header(alice, charlie, incident):
    content = bytes(range(256)) * 40
    data = upload(alice, incident, "blob.bin", content).json()
    for user in (alice, charlie):
        for web in (False, True):
            response, body = download(user, data["id"], web=web)
            assert response.status_code == 200
            assert body == content
            assert response["X-Evidence-SHA256"] == hashlib.sha256(content).hexdigest()


def test_png_is_recognised_by_its_content(alice, incident):
    data = upload(alice, incident, "screenshot.dat", PNG, content_type="text/html").json()
    assert data["content_type"] == "image/png"
    response, body = download(alice, data["id"])
    assert response["Content-Type"] == "image/png"
    assert body == PNG


@pytest.mark.parametrize("declared", ["text/html", "image/png", "application/xhtml+xml"])
def test_html_is_never_served_as_html(alice, incident, declared):
    data = upload(alice, incident, "phishing-page.html", HTML, content_type=declared).json()
    assert data["content_type"] in ("text/plain", "application/octet-stream")
    for web in (False, True):
        response, body = download(alice, data["id"], web=web)
        assert response.status_code == 200
        assert "html" not in response["Content-Type"]
        assert response["Content-Type"].split(";")[0] in ("text/plain",
                                                          "application/octet-stream")
        assert body == HTML


def test_binary_without_known_signature_is_octet_stream(alice, incident):
    data = upload(alice, incident, "sample.exe.txt", b"\x00\xff\xfe" * 50).json()
    assert data["content_type"] == "application/octet-stream"


@pytest.mark.parametrize("web", [False, True])
def test_download_is_an_attachment_with_nosniff(alice, incident, web):
    data = upload(alice, incident, "notes.txt", b"plain notes").json()
    response, _body = download(alice, data["id"], web=web)
    assert response["Content-Disposition"].startswith("attachment;")
    assert 'filename="notes.txt"' in response["Content-Disposition"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]


@pytest.mark.parametrize("name,expected", [
    ("../../etc/passwd", "passwd"),
    ("..\\..\\boot.ini", "boot.ini"),
])
def test_path_traversal_names_are_stored_safely(alice, incident, settings, tmp_path, name,
                                                expected):
    response = upload(alice, incident, name, b"root:x:0:0")
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["filename"] == expected
    item = Evidence.objects.get(pk=data["id"])
    stored = Path(item.file.path).resolve()
    media = Path(settings.MEDIA_ROOT).resolve()
    # Under evidence/ (inside the test's transaction, still in the pending folder).
    assert item.file.name.startswith("evidence/") and stored.is_relative_to(media)
    assert stored.relative_to(media).as_posix().endswith(item.file.name)
    assert expected not in stored.name  # the stored name never comes from the user
    assert not (tmp_path / "etc" / "passwd").exists()
    assert files_under(media) == [stored]
    response, _body = download(alice, item.pk)
    assert f'filename="{expected}"' in response["Content-Disposition"]


@pytest.mark.parametrize("raw,expected", [
    ("../../etc/passwd", "passwd"),
    ("..\\..\\boot.ini", "boot.ini"),
    ("C:\\Windows\\system32\\cmd.exe", "cmd.exe"),
    ('report"; filename="evil.html', "report_; filename=_evil.html"),
    ("line\r\nX-Injected: 1.txt", "line_X-Injected_ 1.txt"),
    ("..", "evidence.bin"),
    ("", "evidence.bin"),
    ("/", "evidence.bin"),
])
def test_safe_filename(raw, expected):
    name = safe_filename(raw)
    assert name == expected
    assert "/" not in name and "\\" not in name and '"' not in name
    assert "\r" not in name and "\n" not in name


def test_long_filename_is_shortened_keeping_the_extension(alice, incident):
    data = upload(alice, incident, "a" * 300 + ".pcap", b"x").json()
    assert len(data["filename"]) <= 200
    assert data["filename"].endswith(".pcap")


def test_oversize_upload_is_413_and_leaves_nothing(alice, incident, settings):
    settings.EVIDENCE_MAX_BYTES = 1024
    before = AuditEntry.objects.count()
    response = upload(alice, incident, "big.bin", b"x" * 1025)
    assert response.status_code == 413
    assert "1024" in response.json()["detail"]
    assert Evidence.objects.count() == 0
    assert files_under(settings.MEDIA_ROOT) == []
    assert AuditEntry.objects.count() == before


def test_upload_at_the_limit_is_accepted(alice, incident, settings):
    settings.EVIDENCE_MAX_BYTES = 1024
    assert upload(alice, incident, "edge.bin", b"x" * 1024).status_code == 201


def test_oversize_web_upload_leaves_nothing(alice, incident, settings):
    settings.EVIDENCE_MAX_BYTES = 10
    client = Client()
    client.force_login(alice)
    response = client.post(f"/incidents/{incident.pk}/evidence/",
                           {"file": SimpleUploadedFile("big.bin", b"y" * 100)}, follow=True)
    assert response.status_code == 200
    assert "limit" in response.content.decode()
    assert Evidence.objects.count() == 0
    assert files_under(settings.MEDIA_ROOT) == []


def test_missing_file_is_400(alice, incident):
    response = api_client(alice).post(f"/api/v1/incidents/{incident.pk}/evidence/",
                                      {"description": "no file"}, format="multipart")
    assert response.status_code == 400
    assert "file" in response.json()["fields"]


def test_read_only_token_cannot_upload(alice, incident):
    client = api_client(alice, read_only=True)
    response = client.post(f"/api/v1/incidents/{incident.pk}/evidence/",
                           {"file": SimpleUploadedFile("a.txt", b"a")}, format="multipart")
    assert response.status_code == 403
    assert Evidence.objects.count() == 0


def test_secretariat_may_add_evidence(charlie, incident):
    response = upload(charlie, incident, "analysis.txt", b"Secretariat analysis")
    assert response.status_code == 201
    assert response.json()["uploaded_by"] == "charlie"


def test_unknown_evidence_id_is_404(alice):
    assert api_client(alice).get("/api/v1/evidence/999999/download/").status_code == 404


def test_a_description_with_a_nul_byte_is_a_400_naming_it(alice, incident):
    """Issue 20: the API passed the description as it came, and PostgreSQL refused the NUL
    byte (a 500); the web form already refused it. Nothing is stored."""
    response = upload(alice, incident, "log.txt", b"data", description="bad\x00byte")
    assert response.status_code == 400, response.content
    body = response.json()
    assert "description" in body.get("fields", body)   # the error shape of main, or before it
    assert not Evidence.objects.filter(incident=incident).exists()
