"""PostgreSQL databases for the HTTP fuzz targets (``http_bodies``, ``http_forms``).

SQLite cannot raise what only PostgreSQL raises (a NUL in text, a varchar or integer out of
range, a ``LIKE`` on a huge pattern): when the fuzz runs with a PostgreSQL URL, the migrated
(and seeded) template is a PostgreSQL database made once per template key, and each child
posts into its own copy of it (``CREATE DATABASE … TEMPLATE``), dropped when the child ends.

The URL is ``SENTINELLE_FUZZ_DATABASE_URL`` (``fuzz/run.py --database-url``), else
``DATABASE_URL`` when it names PostgreSQL (CI's second pass of ``make test``). Only its server
and credentials are used, and its database name as the prefix of the fuzz's own databases:
``<name>_fzt_<key>`` (templates), ``<name>_fzm_<pid>`` (a template being made),
``<name>_fzc_<pid>`` (a child's). The database the URL names is never written to.

Nothing here imports Django or psycopg at import time: the parent process imports targets."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable

URL_VARIABLE = "SENTINELLE_FUZZ_DATABASE_URL"
_SCHEMES = ("postgres", "postgresql", "pgsql")
# PostgreSQL truncates identifiers past 63 bytes: the prefix leaves room for "_fzc_<pid>".
_PREFIX_BYTES = 40


def url() -> str | None:
    """The PostgreSQL URL to fuzz into, or None for the per-child SQLite files."""
    value = os.environ.get(URL_VARIABLE) or os.environ.get("DATABASE_URL", "")
    return value if value.split(":", 1)[0].lower() in _SCHEMES else None


def _parsed() -> dict:
    import dj_database_url

    found = url()
    if found is None:
        raise RuntimeError(f"no PostgreSQL URL in {URL_VARIABLE} or DATABASE_URL")
    return dj_database_url.parse(found, conn_max_age=None)


def _prefix() -> str:
    base = re.sub(r"[^a-z0-9_]", "_", (_parsed()["NAME"] or "sentinelle").lower())
    return base[:_PREFIX_BYTES]


def name(kind: str, suffix: str) -> str:
    """A fuzz database's name: kind t (template), m (being made) or c (a child's)."""
    return f"{_prefix()}_fz{kind}_{suffix}"


def database_settings(database: str) -> dict:
    """Django's settings for one of the fuzz's databases, on the URL's server."""
    settings = _parsed()
    settings["NAME"] = database
    settings["CONN_MAX_AGE"] = None
    settings.setdefault("OPTIONS", {}).setdefault("connect_timeout", 10)
    return settings


def _admin():  # noqa: ANN202 - a psycopg Connection
    """An autocommit connection for CREATE/DROP DATABASE, never to a fuzz database: the
    server's maintenance database "postgres", else the one the URL names."""
    import psycopg

    settings = _parsed()
    params = {key: value for key, value in (
        ("host", settings.get("HOST")), ("port", settings.get("PORT")),
        ("user", settings.get("USER")), ("password", settings.get("PASSWORD"))) if value}
    params.update(settings.get("OPTIONS", {}))
    params.setdefault("connect_timeout", 10)
    try:
        return psycopg.connect(dbname="postgres", autocommit=True, **params)
    except psycopg.OperationalError:
        return psycopg.connect(dbname=settings["NAME"], autocommit=True, **params)


def _drop(admin, database: str) -> None:  # noqa: ANN001 - a psycopg Connection
    from psycopg import sql

    # FORCE: a child killed after a hang may leave its session behind for a moment.
    admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
        sql.Identifier(database)))


def _exists(admin, database: str) -> bool:  # noqa: ANN001 - a psycopg Connection
    return admin.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                         (database,)).fetchone() is not None


def databases() -> list[str]:
    """The fuzz's databases on the server (templates, ones being made, children's)."""
    pattern = re.compile(rf"{re.escape(_prefix())}_fz[tmc]_[0-9a-f]+")
    with _admin() as admin:
        rows = admin.execute("SELECT datname FROM pg_database").fetchall()
    return sorted(row[0] for row in rows if pattern.fullmatch(row[0]))


def remove_stale() -> None:
    """Drop the databases of children (and unfinished templates) whose process is gone."""
    pattern = re.compile(rf"{re.escape(_prefix())}_fz[mc]_(\d+)")
    with _admin() as admin:
        for (database,) in admin.execute("SELECT datname FROM pg_database").fetchall():
            found = pattern.fullmatch(database)
            if found is None:
                continue
            try:
                os.kill(int(found.group(1)), 0)
            except ProcessLookupError:
                _drop(admin, database)
            except PermissionError:
                pass


def template(key: str, fill: Callable[[str], object],
             use: Callable[[str], object]) -> str:
    """The template database for ``key``, made once: ``use`` points Django at a new empty
    database, ``fill`` migrates (and seeds) it, then it is renamed into place, so that a
    template that exists is a whole one."""
    from django.db import connections
    from psycopg import errors, sql

    made = name("t", hashlib.sha256(key.encode()).hexdigest()[:16])
    with _admin() as admin:
        if _exists(admin, made):
            return made
        making = name("m", str(os.getpid()))
        _drop(admin, making)
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(making)))
    use(making)
    fill(making)
    # RENAME and, later, CREATE DATABASE … TEMPLATE refuse while a session is connected.
    connections.close_all()
    with _admin() as admin:
        try:
            admin.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                sql.Identifier(making), sql.Identifier(made)))
        except errors.DuplicateDatabase:
            _drop(admin, making)          # another process made it meanwhile: same content
    return made


def child(template_name: str) -> str:
    """This process's own copy of the template, made afresh."""
    from psycopg import sql

    mine = name("c", str(os.getpid()))
    with _admin() as admin:
        _drop(admin, mine)
        admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
            sql.Identifier(mine), sql.Identifier(template_name)))
    return mine


def drop_child() -> None:
    """Drop this process's database (the child is ending): close Django's session first."""
    from django.db import connections

    connections.close_all()
    with _admin() as admin:
        _drop(admin, name("c", str(os.getpid())))
