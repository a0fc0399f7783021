"""The "council-report" job: the UI's way to generate a report off the request."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils.translation import gettext as _

from sentinelle.core import audit, jobs
from sentinelle.reports.models import CouncilReport
from sentinelle.reports.options import ReportOptions
from sentinelle.reports.services import produce

KIND = "council-report"
CONTENT_TYPES = {"pdf": "application/pdf", "html": "text/html",
                 "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}


@jobs.handler(KIND)
def run(job, progress):
    try:
        options = ReportOptions.from_params(job.params)
    except (TypeError, ValueError) as exc:
        raise ValidationError(_("Invalid report options: %(error)s") % {"error": exc}) from exc
    progress.total(2)
    produced = produce(options)
    progress.advance()
    name = f"{options.file_stem}.{options.fmt}"
    annex_name = f"{options.file_stem}-annex.csv"
    # Files are saved only once both are built: a failure above leaves nothing behind.
    with transaction.atomic():
        report = CouncilReport(job=job, year=options.year, language=options.lang,
                               format=options.fmt, options=options.as_params(),
                               document_name=name, annex_name=annex_name, created_by=job.owner)
        report.document.save(name, ContentFile(produced.document), save=False)
        report.annex.save(annex_name, ContentFile(produced.annex), save=False)
        report.save()
        job.output.save(name, ContentFile(produced.document), save=False)
        job.output_name = name
        audit.record("reports.generate", report, after=options.as_params())
    progress.advance()
    return {_("document"): name, _("annex"): annex_name}
