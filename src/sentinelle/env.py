"""Typed readers for SENTINELLE_* environment variables.

Every setting comes from the environment so that a deployment needs no file edits. A secret
may be given as NAME_FILE (a path, as Docker and systemd credentials provide) instead of NAME.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class SettingError(ValueError):
    """An environment variable holds a value its setting cannot take."""


def env_str(name: str, default: str = "", environ: Mapping[str, str] | None = None) -> str:
    environ = os.environ if environ is None else environ
    return environ.get(name, default)


def env_bool(name: str, default: bool = False, environ: Mapping[str, str] | None = None) -> bool:
    environ = os.environ if environ is None else environ
    if name not in environ:
        return default
    value = environ[name].strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise SettingError(f"{name}={environ[name]!r} is not a boolean (use true or false)")


def env_int(name: str, default: int, environ: Mapping[str, str] | None = None) -> int:
    environ = os.environ if environ is None else environ
    if name not in environ or environ[name].strip() == "":
        return default
    try:
        return int(environ[name].strip().replace("_", ""))
    except ValueError:
        raise SettingError(f"{name}={environ[name]!r} is not a whole number") from None


def env_list(name: str, default: list[str] | None = None,
             environ: Mapping[str, str] | None = None) -> list[str]:
    environ = os.environ if environ is None else environ
    if name not in environ:
        return list(default or [])
    return [item.strip() for item in environ[name].split(",") if item.strip()]


def env_secret(name: str, default: str = "", environ: Mapping[str, str] | None = None) -> str:
    """NAME, or the content of the file named by NAME_FILE (trailing newline removed)."""
    environ = os.environ if environ is None else environ
    path = environ.get(f"{name}_FILE")
    if path:
        try:
            with open(path, encoding="utf-8") as handle:
                return handle.read().rstrip("\r\n")
        except OSError as exc:
            raise SettingError(f"{name}_FILE={path!r} cannot be read: {exc.strerror}") from None
        except UnicodeDecodeError:
            # e.g. the binary key a data directory generates for itself, named here by mistake
            raise SettingError(f"{name}_FILE={path!r} is not a text file (UTF-8): give a text "
                               "secret, or copy a generated key file into the data directory "
                               "instead") from None
    return environ.get(name, default)


def env_choice(name: str, default: str, choices: list[str],
               environ: Mapping[str, str] | None = None) -> str:
    """One of `choices` (case and surrounding spaces ignored)."""
    environ = os.environ if environ is None else environ
    value = environ.get(name, "").strip().lower() or default
    if value not in choices:
        raise SettingError(f"{name}={environ[name]!r} is not one of: {', '.join(choices)}")
    return value


def env_redis_url(name: str, default: str, environ: Mapping[str, str] | None = None) -> str:
    """A Redis URL as redis-py reads it: redis://[[user]:password@]host[:port][/db],
    rediss:// for TLS, or unix:///path/to/socket[?db=N].

    Checked here so that a typo is one line at start-up rather than a connection error in the
    first request that enqueues a job. A refused value is not repeated whole: it may hold the
    Redis password."""
    from urllib.parse import urlsplit

    environ = os.environ if environ is None else environ
    value = environ.get(name, "").strip() or default
    try:
        parts = urlsplit(value)
        shown = _redis_url_shown(value)
        problem = ""
        if parts.scheme not in ("redis", "rediss", "unix"):
            problem = "does not start with redis://, rediss:// or unix://"
        elif "@" in value and "@" not in parts.netloc:
            # A '#', '?' or '/' in the password ends the host part early: redis-py would read
            # the rest as a path, a query or a fragment.
            problem = ("has '#', '?' or '/' in its user name or password: write them "
                       "percent-encoded (%23, %3F, %2F)")
        elif parts.scheme == "unix":
            if not parts.path:
                problem = "names no socket path (unix:///path/to/redis.sock)"
        elif not parts.hostname:
            problem = "names no host"
        else:
            try:
                parts.port  # noqa: B018 - raises ValueError for a port that is not a number
            except ValueError:
                problem = "has a port that is not a number from 0 to 65535"
            else:
                db = parts.path.strip("/")
                if db and not db.isdigit():
                    problem = f"has {db!r} where the database number goes (e.g. /0)"
    except ValueError:
        shown, problem = "", "is not a URL"
    if problem:
        raise SettingError(f"{name}={shown!r} {problem}; e.g. redis://127.0.0.1:6379/0")
    return value


def _redis_url_shown(value: str) -> str:
    """A Redis URL as an error message may repeat it: scheme, host, port and path only.

    The user name and password go, and so do the query (redis-py reads `?password=` there) and
    the fragment. Everything up to the last '@' counts as user and password, even when a '#' or
    '?' in the password keeps urlsplit from seeing it so."""
    from urllib.parse import urlsplit

    scheme, separator, rest = value.partition("://")
    if not separator:
        return ""
    try:
        parts = urlsplit(f"{scheme}://{rest.rpartition('@')[2]}")
        port = parts.port
    except ValueError:
        return f"{scheme}://"
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}{f':{port}' if port is not None else ''}{parts.path}"


def with_redis_connect_timeout(url: str, seconds: int) -> str:
    """`url` with ?socket_connect_timeout=`seconds` unless it already sets one.

    redis-py's default is no timeout: on a server that drops packets, connecting waits for the
    kernel's TCP timeout (minutes), and /healthz, /metrics and every enqueue with it. django-rq
    passes a URL's query to redis-py, and nothing else, so the default goes there."""
    from urllib.parse import parse_qsl, urlencode, urlsplit

    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    if any(name == "socket_connect_timeout" for name, _value in query):
        return url
    return parts._replace(query=urlencode([*query, ("socket_connect_timeout", seconds)])).geturl()
