"""Shared fixtures. Every test touching data has three users (ARCHITECTURE.md): a focal point of
State A (Cuba), one of State B (Switzerland) and a Secretariat analyst."""

from __future__ import annotations

import datetime as dt
import html
import os
import shutil
import subprocess  # noqa: S404 - runs msgfmt with fixed arguments
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from sentinelle.core.models import ApiToken, MemberState, Role, User
from tests.paths import ROOT, SHARED_DIR

SHARED = SHARED_DIR
PASSWORD = "correct-horse-battery"


@pytest.fixture(autouse=True)
def _media_and_email(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.REQUIRE_2FA = False
    # PBKDF2's deliberate slowness costs seconds per user created; tests need no such cost.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Jobs run inside the request in tests; test_jobs.py runs the database worker for real.
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    # The API's request rates, raised: tests call it thousands of times a minute as the same
    # users (tests/core/test_api_throttling.py proves the real ones answer 429).
    settings.API_RATES = {"anon": "100000/min", "user": "100000/min", "upload": "100000/min"}


@pytest.fixture(autouse=True)
def _fresh_connection_if_dropped():
    """A PostgreSQL connection that a previous test's server or child dropped is replaced
    before the next test that runs outside a transaction uses it (seen once in CI: 'server
    closed the connection unexpectedly' at a fixture's first INSERT). Inside a test's
    transaction nothing is touched."""
    from django.db import connection

    raw = connection.connection
    if connection.vendor == "postgresql" and raw is not None \
            and not connection.in_atomic_block and raw.closed is False:
        try:
            raw.execute("SELECT 1")
        except Exception:  # noqa: BLE001 - any failure means the connection is unusable
            connection.close()
    elif connection.vendor == "postgresql" and raw is not None and raw.closed:
        connection.close()
    yield


def make_user(username: str, role: str, state: str | None = None, **extra) -> User:
    user = User(username=username, role=role, email=f"{username}@example.org",
                state=MemberState.objects.get(alpha2=state) if state else None, **extra)
    user.set_password(PASSWORD)
    user.save()
    return user


@pytest.fixture
def alice(db) -> User:
    """Focal point of State A (Cuba)."""
    return make_user("alice", Role.FOCAL_POINT, "CU")


@pytest.fixture
def bob(db) -> User:
    """Focal point of State B (Switzerland): an outsider to Cuba's restricted reports."""
    return make_user("bob", Role.FOCAL_POINT, "CH")


@pytest.fixture
def charlie(db) -> User:
    """Secretariat analyst."""
    return make_user("charlie", Role.ANALYST)


@pytest.fixture
def council(db) -> User:
    return make_user("carla", Role.COUNCIL)


def api_client(user: User | None, read_only: bool = False) -> APIClient:
    client = APIClient()
    if user is not None:
        _token, secret = ApiToken.issue(user, read_only=read_only)
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def report_payload(**overrides) -> dict:
    payload = {
        "title": "DDoS against the national portal",
        "category": "trust-security",
        "rsit": "availability:ddos",
        "tlp": "amber",
        "started_at": "2026-03-01T08:00:00Z",
        "ended_at": "2026-03-01T12:00:00Z",
        "description": "Volumetric attack from a botnet.",
        "affected_services": ["fixed internet", "mobile internet"],
        "users_affected": 15000,
        "indicators": [{"type": "ipv4", "value": "203.0.113.7"},
                       {"type": "domain", "value": "Botnet.Example"}],
        "alleged_origin_state": "ZZ",
    }
    payload.pop("alleged_origin_state")
    payload.update(overrides)
    return payload


def file_report(user: User, **overrides):
    """Create a submitted report through the service layer (as the API does)."""
    from sentinelle.incidents import fields, services

    data = report_payload(**overrides)
    cleaned = {
        "title": data["title"],
        "category": fields.parse_category(data["category"]),
        "rsit_type": fields.parse_rsit(data["rsit"]),
        "tlp": data["tlp"],
        "severity": data.get("severity", "medium"),
        "started_at": dt.datetime.fromisoformat(data["started_at"]),
        "ended_at": dt.datetime.fromisoformat(data["ended_at"]) if data.get("ended_at") else None,
        "detected_at": None,
        "affected_services": data["affected_services"],
        "users_affected": data["users_affected"],
        "alleged_origin_state": None,
        "description": data["description"],
        "narrative_language": "en",
        "consent_to_name": False,
        "indicators": fields.parse_indicators([(i["type"], i["value"])
                                               for i in data["indicators"]]),
        "named_analysts": data.get("named_analysts", []),
    }
    return services.create_report(user, cleaned, submit=data.get("submit", True))


def have_chromium() -> bool:
    return Path("/usr/bin/chromium").exists() or shutil.which("chromium") is not None


os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


LOCALE = ROOT / "src" / "sentinelle" / "locale"


@pytest.fixture
def catalogues(settings, tmp_path):
    """Compile every .po into a temporary LOCALE_PATHS (changing the setting resets Django's
    translation caches), so a stale .mo in the tree cannot decide a test; without msgfmt, fall
    back to the catalogues `make` compiled in the tree."""
    msgfmt = shutil.which("msgfmt")
    if msgfmt is None:
        if not all(po.with_suffix(".mo").exists()
                   for po in LOCALE.glob("*/LC_MESSAGES/django.po")):
            pytest.skip("msgfmt is not installed and the catalogues are not compiled")
        settings.LOCALE_PATHS = [LOCALE]
        return
    for po in LOCALE.glob("*/LC_MESSAGES/django.po"):
        mo = tmp_path / po.relative_to(LOCALE).with_suffix(".mo")
        mo.parent.mkdir(parents=True)
        subprocess.run([msgfmt, "--check", "-o", str(mo), str(po)],  # noqa: S603
                       check=True, capture_output=True)
    settings.LOCALE_PATHS = [tmp_path]


def page(response) -> str:
    """The text of a successful page, HTML entities decoded."""
    assert response.status_code == 200
    return html.unescape(response.content.decode())
