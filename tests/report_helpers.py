"""Reading a built Council report Document in tests."""

from __future__ import annotations

from sentinelle.reports.document import Bullets, Paragraph, Section


def sentences(section: Section) -> list[str]:
    """Every sentence of a section and its subsections, in order, as the reader sees it."""
    out = []
    for block in section.blocks:
        if isinstance(block, Paragraph):
            out.append(block.text)
        elif isinstance(block, Bullets):
            out.extend(item.text for item in block.items)
    for sub in section.subsections:
        out.extend(sentences(sub))
    return out
