"""Rendering a report Document as HTML, PDF (WeasyPrint, from the HTML) or DOCX (python-docx,
from the same Document), and its annex as CSV."""

from __future__ import annotations

import csv
import io
import logging
from pathlib import Path

from django.template.loader import render_to_string
from django.utils import translation

from sentinelle.reports.document import (
    Bullets,
    ChartBlock,
    Document,
    Figure,
    Paragraph,
    Section,
    Table,
    heading_text,
)

CSS = (Path(__file__).resolve().parent / "council.css").read_text(encoding="utf-8")


def html(doc: Document) -> bytes:
    with translation.override(doc.lang):
        text = render_to_string("reports/council.html", {
            "doc": doc, "css": CSS,
            "direction": "rtl" if translation.get_language_bidi() else "ltr"})
    return text.encode("utf-8")


def pdf(doc: Document) -> bytes:
    from weasyprint import HTML

    # WeasyPrint's CSS parser reports every presentation attribute of the inline SVG charts
    # as an unknown property (its SVG renderer then draws them correctly): keep the log quiet.
    logger = logging.getLogger("weasyprint")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        return HTML(string=html(doc).decode("utf-8")).write_pdf()
    finally:
        logger.setLevel(level)


def csv_bytes(doc: Document) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["table", "key", "label", "column", "value"])
    for row in doc.csv:
        writer.writerow([row.table, row.key, row.label, row.column, row.value])
    return out.getvalue().encode("utf-8")


def _text(part) -> str:
    return part.text if isinstance(part, Figure) else str(part)


def docx(doc: Document) -> bytes:
    from docx import Document as Docx
    from docx.enum.table import WD_TABLE_ALIGNMENT
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Cm, Pt

    d = Docx()
    style = d.styles["Normal"]
    style.font.name, style.font.size = "Calibri", Pt(11)
    props = d.core_properties
    props.title, props.language, props.author = doc.cover.title, doc.lang, ""
    cover = doc.cover
    for text, bold, size in ((cover.council, True, 16), (cover.agenda_item, False, 11),
                             (cover.document, True, 11), (cover.date, False, 11),
                             (cover.original, False, 11)):
        p = d.add_paragraph()
        run = p.add_run(text)
        run.bold, run.font.size = bold, Pt(size)
    p = d.add_paragraph()
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    p.add_run(cover.report_by).bold = True
    d.add_heading(cover.title, level=0).alignment = WD_ALIGN_PARAGRAPH.CENTER
    d.add_heading(doc.labels["summary"], level=1)
    for para in doc.summary:
        d.add_paragraph(para.text)
    d.add_heading(doc.labels["action_required"], level=1)
    for para in doc.action_required:
        d.add_paragraph(para.text)
    d.add_heading(doc.labels["references"], level=1)
    for ref in doc.references:
        d.add_paragraph(ref, style="List Bullet")
    d.add_page_break()

    def block(b):
        if isinstance(b, Paragraph):
            d.add_paragraph(b.text)
        elif isinstance(b, Bullets):
            for item in b.items:
                d.add_paragraph(item.text, style="List Bullet")
        elif isinstance(b, Table):
            caption = d.add_paragraph()
            caption.add_run(b.caption).bold = True
            table = d.add_table(rows=1, cols=len(b.columns))
            table.style = "Table Grid"
            table.alignment = WD_TABLE_ALIGNMENT.CENTER
            for cell, name in zip(table.rows[0].cells, b.columns, strict=True):
                cell.text = name
                cell.paragraphs[0].runs[0].bold = True
            for row in b.rows:
                cells = table.add_row().cells
                for i, (cell, value) in enumerate(zip(cells, row, strict=True)):
                    cell.text = _text(value)
                    if b.numeric[i]:
                        cell.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.RIGHT
        elif isinstance(b, ChartBlock):
            d.add_picture(io.BytesIO(b.chart.png), width=Cm(15))
            cap = d.add_paragraph()
            cap.add_run(b.chart.caption).italic = True

    def section(s: Section, level: int):
        d.add_heading(heading_text(s), level=level)
        for b in s.blocks:
            block(b)
        for sub in s.subsections:
            section(sub, level + 1)

    for s in doc.sections:
        section(s, 1)
    for s in doc.annexes:
        d.add_page_break()
        section(s, 1)
    out = io.BytesIO()
    d.save(out)
    return out.getvalue()


RENDERERS = {"html": html, "pdf": pdf, "docx": docx}
