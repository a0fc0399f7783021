"""What every bundle kind's reading shares: the refusal, the parsed result, and the pieces of
the draft report (times, vantage points, counts, the evidence line) written the same way for
every kind."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from sentinelle.incidents import fields
from sentinelle.incidents.indicators import IndicatorError, normalise
from sentinelle.incidents.models import TLP, Severity
from sentinelle.observatory.models import Verdict

MAX_LISTED = 20        # services or alerts spelt out in the narrative; the rest are counted
MAX_RESULTS = 200_000  # rows one bundle may add (a probe list of 200,000 URLs is far beyond use)


class BundleRefused(ValidationError):
    """The bundle is not accepted; the messages say why, and nothing was written."""


@dataclass
class Parsed:
    kind: str
    cleaned: dict[str, Any]
    rows: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


def time(value: Any) -> dt.datetime | None:
    """ISO 8601, OONI's "YYYY-MM-DD hh:mm:ss" (UTC) or Unix seconds; aware, UTC if naive."""
    if value in (None, ""):
        return None
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return dt.datetime.fromtimestamp(value, dt.UTC)
        parsed = dt.datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def indicators(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Valid, distinct indicators, at most the report's limit; an odd value is left out rather
    than refusing the evidence it came with."""
    out: list[tuple[str, str]] = []
    seen = set()
    for kind, value in pairs:
        try:
            normal = normalise(kind, value)
        except IndicatorError:
            continue
        if (kind, normal) not in seen:
            seen.add((kind, normal))
            out.append((kind, normal))
        if len(out) >= fields.MAX_INDICATORS:
            break
    return out


def counts_text(counts: Counter) -> str:
    return ", ".join(f"{verdict_label(key)} ×{n}"
                     for key, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def verdict_label(key: str) -> str:
    """A verdict in the narrative's language, with its code when they differ (the code is what
    the measurements and the exports say); any other key (a provider) as it is."""
    if key not in Verdict.values:
        return key
    label = str(Verdict(key).label)
    return key if label == key else f"{label} ({key})"


def narrative_language() -> str:
    return (get_language() or settings.LANGUAGE_CODE or "en").lower()


def base_cleaned(category: str, title: str, description: str, start: dt.datetime,
                 end: dt.datetime | None, detected: dt.datetime | None, anomalous: bool,
                 services: list[str], pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """The draft report's fields, as ``incidents.services.create_report`` takes them."""
    return {
        "title": title[:200],
        "category": fields.parse_category(category),
        "rsit_type": fields.parse_rsit("availability:outage" if anomalous
                                       else "other:undetermined"),
        "tlp": TLP.AMBER,
        "severity": Severity.MEDIUM if anomalous else Severity.LOW,
        "started_at": start,
        "ended_at": end if end and end > start else None,
        "detected_at": detected if detected and detected >= start else None,
        "affected_services": services[:fields.MAX_SERVICES],
        "users_affected": None,
        "alleged_origin_state": None,
        "description": description,
        "narrative_language": narrative_language(),
        "consent_to_name": False,
        "indicators": indicators(pairs),
        "named_analysts": [],
    }


def evidence_line(digest: str, signer: str) -> str:
    return _("The evidence bundle (SHA-256 %(sha256)s, signed with the key of fingerprint "
             "%(key)s) is attached unchanged; anyone can check it with “sentinelle evidence "
             "verify”.") % {"sha256": digest, "key": signer or "?"}


def more(listed: list[str]) -> str:
    """The sentence counting what a list cut at MAX_LISTED leaves out, or nothing."""
    extra = len(listed) - MAX_LISTED
    return " " + _("And %(n)s more.") % {"n": extra} if extra > 0 else ""
