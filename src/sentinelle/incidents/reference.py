"""Loading of the shipped taxonomy: resolution categories and the RSIT classes and types."""

from __future__ import annotations

import json
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"


def taxonomy() -> dict:
    """{"categories": [...], "rsit": [{"code", "labels", "types": [...]}]} from the data files."""
    machinetag = json.loads((DATA / "rsit-machinev1.json").read_text(encoding="utf-8"))
    labels = json.loads((DATA / "taxonomy-labels.json").read_text(encoding="utf-8"))
    entries = {v["predicate"]: v["entry"] for v in machinetag["values"]}
    classes = []
    for predicate in machinetag["predicates"]:
        code = predicate["value"]
        classes.append({
            "code": code,
            "labels": {"en": predicate.get("expanded", code),
                       **labels["rsit_classes"].get(code, {})},
            "types": [{"code": e["value"], "description": e.get("description", ""),
                       "labels": {"en": e.get("expanded", e["value"]),
                                  **labels["rsit_types"].get(e["value"], {})}}
                      for e in entries.get(code, [])],
        })
    return {"categories": labels["categories"], "rsit": classes}
