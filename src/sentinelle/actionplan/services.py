"""Writing the action plan: each change is saved with its audit entry in one transaction, as
every app's services do. The views validate the forms and call these; only the Secretariat
writes (the views refuse other roles first; the check here keeps any other caller honest)."""

from __future__ import annotations

from django.db import transaction
from django.forms.models import model_to_dict
from django.utils.text import get_valid_filename

from sentinelle.actionplan.models import Action, Indicator, ProgressUpdate
from sentinelle.core import audit
from sentinelle.core.roles import require_secretariat

__all__ = ["record_update", "save_action", "save_indicator", "snapshot"]


def snapshot(obj) -> dict:
    """The row as the audit entry shows it (a file by its name)."""
    data = model_to_dict(obj)
    for key, value in list(data.items()):
        if hasattr(value, "name"):
            data[key] = value.name
    return data


def _save(user, obj, kind: str, before: dict | None):
    require_secretariat(user)
    with transaction.atomic():
        obj.save()
        audit.record(f"actionplan.{kind}.{'change' if before else 'add'}", obj,
                     before=before, after=snapshot(obj))
    return obj


def save_action(user, action: Action, before: dict | None = None) -> Action:
    """Save a new action (``before`` None) or a change to one (``before``: its snapshot taken
    before the form touched it)."""
    return _save(user, action, "action", before)


def save_indicator(user, indicator: Indicator, before: dict | None = None) -> Indicator:
    return _save(user, indicator, "indicator", before)


def record_update(user, indicator: Indicator, update: ProgressUpdate) -> ProgressUpdate:
    """Record a progress update of ``indicator``; an attached file keeps a safe name."""
    require_secretariat(user)
    update.indicator, update.recorded_by = indicator, user
    if update.evidence_file:
        update.evidence_name = get_valid_filename(update.evidence_file.name)[:255]
    with transaction.atomic():
        update.save()
        audit.record("actionplan.update.add", update, after=snapshot(update))
    return update
