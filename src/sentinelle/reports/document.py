"""The Council report as data: a cover, front matter and numbered sections made of paragraphs,
tables and charts. The HTML (and from it the PDF) and the DOCX renderers walk the same tree, so
the three formats say the same thing."""

from __future__ import annotations

from dataclasses import dataclass, field

from sentinelle.reports.charts import Chart


@dataclass
class Figure:
    """A number in the text or a table, with where it comes from.

    ``source`` is ``year|path`` into the statistics service's ``Stats.as_dict()`` for that year
    as the public sees it (``disclosure.publication``), e.g. ``2026|by_category|access-denial|
    incidents`` or ``2026|totals|states_reporting``; empty for a figure from elsewhere (the
    action plan, the correlation service). ``suppressed``: a small count hidden from the public.
    """

    text: str
    source: str = ""
    suppressed: bool = False
    raw: object = None


Part = str | Figure


@dataclass
class Paragraph:
    parts: list[Part]

    @property
    def text(self) -> str:
        return "".join(p if isinstance(p, str) else p.text for p in self.parts)


@dataclass
class Bullets:
    items: list[Paragraph]


@dataclass
class Table:
    key: str
    caption: str
    columns: list[str]
    rows: list[list[Part]]
    numeric: list[bool]


@dataclass
class ChartBlock:
    chart: Chart


Block = Paragraph | Bullets | Table | ChartBlock


@dataclass
class Section:
    number: str
    title: str
    blocks: list[Block] = field(default_factory=list)
    subsections: list[Section] = field(default_factory=list)
    level: int = 2

    def add(self, block: Block) -> Block:
        self.blocks.append(block)
        return block

    def sub(self, title: str) -> Section:
        section = Section(f"{self.number}.{len(self.subsections) + 1}" if self.number else "",
                          title, level=self.level + 1)
        self.subsections.append(section)
        return section


@dataclass
class Cover:
    council: str
    session: str
    agenda_item: str
    document: str
    date: str
    original: str
    report_by: str
    title: str


@dataclass
class AnnexRow:
    """One value of the annex CSV: raw (unformatted, "<k" when suppressed)."""

    table: str
    key: str
    label: str
    column: str
    value: str


@dataclass
class Document:
    lang: str
    cover: Cover
    summary: list[Paragraph]
    action_required: list[Paragraph]
    references: list[str]
    sections: list[Section]
    annexes: list[Section]
    csv: list[AnnexRow]
    labels: dict[str, str]

    def headings(self) -> list[str]:
        """Every heading in reading order, as the renderers print it."""
        out = [self.labels["summary"], self.labels["action_required"], self.labels["references"]]

        def walk(section: Section):
            out.append(heading_text(section))
            for sub in section.subsections:
                walk(sub)

        for section in self.sections + self.annexes:
            walk(section)
        return out

    def tables(self) -> list[Table]:
        found = []

        def walk(section: Section):
            found.extend(b for b in section.blocks if isinstance(b, Table))
            for sub in section.subsections:
                walk(sub)

        for section in self.sections + self.annexes:
            walk(section)
        return found


def heading_text(section: Section) -> str:
    return f"{section.number} {section.title}" if section.number else section.title
