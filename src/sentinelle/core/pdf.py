"""HTML to PDF with WeasyPrint, for every document the platform writes (Council report, receipt).

The HTML is complete in itself (styles inline, charts as HTML), so WeasyPrint is allowed to
fetch nothing but ``data:`` URLs: text a State typed can never make the server read a local file
or call a URL, even if an escaping mistake let markup through.
"""

from __future__ import annotations

import logging


def html_to_pdf(html_text: str) -> bytes:
    from weasyprint import HTML, URLFetcher

    # WeasyPrint logs every CSS property it ignores and every refused fetch as a warning; the
    # documents are ours, so these are not the reader's concern.
    logger = logging.getLogger("weasyprint")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        return HTML(string=html_text,
                    url_fetcher=URLFetcher(allowed_protocols={"data"})).write_pdf()
    finally:
        logger.setLevel(level)
