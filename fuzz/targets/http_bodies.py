"""Request bodies a client can send (issue 20, part 3): each input is posted through Django's
test client to the endpoints that take a report or a summary return, and any answer of 500
or more, or any exception out of a view, is a failure. A 4xx is the project's refusal.

Every input goes, as it is, to
- ``POST /api/v1/incidents/`` and ``POST /api/v1/summary-returns/`` (application/json);
- ``POST /returns/upload/`` as the CSV file;
and, field by field, to the web forms ``POST /incidents/new/`` and ``POST /returns/new/``:
a JSON object's values become the form's fields (a list: one value each; the raw bytes of
text values, percent-encoded, so invalid UTF-8 reaches the form too), anything else fills the
report's free-text fields.

Each child process posts into its own SQLite database, copied from a migrated template made
once per set of migrations (``setup``): never the project's or the test suite's database.
With a PostgreSQL URL (``fuzz/run.py --database-url``, or a postgres ``DATABASE_URL``) the
template and each child's copy are PostgreSQL databases instead (``targets/_postgres.py``)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from urllib.parse import quote_from_bytes

from fuzz.harness import ROOT, Target
from fuzz.targets import _postgres

WORK = Path(tempfile.gettempdir()) / "sentinelle-fuzz-http"
STATE = "CU"
_clients: dict = {}
# The connections a forked child inherits from its parent (pytest's, on the test database):
# kept, never closed. Closing one would send the server a Terminate over the parent's own
# socket and end the parent's session (psycopg's close() does not check the pid).
_inherited: list = []
_owner: list[int] = []


class BodyRefused(Exception):
    """The report API answered 4xx: the body was refused, as it should be when it is bad."""


def _template_key() -> str:
    migrations = sorted((ROOT / "src" / "sentinelle").glob("**/migrations/*.py"))
    digest = hashlib.sha256()
    for path in migrations:
        digest.update(f"{path.relative_to(ROOT)}\n".encode() + path.read_bytes())
    return digest.hexdigest()[:16]


def _remove_stale() -> None:
    # Children killed after a hang leave their database behind: remove those of dead pids.
    for path in WORK.glob("child-*.sqlite3*"):
        pid = path.name.split("-")[1].split(".")[0]
        try:
            os.kill(int(pid), 0)
        except (ProcessLookupError, ValueError):
            path.unlink(missing_ok=True)
        except PermissionError:
            pass


def _detach_inherited() -> None:
    from django.db import connections

    if _owner == [os.getpid()]:
        return
    _owner[:] = [os.getpid()]
    for wrapper in connections.all(initialized_only=True):
        if wrapper.connection is not None:
            _inherited.append(wrapper.connection)
            wrapper.connection = None


def use_database(path: Path | str) -> None:
    """Point Django's "default" at ``path``: a SQLite file, or (a str) the name of one of the
    fuzz's PostgreSQL databases on the server of ``_postgres.url()``."""
    from django.conf import settings
    from django.db import connections
    from django.db.backends.base.base import BaseDatabaseWrapper

    # Forked from pytest, the child inherits pytest-django's block on database access (and
    # the suite's test database): lift the block, and point "default" at this child's own.
    blocked = BaseDatabaseWrapper.__dict__.get("ensure_connection")
    real = getattr(getattr(blocked, "__self__", None), "_real_ensure_connection", None)
    if real is not None:
        BaseDatabaseWrapper.ensure_connection = real
    _detach_inherited()
    connections.close_all()
    if isinstance(path, str):
        database = _postgres.database_settings(path)
    else:
        database = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(path),
                    "CONN_MAX_AGE": None, "OPTIONS": {"timeout": 20}}
    settings.DATABASES = {"default": database}
    connections.settings = connections.configure_settings(settings.DATABASES)
    with contextlib.suppress(AttributeError):
        del connections["default"]


def setup_django() -> None:
    """Django set up for posting in this child: settings, loggers, stale databases gone."""
    WORK.mkdir(parents=True, exist_ok=True)
    if not os.environ.get("DJANGO_SETTINGS_MODULE"):
        # make fuzz: the project's settings, with nothing written where the demo keeps data.
        os.environ["DJANGO_SETTINGS_MODULE"] = "sentinelle.settings"
        os.environ.setdefault("SENTINELLE_DATA_DIR", str(WORK / "data"))
        os.environ.setdefault("DATABASE_URL", f"sqlite:///{WORK / 'unused.sqlite3'}")
    import django
    from django.conf import settings

    if not settings.configured or not getattr(settings, "INSTALLED_APPS", None):
        django.setup()
    else:
        from django.apps import apps
        if not apps.ready:
            django.setup()
    settings.ALLOWED_HOSTS = ["testserver"]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.MEDIA_ROOT = str(WORK / "media")
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    settings.SECURE_SSL_REDIRECT = False
    # The bodies are under test, not the sign-in: the session is the focal point's, verified.
    settings.REQUIRE_2FA = False
    # Every refused input would log "Bad Request" and its traceback: a 5xx is reported by run.
    logging.getLogger("django.request").setLevel(logging.CRITICAL)
    logging.getLogger("django.security").setLevel(logging.CRITICAL)
    _remove_stale()
    if _postgres.url():
        _postgres.remove_stale()


def _migrate(_path: Path) -> None:
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def template(fill=_migrate, name: str = "template") -> Path | str:  # noqa: ANN001 - fill(db)
    """The migrated database every child copies, made once per set of migrations: a SQLite
    file, or with a PostgreSQL URL the name of a template database on that server."""
    if _postgres.url():
        return _postgres.template(f"{name}-{_template_key()}", fill, use_database)
    template = WORK / f"{name}-{_template_key()}.sqlite3"
    if not template.exists():
        making = WORK / f"child-{os.getpid()}.making.sqlite3"
        making.unlink(missing_ok=True)
        use_database(making)
        fill(making)
        from django.db import connections
        connections.close_all()
        os.replace(making, template)
    return template


def child_database(template_made: Path | str) -> dict:
    """This child's own copy of the template, in use; what it is, for the harness's record."""
    if isinstance(template_made, str):
        mine: Path | str = _postgres.child(template_made)
    else:
        mine = WORK / f"child-{os.getpid()}.sqlite3"
        shutil.copyfile(template_made, mine)
    use_database(mine)
    from django.db import connection

    connection.ensure_connection()
    return {"vendor": connection.vendor, "database": str(connection.settings_dict["NAME"])}


def teardown() -> None:
    """The child is ending: drop its PostgreSQL database (a SQLite file is removed as stale
    by the next child, as before)."""
    if _postgres.url():
        _postgres.drop_child()


def setup() -> dict:
    setup_django()
    used = child_database(template())
    _make_clients()
    return used


def _make_clients() -> None:
    from django.test import Client

    from sentinelle.core.models import ApiToken, MemberState, Role, User

    state = MemberState.objects.get(alpha2=STATE)
    focal = User.objects.create(username="fuzz-focal", role=Role.FOCAL_POINT, state=state,
                                email="fuzz@example.org")
    for name, role in (("fuzz-analyst", Role.ANALYST), ("fuzz-admin", Role.ADMIN)):
        User.objects.create(username=name, role=role, email=f"{name}@example.org")
    _token, secret = ApiToken.issue(focal, read_only=False)
    api = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    web = Client()
    web.force_login(focal)
    _clients.update(api=api, web=web)
    # The forms must be reached (signed in, not sent to the sign-in page) and the seed report
    # accepted: a set-up that refuses everything would prove nothing.
    for path in ("/incidents/new/", "/returns/new/", "/returns/upload/"):
        if web.get(path).status_code != 200:
            raise RuntimeError(f"GET {path} answered {web.get(path).status_code}, not 200")
    seed = (ROOT / "fuzz" / "corpus" / "http_bodies" / "report.json").read_bytes()
    answer = api.post("/api/v1/incidents/", seed, content_type="application/json")
    if answer.status_code != 201:
        raise RuntimeError(f"the seed report was refused: {answer.status_code} "
                           f"{answer.content[:500]!r}")


def check(path: str, response) -> int:  # noqa: ANN001 - a test client response
    if response.status_code >= 500:
        raise AssertionError(f"{path} answered {response.status_code}: "
                             f"{response.content[:300]!r}")
    return response.status_code


def form_value(value: object) -> list[bytes]:
    if isinstance(value, list):
        return [item for element in value[:2000] for item in form_value(element)]
    if isinstance(value, str):
        return [value.encode("utf-8", "surrogatepass")]
    if value is None:
        return [b""]
    return [json.dumps(value).encode()]


def _form_body(data: bytes, fields: object) -> bytes:
    if isinstance(fields, dict):
        pairs = [(str(key).encode("utf-8", "surrogatepass"), item)
                 for key, value in fields.items() for item in form_value(value)]
    else:
        # Not an object: the bytes as the report's free text, where a user types anything.
        pairs = [(name, data) for name in (b"title", b"description", b"indicators",
                                                    b"affected_services", b"named_analysts")]
        pairs += [(b"category", b"trust-security"), (b"rsit", b"availability:ddos"),
                  (b"tlp", b"amber"), (b"started_at", b"2026-03-01T08:00"),
                  (b"narrative_language", b"en"), (b"year", b"2026")]
    return urlencode(pairs)


def urlencode(pairs: list[tuple[bytes, bytes]]) -> bytes:
    """Raw bytes percent-encoded as they are: invalid UTF-8 reaches the form too."""
    return b"&".join(quote_from_bytes(k).encode() + b"=" + quote_from_bytes(v).encode()
                     for k, v in pairs)


def run(data: bytes) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    api, web = _clients["api"], _clients["web"]
    code = check("/api/v1/incidents/", api.post("/api/v1/incidents/", data,
                                                 content_type="application/json"))
    check("/api/v1/summary-returns/", api.post("/api/v1/summary-returns/", data,
                                                content_type="application/json"))
    check("/returns/upload/", web.post("/returns/upload/", {
        "year": "2026", "notes": "", "file": SimpleUploadedFile("return.csv", data, "text/csv")}))
    try:
        fields = json.loads(data)
    except (ValueError, RecursionError):
        fields = None
    body = _form_body(data, fields)
    for path in ("/incidents/new/", "/returns/new/"):
        check(path, web.generic("POST", path, body,
                                 content_type="application/x-www-form-urlencoded"))
    if 400 <= code < 500:
        raise BodyRefused(code)


TARGET = Target(
    name="http_bodies",
    seeds=(),
    run=run,
    refusals=(BodyRefused,),
    kind="json",
    setup=setup,
    teardown=teardown,
)
