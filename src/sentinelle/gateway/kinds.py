"""The content types by URL segment: one table drives the views, feeds, exports and search."""

from __future__ import annotations

from django.http import Http404

from sentinelle.gateway.models import CirtTeam, GatewayEntry, GoodPractice, Initiative, Resource

KINDS: dict[str, type[GatewayEntry]] = {
    model.KIND: model for model in (Initiative, GoodPractice, CirtTeam, Resource)
}


def model_for(kind: str) -> type[GatewayEntry]:
    try:
        return KINDS[kind]
    except KeyError:
        raise Http404 from None


def get_entry_for_user(kind: str, pk: int, user) -> GatewayEntry:
    """The entry if ``user`` may read it; outsiders get 404, never 403."""
    model = model_for(kind)
    try:
        return model.objects.for_user(user).get(pk=pk)
    except model.DoesNotExist:
        raise Http404 from None


def get_entry_for_editor(kind: str, pk: int, user) -> GatewayEntry:
    model = model_for(kind)
    try:
        return model.objects.editable_by(user).get(pk=pk)
    except model.DoesNotExist:
        raise Http404 from None
