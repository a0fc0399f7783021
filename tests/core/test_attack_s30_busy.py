"""Attacker pass on "database is locked" (issue 20, session 30): a write that outwaits SQLite's
busy timeout must answer 503 with Retry-After wherever it happens, not only inside a view: the
session is saved by its middleware after the view, and a token's last use is written by the
API's authentication. The lock is simulated (the suite's in-memory database has no
cross-process lock; tests/exchange/test_import_concurrency.py holds a real one over HTTP)."""

from __future__ import annotations

import json
from unittest import mock

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.db import OperationalError
from django.db.models import QuerySet
from django.test import Client

from sentinelle.core.busy import RETRY_AFTER
from sentinelle.core.models import ApiToken
from tests.conftest import api_client

LOCKED = OperationalError("database is locked")


def locked_session_save(*args, **kwargs):
    raise LOCKED


@pytest.fixture
def every_request_saves_the_session(settings):
    # What a view that changes the session does (a refused message keeps its draft there, the
    # 2FA enrolment its secret's digest): the save happens in SessionMiddleware, after the view.
    settings.SESSION_SAVE_EVERY_REQUEST = True


def test_a_session_save_on_a_locked_database_answers_503_not_500(
        alice, bob, charlie, every_request_saves_the_session):
    client = Client(raise_request_exception=False)
    client.force_login(bob)
    with mock.patch.object(SessionStore, "save", locked_session_save):
        response = client.get("/")
    assert response.status_code == 503, response.status_code
    assert response["Retry-After"] == str(RETRY_AFTER)
    page = response.content.decode()
    # Nothing of the database or the code: no SQL error text, no path, no traceback.
    for leak in ("database is locked", "OperationalError", "Traceback", "sqlite", "/src/"):
        assert leak not in page


def test_a_session_save_on_a_locked_database_answers_the_api_body_under_api(
        alice, bob, charlie, every_request_saves_the_session):
    client = Client(raise_request_exception=False)
    client.force_login(bob)
    with mock.patch.object(SessionStore, "save", locked_session_save):
        response = client.get("/api/v1/incidents/")
    assert response.status_code == 503 and response["Retry-After"] == str(RETRY_AFTER)
    body = json.loads(response.content)
    assert body["code"] == "busy" and "locked" not in json.dumps(body)


def test_another_error_after_the_view_stays_a_500(alice, bob, charlie,
                                                  every_request_saves_the_session):
    client = Client(raise_request_exception=False)
    client.force_login(bob)

    def broken(*args, **kwargs):
        raise OperationalError("disk I/O error")

    with mock.patch.object(SessionStore, "save", broken):
        response = client.get("/")
    assert response.status_code == 500 and "Retry-After" not in response


def test_a_token_read_is_served_when_its_last_use_cannot_be_written(alice, bob, charlie):
    """last_used_at is informative (core/api/authentication.py): a GET must not fail because
    the database is busy writing something else."""
    client = api_client(bob)
    update = QuerySet.update

    def busy_for_tokens(self, **kwargs):
        if self.model is ApiToken and "last_used_at" in kwargs:
            raise LOCKED
        return update(self, **kwargs)

    with mock.patch.object(QuerySet, "update", busy_for_tokens):
        response = client.get("/api/v1/incidents/")
    assert response.status_code == 200, response.content[:300]


def test_a_command_on_a_locked_database_says_so_in_one_line(alice, bob, charlie, tmp_path,
                                                            capsys):
    """An operator's `sentinelle import` while another writer (a backup, a large import) holds
    SQLite past the busy timeout: one line and a status a script can retry on, no traceback."""
    from sentinelle import cli

    feed = tmp_path / "feed.csv"
    feed.write_text("title,started_at\nx,2024-01-01T00:00:00Z\n")

    def locked(*args, **kwargs):
        raise LOCKED

    with (mock.patch("sentinelle.exchange.management.commands.import.import_records", locked),
          pytest.raises(SystemExit) as ended):
        cli.main(["sentinelle", "import", str(feed), "--user", "alice"])
    err = capsys.readouterr().err
    assert ended.value.code == 75, ended.value.code   # EX_TEMPFAIL: try again later
    assert "Traceback" not in err and "busy" in err and len(err.strip().splitlines()) == 1
