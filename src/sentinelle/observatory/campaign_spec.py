"""The ``campaign`` value of an access-probe bundle's signed manifest, checked strictly: it comes
from outside (docs/observatory.md, *Campaigns on the platform*). Plain Python and Django's
ValidationError only, so that the fuzz target (fuzz/targets/campaign.py) runs it alone.

``{"name": slug [a-z0-9][a-z0-9-]{0,63}, "round": int >= 1, "scheduled_at": ISO 8601,
"interval_seconds": int >= 0, "config_sha256": hex}``; a bad value is refused naming the field.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

__all__ = ["MAX_ROUND", "CampaignInvalid", "CampaignSpec", "parse"]


class CampaignInvalid(ValidationError):
    """The manifest's ``campaign`` is not valid; the message names the field."""


SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
HEX = re.compile(r"[0-9a-f]{0,64}")    # a SHA-256 at most: the columns hold 64
MAX_ROUND = 2**31 - 1
MAX_INTERVAL = 366 * 24 * 3600


@dataclass(frozen=True)
class CampaignSpec:
    name: str
    round: int
    scheduled_at: dt.datetime
    interval: int
    config_sha256: str


def _refuse(name: str, reason: str) -> CampaignInvalid:
    return CampaignInvalid(_("The bundle's “campaign.%(field)s” is not valid: %(reason)s; "
                             "nothing was written.") % {"field": name, "reason": reason})


def _integer(value: Any, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _refuse(name, _("expected a whole number"))
    if not low <= value <= high:
        raise _refuse(name, _("expected a number from %(low)s to %(high)s") % {
            "low": low, "high": high})
    return value


def parse(manifest: dict) -> CampaignSpec | None:
    """The manifest's ``campaign``, checked; None for a bundle made outside a campaign."""
    if "campaign" not in manifest or manifest["campaign"] is None:
        return None
    value = manifest["campaign"]
    if not isinstance(value, dict):
        raise CampaignInvalid(_("The bundle's “campaign” is not valid: expected an object; "
                                "nothing was written."))
    name = value.get("name")
    if not isinstance(name, str) or not SLUG.fullmatch(name):
        raise _refuse("name", _("expected lower-case letters, digits and hyphens, at most 64, "
                                "starting with a letter or digit"))
    number = _integer(value.get("round"), "round", 1, MAX_ROUND)
    when = value.get("scheduled_at")
    try:
        if not isinstance(when, str) or len(when) > 64:
            raise ValueError(when)
        scheduled = dt.datetime.fromisoformat(when.strip().replace("Z", "+00:00"))
    except ValueError:
        raise _refuse("scheduled_at", _("expected an ISO 8601 date and time")) from None
    if scheduled.tzinfo is None:
        scheduled = scheduled.replace(tzinfo=dt.UTC)
    try:
        # In UTC, and far from the calendar's ends: 0001-01-01T00:00+14:00 is before year 1 in
        # UTC (OverflowError when stored or shown in another time zone).
        scheduled = scheduled.astimezone(dt.UTC)
        if not 1970 <= scheduled.year <= 9000:
            raise ValueError(scheduled.year)
    except (OverflowError, ValueError):
        raise _refuse("scheduled_at", _("expected an ISO 8601 date and time")) from None
    interval = _integer(value.get("interval_seconds", 0), "interval_seconds", 0, MAX_INTERVAL)
    digest = value.get("config_sha256", "")
    if not isinstance(digest, str) or not HEX.fullmatch(digest):
        raise _refuse("config_sha256", _("expected hexadecimal digits"))
    return CampaignSpec(name, number, scheduled, interval, digest)
