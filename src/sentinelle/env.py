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
