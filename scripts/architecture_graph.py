"""Draw docs/architecture.md's picture from the code: which app imports which.

The graph is built by grimp (import-linter's own graph library, so the picture and the contracts
of .importlinter read the same imports, those inside functions included) and written as a
Mermaid block between the two markers of docs/architecture.md. tests/test_architecture_graph.py
fails when the committed picture is not the code's: run this script after moving imports.

    python scripts/architecture_graph.py           # rewrite the block
    python scripts/architecture_graph.py --check   # exit 1 if the block is out of date
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "architecture.md"
START = "<!-- architecture-graph: start (scripts/architecture_graph.py writes this block) -->"
END = "<!-- architecture-graph: end -->"

# The boxes of the picture, most specific first: a module belongs to the first that contains it.
# The plain-Python measuring packages are boxes of their own because the contracts treat them
# apart from the observatory app that wraps them. Project-level modules (settings, urls, the home
# page, the CLI) import everything by design and are left out.
NODES = (
    "observatory.access",
    "observatory.routing",
    "actionplan",
    "analysis",
    "core",
    "evidence",
    "exchange",
    "gateway",
    "incidents",
    "observatory",
    "reports",
)
_EDGE = re.compile(r"^\s*(\w+)\s*-->\s*(\w+)\s*$")


def _node(module: str) -> str | None:
    name = module.removeprefix("sentinelle.")
    for node in NODES:
        if name == node or name.startswith(node + "."):
            return node
    return None


def _mermaid_id(node: str) -> str:
    return node.replace(".", "_")


def edges() -> set[tuple[str, str]]:
    """(importer, imported) for every pair of boxes joined by at least one direct import."""
    import grimp

    sys.path.insert(0, str(ROOT / "src"))
    graph = grimp.build_graph("sentinelle", cache_dir=None)
    found = set()
    for module in graph.modules:
        source = _node(module)
        if source is None:
            continue
        for imported in graph.find_modules_directly_imported_by(module):
            target = _node(imported)
            if target is not None and target != source:
                found.add((_mermaid_id(source), _mermaid_id(target)))
    return found


def mermaid(found: set[tuple[str, str]]) -> str:
    lines = ["```mermaid", "flowchart LR"]
    lines += [f"    {_mermaid_id(node)}[{node}]" for node in sorted(NODES)]
    lines += [f"    {source} --> {target}" for source, target in sorted(found)]
    return "\n".join([*lines, "```"])


def documented_edges(text: str) -> set[tuple[str, str]]:
    """The edges of the block between the markers, whatever their order."""
    block = _block(text)
    return {match.groups() for line in block.splitlines() if (match := _EDGE.match(line))}


def _block(text: str) -> str:
    try:
        return text[text.index(START) + len(START):text.index(END)]
    except ValueError:
        raise SystemExit(f"{DOC}: the markers of the picture are missing") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="exit 1 if docs/architecture.md's picture is not the code's")
    args = parser.parse_args(argv)
    text = DOC.read_text(encoding="utf-8")
    found = edges()
    if args.check:
        documented = documented_edges(text)
        for source, target in sorted(found - documented):
            print(f"missing from the picture: {source} --> {target}")
        for source, target in sorted(documented - found):
            print(f"in the picture but not in the code: {source} --> {target}")
        return 0 if found == documented else 1
    _block(text)  # the markers must be there
    start, end = text.index(START) + len(START), text.index(END)
    DOC.write_text(text[:start] + "\n" + mermaid(found) + "\n" + text[end:], encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
