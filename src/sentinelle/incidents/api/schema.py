"""Query parameters that accept a closed set of values are enums in /api/schema/, filled from
the database when the schema is generated (a drf-spectacular postprocessing hook): a client
generated from it neither sends a value the API refuses nor misses a State or category added
later (issue 19). Only parameters whose unknown values the API refuses (400) are listed here: an
enum on a parameter that merely filters would tell clients a lie the other way round."""

from __future__ import annotations

from collections.abc import Callable

from django.db import DatabaseError

from sentinelle.core.models import MemberState
from sentinelle.incidents.models import Category, RsitClass, RsitType

VOCABULARIES: dict[str, Callable[[], list[str]]] = {
    "state": lambda: list(MemberState.objects.order_by("alpha2")
                          .values_list("alpha2", flat=True)),
    # All categories and classes, not only the active ones: the filters accept every one.
    "category": lambda: list(Category.objects.order_by("code").values_list("code", flat=True)),
    "rsit_class": lambda: list(RsitClass.objects.order_by("code")
                               .values_list("code", flat=True)),
    # What a report or a summary line may name (incidents/fields.py): active categories only.
    "active_category": lambda: list(Category.objects.filter(active=True).order_by("code")
                                    .values_list("code", flat=True)),
    "rsit": lambda: [f"{c}:{t}" for c, t in RsitType.objects.order_by(
        "rsit_class__code", "code").values_list("rsit_class__code", "code")],
}

# path -> its query parameters that take one of a vocabulary's values and refuse the others.
CLOSED_PARAMETERS: dict[str, tuple[str, ...]] = {
    "/api/v1/incidents/": ("state", "category", "rsit_class"),   # incidents/filters.py
    "/api/v1/observatory/access-index/": ("state",),             # observatory/forms.py
    "/api/v1/exports/": ("category",),                           # exchange/api/views.py
}


# Request bodies' fields the serializers look up in the same tables (incidents/api/serializers.py):
# component -> {property: vocabulary}. A value outside them is a 400 naming the field.
_REPORT_FIELDS = {"category": "active_category", "rsit": "rsit",
                  "alleged_origin_state": "state"}
CLOSED_PROPERTIES: dict[str, dict[str, str]] = {
    "IncidentRequest": _REPORT_FIELDS,
    "PatchedIncidentRequest": _REPORT_FIELDS,
    "SummaryLineRequest": {"category": "active_category", "rsit_class": "rsit_class"},
}


def closed_vocabularies(result: dict, generator, request, public) -> dict:
    """POSTPROCESSING_HOOKS entry: each listed parameter's or request field's schema gets its
    vocabulary's enum."""
    values: dict[str, list[str]] = {}
    components = result.get("components", {}).get("schemas", {})
    for component, properties in CLOSED_PROPERTIES.items():
        for name, vocabulary in properties.items():
            schema = components.get(component, {}).get("properties", {}).get(name)
            if schema is None:
                continue
            if vocabulary not in values:
                values[vocabulary] = _read(VOCABULARIES[vocabulary])
            if values[vocabulary]:
                # A nullable field's enum lists null too, or a validator refuses the null.
                schema["enum"] = [*values[vocabulary], *([None] if schema.get("nullable")
                                                         else [])]
    for path, names in CLOSED_PARAMETERS.items():
        for operation in result["paths"].get(path, {}).values():
            for parameter in operation.get("parameters", []):
                name = parameter["name"]
                if parameter["in"] != "query" or name not in names:
                    continue
                if name not in values:
                    values[name] = _read(VOCABULARIES[name])
                if not values[name]:
                    continue
                schema = parameter["schema"]
                target = schema["items"] if schema.get("type") == "array" else schema
                target["enum"] = values[name]
    return result


def _read(vocabulary: Callable[[], list[str]]) -> list[str]:
    # `sentinelle spectacular` on a machine without a migrated database still writes a valid
    # schema, only without these enums (an empty enum would refuse every value).
    try:
        return vocabulary()
    except DatabaseError:
        return []
