"""A finished job's result as a person reads it: translated labels, yes/no, lists joined.

Job handlers return plain dicts (the API gives them as they are, with their keys, to clients
that parse them); the job page shows the same dict through `rows()`, so every key a handler
returns needs a label here. A key without one is shown as it is, which the test of this module
catches for every handler's result.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.utils.translation import gettext_lazy as _

# Keys the page leaves out: links shown as buttons, and internals only a client uses.
HIDDEN = frozenset({"report_url", "created_ids", "rejected", "skipped", "cursor", "conflicts"})

LABELS = {
    # imports (exchange/importer.py ImportSummary)
    "format": _("Format"),
    "dry_run": _("Dry run (nothing kept)"),
    "on_invalid": _("Invalid items"),
    "reports_created": _("Reports created"),
    "reports_merged": _("Reports already held"),
    "reports_updated": _("Reports updated"),
    "indicators_created": _("Indicators created"),
    "indicators_merged": _("Indicators already held"),
    "indicators_updated": _("Indicators updated"),
    "rejected_count": _("Items rejected"),
    "written": _("Written"),
    "skipped_count": _("Records skipped"),
    "filed_under": _("Records filed under each Member State"),
    "tlp_kept": _("Updates kept under the stricter TLP held here"),
    # federation (exchange/federation.py RunResult)
    "direction": _("Direction"),
    "objects": _("Objects"),
    "skipped_other_states": _("Skipped: the remote is not trusted for their State"),
    "skipped_unknown": _("Skipped: not a Member State's identity"),
    "summary": _("Import"),
    # observatory jobs (observatory/tasks.py)
    "report": _("Report"),
    "created": _("New report"),
    "message": _("Message"),
    "file": _("File"),
    "sha256": _("SHA-256"),
    "agree": _("Agree"),
    "disagree": _("Disagree"),
    "inconclusive": _("Inconclusive"),
    "withheld": _("Withheld"),
    "urls": _("Addresses"),
    "problems": _("Problems"),
}

VALUES = {
    "refuse": _("refuse the whole file"),
    "skip": _("skip them, import the rest"),
    "pull": _("pull"),
    "push": _("push"),
}


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return str(_("yes") if value else _("no"))
    if isinstance(value, list | tuple):
        return ", ".join(_shown(item) for item in value)
    if isinstance(value, str) and value in VALUES:
        return str(VALUES[value])
    return "" if value is None else str(value)


def rows(result: dict[str, Any], depth: int = 0) -> Iterator[tuple[str, str, int]]:
    """(label, value, depth) for each shown key; a nested dict's keys follow it one deeper."""
    for key, value in result.items():
        if key in HIDDEN:
            continue
        label = str(LABELS.get(key, key))
        if isinstance(value, dict):
            if depth < 2:
                yield label, "", depth
                yield from rows(value, depth + 1)
            continue
        yield label, _shown(value), depth
