"""A mute (what it covers, until when, why, by whom) and the check of one stored in mutes.json;
mutes.py keeps them, with the audit chain that decides which are in force."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from ..detectors import ALERT_TYPES
from ..prefixes import Network, covers, parse_prefix
from ..scan import _network

__all__ = ["MAX_MUTE_DAYS", "MAX_TIME", "MUTE_FIELDS", "MUTE_ID", "Mute", "MuteError",
           "is_text", "mute_from_dict", "short", "unix_time"]

MAX_MUTE_DAYS = 90
MAX_TIME = 253_402_300_799  # 9999-12-31T23:59:59Z
MUTE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MUTE_FIELDS = ("id", "prefix", "type", "until", "reason", "by", "created_at")


class MuteError(ValueError):
    """A refused mute or a damaged file; ``field`` names the bad argument when there is one."""

    def __init__(self, message: str, field: str | None = None) -> None:
        self.field = field
        super().__init__(message)


@dataclass
class Mute:
    id: str
    prefix: str | None
    type: str | None
    until: float
    reason: str
    by: str
    created_at: float
    network: Network | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.prefix is not None and self.network is None:
            self.network = parse_prefix(self.prefix, strict=True)

    def covers(self, alert_type: str, prefix: str, now: float) -> bool:
        """Active at ``now``, same type (when set), prefix equal to or inside (when set)."""
        if self.until <= now or (self.type is not None and self.type != alert_type):
            return False
        if self.network is None:
            return True
        try:
            return covers(self.network, _network(prefix))
        except ValueError:
            return False

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in MUTE_FIELDS}


def short(value: object) -> str:
    """repr() for an error message, cut: a hostile file must not make a megabyte message."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def is_text(value: object) -> bool:
    """A str that can be written as UTF-8 (JSON's "\\udfff" escapes give lone surrogates)."""
    if not isinstance(value, str):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def unix_time(value: object) -> float | None:
    """A unix time between 1970 and 9999 (what a date can show), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return float(value) if 0 <= value <= MAX_TIME else None


def mute_from_dict(data: object) -> Mute:
    """Validate one stored mute; MuteError (without the place, the caller adds it)."""
    if not isinstance(data, dict):
        raise MuteError("expected an object")
    unknown = set(data) - set(MUTE_FIELDS)
    if unknown:
        raise MuteError(f"unknown key {short(sorted(unknown)[0])}")
    mute_id = data.get("id")
    if not isinstance(mute_id, str) or not MUTE_ID.match(mute_id):
        raise MuteError(f"id must be 1-64 letters, digits, '-' or '_', got {short(mute_id)}")
    prefix = data.get("prefix")
    if prefix is not None and not is_text(prefix):
        raise MuteError(f"prefix must be a string or null, got {short(prefix)}")
    alert_type = data.get("type")
    if alert_type is not None and alert_type not in ALERT_TYPES:
        raise MuteError(f"type must be null or one of {', '.join(ALERT_TYPES)}, "
                        f"got {short(alert_type)}")
    if prefix is None and alert_type is None:
        raise MuteError("a mute needs a prefix or a type")
    values = {}
    for name in ("until", "created_at"):
        value = unix_time(data.get(name))
        if value is None:
            raise MuteError(f"{name} must be a unix time (a number, 1970..9999), got "
                            f"{short(data.get(name))}")
        values[name] = value
    for name in ("reason", "by"):
        if not is_text(data.get(name)):
            raise MuteError(f"{name} must be a string (UTF-8 text), got "
                            f"{short(data.get(name))}")
    try:
        return Mute(mute_id, prefix, alert_type, values["until"], data["reason"], data["by"],
                    values["created_at"])
    except ValueError as exc:
        raise MuteError(f"prefix: {exc}") from None
