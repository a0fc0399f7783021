"""The observatory's jobs: a web upload's verification and report creation, and the corroboration
of an access report (OONI and other vantage points), both off the request."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import translation
from django.utils.translation import gettext as _

from sentinelle.core import jobs
from sentinelle.incidents.models import Incident
from sentinelle.observatory import corroboration, services

KIND = "observatory-submit"


@jobs.handler(KIND)
def run_submit(job, progress) -> dict:
    """Verify the uploaded bundle and make its draft report; a refusal fails the job with the
    verifier's words (services.BundleRefused is a ValidationError)."""
    progress.total(1)
    # The narrative and any refusal in the uploader's language, whether the job runs in the
    # request (immediate backend) or in a worker (database backend, whose language is the
    # default one).
    language = job.params.get("language") or job.owner.language or settings.LANGUAGE_CODE
    with translation.override(language), job.input.open("rb") as stream:
        outcome = services.submit(job.owner, stream, expect=job.params.get("expect") or None,
                                  name=job.input_name)
    progress.advance(1)
    incident = outcome.incident
    return {"report": incident.reference, "report_url": incident.get_absolute_url(),
            "created": outcome.created, "message": outcome.message}


CORROBORATE = "observatory-corroborate"


@jobs.handler(CORROBORATE)
def run_corroborate(job, progress) -> dict:
    """Gather OONI's and the other vantage points' measurements of the report's denials and
    attach them as a corroboration file (observatory/corroboration.py). A report that cannot
    be corroborated fails the job with the reason (NotCorroborable is a ValidationError)."""
    language = job.params.get("language") or job.owner.language or settings.LANGUAGE_CODE
    # The report is looked up again as the job's owner sees it now: access may have changed
    # since the button was pressed.
    incident = Incident.objects.for_user(job.owner).filter(pk=job.params.get("incident")).first()
    with translation.override(language):
        if incident is None:
            raise ValidationError(_("The report is no longer available to you."))

        def advance(total: int, done: int) -> None:
            if progress.job.progress_total != total:
                progress.total(total)
            progress.advance(1)

        outcome = corroboration.corroborate(incident, job.owner, on_progress=advance)
        lines = outcome.summary_lines()
    return {"report": incident.reference, "report_url": incident.get_absolute_url(),
            "file": outcome.evidence.filename, "sha256": outcome.evidence.sha256,
            "agree": outcome.totals["agree"], "disagree": outcome.totals["disagree"],
            "inconclusive": outcome.totals["inconclusive"],
            "withheld": outcome.withheld,
            "urls": "; ".join(lines[:20]), "problems": "; ".join(outcome.problems[:20])}
