"""List filters: the same small set of GET parameters for every type, validated."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from django.http import QueryDict

from sentinelle.core.models import MemberState
from sentinelle.gateway.models import LANGUAGES, GatewayEntry

# Choice fields offered as filters when the model has them.
CHOICE_FILTERS = ("scope", "progress", "kind")


def apply_filters(model: type[GatewayEntry], qs: QuerySet, params: QueryDict) -> QuerySet:
    state = params.get("state", "").upper()[:2]
    if state:
        q = Q(state__alpha2=state)
        if any(f.name == "states" for f in model._meta.many_to_many):
            q |= Q(states__alpha2=state)
        qs = qs.filter(q).distinct()
    language = params.get("language", "")
    if language in dict(LANGUAGES):
        qs = qs.filter(language=language)
    for name in CHOICE_FILTERS:
        value = params.get(name, "")
        if value and _has_choice(model, name, value):
            qs = qs.filter(**{name: value})
    theme = params.get("theme", "").strip()[:100]
    if theme and hasattr(model, "themes"):
        qs = qs.filter(themes__icontains=theme)
    if params.get("first") == "1" and hasattr(model, "first_member"):
        qs = qs.filter(first_member=True)
    return qs


def _has_field(model: type[GatewayEntry], name: str) -> bool:
    return any(f.name == name for f in model._meta.get_fields())


def _has_choice(model: type[GatewayEntry], name: str, value: str) -> bool:
    if not _has_field(model, name):
        return False
    return value in dict(model._meta.get_field(name).choices or ())


def filter_choices(model: type[GatewayEntry]) -> dict[str, Any]:
    # Whole rows: the page shows each State's name in the reader's language, and a deferred
    # name column would cost a query per State.
    out: dict[str, Any] = {"states": MemberState.objects.filter(is_member=True),
                           "languages": LANGUAGES}
    fields = []
    for name in CHOICE_FILTERS:
        if not _has_field(model, name):
            continue
        field = model._meta.get_field(name)
        fields.append((name, field.verbose_name, field.choices))
    out["fields"] = fields
    out["themes"] = hasattr(model, "themes")
    out["first"] = hasattr(model, "first_member")
    return out
