"""Issue 18, step 7: docs/architecture.md's picture is the code's import graph, so that the map
a newcomer reads stays true. `python scripts/architecture_graph.py` redraws it."""

from __future__ import annotations

import importlib.util
import random
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("architecture_graph",
                                               ROOT / "scripts" / "architecture_graph.py")
graph = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(graph)


def _doc() -> str:
    return (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")


def test_the_committed_picture_is_the_codes_import_graph():
    documented = graph.documented_edges(_doc())
    found = graph.edges()
    assert not found - documented, "run python scripts/architecture_graph.py: missing arrows"
    assert not documented - found, "run python scripts/architecture_graph.py: stale arrows"


def test_the_picture_compares_by_arrows_not_by_their_order():
    found = {("incidents", "core"), ("reports", "analysis"), ("analysis", "incidents")}
    lines = graph.mermaid(found).splitlines()
    arrows = [line for line in lines if "-->" in line]
    random.Random(18).shuffle(arrows)
    shuffled = "\n".join([line for line in lines if "-->" not in line] + arrows)
    text = f"intro\n{graph.START}\n{shuffled}\n{graph.END}\nafter"
    assert graph.documented_edges(text) == found
    # ...and a picture with one arrow less is not the same picture.
    assert graph.documented_edges(text.replace("reports --> analysis", "")) != found

